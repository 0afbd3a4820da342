// qsafe/core/rounding.hpp: float -> integer rounding by hand, as types.
//
// Why by hand: the core must not call libm rounding functions (lroundf/nearbyintf are not inlined
// on Cortex-M4), and it must not depend on the compiler's floating-point contraction: a product
// x * inv_scale rounded through the float unit could be fused into an FMA by -ffp-contract=fast,
// changing ties. Here the product is rounded to float once, then its bits are rounded as an
// integer, so no further floating-point arithmetic touches it.
#ifndef QSAFE_CORE_ROUNDING_HPP_
#define QSAFE_CORE_ROUNDING_HPP_

#include <cstdint>
#include <cstring>
#include <limits>

#include "qsafe/config.hpp"

namespace qsafe {
namespace detail {

constexpr std::int32_t kInt32Min = std::numeric_limits<std::int32_t>::min();
constexpr std::int32_t kInt32Max = std::numeric_limits<std::int32_t>::max();

// Rounds x to the nearest integer, ties resolved by TiesToEven; saturates to int32; NaN -> 0.
template <bool TiesToEven>
inline std::int32_t round_float_to_int32(float x) noexcept {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const bool negative = (bits >> 31) != 0;
  const int exponent = static_cast<int>((bits >> 23) & 0xffu);
  const std::uint32_t fraction = bits & 0x7fffffu;
  if (exponent == 0xff) {  // Inf or NaN
    if (fraction != 0) return 0;
    return negative ? kInt32Min : kInt32Max;
  }
  if (exponent < 126) return 0;                         // |x| < 0.5 (includes zero and denormals)
  const std::uint32_t mantissa = fraction | 0x800000u;  // |x| = mantissa * 2^(exponent - 150)
  const int shift = 150 - exponent;
  std::uint32_t magnitude;
  if (shift > 0) {  // 1 <= shift <= 24: the low `shift` bits are the fraction
    magnitude = mantissa >> shift;
    const std::uint32_t remainder = mantissa & ((std::uint32_t{1} << shift) - 1u);
    const std::uint32_t half = std::uint32_t{1} << (shift - 1);
    const bool up =
        TiesToEven ? (remainder > half || (remainder == half && (magnitude & 1u) != 0)) : (remainder >= half);
    magnitude += up ? 1u : 0u;
  } else {
    if (-shift >= 8) return negative ? kInt32Min : kInt32Max;  // |x| >= 2^31
    magnitude = mantissa << (-shift);                          // < 2^31
  }
  return negative ? -static_cast<std::int32_t>(magnitude) : static_cast<std::int32_t>(magnitude);
}

}  // namespace detail

// How a quantizer applies the scale to x before rounding with a given rounding type (its
// `scale_op`), so that each type reproduces its peer's whole quantize, not only its tie rule
// (quantizer/detail/element_loops.hpp; docs/numerics.md section 3):
//   multiply_by_reciprocal  fl(x * fl(1 / scale))   PyTorch's quantize_val
//   divide                  fl(x / scale)           TFLite's reference AffineQuantize
// The two differ in the last bit for some (x, scale), which can move x across a tie.
enum class ScaleOp { multiply_by_reciprocal, divide };

// Round half to even (banker's rounding): PyTorch's std::nearbyint / torch.round, and what the
// x86 cvtps2dq and ARM fcvtns instructions do in the default rounding mode. Quantizes as PyTorch.
struct RoundHalfEven {
  static constexpr const char* name = "half_even";
  static constexpr ScaleOp scale_op = ScaleOp::multiply_by_reciprocal;
  static std::int32_t to_int32(float x) noexcept { return detail::round_float_to_int32<true>(x); }
};

// Round half away from zero: TFLite's reference (std::round / TfLiteRound). Quantizes as TFLite.
struct RoundHalfAway {
  static constexpr const char* name = "half_away";
  static constexpr ScaleOp scale_op = ScaleOp::divide;
  static std::int32_t to_int32(float x) noexcept { return detail::round_float_to_int32<false>(x); }
};

}  // namespace qsafe

#endif  // QSAFE_CORE_ROUNDING_HPP_
