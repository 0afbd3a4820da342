// qsafe/quantizer/detail/element_loops.hpp: the contiguous inner loops of quantize, dequantize and
// fake-quantize for one (scale, zero point). The scalar functions here are normative; vectorised
// versions (vector_loops.hpp) must match them bit for bit.
//
// Semantics of quantize (PyTorch's quantize_val, extended to non-finite inputs):
//   q = clamp(round(x * (1/scale)) + zero_point, qmin, qmax)   (product rounded to float once)
//   +Inf -> qmax, -Inf -> qmin, NaN -> zero_point; any of them makes the call report
//   non_finite_input (the output is still fully written).
#ifndef QSAFE_QUANTIZER_DETAIL_ELEMENT_LOOPS_HPP_
#define QSAFE_QUANTIZER_DETAIL_ELEMENT_LOOPS_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/rounding.hpp"

namespace qsafe {
namespace detail {

inline bool is_nan_or_inf(float x) noexcept {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return (bits & 0x7f800000u) == 0x7f800000u;
}

// One element. Returns the quantized value as int32 (already clamped).
template <class Rounding>
inline std::int32_t quantize_value(float x, float inv_scale, std::int32_t zero_point, QRange r) noexcept {
  const float scaled = x * inv_scale;
  if (scaled != scaled) return zero_point;  // NaN
  const std::int64_t q = static_cast<std::int64_t>(Rounding::to_int32(scaled)) + zero_point;
  return static_cast<std::int32_t>(q < r.qmin ? r.qmin : (q > r.qmax ? r.qmax : q));
}

// Scalar reference: x[0..n) -> q[0..n). Returns the number of non-finite inputs.
template <class Rounding, class Int>
inline std::size_t quantize_loop_scalar(const float* x, std::size_t n, float inv_scale, std::int32_t zero_point,
                                        QRange r, Int* q) noexcept {
  std::size_t non_finite = 0;
  for (std::size_t i = 0; i < n; ++i) {
    non_finite += is_nan_or_inf(x[i]) ? 1u : 0u;
    q[i] = static_cast<Int>(quantize_value<Rounding>(x[i], inv_scale, zero_point, r));
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
// +-Inf -> the clamp ends). If mask != nullptr, mask[i] = 1 where round(x/s) + zp lies inside
// [qmin, qmax] (the straight-through estimator's pass-through set), else 0; NaN gets 0.
template <class Rounding>
inline std::size_t fake_quantize_loop_scalar(const float* x, std::size_t n, float scale, float inv_scale,
                                             std::int32_t zero_point, QRange r, float* y, std::uint8_t* mask) noexcept {
  std::size_t non_finite = 0;
  for (std::size_t i = 0; i < n; ++i) {
    non_finite += is_nan_or_inf(x[i]) ? 1u : 0u;
    const float scaled = x[i] * inv_scale;
    std::int32_t q = zero_point;
    bool inside = false;
    if (scaled == scaled) {
      const std::int64_t u = static_cast<std::int64_t>(Rounding::to_int32(scaled)) + zero_point;
      inside = u >= r.qmin && u <= r.qmax;
      q = static_cast<std::int32_t>(u < r.qmin ? r.qmin : (u > r.qmax ? r.qmax : u));
    }
    y[i] = static_cast<float>(q - zero_point) * scale;
    if (mask != nullptr) mask[i] = inside ? 1u : 0u;
  }
  return non_finite;
}

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_QUANTIZER_DETAIL_ELEMENT_LOOPS_HPP_
