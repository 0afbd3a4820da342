// tools/qsafe-report/recommend.hpp: the recommendation, from the scored configurations alone
// (a pure function of the Report, so a test can check it on hand-made numbers):
//   - it names the configuration with the best worst-group accuracy (ties: the better mean, then
//     the earlier configuration in the list);
//   - every other configuration is an alternative, with its cost = the best's worst-group accuracy
//     minus its own;
//   - it lists every flagged configuration (ConfigReport::flagged: on some group it loses more than
//     the threshold against float; or it failed) and every failure-search verdict "detrimental".
#ifndef QSAFE_TOOLS_QSAFE_REPORT_RECOMMEND_HPP_
#define QSAFE_TOOLS_QSAFE_REPORT_RECOMMEND_HPP_

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "report_model.hpp"
#include "terminal.hpp"

namespace qsafe_report {

// The recommendation from the scored configurations (pure: unit-testable).
inline Recommendation recommend(const Report& r, double threshold) {
  Recommendation rec;
  rec.threshold = threshold;
  rec.float_worst_group_accuracy = r.float_worst_group_accuracy;
  std::vector<const ConfigReport*> ok;
  for (const ConfigReport& c : r.configs)
    if (c.error.empty() && std::isfinite(c.worst_group_accuracy)) ok.push_back(&c);
  // Best worst-group accuracy; ties: better mean, then the earlier (simpler) configuration.
  std::stable_sort(ok.begin(), ok.end(), [](const ConfigReport* a, const ConfigReport* b) {
    if (a->worst_group_accuracy != b->worst_group_accuracy) return a->worst_group_accuracy > b->worst_group_accuracy;
    return a->mean_accuracy > b->mean_accuracy;
  });
  for (const ConfigReport& c : r.configs)
    if (c.flagged || !c.error.empty()) rec.flagged.push_back(c.name);
  if (ok.empty()) {
    rec.summary = "No quantized configuration could be evaluated; see the errors per configuration.";
    return rec;
  }
  const ConfigReport& best = *ok.front();
  rec.config = best.name;
  rec.worst_group_accuracy = best.worst_group_accuracy;
  for (std::size_t i = 1; i < ok.size(); ++i) {
    Alternative a;
    a.config = ok[i]->name;
    a.worst_group_accuracy = ok[i]->worst_group_accuracy;
    a.cost = best.worst_group_accuracy - ok[i]->worst_group_accuracy;
    a.mean_accuracy = ok[i]->mean_accuracy;
    a.flagged = ok[i]->flagged;
    a.note = "worst group " + ok[i]->worst_group + ": " + term_detail::pct(a.worst_group_accuracy) + ", " +
             term_detail::pts(-a.cost) + " points against " + best.name;
    for (const FailureSearchReport& f : r.failure_search)
      if (f.config == a.config && f.verdict == "detrimental") a.note += "; the failure search breaks it";
    rec.alternatives.push_back(a);
  }
  for (const ConfigReport& c : r.configs)
    if (!c.error.empty()) {
      Alternative a;
      a.config = c.name;
      a.flagged = true;
      a.note = "failed: " + c.error;
      rec.alternatives.push_back(a);
    }
  double float_on_best_worst = kNaN;
  for (const GroupScore& g : r.float_groups)
    if (g.group == best.worst_group) float_on_best_worst = g.accuracy;
  rec.float_accuracy_on_worst_group = float_on_best_worst;
  std::string s = best.name + " has the best worst-group accuracy: " + term_detail::pct(best.worst_group_accuracy) +
                  " on " + best.worst_group + " (float: " + term_detail::pct(float_on_best_worst) +
                  " there; float's own worst group is " + r.float_worst_group + " at " +
                  term_detail::pct(r.float_worst_group_accuracy) + ").";
  if (best.flagged)
    s += " Even so it loses " + term_detail::pts(best.max_drop).substr(1) + " points against float on " +
         best.max_drop_group + ", more than the " + term_detail::pts(threshold).substr(1) +
         "-point threshold: keep the most sensitive layers at higher precision (see the sensitivity and "
         "mixed-precision sections) before shipping int8.";
  else
    s += " On no group does it lose more than " + term_detail::pts(threshold).substr(1) +
         " points against float (largest drop: " + term_detail::pts(best.max_drop).substr(1) + " on " +
         best.max_drop_group + ").";
  if (ok.size() > 1) {
    const ConfigReport& second = *ok[1];
    s += " Next best: " + second.name + " (" +
         term_detail::pts(second.worst_group_accuracy - best.worst_group_accuracy) + " points on the worst group).";
  }
  std::size_t flagged = 0;
  for (const ConfigReport& c : r.configs) flagged += c.flagged ? 1 : 0;
  s += " " + std::to_string(flagged) + " of " + std::to_string(r.configs.size()) + " configurations lose more than " +
       term_detail::pts(threshold).substr(1) + " points against float on some group" + (flagged ? ":" : ".");
  if (flagged) {
    std::string list;
    for (const ConfigReport& c : r.configs)
      if (c.flagged)
        list +=
            (list.empty() ? " " : ", ") + c.name + " (" +
            (c.error.empty() ? "-" + term_detail::pts(c.max_drop).substr(1) + " on " + c.max_drop_group : "failed") +
            ")";
    s += list + ".";
  }
  for (const FailureSearchReport& f : r.failure_search)
    if (f.verdict == "detrimental")
      s += " The failure search breaks " + f.config + ": accuracy " + term_detail::pct(f.found_accuracy) +
           " on the inputs it found (float " + term_detail::pct(f.found_float_accuracy) + ").";
  rec.summary = s;
  return rec;
}

}  // namespace qsafe_report

#endif  // QSAFE_TOOLS_QSAFE_REPORT_RECOMMEND_HPP_
