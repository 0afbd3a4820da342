// qsafe/analysis/evaluate.hpp: one configuration evaluated over named groups of inputs, against
// the float model - the worst group and the worst class, not only the mean.
//
// For each group g (float logits F, quantized logits Q, [n, classes]):
//   float_accuracy, accuracy   top-1 accuracy of F and Q against g's labels (-1 without labels)
//   drop_vs_float              float_accuracy - accuracy; without labels, the flip rate (the drop
//                              against the float model's own predictions)
//   agreement, flipped         argmax(F) == argmax(Q) rate, and the samples where it differs
//   kl                         per-sample KL(softmax F || softmax Q): mean, p99, max (metrics.hpp)
//   logits                     MSE / SQNR / cosine / max |error| of Q against F
//   layers                     this group's share of each layer's clip / saturation counters
// A Metric turns a group into one "degradation" number (larger = worse); the worst group is the
// one with the largest degradation (the first on ties), the worst class the label with the
// largest accuracy drop pooled over every labelled group.
//
// Cost: one prepare() on `calib` plus one float and one quantized pass over every group (the
// float pass is skipped when a precomputed Reference is given). Inputs run in batches of
// EvalOptions::batch samples.
//
// Host-side: may allocate, never throws; every error is a Status.
#ifndef QSAFE_ANALYSIS_EVALUATE_HPP_
#define QSAFE_ANALYSIS_EVALUATE_HPP_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "qsafe/analysis/dataset.hpp"
#include "qsafe/analysis/engine.hpp"
#include "qsafe/analysis/metrics.hpp"
#include "qsafe/analysis/saturation.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {
namespace analysis {

// How a group's result becomes one degradation number (larger = worse).
enum class Metric : std::uint8_t {
  accuracy_drop,  // drop_vs_float (fraction of samples)
  flip_rate,      // 1 - agreement
  kl_mean,        // mean per-sample softmax KL (nats)
  kl_p99,         // 99th percentile of the per-sample KL
  kl_max,         // largest per-sample KL
  logit_mse,      // MSE of the logits
};

inline const char* to_string(Metric m) noexcept {
  switch (m) {
    case Metric::accuracy_drop: return "accuracy_drop";
    case Metric::flip_rate: return "flip_rate";
    case Metric::kl_mean: return "kl_mean";
    case Metric::kl_p99: return "kl_p99";
    case Metric::kl_max: return "kl_max";
    case Metric::logit_mse: return "logit_mse";
  }
  return "?";
}

struct EvalOptions {
  Metric metric = Metric::accuracy_drop;  // picks the worst group
  std::int64_t batch = 256;               // samples per engine call (>= 1)
  bool keep_logits = false;               // keep Q per group in GroupEval::logits
  ProgressFn progress;                    // "evaluate", groups done / groups
};

struct GroupEval {
  std::string name;
  std::int64_t samples = 0;
  bool has_labels = false;
  double float_accuracy = -1.0;         // [0, 1], -1 without labels
  double accuracy = -1.0;               // [0, 1], -1 without labels
  double drop_vs_float = 0.0;           // float_accuracy - accuracy (without labels: the flip rate)
  double agreement = 1.0;               // top-1 agreement rate with the float model
  std::vector<std::size_t> flipped;     // samples whose top-1 differs from the float model, ascending
  TailStats kl;                         // per-sample softmax KL: mean, p99, max, argmax
  ErrorMetrics logits;                  // Q against F, element-wise
  std::vector<LayerSaturation> layers;  // this group's counters per quantizable layer
  std::vector<float> quantized_logits;  // [samples, classes] when EvalOptions::keep_logits

  double degradation(Metric m) const noexcept {
    switch (m) {
      case Metric::accuracy_drop: return drop_vs_float;
      case Metric::flip_rate: return 1.0 - agreement;
      case Metric::kl_mean: return kl.mean;
      case Metric::kl_p99: return kl.p99;
      case Metric::kl_max: return kl.max;
      case Metric::logit_mse: return logits.mse;
    }
    return 0.0;
  }
};

// Accuracy of one class pooled over every labelled group.
struct ClassEval {
  std::int64_t label = 0;
  std::int64_t samples = 0;
  double float_accuracy = 0.0;
  double accuracy = 0.0;
  double drop = 0.0;  // float_accuracy - accuracy
};

struct Evaluation {
  std::string config;  // QuantConfig::name
  Metric metric = Metric::accuracy_drop;
  std::vector<GroupEval> groups;  // in the order given
  std::size_t worst_group = 0;    // index into groups: the largest degradation(metric)
  double mean_degradation = 0.0;  // unweighted mean over groups
  double worst_degradation = 0.0;
  // Over labelled groups (unweighted); -1 when no group has labels.
  double mean_accuracy = -1.0;
  double worst_accuracy = -1.0;  // the lowest group accuracy
  double float_mean_accuracy = -1.0;
  std::vector<ClassEval> classes;  // labels seen, ascending
  std::int64_t worst_class = -1;   // label with the largest drop (-1 without labels)
  double worst_class_drop = 0.0;
  std::vector<LayerInfo> layer_info;        // per quantizable layer
  std::vector<LayerRunStats> layer_stats;   // cumulative over every group (after the last one)
  std::vector<LayerSaturation> saturation;  // clip / saturation accounting over every group
};

// The float model's logits on each group, computed once and shared by many evaluations.
struct Reference {
  std::int64_t classes = 0;
  std::vector<std::vector<float>> logits;  // per group, [n, classes]
};

namespace detail {

inline Status run_batched(Engine& engine, bool quantized, const std::vector<float>& x, std::int64_t n,
                          std::int64_t batch, std::vector<float>& out) {
  const std::int64_t numel = engine.sample_numel(), classes = engine.num_outputs();
  if (numel < 1 || classes < 1) return Status::invalid_argument;
  if (batch < 1) return Status::invalid_argument;
  out.assign(static_cast<std::size_t>(n) * static_cast<std::size_t>(classes), 0.f);
  for (std::int64_t s = 0; s < n; s += batch) {
    const std::int64_t m = std::min(batch, n - s);
    const Span<const float> in(x.data() + static_cast<std::size_t>(s * numel), static_cast<std::size_t>(m * numel));
    const Span<float> o(out.data() + static_cast<std::size_t>(s * classes), static_cast<std::size_t>(m * classes));
    QSAFE_RETURN_IF_ERROR(quantized ? engine.run_quantized(in, m, o) : engine.run_float(in, m, o));
  }
  for (float v : out)
    if (!std::isfinite(v)) return Status::non_finite_input;
  return Status::ok;
}

inline Status check_engine_inputs(const Engine& engine, const std::vector<Group>& groups) {
  if (engine.sample_numel() < 1 || engine.num_outputs() < 1) return Status::invalid_argument;
  return check_groups(groups, engine.sample_numel(), engine.num_outputs());
}

}  // namespace detail

// The float logits of every group. Errors: those of check_groups (empty_input, shape_mismatch,
// invalid_argument for a label out of range, non_finite_input), the engine's, non_finite_input
// when the engine outputs NaN/Inf.
inline Result<Reference> float_reference(Engine& engine, const std::vector<Group>& groups,
                                         const EvalOptions& options = {}) {
  QSAFE_RETURN_IF_ERROR(detail::check_engine_inputs(engine, groups));
  Reference ref;
  ref.classes = engine.num_outputs();
  ref.logits.resize(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g)
    QSAFE_RETURN_IF_ERROR(detail::run_batched(engine, false, groups[g].x, groups[g].n, options.batch, ref.logits[g]));
  return ref;
}

// Scores the engine's *current* preparation (prepare() already called) over `groups` against
// `reference`. Used by evaluate() and by analyses that prepare the engine themselves. The per-group
// layer counters are differences of layer_stats() before and after each group.
// Errors: as float_reference; shape_mismatch when `reference` does not match the groups.
inline Result<Evaluation> evaluate_prepared(Engine& engine, const std::string& config_name,
                                            const std::vector<Group>& groups, const Reference& reference,
                                            const EvalOptions& options = {}) {
  QSAFE_RETURN_IF_ERROR(detail::check_engine_inputs(engine, groups));
  const std::int64_t classes = engine.num_outputs();
  if (reference.classes != classes || reference.logits.size() != groups.size()) return Status::shape_mismatch;
  for (std::size_t g = 0; g < groups.size(); ++g)
    if (reference.logits[g].size() != static_cast<std::size_t>(groups[g].n * classes)) return Status::shape_mismatch;
  const std::size_t layers = engine.num_layers();
  Evaluation ev;
  ev.config = config_name;
  ev.metric = options.metric;
  for (std::size_t l = 0; l < layers; ++l) ev.layer_info.push_back(engine.layer_info(l));
  std::vector<LayerRunStats> before(layers);
  for (std::size_t l = 0; l < layers; ++l) before[l] = engine.layer_stats(l);
  std::vector<std::int64_t> class_n(static_cast<std::size_t>(classes), 0), class_f(class_n), class_q(class_n);
  std::vector<float> q;
  double acc_sum = 0, facc_sum = 0;
  std::size_t labelled = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const Group& grp = groups[g];
    QSAFE_RETURN_IF_ERROR(detail::run_batched(engine, true, grp.x, grp.n, options.batch, q));
    const Span<const float> f(reference.logits[g]);
    const Result<ClassificationMetrics> cm = classification_metrics(
        f, Span<const float>(q), static_cast<std::size_t>(classes), Span<const std::int64_t>(grp.labels));
    if (!cm.ok()) return cm.status();
    const Result<ErrorMetrics> em = error_metrics(f, Span<const float>(q));
    if (!em.ok()) return em.status();
    GroupEval ge;
    ge.name = grp.name;
    ge.samples = grp.n;
    ge.has_labels = !grp.labels.empty();
    ge.agreement = cm->agreement_rate();
    ge.flipped = cm->flipped;
    ge.kl = cm->kl_tail;
    ge.logits = em.value();
    if (ge.has_labels) {
      ge.float_accuracy = cm->reference_accuracy;
      ge.accuracy = cm->test_accuracy;
      ge.drop_vs_float = ge.float_accuracy - ge.accuracy;
      acc_sum += ge.accuracy;
      facc_sum += ge.float_accuracy;
      ev.worst_accuracy = labelled == 0 ? ge.accuracy : std::min(ev.worst_accuracy, ge.accuracy);
      ++labelled;
      for (std::int64_t s = 0; s < grp.n; ++s) {
        const std::size_t lab = static_cast<std::size_t>(grp.labels[static_cast<std::size_t>(s)]);
        const std::size_t off = static_cast<std::size_t>(s * classes);
        ++class_n[lab];
        class_f[lab] += argmax(f.subspan(off, static_cast<std::size_t>(classes))) == lab ? 1 : 0;
        class_q[lab] += argmax(Span<const float>(q).subspan(off, static_cast<std::size_t>(classes))) == lab ? 1 : 0;
      }
    } else {
      ge.drop_vs_float = 1.0 - ge.agreement;
    }
    for (std::size_t l = 0; l < layers; ++l) {
      const LayerRunStats after = engine.layer_stats(l);
      ge.layers.push_back(saturation_between(l, ev.layer_info[l].name, before[l], after));
      before[l] = after;
    }
    if (options.keep_logits) ge.quantized_logits = q;
    ev.groups.push_back(std::move(ge));
    if (options.progress) options.progress("evaluate", g + 1, groups.size());
  }
  double sum = 0;
  for (std::size_t g = 0; g < ev.groups.size(); ++g) {
    const double d = ev.groups[g].degradation(options.metric);
    sum += d;
    if (g == 0 || d > ev.worst_degradation) {
      ev.worst_degradation = d;
      ev.worst_group = g;
    }
  }
  ev.mean_degradation = sum / static_cast<double>(ev.groups.size());
  if (labelled > 0) {
    ev.mean_accuracy = acc_sum / static_cast<double>(labelled);
    ev.float_mean_accuracy = facc_sum / static_cast<double>(labelled);
    for (std::int64_t c = 0; c < classes; ++c) {
      const std::size_t i = static_cast<std::size_t>(c);
      if (class_n[i] == 0) continue;
      ClassEval ce;
      ce.label = c;
      ce.samples = class_n[i];
      ce.float_accuracy = static_cast<double>(class_f[i]) / static_cast<double>(class_n[i]);
      ce.accuracy = static_cast<double>(class_q[i]) / static_cast<double>(class_n[i]);
      ce.drop = ce.float_accuracy - ce.accuracy;
      if (ev.worst_class < 0 || ce.drop > ev.worst_class_drop) {
        ev.worst_class = c;
        ev.worst_class_drop = ce.drop;
      }
      ev.classes.push_back(ce);
    }
  }
  for (std::size_t l = 0; l < layers; ++l) {
    ev.layer_stats.push_back(engine.layer_stats(l));
    ev.saturation.push_back(saturation_of(l, ev.layer_info[l].name, ev.layer_stats.back()));
  }
  return ev;
}

// Prepares `config` on `calib` (labels unused) and evaluates it over `groups` against `reference`.
// Errors: invalid_argument / shape_mismatch from check_config, check_dataset's errors for calib,
// those of evaluate_prepared, and the engine's.
inline Result<Evaluation> evaluate(Engine& engine, const QuantConfig& config, const Dataset& calib,
                                   const std::vector<Group>& groups, const Reference& reference,
                                   const EvalOptions& options = {}) {
  QSAFE_RETURN_IF_ERROR(check_config(config, engine.num_layers()));
  QSAFE_RETURN_IF_ERROR(check_dataset(calib, engine.sample_numel(), 0));
  QSAFE_RETURN_IF_ERROR(detail::check_engine_inputs(engine, groups));
  QSAFE_RETURN_IF_ERROR(engine.prepare(config, Span<const float>(calib.x), calib.n));
  return evaluate_prepared(engine, config.name, groups, reference, options);
}

// As above, computing the float reference first.
inline Result<Evaluation> evaluate(Engine& engine, const QuantConfig& config, const Dataset& calib,
                                   const std::vector<Group>& groups, const EvalOptions& options = {}) {
  const Result<Reference> ref = float_reference(engine, groups, options);
  if (!ref.ok()) return ref.status();
  return evaluate(engine, config, calib, groups, ref.value(), options);
}

// The float model scored like a configuration: accuracy = float_accuracy, agreement 1, no drop,
// no layer counters. Errors: as float_reference.
// With a precomputed Reference of the same groups (shape_mismatch otherwise), no engine call
// but layer_info.
inline Result<Evaluation> evaluate_float(Engine& engine, const std::vector<Group>& groups, const Reference& reference,
                                         const EvalOptions& options = {}) {
  QSAFE_RETURN_IF_ERROR(detail::check_engine_inputs(engine, groups));
  const Reference* ref = &reference;
  if (reference.classes != engine.num_outputs() || reference.logits.size() != groups.size())
    return Status::shape_mismatch;
  for (std::size_t g = 0; g < groups.size(); ++g)
    if (reference.logits[g].size() != static_cast<std::size_t>(groups[g].n * reference.classes))
      return Status::shape_mismatch;
  Evaluation ev;
  ev.config = "float";
  ev.metric = options.metric;
  const std::int64_t classes = engine.num_outputs();
  std::vector<std::int64_t> class_n(static_cast<std::size_t>(classes), 0), class_f(class_n);
  double acc_sum = 0;
  std::size_t labelled = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const Span<const float> f(ref->logits[g]);
    const Result<ClassificationMetrics> cm =
        classification_metrics(f, f, static_cast<std::size_t>(classes), Span<const std::int64_t>(groups[g].labels));
    if (!cm.ok()) return cm.status();
    GroupEval ge;
    ge.name = groups[g].name;
    ge.samples = groups[g].n;
    ge.has_labels = !groups[g].labels.empty();
    ge.logits.count = f.size();
    ge.logits.sqnr_db = std::numeric_limits<double>::infinity();
    if (ge.has_labels) {
      ge.float_accuracy = ge.accuracy = cm->reference_accuracy;
      acc_sum += ge.accuracy;
      ev.worst_accuracy = labelled == 0 ? ge.accuracy : std::min(ev.worst_accuracy, ge.accuracy);
      ++labelled;
      for (std::int64_t s = 0; s < groups[g].n; ++s) {
        const std::size_t lab = static_cast<std::size_t>(groups[g].labels[static_cast<std::size_t>(s)]);
        ++class_n[lab];
        class_f[lab] +=
            argmax(f.subspan(static_cast<std::size_t>(s * classes), static_cast<std::size_t>(classes))) == lab;
      }
    }
    ev.groups.push_back(std::move(ge));
  }
  if (labelled > 0) {
    ev.mean_accuracy = ev.float_mean_accuracy = acc_sum / static_cast<double>(labelled);
    // Without a quantized side, the "worst" group and class are the least accurate ones.
    for (std::size_t g = 0; g < ev.groups.size(); ++g)
      if (ev.groups[g].has_labels && ev.groups[g].accuracy == ev.worst_accuracy) {
        ev.worst_group = g;
        break;
      }
    for (std::int64_t c = 0; c < classes; ++c) {
      const std::size_t i = static_cast<std::size_t>(c);
      if (class_n[i] == 0) continue;
      ClassEval ce;
      ce.label = c;
      ce.samples = class_n[i];
      ce.float_accuracy = ce.accuracy = static_cast<double>(class_f[i]) / static_cast<double>(class_n[i]);
      ev.classes.push_back(ce);
    }
    double lowest = 2.0;
    for (const ClassEval& ce : ev.classes)
      if (ce.accuracy < lowest) {
        lowest = ce.accuracy;
        ev.worst_class = ce.label;
      }
  }
  for (std::size_t l = 0; l < engine.num_layers(); ++l) ev.layer_info.push_back(engine.layer_info(l));
  return ev;
}

// As above, running the float model first.
inline Result<Evaluation> evaluate_float(Engine& engine, const std::vector<Group>& groups,
                                         const EvalOptions& options = {}) {
  const Result<Reference> ref = float_reference(engine, groups, options);
  if (!ref.ok()) return ref.status();
  return evaluate_float(engine, groups, ref.value(), options);
}

}  // namespace analysis
}  // namespace qsafe

#endif  // QSAFE_ANALYSIS_EVALUATE_HPP_
