// qsafe/analysis/mixed_precision.hpp: a per-layer precision plan under a weight-size budget that
// minimises the worst-group degradation, and its measured effect.
//
// 1. Measure: for every quantizable layer l and every quantized candidate c, the configuration
//    with only l quantized at c (others float) is evaluated over the groups: d[l][c][g], the
//    degradation (options.metric) on group g. Float candidates cost nothing to measure (d = 0).
// 2. Predict: a plan (one candidate per layer) is predicted to degrade group g by
//    sum_l d[l][c_l][g] (layer damage taken as additive), and scored by its worst group
//    max_g of that sum; ties go to the cheaper plan.
// 3. Choose: every plan within the budget is scored when there are at most max_exhaustive of
//    them; otherwise a greedy search starts from the cheapest candidate of every layer and keeps
//    taking the upgrade with the best predicted-gain per extra byte while the budget allows.
// 4. Verify: the verify_top best predicted plans are evaluated for real (prepare + every group)
//    and the one with the lowest measured worst-group degradation is kept.
// 5. Refine: when the measurement is far above the prediction (measured > 2 x predicted +
//    refine_gap: layers interact, e.g. a static uint8 layer requantizes its output - the next
//    layer's input - at its own width), every single-layer widening of the kept plan that fits
//    the budget is measured and the best one kept, for at most refine_steps rounds while the
//    measured worst group improves.
// Cost of a candidate (weights only; activations are not counted):
//   bits(c) = 32 for float, else c.weight_bits
//   average_weight_bits = sum_l w_l bits(c_l) / sum_l w_l;   weight_bytes = sum_l w_l bits(c_l) / 8
// with w_l = LayerInfo::weight_count (a layer reporting 0 weights counts as 1).
// Cost: L x (quantized candidates) + verify_top evaluations, plus one float pass (plus at most
// L x candidates per refinement round).
//
// Host-side: may allocate, never throws; every error is a Status.
#ifndef QSAFE_ANALYSIS_MIXED_PRECISION_HPP_
#define QSAFE_ANALYSIS_MIXED_PRECISION_HPP_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "qsafe/analysis/dataset.hpp"
#include "qsafe/analysis/engine.hpp"
#include "qsafe/analysis/evaluate.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {
namespace analysis {

// One choice for a layer; the layer's other settings (policy, observer, granularity) come from
// the base configuration.
struct PrecisionCandidate {
  bool keep_float = false;
  int weight_bits = 8;
  int activation_bits = 8;
  std::string label() const {
    return keep_float ? std::string("float")
                      : "w" + std::to_string(weight_bits) + "a" + std::to_string(activation_bits);
  }
  double bits() const noexcept { return keep_float ? 32.0 : static_cast<double>(weight_bits); }
};

enum class BudgetKind : std::uint8_t { average_weight_bits, weight_bytes };

inline const char* to_string(BudgetKind k) noexcept {
  return k == BudgetKind::average_weight_bits ? "average_weight_bits" : "weight_bytes";
}

struct MixedPrecisionOptions {
  std::vector<PrecisionCandidate> candidates{{true, 32, 32}, {false, 16, 16}, {false, 8, 8}, {false, 4, 8}};
  BudgetKind budget_kind = BudgetKind::average_weight_bits;
  double budget = 8.0;
  Metric metric = Metric::accuracy_drop;
  std::size_t verify_top = 3;          // plans measured for real (>= 1)
  std::size_t max_exhaustive = 65536;  // more plans than this: greedy
  int refine_steps = 2;                // measured refinement rounds (0: none), see step 5
  double refine_gap = 0.005;           // refine when measured > 2 x predicted + refine_gap
  std::int64_t batch = 256;
  const Reference* reference = nullptr;  // float logits of these groups, if already computed
  ProgressFn progress;                   // "mixed_precision", evaluations done / total
};

struct LayerChoice {
  std::size_t layer = 0;
  std::string name;
  std::int64_t weight_count = 0;
  std::size_t candidate = 0;  // index into options.candidates
  PrecisionCandidate precision;
  double bytes = 0.0;        // weight_count * bits / 8
  double alone_worst = 0.0;  // measured worst-group degradation of this layer alone at this choice
};

struct MixedPrecisionPlan {
  QuantConfig config;  // the chosen per-layer configuration (name "mixed_precision")
  std::vector<LayerChoice> layers;
  BudgetKind budget_kind = BudgetKind::average_weight_bits;
  double budget = 0.0;
  double average_weight_bits = 0.0;
  double weight_bytes = 0.0;
  double predicted_worst = 0.0;  // the additive prediction for the chosen plan
  double measured_worst = 0.0;   // evaluation.worst_degradation
  double measured_worst_accuracy = -1.0;
  Evaluation evaluation;  // the chosen plan measured over every group
  std::vector<std::string> candidate_labels;
  std::vector<std::vector<double>> alone_worst;  // [layer][candidate] measured worst-group degradation alone
  std::size_t plans_considered = 0;              // plans scored by prediction
  std::size_t plans_measured = 0;
  std::size_t refine_steps_taken = 0;  // step 5 rounds that improved the plan
  bool exhaustive = true;
};

namespace detail {

struct PlanScore {
  std::vector<std::size_t> choice;
  double predicted = 0.0;
  double cost = 0.0;
};

inline QuantConfig config_for(const QuantConfig& base, const std::vector<PrecisionCandidate>& cands,
                              const std::vector<std::size_t>& choice) {
  QuantConfig c;
  c.name = "mixed_precision";
  c.per_layer.resize(choice.size());
  for (std::size_t l = 0; l < choice.size(); ++l) {
    LayerConfig lc = base.layer(l);
    const PrecisionCandidate& p = cands[choice[l]];
    lc.keep_float = p.keep_float;
    if (!p.keep_float) {
      lc.weight_bits = p.weight_bits;
      lc.activation_bits = p.activation_bits;
    }
    c.per_layer[l] = lc;
  }
  return c;
}

}  // namespace detail

// Errors: invalid_argument (no candidates, a candidate with bits outside [2, 16], budget not
// finite or below the cheapest plan, verify_top == 0, no quantizable layer), and those of
// evaluate().
inline Result<MixedPrecisionPlan> plan_mixed_precision(Engine& engine, const QuantConfig& base, const Dataset& calib,
                                                       const std::vector<Group>& groups,
                                                       const MixedPrecisionOptions& o = {}) {
  const std::size_t L = engine.num_layers();
  const std::vector<PrecisionCandidate>& C = o.candidates;
  if (L == 0 || C.empty() || o.verify_top == 0 || !std::isfinite(o.budget)) return Status::invalid_argument;
  for (const PrecisionCandidate& c : C)
    if (!c.keep_float && (c.weight_bits < 2 || c.weight_bits > 16 || c.activation_bits < 2 || c.activation_bits > 16))
      return Status::invalid_argument;
  QSAFE_RETURN_IF_ERROR(check_config(base, L));
  EvalOptions eo;
  eo.metric = o.metric;
  eo.batch = o.batch;
  const Result<Reference> ref =
      o.reference != nullptr ? Result<Reference>(*o.reference) : float_reference(engine, groups, eo);
  if (!ref.ok()) return ref.status();

  std::vector<double> w(L);
  double w_total = 0;
  for (std::size_t l = 0; l < L; ++l) {
    w[l] = static_cast<double>(std::max<std::int64_t>(1, engine.layer_info(l).weight_count));
    w_total += w[l];
  }
  const auto cost_of = [&](const std::vector<std::size_t>& choice) {
    double bits = 0;
    for (std::size_t l = 0; l < L; ++l) bits += w[l] * C[choice[l]].bits();
    return o.budget_kind == BudgetKind::average_weight_bits ? bits / w_total : bits / 8.0;
  };

  // 1. Measure every layer alone at every quantized candidate.
  std::size_t quantized_cands = 0;
  for (const PrecisionCandidate& c : C) quantized_cands += c.keep_float ? 0u : 1u;
  const std::size_t total_evals = L * quantized_cands + o.verify_top;
  std::size_t done = 0;
  const std::size_t G = groups.size();
  std::vector<std::vector<std::vector<double>>> d(
      L, std::vector<std::vector<double>>(C.size(), std::vector<double>(G, 0.0)));
  MixedPrecisionPlan plan;
  plan.budget_kind = o.budget_kind;
  plan.budget = o.budget;
  for (const PrecisionCandidate& c : C) plan.candidate_labels.push_back(c.label());
  plan.alone_worst.assign(L, std::vector<double>(C.size(), 0.0));
  for (std::size_t l = 0; l < L; ++l)
    for (std::size_t c = 0; c < C.size(); ++c) {
      if (C[c].keep_float) continue;
      QuantConfig cfg = detail::config_for(base, C, std::vector<std::size_t>(L, c));
      for (std::size_t j = 0; j < L; ++j)
        if (j != l) cfg.per_layer[j].keep_float = true;
      cfg.name = "mixed_precision/" + engine.layer_info(l).name + ":" + C[c].label();
      const Result<Evaluation> ev = evaluate(engine, cfg, calib, groups, ref.value(), eo);
      if (!ev.ok()) return ev.status();
      for (std::size_t g = 0; g < G; ++g) d[l][c][g] = ev->groups[g].degradation(o.metric);
      plan.alone_worst[l][c] = ev->worst_degradation;
      ++done;
      if (o.progress) o.progress("mixed_precision", done, total_evals);
    }

  // 2-3. Predict and choose.
  const auto predict = [&](const std::vector<std::size_t>& choice) {
    double worst = -std::numeric_limits<double>::infinity();
    for (std::size_t g = 0; g < G; ++g) {
      double s = 0;
      for (std::size_t l = 0; l < L; ++l) s += d[l][choice[l]][g];
      worst = std::max(worst, s);
    }
    return worst;
  };
  const auto better = [](const detail::PlanScore& a, const detail::PlanScore& b) {
    return a.predicted < b.predicted || (a.predicted == b.predicted && a.cost < b.cost);
  };
  std::vector<detail::PlanScore> top;  // sorted best first, at most verify_top
  const auto offer = [&](const std::vector<std::size_t>& choice) {
    ++plan.plans_considered;
    detail::PlanScore p{choice, predict(choice), cost_of(choice)};
    top.insert(std::upper_bound(top.begin(), top.end(), p, better), p);
    if (top.size() > o.verify_top) top.pop_back();
  };
  double combos = 1;
  for (std::size_t l = 0; l < L; ++l) combos *= static_cast<double>(C.size());
  std::size_t cheapest = 0;
  for (std::size_t c = 1; c < C.size(); ++c)
    if (C[c].bits() < C[cheapest].bits()) cheapest = c;
  if (cost_of(std::vector<std::size_t>(L, cheapest)) > o.budget) return Status::invalid_argument;
  if (combos <= static_cast<double>(o.max_exhaustive)) {
    std::vector<std::size_t> choice(L, 0);
    for (;;) {
      if (cost_of(choice) <= o.budget) offer(choice);
      std::size_t l = 0;
      while (l < L && ++choice[l] == C.size()) choice[l++] = 0;
      if (l == L) break;
    }
  } else {
    plan.exhaustive = false;
    std::vector<std::size_t> choice(L, cheapest);
    offer(choice);
    for (;;) {
      const double cur = predict(choice), cur_cost = cost_of(choice);
      double best_ratio = 0;
      std::size_t bl = L, bc = 0;
      for (std::size_t l = 0; l < L; ++l)
        for (std::size_t c = 0; c < C.size(); ++c) {
          if (C[c].bits() <= C[choice[l]].bits()) continue;
          std::vector<std::size_t> next = choice;
          next[l] = c;
          const double nc = cost_of(next);
          if (nc > o.budget) continue;
          const double ratio = (cur - predict(next)) / std::max(1e-12, nc - cur_cost);
          if (ratio > best_ratio) {
            best_ratio = ratio;
            bl = l;
            bc = c;
          }
        }
      if (bl == L) break;
      choice[bl] = bc;
      offer(choice);
    }
  }

  // 4. Verify (and 5. refine).
  std::size_t total = total_evals;
  std::vector<std::size_t> chosen;
  double chosen_cost = 0;
  const auto measure = [&](const std::vector<std::size_t>& choice, double predicted) -> Status {
    QuantConfig cfg = detail::config_for(base, C, choice);
    const Result<Evaluation> ev = evaluate(engine, cfg, calib, groups, ref.value(), eo);
    if (!ev.ok()) return ev.status();
    ++plan.plans_measured;
    ++done;
    if (o.progress) o.progress("mixed_precision", done, std::max(done, total));
    const double cost = cost_of(choice);
    const bool wins = chosen.empty() || ev->worst_degradation < plan.measured_worst ||
                      (ev->worst_degradation == plan.measured_worst && cost < chosen_cost);
    if (!wins) return Status::ok;
    chosen = choice;
    chosen_cost = cost;
    plan.config = cfg;
    plan.evaluation = ev.value();
    plan.measured_worst = ev->worst_degradation;
    plan.measured_worst_accuracy = ev->worst_accuracy;
    plan.predicted_worst = predicted;
    return Status::ok;
  };
  for (const detail::PlanScore& p : top) QSAFE_RETURN_IF_ERROR(measure(p.choice, p.predicted));
  for (int step = 0; step < o.refine_steps; ++step) {
    if (!(plan.measured_worst > 2.0 * plan.predicted_worst + o.refine_gap)) break;
    // A copy: measure() below replaces `chosen` whenever a widening wins.
    const std::vector<std::size_t> from = chosen;  // NOLINT(performance-unnecessary-copy-initialization)
    const double before = plan.measured_worst;
    for (std::size_t l = 0; l < L; ++l)
      for (std::size_t c = 0; c < C.size(); ++c) {
        if (C[c].bits() <= C[from[l]].bits()) continue;
        std::vector<std::size_t> next = from;
        next[l] = c;
        if (cost_of(next) > o.budget) continue;
        ++total;
        QSAFE_RETURN_IF_ERROR(measure(next, predict(next)));
      }
    if (!(plan.measured_worst < before)) break;
    ++plan.refine_steps_taken;
  }
  plan.layers.clear();
  double bits = 0;
  for (std::size_t l = 0; l < L; ++l) {
    LayerChoice lc;
    lc.layer = l;
    const LayerInfo info = engine.layer_info(l);
    lc.name = info.name;
    lc.weight_count = info.weight_count;
    lc.candidate = chosen[l];
    lc.precision = C[chosen[l]];
    lc.bytes = static_cast<double>(info.weight_count) * lc.precision.bits() / 8.0;
    lc.alone_worst = plan.alone_worst[l][chosen[l]];
    bits += w[l] * lc.precision.bits();
    plan.layers.push_back(lc);
  }
  plan.average_weight_bits = bits / w_total;
  plan.weight_bytes = bits / 8.0;
  return plan;
}

}  // namespace analysis
}  // namespace qsafe

#endif  // QSAFE_ANALYSIS_MIXED_PRECISION_HPP_
