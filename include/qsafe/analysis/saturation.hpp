// qsafe/analysis/saturation.hpp: clip and saturation accounting per quantizable layer, from the
// range policies' counters (policy/range_policy.hpp RangeCounters) an engine reports in
// LayerRunStats.
//
//   clipped_fraction    clipped / values     values outside their group's real range (static
//                                            and guarded policies; 0 for dynamic by construction)
//   saturated_fraction  saturated / values   values whose round(x / s) + zp left [qmin, qmax]
//   violation_rate      envelope_violations / groups   (guarded policies)
//   fallback_rate       (fallbacks + float_fallbacks) / groups
// A layer that ran in float has quantized = false and zero counts.
#ifndef QSAFE_ANALYSIS_SATURATION_HPP_
#define QSAFE_ANALYSIS_SATURATION_HPP_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qsafe/analysis/engine.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {
namespace analysis {

struct LayerSaturation {
  std::size_t layer = 0;
  std::string name;
  bool quantized = false;
  RangeCounters counters;                       // as reported (or the difference of two reports)
  std::array<std::uint64_t, 17> bits_chosen{};  // per-input activation widths (BitWidthRule)
  std::uint64_t float_fallbacks = 0;
  double clipped_fraction = 0.0;
  double saturated_fraction = 0.0;
  double violation_rate = 0.0;
  double fallback_rate = 0.0;
};

namespace detail {
inline double ratio(std::uint64_t a, std::uint64_t b) noexcept {
  return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
}
inline void finish_saturation(LayerSaturation& s) noexcept {
  s.clipped_fraction = ratio(s.counters.clipped, s.counters.values);
  s.saturated_fraction = ratio(s.counters.saturated, s.counters.values);
  s.violation_rate = ratio(s.counters.envelope_violations, s.counters.groups);
  s.fallback_rate = ratio(s.counters.fallbacks + s.float_fallbacks, s.counters.groups);
}
inline std::uint64_t sub(std::uint64_t a, std::uint64_t b) noexcept { return a >= b ? a - b : 0; }
}  // namespace detail

// The accounting of one layer from its cumulative stats.
inline LayerSaturation saturation_of(std::size_t layer, const std::string& name, const LayerRunStats& s) {
  LayerSaturation out;
  out.layer = layer;
  out.name = name;
  out.quantized = s.quantized;
  out.counters = s.counters;
  out.bits_chosen = s.bits_chosen;
  out.float_fallbacks = s.float_fallbacks;
  detail::finish_saturation(out);
  return out;
}

// What happened between two reports of the same layer (`before` taken earlier, same prepare()).
inline LayerSaturation saturation_between(std::size_t layer, const std::string& name, const LayerRunStats& before,
                                          const LayerRunStats& after) {
  LayerSaturation out;
  out.layer = layer;
  out.name = name;
  out.quantized = after.quantized;
  const RangeCounters &a = after.counters, &b = before.counters;
  out.counters.runs = detail::sub(a.runs, b.runs);
  out.counters.groups = detail::sub(a.groups, b.groups);
  out.counters.values = detail::sub(a.values, b.values);
  out.counters.non_finite = detail::sub(a.non_finite, b.non_finite);
  out.counters.clipped = detail::sub(a.clipped, b.clipped);
  out.counters.saturated = detail::sub(a.saturated, b.saturated);
  out.counters.envelope_violations = detail::sub(a.envelope_violations, b.envelope_violations);
  out.counters.fallbacks = detail::sub(a.fallbacks, b.fallbacks);
  for (std::size_t i = 0; i < out.bits_chosen.size(); ++i)
    out.bits_chosen[i] = detail::sub(after.bits_chosen[i], before.bits_chosen[i]);
  out.float_fallbacks = detail::sub(after.float_fallbacks, before.float_fallbacks);
  detail::finish_saturation(out);
  return out;
}

// The current accounting of every layer of an engine (cumulative since its last prepare()).
inline std::vector<LayerSaturation> saturation_report(const Engine& engine) {
  std::vector<LayerSaturation> out;
  for (std::size_t i = 0; i < engine.num_layers(); ++i)
    out.push_back(saturation_of(i, engine.layer_info(i).name, engine.layer_stats(i)));
  return out;
}

}  // namespace analysis
}  // namespace qsafe

#endif  // QSAFE_ANALYSIS_SATURATION_HPP_
