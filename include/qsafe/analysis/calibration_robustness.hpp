// qsafe/analysis/calibration_robustness.hpp: how much a configuration's quality depends on its
// calibration set. The configuration is calibrated on several sets and every calibration is
// evaluated on every group:
//   "base"            the given calibration set
//   "group:<name>"    each evaluation group's inputs (a calibration from the wrong distribution)
//   "bootstrap:<k>"   resamples of the base set with replacement (same size), k = 0..bootstrap-1
//   "subset<m>:<k>"   random subsets of m samples without replacement, for each m in subset_sizes
// Reported: the [calibration set x group] accuracy matrix (and degradation matrix), each set's
// worst-group accuracy and degradation, their spread (min / max / mean / std over the sets), and
// for each quantizable layer the spread of its input scale and calibrated range over the sets.
//
// Cost: one float pass, then (1 + groups + bootstrap + sum of subsets) x (prepare + a quantized
// pass over every group). Deterministic for a seed.
//
// Host-side: may allocate, never throws; every error is a Status.
#ifndef QSAFE_ANALYSIS_CALIBRATION_ROBUSTNESS_HPP_
#define QSAFE_ANALYSIS_CALIBRATION_ROBUSTNESS_HPP_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qsafe/analysis/corruptions.hpp"
#include "qsafe/analysis/dataset.hpp"
#include "qsafe/analysis/engine.hpp"
#include "qsafe/analysis/evaluate.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {
namespace analysis {

struct CalibrationRobustnessOptions {
  bool per_group = true;                          // calibrate on each evaluation group
  int bootstrap = 3;                              // bootstrap resamples of the base set (>= 0)
  std::vector<std::int64_t> subset_sizes{8, 32};  // smaller sets (sizes >= 1; larger than the base set: skipped)
  int subsets_per_size = 2;                       // draws per size (>= 1)
  std::uint64_t seed = 0;
  Metric metric = Metric::accuracy_drop;
  std::int64_t batch = 256;
  const Reference* reference = nullptr;  // float logits of these groups, if already computed
  ProgressFn progress;                   // "calibration_robustness", calibration sets done / total
};

// min / max / mean / population standard deviation of a list of values.
struct Spread {
  double min = 0.0;
  double max = 0.0;
  double mean = 0.0;
  double stddev = 0.0;
};

inline Spread spread_of(const std::vector<double>& v) {
  Spread s;
  if (v.empty()) return s;
  s.min = s.max = v[0];
  double sum = 0;
  for (double x : v) {
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
    sum += x;
  }
  s.mean = sum / static_cast<double>(v.size());
  double var = 0;
  for (double x : v) var += (x - s.mean) * (x - s.mean);
  s.stddev = std::sqrt(var / static_cast<double>(v.size()));
  return s;
}

struct CalibrationSetResult {
  std::string name;  // "base", "group:noise_0.1", "bootstrap:0", "subset8:1", ...
  std::string kind;  // "base", "group", "bootstrap", "subset"
  std::int64_t samples = 0;
  std::vector<double> accuracy;     // per evaluation group (-1 without labels)
  std::vector<double> degradation;  // per evaluation group, by options.metric
  double mean_accuracy = -1.0;
  double worst_accuracy = -1.0;  // the lowest group accuracy (-1 without labels)
  std::size_t worst_group = 0;   // by degradation
  double worst_degradation = 0.0;
  std::vector<float> input_scale;  // per quantizable layer: LayerRunStats::input.scale (0 if float)
  std::vector<Range> input_range;  // per quantizable layer: the calibrated range
};

struct LayerScaleSpread {
  std::size_t layer = 0;
  std::string name;
  Spread scale;     // of the input scale over the calibration sets
  Spread range_lo;  // of the calibrated range's ends
  Spread range_hi;
  double max_over_min = 1.0;  // scale.max / scale.min (1 when a scale is 0)
};

struct CalibrationRobustness {
  std::string config;
  Metric metric = Metric::accuracy_drop;
  std::vector<std::string> groups;         // evaluation group names (matrix columns)
  std::vector<CalibrationSetResult> sets;  // matrix rows
  Spread worst_group_accuracy;             // over the sets (labelled groups only)
  Spread worst_degradation;
  std::size_t worst_set = 0;  // the set with the largest worst_degradation
  std::vector<LayerScaleSpread> layers;
};

namespace detail {

inline CalibrationSetResult calib_row(std::string name, std::string kind, std::int64_t samples, const Evaluation& ev,
                                      Metric m, const Engine& engine) {
  CalibrationSetResult r;
  r.name = std::move(name);
  r.kind = std::move(kind);
  r.samples = samples;
  for (const GroupEval& g : ev.groups) {
    r.accuracy.push_back(g.accuracy);
    r.degradation.push_back(g.degradation(m));
  }
  r.mean_accuracy = ev.mean_accuracy;
  r.worst_accuracy = ev.worst_accuracy;
  r.worst_group = ev.worst_group;
  r.worst_degradation = ev.worst_degradation;
  for (std::size_t l = 0; l < engine.num_layers(); ++l) {
    const LayerRunStats s = engine.layer_stats(l);
    r.input_scale.push_back(s.quantized ? s.input.scale : 0.f);
    r.input_range.push_back(s.input_range);
  }
  return r;
}

}  // namespace detail

// Errors: those of evaluate(); invalid_argument for bootstrap < 0, subsets_per_size < 1 or a
// subset size < 1.
inline Result<CalibrationRobustness> calibration_robustness(Engine& engine, const QuantConfig& config,
                                                            const Dataset& calib, const std::vector<Group>& groups,
                                                            const CalibrationRobustnessOptions& options = {}) {
  if (options.bootstrap < 0 || options.subsets_per_size < 1) return Status::invalid_argument;
  for (std::int64_t m : options.subset_sizes)
    if (m < 1) return Status::invalid_argument;
  const std::int64_t numel = engine.sample_numel();
  QSAFE_RETURN_IF_ERROR(check_config(config, engine.num_layers()));
  QSAFE_RETURN_IF_ERROR(check_dataset(calib, numel, 0));
  EvalOptions eo;
  eo.metric = options.metric;
  eo.batch = options.batch;
  const Result<Reference> ref =
      options.reference != nullptr ? Result<Reference>(*options.reference) : float_reference(engine, groups, eo);
  if (!ref.ok()) return ref.status();

  // The calibration sets, built lazily one at a time (only indices are kept).
  struct Plan {
    std::string name, kind;
    int group = -1;                     // >= 0: calibrate on this group
    std::vector<std::int64_t> indices;  // else: these samples of calib (empty = all)
  };
  std::vector<Plan> plans;
  plans.push_back({"base", "base", -1, {}});
  if (options.per_group)
    for (std::size_t g = 0; g < groups.size(); ++g)
      plans.push_back({"group:" + groups[g].name, "group", static_cast<int>(g), {}});
  Rng rng(options.seed ^ 0xca11b7a7e5ull);
  for (int k = 0; k < options.bootstrap; ++k) {
    Plan p{"bootstrap:" + std::to_string(k), "bootstrap", -1, {}};
    for (std::int64_t i = 0; i < calib.n; ++i)
      p.indices.push_back(static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(calib.n))));
    plans.push_back(std::move(p));
  }
  for (std::int64_t m : options.subset_sizes) {
    if (m > calib.n) continue;
    for (int k = 0; k < options.subsets_per_size; ++k) {
      std::vector<std::int64_t> perm(static_cast<std::size_t>(calib.n));
      for (std::int64_t i = 0; i < calib.n; ++i) perm[static_cast<std::size_t>(i)] = i;
      for (std::int64_t i = 0; i < m; ++i) {  // partial Fisher-Yates
        const std::int64_t j = i + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(calib.n - i)));
        std::swap(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(j)]);
      }
      perm.resize(static_cast<std::size_t>(m));
      plans.push_back({"subset" + std::to_string(m) + ":" + std::to_string(k), "subset", -1, std::move(perm)});
    }
  }

  CalibrationRobustness out;
  out.config = config.name;
  out.metric = options.metric;
  for (const Group& g : groups) out.groups.push_back(g.name);
  for (std::size_t p = 0; p < plans.size(); ++p) {
    const Plan& plan = plans[p];
    Result<Evaluation> ev = Status::invalid_argument;
    std::int64_t samples = 0;
    if (plan.group >= 0) {
      const Group& g = groups[static_cast<std::size_t>(plan.group)];
      Dataset d;
      d.x = g.x;
      d.n = g.n;
      samples = g.n;
      ev = evaluate(engine, config, d, groups, ref.value(), eo);
    } else if (plan.indices.empty()) {
      samples = calib.n;
      ev = evaluate(engine, config, calib, groups, ref.value(), eo);
    } else {
      const Result<Dataset> d = select(calib, numel, plan.indices);
      if (!d.ok()) return d.status();
      samples = d->n;
      ev = evaluate(engine, config, d.value(), groups, ref.value(), eo);
    }
    if (!ev.ok()) return ev.status();
    out.sets.push_back(detail::calib_row(plan.name, plan.kind, samples, ev.value(), options.metric, engine));
    if (options.progress) options.progress("calibration_robustness", p + 1, plans.size());
  }
  std::vector<double> worst_acc, worst_deg;
  for (std::size_t s = 0; s < out.sets.size(); ++s) {
    if (out.sets[s].worst_accuracy >= 0) worst_acc.push_back(out.sets[s].worst_accuracy);
    worst_deg.push_back(out.sets[s].worst_degradation);
    if (out.sets[s].worst_degradation > out.sets[out.worst_set].worst_degradation) out.worst_set = s;
  }
  out.worst_group_accuracy = spread_of(worst_acc);
  out.worst_degradation = spread_of(worst_deg);
  for (std::size_t l = 0; l < engine.num_layers(); ++l) {
    LayerScaleSpread ls;
    ls.layer = l;
    ls.name = engine.layer_info(l).name;
    std::vector<double> sc, lo, hi;
    for (const CalibrationSetResult& s : out.sets) {
      sc.push_back(s.input_scale[l]);
      lo.push_back(s.input_range[l].lo);
      hi.push_back(s.input_range[l].hi);
    }
    ls.scale = spread_of(sc);
    ls.range_lo = spread_of(lo);
    ls.range_hi = spread_of(hi);
    ls.max_over_min = ls.scale.min > 0 ? ls.scale.max / ls.scale.min : 1.0;
    out.layers.push_back(ls);
  }
  return out;
}

}  // namespace analysis
}  // namespace qsafe

#endif  // QSAFE_ANALYSIS_CALIBRATION_ROBUSTNESS_HPP_
