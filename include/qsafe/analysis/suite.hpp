// qsafe/analysis/suite.hpp: the whole analysis in one call, as a report tool runs it - the float
// model and each configuration over the groups, then, for each configuration, per-layer
// sensitivity, calibration robustness and failure search, and one mixed-precision plan from the
// first configuration. Each step's wall time is recorded (steady_clock) so a report can say what
// it cost.
//
// Groups: the built-in suite (make_builtin_groups on `test`: "clean" + the corruptions) followed
// by `extra_groups`. Failure search attacks the first `failure.sources` samples of `test`.
// Options of each analysis are taken from the member of the same name (their own progress
// callbacks are replaced by SuiteOptions::progress).
//
// Host-side: may allocate, never throws; every error is a Status.
#ifndef QSAFE_ANALYSIS_SUITE_HPP_
#define QSAFE_ANALYSIS_SUITE_HPP_

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "qsafe/analysis/calibration_robustness.hpp"
#include "qsafe/analysis/dataset.hpp"
#include "qsafe/analysis/engine.hpp"
#include "qsafe/analysis/evaluate.hpp"
#include "qsafe/analysis/failure_search.hpp"
#include "qsafe/analysis/mixed_precision.hpp"
#include "qsafe/analysis/sensitivity.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {
namespace analysis {

struct SuiteOptions {
  SampleShape shape;                // sample layout of `test` (for the corruptions)
  Range range{0.f, 1.f};            // the clean data's value range
  std::uint64_t seed = 0;           // corruption groups, resampling, search
  std::vector<Group> extra_groups;  // user groups, evaluated after the built-in ones
  bool run_sensitivity = true;
  bool run_calibration = true;
  bool run_failure_search = true;
  bool run_mixed_precision = true;
  EvalOptions eval;
  SensitivityOptions sensitivity;
  CalibrationRobustnessOptions calibration;
  FailureSearchOptions failure;  // shape and range are taken from above
  MixedPrecisionOptions mixed_precision;
  ProgressFn progress;  // every step's progress
};

struct StepTime {
  std::string step;    // "groups", "float", "evaluate:<config>", "sensitivity:<config>", ...
  double seconds = 0;  // wall time
};

// Per configuration, in the order given.
struct ConfigReport {
  Evaluation evaluation;
  Sensitivity sensitivity;            // when run_sensitivity
  CalibrationRobustness calibration;  // when run_calibration
  FailureSearchResult failure;        // when run_failure_search
};

struct SuiteResult {
  std::vector<std::string> group_names;
  Evaluation float_model;  // evaluate_float over the groups
  std::vector<ConfigReport> configs;
  MixedPrecisionPlan mixed_precision;  // from configs[0], when run_mixed_precision
  bool has_mixed_precision = false;
  std::vector<StepTime> times;
  double total_seconds = 0;
};

// Errors: empty_input (no configuration), those of every analysis it runs.
inline Result<SuiteResult> run_suite(Engine& engine, const std::vector<QuantConfig>& configs, const Dataset& calib,
                                     const Dataset& test, const SuiteOptions& o) {
  if (configs.empty()) return Status::empty_input;
  using clock = std::chrono::steady_clock;
  const clock::time_point start = clock::now();
  SuiteResult out;
  clock::time_point t0 = clock::now();
  const auto lap = [&](std::string step) {
    const clock::time_point t1 = clock::now();
    out.times.push_back({std::move(step), std::chrono::duration<double>(t1 - t0).count()});
    t0 = t1;
  };
  Result<std::vector<Group>> built = make_builtin_groups(test, o.shape, o.range, o.seed);
  if (!built.ok()) return built.status();
  std::vector<Group> groups = std::move(built.value());
  for (const Group& g : o.extra_groups) groups.push_back(g);
  for (const Group& g : groups) out.group_names.push_back(g.name);
  lap("groups");

  EvalOptions eo = o.eval;
  eo.progress = o.progress;
  const Result<Reference> ref = float_reference(engine, groups, eo);
  if (!ref.ok()) return ref.status();
  const Result<Evaluation> fl = evaluate_float(engine, groups, ref.value(), eo);
  if (!fl.ok()) return fl.status();
  out.float_model = fl.value();
  lap("float");

  for (const QuantConfig& cfg : configs) {
    ConfigReport rep;
    const Result<Evaluation> ev = evaluate(engine, cfg, calib, groups, ref.value(), eo);
    if (!ev.ok()) return ev.status();
    rep.evaluation = ev.value();
    lap("evaluate:" + cfg.name);
    if (o.run_sensitivity) {
      SensitivityOptions so = o.sensitivity;
      so.progress = o.progress;
      so.reference = &ref.value();
      const Result<Sensitivity> s = sensitivity(engine, cfg, calib, groups, so);
      if (!s.ok()) return s.status();
      rep.sensitivity = s.value();
      lap("sensitivity:" + cfg.name);
    }
    if (o.run_calibration) {
      CalibrationRobustnessOptions co = o.calibration;
      co.progress = o.progress;
      co.reference = &ref.value();
      const Result<CalibrationRobustness> c = calibration_robustness(engine, cfg, calib, groups, co);
      if (!c.ok()) return c.status();
      rep.calibration = c.value();
      lap("calibration:" + cfg.name);
    }
    if (o.run_failure_search) {
      FailureSearchOptions fo = o.failure;
      fo.shape = o.shape;
      fo.range = o.range;
      fo.progress = o.progress;
      const Result<FailureSearchResult> f = failure_search(engine, cfg, calib, test, fo);
      if (!f.ok()) return f.status();
      rep.failure = f.value();
      lap("failure_search:" + cfg.name);
    }
    out.configs.push_back(std::move(rep));
  }
  if (o.run_mixed_precision) {
    MixedPrecisionOptions mo = o.mixed_precision;
    mo.progress = o.progress;
    mo.reference = &ref.value();
    const Result<MixedPrecisionPlan> p = plan_mixed_precision(engine, configs.front(), calib, groups, mo);
    if (!p.ok()) return p.status();
    out.mixed_precision = p.value();
    out.has_mixed_precision = true;
    lap("mixed_precision:" + configs.front().name);
  }
  out.total_seconds = std::chrono::duration<double>(clock::now() - start).count();
  return out;
}

}  // namespace analysis
}  // namespace qsafe

#endif  // QSAFE_ANALYSIS_SUITE_HPP_
