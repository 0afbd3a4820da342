// tools/qsafe-report/terminal.hpp: what qsafe-report prints - progress of the long steps on
// stderr (rewritten in place on a terminal, one line per step otherwise) and, at the end, a
// concise table on stdout: one row per configuration with its clean and worst-group accuracy,
// the drop against float, flips, and the flags; then the recommendation and the failure search.
#ifndef QSAFE_TOOLS_QSAFE_REPORT_TERMINAL_HPP_
#define QSAFE_TOOLS_QSAFE_REPORT_TERMINAL_HPP_

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>

#include "report_model.hpp"

namespace qsafe_report {

class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled), tty_(enabled && isatty(STDERR_FILENO) != 0) {}

  // Starts a named step; `what` is shown next to it.
  void step(const std::string& name, const std::string& what = "") {
    finish_line();
    name_ = name;
    what_ = what;
    start_ = std::chrono::steady_clock::now();
    if (enabled_ && tty_) std::fprintf(stderr, "  %-24s %s", name_.c_str(), what_.c_str());
    open_ = true;
  }
  // done of total units of the current step (rewrites the line on a terminal).
  void update(std::size_t done, std::size_t total) {
    if (!enabled_ || !tty_ || !open_) return;
    std::fprintf(stderr, "\r  %-24s %s %zu/%zu", name_.c_str(), what_.c_str(), done, total);
    std::fflush(stderr);
  }
  // Ends the current step and returns its duration in seconds.
  double done() {
    const double s = seconds();
    if (enabled_ && open_) {
      if (tty_)
        std::fprintf(stderr, "\r  %-24s %s  %.2f s\033[K\n", name_.c_str(), what_.c_str(), s);
      else
        std::fprintf(stderr, "  %-24s %s  %.2f s\n", name_.c_str(), what_.c_str(), s);
    }
    open_ = false;
    return s;
  }

 private:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  void finish_line() {
    if (open_) done();
  }
  bool enabled_, tty_;
  bool open_ = false;
  std::string name_, what_;
  std::chrono::steady_clock::time_point start_{};
};

namespace term_detail {
inline std::string pct(double v) {
  if (!std::isfinite(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", 100.0 * v);
  return b;
}
inline std::string pts(double v) {
  if (!std::isfinite(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%+.1f", std::fabs(v) < 5e-4 ? 0.0 : 100.0 * v);
  return b;
}
}  // namespace term_detail

// The table printed at the end (to `out`, normally stdout).
inline void print_summary(const Report& r, std::FILE* out) {
  using term_detail::pct;
  using term_detail::pts;
  std::size_t w = 8;
  for (const ConfigReport& c : r.configs) w = c.name.size() > w ? c.name.size() : w;
  const int wi = static_cast<int>(w);
  std::fprintf(out, "\n%-*s  %-18s %7s %8s  %-16s %7s  %-22s %6s  %s\n", wi, "config", "policy", "clean", "worst",
               "worst group", "vs fp32", "largest drop", "flips", "");
  double clean_float = r.float_groups.empty() ? kNaN : r.float_groups.front().accuracy;
  std::fprintf(out, "%-*s  %-18s %7s %8s  %-16s %7s  %-22s %6s\n", wi, "float", "-", pct(clean_float).c_str(),
               pct(r.float_worst_group_accuracy).c_str(), r.float_worst_group.c_str(), "-", "-", "0");
  for (const ConfigReport& c : r.configs) {
    if (!c.error.empty()) {
      std::fprintf(out, "%-*s  %-18s failed: %s\n", wi, c.name.c_str(), c.policy.c_str(), c.error.c_str());
      continue;
    }
    const double clean = c.groups.empty() ? kNaN : c.groups.front().accuracy;
    const char* mark = c.name == r.recommendation.config ? "<- recommended" : (c.flagged ? "FLAGGED" : "");
    const std::string largest = pts(-c.max_drop) + " " + c.max_drop_group;
    std::fprintf(out, "%-*s  %-18s %7s %8s  %-16s %7s  %-22s %6lld  %s\n", wi, c.name.c_str(), c.policy.c_str(),
                 pct(clean).c_str(), pct(c.worst_group_accuracy).c_str(), c.worst_group.c_str(),
                 pts(-c.worst_group_drop).c_str(), largest.c_str(), static_cast<long long>(c.flips), mark);
  }
  std::fprintf(out,
               "(top-1 accuracy on the clean group and on the worst group; vs fp32: change against float on that "
               "group, in points;\n largest drop: the group where the configuration loses most against float)\n");
  if (!r.sensitivity.layers.empty()) {
    std::fprintf(out, "\nmost sensitive layers of %s (worst-group %s, alone):", r.sensitivity.config.c_str(),
                 r.sensitivity.metric.c_str());
    for (std::size_t k = 1; k <= r.sensitivity.layers.size() && k <= 3; ++k)
      for (const LayerSensitivity& l : r.sensitivity.layers)
        if (l.rank == static_cast<int>(k)) {
          if (r.sensitivity.metric == "accuracy_drop" || r.sensitivity.metric == "flip_rate")
            std::fprintf(out, " %s %s", l.name.c_str(), pts(l.only_worst).c_str());
          else
            std::fprintf(out, " %s %.3g", l.name.c_str(), l.only_worst);
        }
    std::fprintf(out, "\n");
  }
  for (const FailureSearchReport& f : r.failure_search)
    std::fprintf(out, "failure search  %-*s  %-11s accuracy on the inputs found %s (float %s)\n", wi, f.config.c_str(),
                 f.verdict.c_str(), pct(f.found_accuracy).c_str(), pct(f.found_float_accuracy).c_str());
  std::fprintf(out, "\n%s\n", r.recommendation.summary.c_str());
}

}  // namespace qsafe_report

#endif  // QSAFE_TOOLS_QSAFE_REPORT_TERMINAL_HPP_
