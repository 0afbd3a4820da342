// qsafe/quantizer/detail/element_loops.hpp: the contiguous inner loops of quantize, dequantize and
// fake-quantize for one (scale, zero point). The scalar functions here are normative; vectorised
// versions (vector_loops.hpp) must match them bit for bit.
//
// Semantics of quantize, with the scale applied as the rounding type's scale_op says
// (core/rounding.hpp), so each rounding type reproduces its peer's quantize exactly:
//   RoundHalfEven  q = clamp(round_half_even(fl(x * fl(1/scale))) + zero_point, qmin, qmax)
//                  (PyTorch's quantize_val: multiply by the float32 reciprocal)
//   RoundHalfAway  q = clamp(round_half_away(fl(x / scale)) + zero_point, qmin, qmax)
//                  (TFLite's reference AffineQuantize: a true float32 division)
//   +Inf -> qmax, -Inf -> qmin, NaN -> zero_point; any of them makes the call report
//   non_finite_input (the output is still fully written).
// The scaled value is rounded to float once and never fused with anything. A build with
// -ffast-math / -freciprocal-math would let the compiler turn the division into a reciprocal
// multiply and break the TFLite match (tests/quantizer/ catch it); qsafe is never built so.
#ifndef QSAFE_QUANTIZER_DETAIL_ELEMENT_LOOPS_HPP_
#define QSAFE_QUANTIZER_DETAIL_ELEMENT_LOOPS_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/rounding.hpp"
#include "qsafe/quantizer/qparams_from_range.hpp"

namespace qsafe {
namespace detail {

// The scale of one parameter group as the quantize loops take it: the scale itself (dequantize,
// and rounding types that divide) and its float32 reciprocal inverse_scale(scale) (rounding types
// that multiply). Built from the scale alone, so the two cannot disagree, and explicit, so a bare
// reciprocal cannot be passed where a scale is meant.
struct QuantScale {
  float scale;
  float inv_scale;
  explicit QuantScale(float s) noexcept : scale(s), inv_scale(inverse_scale(s)) {}
};

// x with the scale applied as Rounding::scale_op says: one float32 operation, rounded once.
template <class Rounding>
inline float apply_scale(float x, QuantScale s) noexcept {
  if constexpr (Rounding::scale_op == ScaleOp::divide) {
    return x / s.scale;
  } else {
    static_assert(Rounding::scale_op == ScaleOp::multiply_by_reciprocal, "unknown ScaleOp");
    return x * s.inv_scale;
  }
}

inline bool is_nan_or_inf(float x) noexcept {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return (bits & 0x7f800000u) == 0x7f800000u;
}

// One element. Returns the quantized value as int32 (already clamped).
template <class Rounding>
inline std::int32_t quantize_value(float x, QuantScale s, std::int32_t zero_point, QRange r) noexcept {
  const float scaled = apply_scale<Rounding>(x, s);
  if (scaled != scaled) return zero_point;  // NaN
  const std::int64_t q = static_cast<std::int64_t>(Rounding::to_int32(scaled)) + zero_point;
  return static_cast<std::int32_t>(q < r.qmin ? r.qmin : (q > r.qmax ? r.qmax : q));
}

// Scalar reference: x[0..n) -> q[0..n). Returns the number of non-finite inputs.
template <class Rounding, class Int>
inline std::size_t quantize_loop_scalar(const float* x, std::size_t n, QuantScale s, std::int32_t zero_point, QRange r,
                                        Int* q) noexcept {
  std::size_t non_finite = 0;
  for (std::size_t i = 0; i < n; ++i) {
    non_finite += is_nan_or_inf(x[i]) ? 1u : 0u;
    q[i] = static_cast<Int>(quantize_value<Rounding>(x[i], s, zero_point, r));
  }
  return non_finite;
}

// x = (q - zero_point) * scale, the subtraction exact in int32, one float rounding.
template <class Int>
inline void dequantize_loop_scalar(const Int* q, std::size_t n, float scale, std::int32_t zero_point,
                                   float* x) noexcept {
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(static_cast<std::int32_t>(q[i]) - zero_point) * scale;
}

// y = (quantize(x) - zero_point) * scale. Returns the number of non-finite inputs (NaN -> 0.0,
// +-Inf -> the clamp ends), the scale applied as in quantize. If mask != nullptr, mask[i] = 1
// where round(x/s) + zp lies inside [qmin, qmax] (the straight-through estimator's pass-through
// set), else 0; NaN gets 0.
template <class Rounding>
inline std::size_t fake_quantize_loop_scalar(const float* x, std::size_t n, QuantScale s, std::int32_t zero_point,
                                             QRange r, float* y, std::uint8_t* mask) noexcept {
  std::size_t non_finite = 0;
  for (std::size_t i = 0; i < n; ++i) {
    non_finite += is_nan_or_inf(x[i]) ? 1u : 0u;
    const float scaled = apply_scale<Rounding>(x[i], s);
    std::int32_t q = zero_point;
    bool inside = false;
    if (scaled == scaled) {
      const std::int64_t u = static_cast<std::int64_t>(Rounding::to_int32(scaled)) + zero_point;
      inside = u >= r.qmin && u <= r.qmax;
      q = static_cast<std::int32_t>(u < r.qmin ? r.qmin : (u > r.qmax ? r.qmax : u));
    }
    y[i] = static_cast<float>(q - zero_point) * s.scale;
    if (mask != nullptr) mask[i] = inside ? 1u : 0u;
  }
  return non_finite;
}

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_QUANTIZER_DETAIL_ELEMENT_LOOPS_HPP_
