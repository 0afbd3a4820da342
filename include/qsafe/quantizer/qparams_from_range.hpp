// qsafe/quantizer/qparams_from_range.hpp: THE one place where a real range becomes a scale and a
// zero point. Normative; docs/numerics.md states the same formulas.
//
// Reproduces PyTorch's UniformQuantizationObserverBase._calculate_qparams (torch.ao.quantization)
// bit for bit, in float32 arithmetic:
//   lo' = min(lo, 0), hi' = max(hi, 0)                      (the range always contains 0)
//   affine:    scale = (hi' - lo') / float(qmax - qmin); scale = max(scale, eps)
//              zero_point = clamp(qmin - round_half_even(lo' / scale), qmin, qmax)
//   symmetric: scale = max(-lo', hi') / (float(qmax - qmin) / 2); scale = max(scale, eps)
//              zero_point = 0 for signed ranges; for unsigned ones the upper midpoint on the full
//              range of a storage type (128 on [0, 255] as PyTorch's quint8, 32768 on [0, 65535])
//              and floor((qmin + qmax) / 2) on any other range (PyTorch's rule for custom ranges:
//              7 for quint4 [0, 15])
// with eps = float32 machine epsilon (2^-23), PyTorch's default.
//
// One deliberate difference: PyTorch gives quint8 + symmetric + reduce_range the zero point 128,
// outside its own [0, 127]; qsafe applies its custom-range rule and gives 63, so that the zero
// point stays inside the range and 0.0 stays representable.
#ifndef QSAFE_QUANTIZER_QPARAMS_FROM_RANGE_HPP_
#define QSAFE_QUANTIZER_QPARAMS_FROM_RANGE_HPP_

#include <cstdint>
#include <limits>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/rounding.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {

// PyTorch's default observer eps: torch.finfo(torch.float32).eps.
inline constexpr float kDefaultScaleEps = std::numeric_limits<float>::epsilon();

namespace detail {
constexpr bool is_finite(float x) noexcept {
  return x == x && x <= std::numeric_limits<float>::max() && x >= -std::numeric_limits<float>::max();
}
}  // namespace detail

// The zero point of a symmetric scheme on an unsigned range (see the top of this file).
constexpr std::int32_t symmetric_unsigned_zero_point(QRange r) noexcept {
  const bool storage_range = r.qmin == 0 && (r.qmax == 255 || r.qmax == 65535);
  return storage_range ? (r.qmax + 1) / 2 : (r.qmin + r.qmax) / 2;
}

// Scale and zero point for `range` quantized into `qrange` under `scheme`.
// Errors: non_finite_input (NaN/Inf bound), invalid_argument (lo > hi, bad qrange, eps <= 0),
// out_of_range (the scale would overflow float32, e.g. [-3e38, 3e38], or an end of the integer
// range would dequantize to +-Inf).
[[nodiscard]] inline Result<QParams> qparams_from_range(Range range, QRange qrange, SchemeKind scheme,
                                                        float eps = kDefaultScaleEps) noexcept {
  if (!detail::is_finite(range.lo) || !detail::is_finite(range.hi)) return Status::non_finite_input;
  if (range.lo > range.hi) return Status::invalid_argument;
  if (check_qrange(qrange) != Status::ok) return Status::invalid_argument;
  if (!(eps > 0.f) || !detail::is_finite(eps)) return Status::invalid_argument;

  const float lo = range.lo < 0.f ? range.lo : 0.f;
  const float hi = range.hi > 0.f ? range.hi : 0.f;
  const float levels = static_cast<float>(qrange.qmax - qrange.qmin);  // exact: < 2^17
  QParams p;
  if (scheme == SchemeKind::symmetric) {
    const float abs_max = -lo > hi ? -lo : hi;
    p.scale = abs_max / (levels / 2.f);  // levels / 2 is exact (a half-integer at most)
    if (p.scale < eps) p.scale = eps;
    if (qrange.qmin < 0)
      p.zero_point = 0;
    else
      p.zero_point = symmetric_unsigned_zero_point(qrange);
  } else {
    const float width = hi - lo;
    if (!detail::is_finite(width)) return Status::out_of_range;
    p.scale = width / levels;
    if (p.scale < eps) p.scale = eps;
    // |lo / scale| <= levels, so the rounding cannot saturate.
    const std::int32_t shift = RoundHalfEven::to_int32(lo / p.scale);
    std::int32_t zp = qrange.qmin - shift;
    if (zp < qrange.qmin) zp = qrange.qmin;
    if (zp > qrange.qmax) zp = qrange.qmax;
    p.zero_point = zp;
  }
  if (!detail::is_finite(p.scale)) return Status::out_of_range;
  // Both ends of the integer range must dequantize to finite floats (symmetric int8 over
  // [-FLT_MAX, FLT_MAX] has a finite scale, but q = -128 would dequantize to -inf).
  if (!detail::is_finite(static_cast<float>(qrange.qmin - p.zero_point) * p.scale) ||
      !detail::is_finite(static_cast<float>(qrange.qmax - p.zero_point) * p.scale))
    return Status::out_of_range;
  return p;
}

template <class Scheme>
[[nodiscard]] inline Result<QParams> qparams_from_range(Range range, QRange qrange,
                                                        float eps = kDefaultScaleEps) noexcept {
  return qparams_from_range(range, qrange, Scheme::kind, eps);
}

// Element-wise over many ranges (per channel / per group). On error, `out` is partially written
// and the first error is returned.
[[nodiscard]] inline Status qparams_from_ranges(Span<const Range> ranges, QRange qrange, SchemeKind scheme,
                                                Span<QParams> out, float eps = kDefaultScaleEps) noexcept {
  if (ranges.size() != out.size()) return Status::shape_mismatch;
  if (ranges.empty()) return Status::empty_input;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const Result<QParams> p = qparams_from_range(ranges[i], qrange, scheme, eps);
    if (!p.ok()) return p.status();
    out[i] = p.value();
  }
  return Status::ok;
}

// The reciprocal quantize multiplies by: float32 1/scale, as PyTorch's quantize_val does.
inline float inverse_scale(float scale) noexcept { return 1.f / scale; }

// Checks params before they are used to quantize: finite positive scale, zero point in range.
constexpr Status check_qparams(QParams p, QRange r) noexcept {
  if (!detail::is_finite(p.scale)) return Status::non_finite_input;
  if (!(p.scale > 0.f)) return Status::invalid_argument;
  if (!detail::is_finite(1.f / p.scale)) return Status::out_of_range;  // denormal scale
  if (p.zero_point < r.qmin || p.zero_point > r.qmax) return Status::invalid_argument;
  return Status::ok;
}

}  // namespace qsafe

#endif  // QSAFE_QUANTIZER_QPARAMS_FROM_RANGE_HPP_
