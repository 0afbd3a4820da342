// qsafe/kernel/output_stage.hpp: the fused epilogues of the GEMM, as small value types composed
// into a pipeline that is applied to the accumulator tile while it is still in registers.
//
// A GEMM accumulator is  acc[m][n] = sum_k (A[m][k] - a_zero_point[m]) * B[k][n]   (exact int32).
// The pipeline maps it to the stored value, stage after stage:
//
//   stage                      in -> out       meaning (row m, column n = output channel)
//   AddBias{bias}              i32 -> i32      v + bias[n]                     (wraps modulo 2^32)
//   RequantizeQ31{mult, zp}    i32 -> i32      multiply_by_quantized_multiplier(v, mult[n]) + zp
//                                              (TFLite reference, double rounding; + wraps)
//   RequantizeQ31SingleRound   i32 -> i32      multiply_by_quantized_multiplier_single_round(v, mult[n]) + zp
//   RequantizeFloat{mult, zp}  i32 -> i32      round_half_even(clamp(float(v) * mult[n], +-2^30)) + zp
//                                              (PyTorch qnnpack / XNNPACK "fp32"; the clamp only
//                                              matters for |result| >= 2^30, which any int8 clamp
//                                              after it saturates anyway)
//   Dequantize{sa, sw, bias}   i32 -> f32      float(v) * (sa[m] * sw[n]) + bias[n]
//                                              (two roundings, never fused into an FMA; bias optional)
//   Clamp{lo, hi}              i32 -> i32      min(max(v, lo), hi)       (ReLU: lo = zero point)
//   ClampFloat{lo, hi}         f32 -> f32      min(max(v, lo), hi)
//
// Per-channel parameters are spans of size N (one per output column) or of size 1 (per tensor);
// Dequantize's activation scale is of size M (per row, as dynamic per-row quantization gives) or
// 1. float(v) is the int32 -> float conversion in round-to-nearest-even. Storing the final value:
// i32 -> int32_t as is; i32 -> int8_t / uint8_t saturating to the type's range; f32 -> float.
//
// Each requantization scheme is its own type; nothing is switched globally. The scalar meaning of
// every stage lives in arch/scalar/output.hpp and is normative; SIMD paths reproduce it bit for bit.
#ifndef QSAFE_KERNEL_OUTPUT_STAGE_HPP_
#define QSAFE_KERNEL_OUTPUT_STAGE_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>

#include "qsafe/core/fixed_point.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {

struct AddBias {
  using input = std::int32_t;
  using output = std::int32_t;
  Span<const std::int32_t> bias;  // size N or 1
};

struct RequantizeQ31 {
  using input = std::int32_t;
  using output = std::int32_t;
  Span<const QuantizedMultiplier> multiplier;  // size N or 1; multiplier >= 0, shift in [-31, 30]
  std::int32_t zero_point = 0;
};

struct RequantizeQ31SingleRound {
  using input = std::int32_t;
  using output = std::int32_t;
  Span<const QuantizedMultiplier> multiplier;  // size N or 1; multiplier >= 0, shift in [-31, 30]
  std::int32_t zero_point = 0;
};

struct RequantizeFloat {
  using input = std::int32_t;
  using output = std::int32_t;
  Span<const float> multiplier;  // size N or 1; finite, >= 0 (input_scale * weight_scale / output_scale)
  std::int32_t zero_point = 0;
};

struct Dequantize {
  using input = std::int32_t;
  using output = float;
  Span<const float> activation_scale;  // size M or 1, finite
  Span<const float> weight_scale;      // size N or 1, finite
  Span<const float> bias;              // size N, or empty for no bias
};

struct Clamp {
  using input = std::int32_t;
  using output = std::int32_t;
  std::int32_t lo = -2147483647 - 1;
  std::int32_t hi = 2147483647;
};

struct ClampFloat {
  using input = float;
  using output = float;
  float lo = -3.4028234663852886e38f;
  float hi = 3.4028234663852886e38f;
};

// ReLU / ReLU6 on a quantized output with zero point zp and scale s: Clamp{zp, ...}.
constexpr Clamp relu(std::int32_t zero_point, std::int32_t qmax) noexcept { return Clamp{zero_point, qmax}; }

// A sequence of stages, applied left to right.
template <class... Stages>
struct OutputPipeline {
  std::tuple<Stages...> stages;
  static constexpr std::size_t size = sizeof...(Stages);
};

template <class... Stages>
constexpr OutputPipeline<Stages...> pipeline(Stages... stages) noexcept {
  return OutputPipeline<Stages...>{std::tuple<Stages...>(stages...)};
}

namespace detail {

// The value type after the first I stages of a pipeline (int32 before any stage).
template <class Pipeline, std::size_t I>
struct value_after;
template <class... S>
struct value_after<OutputPipeline<S...>, 0> {
  using type = std::int32_t;
};
template <class... S, std::size_t I>
struct value_after<OutputPipeline<S...>, I> {
  using stage = std::tuple_element_t<I - 1, std::tuple<S...>>;
  static_assert(std::is_same<typename stage::input, typename value_after<OutputPipeline<S...>, I - 1>::type>::value,
                "output stage input type does not match the previous stage's output "
                "(float stages need a Dequantize first)");
  using type = typename stage::output;
};

template <class Pipeline>
using pipeline_output_t = typename value_after<Pipeline, Pipeline::size>::type;

// Whether a pipeline's final value can be stored into Out.
template <class Value, class Out>
struct storable : std::false_type {};
template <>
struct storable<std::int32_t, std::int32_t> : std::true_type {};
template <>
struct storable<std::int32_t, std::int8_t> : std::true_type {};
template <>
struct storable<std::int32_t, std::uint8_t> : std::true_type {};
template <>
struct storable<float, float> : std::true_type {};

inline bool finite(float x) noexcept { return x - x == 0.f; }

template <class T>
constexpr Status check_channel_span(Span<const T> s, std::int64_t n) noexcept {
  if (s.size() != 1 && static_cast<std::int64_t>(s.size()) != n) return Status::shape_mismatch;
  if (s.data() == nullptr) return Status::null_pointer;
  return Status::ok;
}

inline Status check_multipliers(Span<const QuantizedMultiplier> m) noexcept {
  for (const QuantizedMultiplier& q : m) {
    if (q.multiplier < 0) return Status::invalid_argument;
    if (q.shift < QuantizedMultiplier::kMinShift || q.shift > QuantizedMultiplier::kMaxShift)
      return Status::invalid_argument;
  }
  return Status::ok;
}

// Runs on every gemm() call, over N scales: integer tests on the bits and no early exit, so the
// loop vectorises (a float compare loop does not, and cost ~25 % of a 1x256x256 GEMM).
inline Status check_floats(Span<const float> f, bool nonnegative) noexcept {
  std::uint32_t non_finite = 0, negative = 0;
  for (std::size_t i = 0; i < f.size(); ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, f.data() + i, 4);
    non_finite |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);  // Inf or NaN
    negative |= static_cast<std::uint32_t>(bits > 0x80000000u);                     // < 0 (not -0)
  }
  if (non_finite != 0) return Status::non_finite_input;
  return nonnegative && negative != 0 ? Status::invalid_argument : Status::ok;
}

}  // namespace detail

// Parameter checks for a GEMM with M rows and N columns. ok, shape_mismatch (span sizes),
// null_pointer, invalid_argument (negative multiplier, shift out of [-31, 30], lo > hi),
// non_finite_input (NaN/Inf scale or bias).
inline Status check_stage(const AddBias& s, std::int64_t, std::int64_t n) noexcept {
  return detail::check_channel_span(s.bias, n);
}
inline Status check_stage(const RequantizeQ31& s, std::int64_t, std::int64_t n) noexcept {
  QSAFE_RETURN_IF_ERROR(detail::check_channel_span(s.multiplier, n));
  return detail::check_multipliers(s.multiplier);
}
inline Status check_stage(const RequantizeQ31SingleRound& s, std::int64_t, std::int64_t n) noexcept {
  QSAFE_RETURN_IF_ERROR(detail::check_channel_span(s.multiplier, n));
  return detail::check_multipliers(s.multiplier);
}
inline Status check_stage(const RequantizeFloat& s, std::int64_t, std::int64_t n) noexcept {
  QSAFE_RETURN_IF_ERROR(detail::check_channel_span(s.multiplier, n));
  return detail::check_floats(s.multiplier, true);
}
inline Status check_stage(const Dequantize& s, std::int64_t m, std::int64_t n) noexcept {
  QSAFE_RETURN_IF_ERROR(detail::check_channel_span(s.activation_scale, m));
  QSAFE_RETURN_IF_ERROR(detail::check_channel_span(s.weight_scale, n));
  QSAFE_RETURN_IF_ERROR(detail::check_floats(s.activation_scale, false));
  QSAFE_RETURN_IF_ERROR(detail::check_floats(s.weight_scale, false));
  if (!s.bias.empty()) {
    if (static_cast<std::int64_t>(s.bias.size()) != n) return Status::shape_mismatch;
    if (s.bias.data() == nullptr) return Status::null_pointer;
    QSAFE_RETURN_IF_ERROR(detail::check_floats(s.bias, false));
  }
  return Status::ok;
}
inline Status check_stage(const Clamp& s, std::int64_t, std::int64_t) noexcept {
  return s.lo <= s.hi ? Status::ok : Status::invalid_argument;
}
inline Status check_stage(const ClampFloat& s, std::int64_t, std::int64_t) noexcept {
  if (!detail::finite(s.lo) || !detail::finite(s.hi)) return Status::non_finite_input;
  return s.lo <= s.hi ? Status::ok : Status::invalid_argument;
}

namespace detail {
template <std::size_t I, class... S>
Status check_stages_from(const OutputPipeline<S...>& p, std::int64_t m, std::int64_t n) noexcept {
  if constexpr (I == sizeof...(S)) {
    return Status::ok;
  } else {
    QSAFE_RETURN_IF_ERROR(check_stage(std::get<I>(p.stages), m, n));
    return check_stages_from<I + 1>(p, m, n);
  }
}
}  // namespace detail

template <class... S>
Status check_pipeline(const OutputPipeline<S...>& p, std::int64_t m, std::int64_t n) noexcept {
  return detail::check_stages_from<0>(p, m, n);
}

}  // namespace qsafe

#endif  // QSAFE_KERNEL_OUTPUT_STAGE_HPP_
