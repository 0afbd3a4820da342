// qsafe/analysis/sensitivity.hpp: which quantizable layer hurts - each layer quantized alone
// (every other layer in float) and each layer kept in float alone (every other layer quantized),
// scored by a Metric on the mean over groups and on the worst group.
//
// For layer i (QuantConfig::isolate):
//   only_*    degradation with only layer i quantized: how much damage layer i does by itself
//   except_*  degradation with every layer but i quantized
//   gain_*    full_* - except_*: how much keeping layer i in float recovers
// Rankings (layer indices, most sensitive first, ties by index):
//   order_only_mean / order_only_worst    by only_mean / only_worst (descending)
//   order_gain_mean / order_gain_worst    by gain_mean / gain_worst (descending)
//
// Cost: one float pass over the groups, then 1 + L (+ L with all_but_one) prepare() + quantized
// passes over every group, L = num_layers().
//
// Host-side: may allocate, never throws; every error is a Status.
#ifndef QSAFE_ANALYSIS_SENSITIVITY_HPP_
#define QSAFE_ANALYSIS_SENSITIVITY_HPP_

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "qsafe/analysis/dataset.hpp"
#include "qsafe/analysis/engine.hpp"
#include "qsafe/analysis/evaluate.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {
namespace analysis {

struct SensitivityOptions {
  Metric metric = Metric::kl_mean;       // what "degradation" means
  bool all_but_one = true;               // also run the L all-but-one configurations
  std::int64_t batch = 256;              // samples per engine call
  const Reference* reference = nullptr;  // float logits of these groups, if already computed
  ProgressFn progress;                   // "sensitivity", configurations done / total
};

struct LayerSensitivity {
  std::size_t layer = 0;
  std::string name;
  std::string kind;
  double only_mean = 0.0;
  double only_worst = 0.0;
  std::size_t only_worst_group = 0;    // index into Sensitivity::group_names
  std::vector<double> only_per_group;  // degradation per group
  double only_worst_accuracy = -1.0;   // lowest group accuracy with only this layer quantized
  double except_mean = 0.0;            // all_but_one only (else 0)
  double except_worst = 0.0;
  std::vector<double> except_per_group;
  double gain_mean = 0.0;   // full_mean - except_mean
  double gain_worst = 0.0;  // full_worst - except_worst
};

struct Sensitivity {
  std::string config;  // the base configuration's name
  Metric metric = Metric::kl_mean;
  std::vector<std::string> group_names;
  double full_mean = 0.0;  // every layer quantized as in the base configuration
  double full_worst = 0.0;
  std::vector<double> full_per_group;
  std::vector<LayerSensitivity> layers;  // by layer index
  std::vector<std::size_t> order_only_mean, order_only_worst;
  std::vector<std::size_t> order_gain_mean, order_gain_worst;  // empty without all_but_one
};

namespace detail {
template <class Key>
std::vector<std::size_t> rank_descending(std::size_t n, Key key) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(a) > key(b); });
  return order;
}
inline std::vector<double> per_group(const Evaluation& ev, Metric m) {
  std::vector<double> out;
  for (const GroupEval& g : ev.groups) out.push_back(g.degradation(m));
  return out;
}
}  // namespace detail

// Per-layer sensitivity of `base` (its per-layer settings are kept; isolate() only toggles
// keep_float). Errors: those of evaluate() (bad config, calib, groups), invalid_argument when the
// engine has no quantizable layer.
inline Result<Sensitivity> sensitivity(Engine& engine, const QuantConfig& base, const Dataset& calib,
                                       const std::vector<Group>& groups, const SensitivityOptions& options = {}) {
  const std::size_t layers = engine.num_layers();
  if (layers == 0) return Status::invalid_argument;
  QSAFE_RETURN_IF_ERROR(check_config(base, layers));
  EvalOptions eo;
  eo.metric = options.metric;
  eo.batch = options.batch;
  const Result<Reference> ref =
      options.reference != nullptr ? Result<Reference>(*options.reference) : float_reference(engine, groups, eo);
  if (!ref.ok()) return ref.status();
  const std::size_t total = 1 + layers * (options.all_but_one ? 2 : 1);
  std::size_t done = 0;
  const auto tick = [&] {
    ++done;
    if (options.progress) options.progress("sensitivity", done, total);
  };
  Sensitivity out;
  out.config = base.name;
  out.metric = options.metric;
  for (const Group& g : groups) out.group_names.push_back(g.name);
  {
    const Result<Evaluation> full = evaluate(engine, base, calib, groups, ref.value(), eo);
    if (!full.ok()) return full.status();
    out.full_mean = full->mean_degradation;
    out.full_worst = full->worst_degradation;
    out.full_per_group = detail::per_group(full.value(), options.metric);
    tick();
  }
  for (std::size_t i = 0; i < layers; ++i) {
    LayerSensitivity ls;
    ls.layer = i;
    const LayerInfo info = engine.layer_info(i);
    ls.name = info.name;
    ls.kind = info.kind;
    const Result<Evaluation> only =
        evaluate(engine, QuantConfig::isolate(base, layers, i, true), calib, groups, ref.value(), eo);
    if (!only.ok()) return only.status();
    ls.only_mean = only->mean_degradation;
    ls.only_worst = only->worst_degradation;
    ls.only_worst_group = only->worst_group;
    ls.only_per_group = detail::per_group(only.value(), options.metric);
    ls.only_worst_accuracy = only->worst_accuracy;
    tick();
    if (options.all_but_one) {
      const Result<Evaluation> except =
          evaluate(engine, QuantConfig::isolate(base, layers, i, false), calib, groups, ref.value(), eo);
      if (!except.ok()) return except.status();
      ls.except_mean = except->mean_degradation;
      ls.except_worst = except->worst_degradation;
      ls.except_per_group = detail::per_group(except.value(), options.metric);
      ls.gain_mean = out.full_mean - ls.except_mean;
      ls.gain_worst = out.full_worst - ls.except_worst;
      tick();
    }
    out.layers.push_back(std::move(ls));
  }
  const std::vector<LayerSensitivity>& L = out.layers;
  out.order_only_mean = detail::rank_descending(layers, [&](std::size_t i) { return L[i].only_mean; });
  out.order_only_worst = detail::rank_descending(layers, [&](std::size_t i) { return L[i].only_worst; });
  if (options.all_but_one) {
    out.order_gain_mean = detail::rank_descending(layers, [&](std::size_t i) { return L[i].gain_mean; });
    out.order_gain_worst = detail::rank_descending(layers, [&](std::size_t i) { return L[i].gain_worst; });
  }
  return out;
}

}  // namespace analysis
}  // namespace qsafe

#endif  // QSAFE_ANALYSIS_SENSITIVITY_HPP_
