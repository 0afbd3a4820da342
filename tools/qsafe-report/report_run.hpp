// tools/qsafe-report/report_run.hpp: runs every analysis of qsafe-report on an Engine and fills
// the Report (report_model.hpp). Steps, in order:
//   1. groups      builtin: the test set + the corruption suite (analysis/dataset.hpp); or the user's
//   2. float       the float model on every group (the reference for everything below)
//   3. configs     each configuration prepared on the calibration set and evaluated on every group
//   4. mixed       the mixed-precision plan, from the best static configuration
//   5. sensitivity per layer, of the recommended configuration
//   6. calibration robustness of the best static configuration
//   7. failure search on every dynamic configuration and on the recommended one
//   8. recommendation
// A configuration that fails is reported with its error; the other steps still run.
#ifndef QSAFE_TOOLS_QSAFE_REPORT_REPORT_RUN_HPP_
#define QSAFE_TOOLS_QSAFE_REPORT_REPORT_RUN_HPP_

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "qsafe/analysis.hpp"
#include "recommend.hpp"
#include "report_inputs.hpp"
#include "report_model.hpp"
#include "terminal.hpp"

namespace qsafe_report {

namespace an = qsafe::analysis;

// A configuration the tool can run, by name.
struct ConfigSpec {
  std::string name;
  std::string description;
  an::QuantConfig config;
  bool uses_observer = true;
};

inline std::vector<std::string> all_config_names() {
  return {"static_minmax",   "static_percentile", "static_mse",     "static_entropy", "dynamic_per_tensor",
          "dynamic_per_row", "guarded",           "per_input_bits", "mixed"};
}

// The per-input bit-width rule of `per_input_bits`: inputs whose peak-to-mean ratio of |x| is at
// most 6 (no outlier dominates) are quantized at 6 bits, the others at 8.
inline an::BitWidthRule default_bit_width_rule() {
  an::BitWidthRule r;
  r.enabled = true;
  r.statistic = an::InputStatistic::peak_to_mean;
  r.thresholds = {6.f};
  r.bits = {6, 8};
  return r;
}

// The named configuration (not "mixed", which the planner builds). Throws UsageError for an
// unknown name.
inline ConfigSpec make_config(const std::string& name) {
  ConfigSpec s;
  s.name = name;
  an::LayerConfig& l = s.config.all;
  l.weight_bits = 8;
  l.activation_bits = 8;
  l.per_channel_weights = true;
  const auto static_with = [&](an::ObserverKind k, const char* what) {
    l.policy = an::ActPolicy::static_range;
    l.observer = k;
    s.description = std::string("static int8 activations calibrated by ") + what + ", int8 per-channel weights";
  };
  if (name == "static_minmax") {
    static_with(an::ObserverKind::min_max, "min-max");
  } else if (name == "static_percentile") {
    static_with(an::ObserverKind::percentile, "the 99.99th percentile");
  } else if (name == "static_mse") {
    static_with(an::ObserverKind::mse, "the MSE-optimal clip");
  } else if (name == "static_entropy") {
    static_with(an::ObserverKind::entropy, "entropy (KL)");
  } else if (name == "dynamic_per_tensor") {
    l.policy = an::ActPolicy::dynamic_per_tensor;
    s.uses_observer = false;
    s.description = "dynamic int8 activations, one range per input tensor at run time";
  } else if (name == "dynamic_per_row") {
    l.policy = an::ActPolicy::dynamic_per_row;
    s.uses_observer = false;
    s.description = "dynamic int8 activations, one range per row at run time";
  } else if (name == "guarded") {
    l.policy = an::ActPolicy::guarded_per_tensor;
    l.observer = an::ObserverKind::min_max;
    l.guard_k = 2.f;
    l.on_violation = qsafe::OnViolation::clamp_to_envelope;
    s.description = "dynamic per tensor inside 2x the min-max calibrated range (clamped outside)";
  } else if (name == "per_input_bits") {
    l.policy = an::ActPolicy::dynamic_per_tensor;
    l.bit_width = default_bit_width_rule();
    s.uses_observer = false;
    s.description = "dynamic per tensor; 6-bit activations when peak/mean |x| <= 6, else 8-bit";
  } else {
    throw UsageError("--configs: unknown configuration '" + name + "' (--help lists them)");
  }
  s.config.name = name;
  return s;
}

inline std::vector<std::string> parse_config_list(const std::string& list) {
  if (list == "all") return all_config_names();
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    if (item != "mixed") make_config(item);  // validates the name
    if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
  }
  if (out.empty()) throw UsageError("--configs: empty list");
  return out;
}

inline an::Metric metric_of(const std::string& name) {
  for (an::Metric m : {an::Metric::accuracy_drop, an::Metric::flip_rate, an::Metric::kl_mean, an::Metric::kl_p99,
                       an::Metric::kl_max, an::Metric::logit_mse})
    if (name == an::to_string(m)) return m;
  throw UsageError("unknown metric " + name);
}

namespace run_detail {

inline std::string status_text(const char* what, qsafe::Status s) {
  return std::string(what) + ": " + qsafe::to_string(s);
}

inline GroupScore group_score(const an::GroupEval& g) {
  GroupScore s;
  s.group = g.name;
  s.samples = g.samples;
  s.accuracy = g.has_labels ? g.accuracy : kNaN;
  s.drop_vs_float = g.drop_vs_float;
  s.agreement = g.agreement;
  s.flips = static_cast<std::int64_t>(g.flipped.size());
  s.kl_mean = g.kl.mean;
  s.kl_p99 = g.kl.p99;
  s.kl_max = g.kl.max;
  return s;
}

inline LayerQuant layer_quant(const an::LayerInfo& info, const an::LayerRunStats& st) {
  LayerQuant l;
  l.name = info.name;
  l.kind = info.kind;
  l.quantized = st.quantized;
  if (st.quantized && st.input.scale > 0.f) l.input = QP{true, st.input.scale, st.input.zero_point};
  if (st.quantized && st.output.scale > 0.f) l.output = QP{true, st.output.scale, st.output.zero_point};
  if (st.quantized) {
    l.input_lo = st.input_range.lo;
    l.input_hi = st.input_range.hi;
  }
  for (float w : st.weight_scales) l.weight_scales.push_back(w);
  l.values = st.counters.values;
  l.clipped = st.counters.clipped;
  l.saturated = st.counters.saturated;
  l.envelope_violations = st.counters.envelope_violations;
  l.fallbacks = st.counters.fallbacks;
  l.float_fallbacks = st.float_fallbacks;
  for (int b = 0; b < 17; ++b)
    if (st.bits_chosen[static_cast<std::size_t>(b)] != 0)
      l.bits_chosen.emplace_back(b, st.bits_chosen[static_cast<std::size_t>(b)]);
  return l;
}

inline std::string observer_text(const an::QuantConfig& c, std::size_t layers) {
  std::string obs;
  for (std::size_t i = 0; i < layers; ++i) {
    const an::LayerConfig& l = c.layer(i);
    if (l.keep_float || l.policy == an::ActPolicy::dynamic_per_tensor || l.policy == an::ActPolicy::dynamic_per_row)
      continue;
    const std::string o = an::to_string(l.observer);
    if (obs.empty())
      obs = o;
    else if (obs != o)
      return "mixed";
  }
  return obs.empty() ? "-" : obs;
}

// Fills the parts of a ConfigReport that come from the configuration itself.
inline void describe(ConfigReport& r, const an::QuantConfig& c, const std::vector<LayerDesc>& layers) {
  const an::LayerConfig& a = c.per_layer.empty() ? c.all : c.per_layer.front();
  r.weight_bits = c.per_layer.empty() ? a.weight_bits : 0;  // 0: per layer, see layer_weight_bits
  r.activation_bits = c.per_layer.empty() ? a.activation_bits : 0;
  r.per_channel_weights = a.per_channel_weights;
  if (a.bit_width.enabled) r.bit_width_candidates = a.bit_width.bits;
  r.observer = observer_text(c, layers.size());
  if (r.policy.empty()) r.policy = an::to_string(a.policy);
  r.weight_bytes = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const an::LayerConfig& l = c.layer(i);
    r.layer_weight_bits.push_back(l.keep_float ? 0 : l.weight_bits);
    r.layer_activation_bits.push_back(l.keep_float ? 0 : l.activation_bits);
    r.weight_bytes += layers[i].weights * (l.keep_float ? 32 : l.weight_bits) / 8;
  }
}

inline void score(ConfigReport& r, const an::Evaluation& ev) {
  double sum = 0;
  std::size_t n = 0;
  for (const an::GroupEval& g : ev.groups) {
    r.groups.push_back(group_score(g));
    r.flips += static_cast<std::int64_t>(g.flipped.size());
    if (g.has_labels) {
      sum += g.accuracy;
      ++n;
      if (!std::isfinite(r.worst_group_accuracy) || g.accuracy < r.worst_group_accuracy) {
        r.worst_group_accuracy = g.accuracy;
        r.worst_group = g.name;
        r.worst_group_drop = g.drop_vs_float;
      }
    }
    if (!std::isfinite(r.max_drop) || g.drop_vs_float > r.max_drop) {
      r.max_drop = g.drop_vs_float;
      r.max_drop_group = g.name;
    }
  }
  r.mean_accuracy = n ? sum / static_cast<double>(n) : kNaN;
  for (const an::ClassEval& c : ev.classes)
    if (c.label == ev.worst_class) r.worst_class = ClassScore{c.label, c.samples, c.accuracy, c.float_accuracy};
  for (std::size_t i = 0; i < ev.layer_stats.size() && i < ev.layer_info.size(); ++i)
    r.layers.push_back(layer_quant(ev.layer_info[i], ev.layer_stats[i]));
}

}  // namespace run_detail

struct RunOptions {
  std::vector<std::string> configs;
  std::uint64_t seed = 0;
  double threshold = 0.02;
  // Effort knobs (defaults sized for ~1 minute on the bundled digits on two cores).
  std::int64_t failure_sources = 32;
  std::int64_t failure_evaluations = 1024;
  float failure_linf = 0.1f;  // in units of the data range
  int calib_bootstrap = 2;
  std::vector<std::int64_t> calib_subsets{16};
};

class Runner {
 public:
  Runner(an::Engine& engine, Inputs& in, const Options& opt, RunOptions ro, Progress& progress)
      : engine_(engine), in_(in), opt_(opt), ro_(std::move(ro)), progress_(progress) {}

  Report run() {
    Report& r = report_;
    r.version = std::to_string(QSAFE_VERSION_MAJOR) + "." + std::to_string(QSAFE_VERSION_MINOR) + "." +
                std::to_string(QSAFE_VERSION_PATCH);
    inputs_info();
    make_groups();
    run_float();
    run_configs();
    run_mixed();
    flag();
    const std::string best = best_config(false), best_static = best_config(true);
    run_sensitivity(best);
    run_calibration(best_static);
    run_failure_search(best);
    flag();
    r.recommendation = recommend(r, ro_.threshold);
    return r;
  }

 private:
  an::ProgressFn progress_fn() {
    return [this](const char*, std::size_t done, std::size_t total) { progress_.update(done, total); };
  }
  void timed(const std::string& name, double s) { report_.timings_s.emplace_back(name, s); }
  [[noreturn]] void fail(const std::string& what, qsafe::Status s) {
    throw InputError(run_detail::status_text(what.c_str(), s));
  }

  void inputs_info() {
    InputsInfo& i = report_.inputs;
    i.model = opt_.model;
    i.calib = opt_.calib;
    i.test = opt_.test;
    i.labels = opt_.labels;
    i.groups = opt_.groups;
    i.calib_samples = in_.calib.n;
    i.test_samples = in_.test.n;
    i.sample_shape = {in_.shape.channels, in_.shape.height, in_.shape.width};
    i.classes = in_.classes;
    i.seed = opt_.seed;
    for (std::size_t l = 0; l < engine_.num_layers(); ++l) {
      const an::LayerInfo info = engine_.layer_info(l);
      i.layers.push_back(LayerDesc{info.name, info.kind, info.weight_count, info.macs_per_sample});
    }
  }

  void make_groups() {
    if (opt_.groups == "builtin") {
      qsafe::Result<std::vector<an::Group>> g = an::make_builtin_groups(in_.test, in_.shape, in_.data_range, ro_.seed);
      if (!g.ok()) fail(opt_.test + ": building the corruption groups", g.status());
      groups_ = std::move(g.value());
    } else {
      groups_ = in_.groups;
    }
    for (const an::Group& g : groups_) report_.group_names.push_back(g.name);
  }

  void run_float() {
    progress_.step("float", "reference on " + std::to_string(groups_.size()) + " groups");
    an::EvalOptions eo;
    qsafe::Result<an::Reference> ref = an::float_reference(engine_, groups_, eo);
    if (!ref.ok()) fail("float model", ref.status());
    reference_ = std::move(ref.value());
    const qsafe::Result<an::Evaluation> ev = an::evaluate_float(engine_, groups_, reference_, eo);
    if (!ev.ok()) fail("float model", ev.status());
    for (const an::GroupEval& g : ev->groups) {
      GroupScore s = run_detail::group_score(g);
      s.drop_vs_float = 0;
      report_.float_groups.push_back(s);
      if (!std::isfinite(report_.float_worst_group_accuracy) || s.accuracy < report_.float_worst_group_accuracy) {
        report_.float_worst_group_accuracy = s.accuracy;
        report_.float_worst_group = s.group;
      }
    }
    timed("float", progress_.done());
  }

  void run_configs() {
    for (const std::string& name : ro_.configs) {
      if (name == "mixed") continue;
      const ConfigSpec spec = make_config(name);
      progress_.step("config", name);
      ConfigReport c;
      c.name = name;
      c.description = spec.description;
      run_detail::describe(c, spec.config, report_.inputs.layers);
      an::EvalOptions eo;
      eo.progress = progress_fn();
      const qsafe::Result<an::Evaluation> ev = an::evaluate(engine_, spec.config, in_.calib, groups_, reference_, eo);
      if (ev.ok())
        run_detail::score(c, ev.value());
      else
        c.error = qsafe::to_string(ev.status());
      report_.configs.push_back(std::move(c));
      specs_.push_back(spec);
      timed("config " + name, progress_.done());
    }
  }

  // The best configuration by worst-group accuracy (static ones only, or any).
  std::string best_config(bool static_only) const {
    const ConfigReport* best = nullptr;
    for (std::size_t i = 0; i < report_.configs.size(); ++i) {
      const ConfigReport& c = report_.configs[i];
      if (!c.error.empty() || !std::isfinite(c.worst_group_accuracy)) continue;
      if (static_only && c.policy != "static") continue;
      if (best == nullptr || c.worst_group_accuracy > best->worst_group_accuracy) best = &c;
    }
    if (best == nullptr && static_only) return best_config(false);
    return best ? best->name : std::string();
  }
  const an::QuantConfig* config_of(const std::string& name) const {
    for (const ConfigSpec& s : specs_)
      if (s.name == name) return &s.config;
    return nullptr;
  }

  void run_mixed() {
    if (std::find(ro_.configs.begin(), ro_.configs.end(), "mixed") == ro_.configs.end()) return;
    const std::string base = best_config(true);
    const an::QuantConfig* bc = config_of(base);
    MixedPrecisionReport& mp = report_.mixed_precision;
    mp.base_config = base;
    ConfigReport c;
    c.name = "mixed";
    c.policy = "mixed";
    c.description = "per-layer precision from the planner (base " + base + "), average weight bits <= 8";
    if (bc == nullptr) {
      c.error = mp.error = "no static configuration ran to plan from";
      report_.configs.push_back(c);
      return;
    }
    progress_.step("mixed precision", "from " + base);
    an::MixedPrecisionOptions mo;
    mo.candidates = {{true, 32, 32}, {false, 8, 8}, {false, 4, 8}};
    mo.budget_kind = an::BudgetKind::average_weight_bits;
    mo.budget = 8.0;
    mo.metric = an::Metric::accuracy_drop;
    mo.verify_top = 2;
    mo.progress = progress_fn();
    mo.reference = &reference_;
    mp.budget = "average weight bits <= 8 (candidates per layer: float, w8a8, w4a8)";
    const qsafe::Result<an::MixedPrecisionPlan> plan = an::plan_mixed_precision(engine_, *bc, in_.calib, groups_, mo);
    if (!plan.ok()) {
      c.error = mp.error = qsafe::to_string(plan.status());
    } else {
      const an::MixedPrecisionPlan& p = plan.value();
      for (const an::LayerChoice& l : p.layers) {
        mp.layer_names.push_back(l.name);
        mp.layer_choices.push_back(l.precision.label());
      }
      mp.average_weight_bits = p.average_weight_bits;
      mp.weight_bytes = p.weight_bytes;
      mp.predicted_worst = p.predicted_worst;
      mp.measured_worst = p.measured_worst;
      mp.worst_group_accuracy = p.measured_worst_accuracy >= 0 ? p.measured_worst_accuracy : kNaN;
      mp.plans_considered = static_cast<std::int64_t>(p.plans_considered);
      mp.plans_measured = static_cast<std::int64_t>(p.plans_measured);
      an::QuantConfig cfg = p.config;
      cfg.name = "mixed";
      run_detail::describe(c, cfg, report_.inputs.layers);
      c.policy = "mixed";
      run_detail::score(c, p.evaluation);
      specs_.push_back(ConfigSpec{"mixed", c.description, cfg, true});
    }
    report_.configs.push_back(std::move(c));
    timed("mixed precision", progress_.done());
  }

  void flag() {
    for (ConfigReport& c : report_.configs)
      c.flagged = !c.error.empty() || (std::isfinite(c.max_drop) && c.max_drop > ro_.threshold + 1e-12);
  }

  void run_sensitivity(const std::string& name) {
    const an::QuantConfig* cfg = config_of(name);
    if (cfg == nullptr) return;
    progress_.step("sensitivity", name);
    an::SensitivityOptions so;
    so.metric = metric_of(opt_.sensitivity_metric);
    so.all_but_one = true;
    so.progress = progress_fn();
    so.reference = &reference_;
    SensitivityReport& sr = report_.sensitivity;
    sr.config = name;
    sr.metric = opt_.sensitivity_metric;
    const qsafe::Result<an::Sensitivity> s = an::sensitivity(engine_, *cfg, in_.calib, groups_, so);
    if (s.ok()) {
      sr.full_worst = s->full_worst;
      for (const an::LayerSensitivity& l : s->layers) {
        LayerSensitivity o;
        o.name = l.name;
        o.kind = l.kind;
        const an::LayerInfo info = engine_.layer_info(l.layer);
        o.weights = info.weight_count;
        o.macs = info.macs_per_sample;
        o.only_worst = l.only_worst;
        o.only_mean = l.only_mean;
        o.only_worst_accuracy = l.only_worst_accuracy >= 0 ? l.only_worst_accuracy : kNaN;
        o.except_worst = l.except_worst;
        o.gain_worst = l.gain_worst;
        sr.layers.push_back(o);
      }
      for (std::size_t k = 0; k < s->order_only_worst.size(); ++k)
        sr.layers[s->order_only_worst[k]].rank = static_cast<int>(k + 1);
    } else {
      sr.metric += std::string(" (failed: ") + qsafe::to_string(s.status()) + ")";
    }
    timed("sensitivity", progress_.done());
  }

  void run_calibration(const std::string& name) {
    const an::QuantConfig* cfg = config_of(name);
    if (cfg == nullptr) return;
    progress_.step("calibration robustness", name);
    an::CalibrationRobustnessOptions co;
    co.per_group = true;
    co.bootstrap = ro_.calib_bootstrap;
    co.subset_sizes = ro_.calib_subsets;
    co.subsets_per_size = 2;
    co.seed = ro_.seed;
    co.progress = progress_fn();
    co.reference = &reference_;
    CalibrationReport& cr = report_.calibration;
    cr.config = name;
    const qsafe::Result<an::CalibrationRobustness> c =
        an::calibration_robustness(engine_, *cfg, in_.calib, groups_, co);
    if (c.ok()) {
      cr.eval_groups = c->groups;
      for (const an::CalibrationSetResult& s : c->sets) {
        cr.calib_sets.push_back(s.name);
        cr.calib_samples.push_back(s.samples);
        std::vector<double> row;
        for (double a : s.accuracy) row.push_back(a >= 0 ? a : kNaN);
        cr.accuracy.push_back(row);
        cr.worst_accuracy.push_back(s.worst_accuracy >= 0 ? s.worst_accuracy : kNaN);
      }
      cr.worst_accuracy_min = c->worst_group_accuracy.min;
      cr.worst_accuracy_max = c->worst_group_accuracy.max;
      if (c->worst_set < c->sets.size()) cr.worst_set = c->sets[c->worst_set].name;
      for (const an::LayerScaleSpread& l : c->layers) {
        cr.layer_names.push_back(l.name);
        cr.layer_scale_ratio.push_back(l.max_over_min);
      }
    } else {
      cr.worst_set = std::string("failed: ") + qsafe::to_string(c.status());
    }
    timed("calibration robustness", progress_.done());
  }

  void run_failure_search(const std::string& recommended) {
    std::vector<std::string> targets;
    for (const ConfigSpec& s : specs_)
      if (!s.uses_observer || s.config.all.policy == an::ActPolicy::guarded_per_tensor) targets.push_back(s.name);
    if (!recommended.empty() && std::find(targets.begin(), targets.end(), recommended) == targets.end())
      targets.push_back(recommended);
    for (const std::string& name : targets) {
      const an::QuantConfig* cfg = config_of(name);
      if (cfg == nullptr) continue;
      progress_.step("failure search", name);
      an::FailureSearchOptions fo;
      const double width = static_cast<double>(in_.data_range.hi) - in_.data_range.lo;
      fo.linf = static_cast<float>(ro_.failure_linf * width);
      fo.max_evaluations = ro_.failure_evaluations;
      fo.sources = std::min<std::int64_t>(ro_.failure_sources, in_.test.n);
      fo.shape = in_.shape;
      fo.range = in_.data_range;
      fo.threshold = 0.1;
      fo.seed = ro_.seed;
      fo.progress = progress_fn();
      FailureSearchReport f;
      f.config = name;
      f.linf = fo.linf;
      f.threshold = fo.threshold;
      const qsafe::Result<an::FailureSearchResult> res = an::failure_search(engine_, *cfg, in_.calib, in_.test, fo);
      if (res.ok()) {
        const an::FailureSearchResult& x = res.value();
        const auto acc = [](double a) { return a >= 0 ? a : kNaN; };
        f.sources = x.sources;
        f.evaluations = x.evaluations;
        f.clean_accuracy = acc(x.clean_accuracy);
        f.clean_float_accuracy = acc(x.clean_float_accuracy);
        f.found_accuracy = acc(x.found_accuracy);
        f.found_float_accuracy = acc(x.found_float_accuracy);
        f.accuracy_drop = x.accuracy_drop;
        f.found_flip_rate = x.found_flip_rate;
        f.worst_kl = x.found_kl.max;
        if (!x.worst.empty()) f.worst_origin = x.worst.front().origin;
        const an::CorruptionProbe* wc = nullptr;
        for (const an::CorruptionProbe& p : x.corruptions)
          if (wc == nullptr || p.accuracy_drop > wc->accuracy_drop) wc = &p;
        if (wc != nullptr) {
          char buf[96];
          std::snprintf(buf, sizeof buf, "%s %.3g", wc->name.c_str(), static_cast<double>(wc->corruption.param));
          f.worst_corruption = buf;
          if (wc->corruption.kind == an::CorruptionKind::outlier_pixels)
            f.worst_corruption += " x" + std::to_string(wc->corruption.count);
          f.worst_corruption_drop = wc->accuracy_drop;
        }
        f.verdict = an::to_string(x.verdict);
        f.explanation =
            "From " + std::to_string(x.sources) + " test samples (" + std::to_string(x.evaluations) +
            " evaluations) the search found inputs on which quantized accuracy is " +
            term_detail::pct(f.found_accuracy) + " against float's " + term_detail::pct(f.found_float_accuracy) +
            " (on the unperturbed samples: " + term_detail::pct(f.clean_accuracy) + " against " +
            term_detail::pct(f.clean_float_accuracy) + "); the most damaging input came from " + f.worst_origin + ".";
      } else {
        f.verdict = "error";
        f.explanation = std::string("failed: ") + qsafe::to_string(res.status());
      }
      report_.failure_search.push_back(std::move(f));
      timed("failure search " + name, progress_.done());
    }
  }

  an::Engine& engine_;
  Inputs& in_;
  const Options& opt_;
  RunOptions ro_;
  Progress& progress_;
  Report report_;
  std::vector<an::Group> groups_;
  an::Reference reference_;
  std::vector<ConfigSpec> specs_;
};

}  // namespace qsafe_report

#endif  // QSAFE_TOOLS_QSAFE_REPORT_REPORT_RUN_HPP_
