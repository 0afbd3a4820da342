// qsafe/core/fixed_point.hpp: integer requantization, bit-exact with TFLite / CMSIS-NN / gemmlowp.
//
// A real multiplier r > 0 is held as a Q0.31 integer `multiplier` in [2^30, 2^31) and a power-of-two
// `shift`:  r ~= multiplier * 2^(shift - 31).  Requantizing an int32 accumulator x means computing
// round(x * r) with integer arithmetic only, in one of two ways:
//
//   multiply_by_quantized_multiplier (TFLite's reference, "double rounding"):
//       left  = max(shift, 0), right = max(-shift, 0)
//       y     = saturating_rounding_doubling_high_mul(x * 2^left, multiplier)  // round #1
//       out   = rounding_divide_by_pot(y, right)                               // round #2
//   multiply_by_quantized_multiplier_single_round (TFLITE_SINGLE_ROUNDING, CMSIS-NN's default):
//       out   = (x * multiplier + 2^(30 - shift)) >> (31 - shift)   in int64, one rounding
//
// Ties: SRDHM rounds them towards +Inf (it is ARM's SQRDMULH), rounding_divide_by_pot away from zero,
// the single-rounding form towards +Inf (its int64 shift is a floor). The two forms can differ by one.
//
// Nothing here uses floating point except quantize_multiplier, which reads the bits of its double
// argument instead of calling frexp (not inlined on Cortex-M4; soft-float doubles there are slow
// but correct, and this runs once per layer, never per element). No libm, no exceptions, no heap.
#ifndef QSAFE_CORE_FIXED_POINT_HPP_
#define QSAFE_CORE_FIXED_POINT_HPP_

#include <cstdint>
#include <cstring>
#include <limits>

#include "qsafe/config.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {

// real_multiplier ~= multiplier * 2^(shift - 31); multiplier in [2^30, 2^31), or 0 (with shift 0)
// for a real multiplier too small to represent. shift > 0 is a left shift. quantize_multiplier
// produces shift in [kMinShift, kMaxShift]; the multiply functions require that range.
struct QuantizedMultiplier {
  std::int32_t multiplier = 0;
  int shift = 0;

  static constexpr int kMinShift = -31;  // a right shift by 31 after the Q31 multiply
  static constexpr int kMaxShift = 30;   // x * 2^31 never fits an int32; TFLite caps at 30 too
};

// TFLite's QuantizeMultiplier: r = q * 2^e with q in [0.5, 1) (frexp), multiplier = round(q * 2^31)
// (ties away from zero), shift = e; if the rounding carries to 2^31, multiplier = 2^30 and shift + 1.
// The result reproduces r with relative error <= 2^-31.
//   r == 0 (or -0)                       -> {0, 0}
//   0 < r < 2^-32 - 2^-64 (shift < -31)  -> {0, 0}, as TFLite does (|x * r| < 1/2 for every int32 x)
//   r >= 2^30 - 2^-2 (shift > 30)        -> Status::out_of_range
//   r < 0                                -> Status::invalid_argument
//   NaN or +-Inf                         -> Status::non_finite_input
Result<QuantizedMultiplier> quantize_multiplier(double real_multiplier) noexcept;

// round(a * b / 2^31) with ties towards +Inf: the high 32 bits of the doubled product, rounded.
// The only overflowing input pair, a == b == INT32_MIN (exact result 2^31), saturates to INT32_MAX.
// This is gemmlowp's / TFLite's SaturatingRoundingDoublingHighMul and exactly ARM's SQRDMULH.
std::int32_t saturating_rounding_doubling_high_mul(std::int32_t a, std::int32_t b) noexcept;

// round(x / 2^exponent), ties away from zero; exponent in [0, 31]. (gemmlowp's RoundingDivideByPOT.)
std::int32_t rounding_divide_by_pot(std::int32_t x, int exponent) noexcept;

// TFLite reference MultiplyByQuantizedMultiplier (double rounding), see the top of this file.
// m.shift must be in [-31, 30] (clamped there in release builds). The left shift x * 2^shift wraps
// modulo 2^32 when it overflows, as TFLite, CMSIS-NN and gemmlowp do in practice (in C++ it is
// undefined behaviour there; here it is defined): multipliers > 1 are only safe for small |x|.
std::int32_t multiply_by_quantized_multiplier(std::int32_t x, QuantizedMultiplier m) noexcept;

// TFLite's single-rounding MultiplyByQuantizedMultiplier (TFLITE_SINGLE_ROUNDING):
// floor((x * multiplier + 2^(30 - shift)) / 2^(31 - shift)) computed exactly in int64, i.e.
// round(x * r) with ties towards +Inf. m.shift in [-31, 30]. A result outside int32 (possible only
// for shift > 0) saturates (TFLite leaves it to a DCHECK).
std::int32_t multiply_by_quantized_multiplier_single_round(std::int32_t x, QuantizedMultiplier m) noexcept;

// ----------------------------------------------------------------------------------------------
// Implementation.

namespace detail {

// An arithmetic right shift (floor division by 2^n) for int64, spelled so that it does not depend on
// implementation-defined >> of negative values (it compiles to one ASR on GCC and Clang).
constexpr std::int64_t floor_shift_right(std::int64_t v, int n) noexcept {
  return v >= 0 ? (v >> n) : -((-(v + 1)) >> n) - 1;
}

constexpr int clamp_shift(int shift) noexcept {
  return shift < QuantizedMultiplier::kMinShift   ? QuantizedMultiplier::kMinShift
         : shift > QuantizedMultiplier::kMaxShift ? QuantizedMultiplier::kMaxShift
                                                  : shift;
}

}  // namespace detail

inline Result<QuantizedMultiplier> quantize_multiplier(double real_multiplier) noexcept {
  std::uint64_t bits;
  static_assert(sizeof bits == sizeof real_multiplier, "IEEE-754 binary64 double expected");
  std::memcpy(&bits, &real_multiplier, sizeof bits);
  const bool negative = (bits >> 63) != 0;
  const int biased_exponent = static_cast<int>((bits >> 52) & 0x7ffu);
  const std::uint64_t fraction = bits & ((std::uint64_t{1} << 52) - 1u);
  if (biased_exponent == 0x7ff) return Status::non_finite_input;
  if (biased_exponent == 0 && fraction == 0) return QuantizedMultiplier{};  // +0 and -0
  if (negative) return Status::invalid_argument;
  // Subnormals (< 2^-1022) are far below 2^-32: they quantize to zero like any tiny multiplier.
  if (biased_exponent == 0) return QuantizedMultiplier{};
  // r = 1.fraction * 2^(biased_exponent - 1023) = q * 2^e with q = 0.1fraction (binary) in [0.5, 1),
  // e = biased_exponent - 1022: frexp's decomposition. q * 2^31 = significand53 / 2^22 exactly.
  const std::uint64_t significand = fraction | (std::uint64_t{1} << 52);
  std::uint64_t q31 = (significand + (std::uint64_t{1} << 21)) >> 22;  // round half up (q > 0)
  int shift = biased_exponent - 1022;
  if (q31 == (std::uint64_t{1} << 31)) {  // rounding carried out of Q0.31: 1.0 = 0.5 * 2
    q31 >>= 1;
    ++shift;
  }
  if (shift < QuantizedMultiplier::kMinShift) return QuantizedMultiplier{};
  if (shift > QuantizedMultiplier::kMaxShift) return Status::out_of_range;
  QuantizedMultiplier m;
  m.multiplier = static_cast<std::int32_t>(q31);
  m.shift = shift;
  return m;
}

inline std::int32_t saturating_rounding_doubling_high_mul(std::int32_t a, std::int32_t b) noexcept {
  // |a * b| <= 2^62, so a * b + 2^30 fits an int64; the floor of its quotient by 2^31 rounds half up.
  const std::int64_t product = static_cast<std::int64_t>(a) * static_cast<std::int64_t>(b);
  const std::int64_t r = detail::floor_shift_right(product + (std::int64_t{1} << 30), 31);
  // r <= 2^31 - 1 unless a == b == INT32_MIN, whose result 2^31 saturates.
  if (r > std::numeric_limits<std::int32_t>::max()) return std::numeric_limits<std::int32_t>::max();
  return static_cast<std::int32_t>(r);
}

inline std::int32_t rounding_divide_by_pot(std::int32_t x, int exponent) noexcept {
  QSAFE_DCHECK(exponent >= 0 && exponent <= 31);
  if (exponent <= 0) return x;
  // floor((x + 2^(e-1)) / 2^e) rounds ties up; subtracting 1 from the nudge for negative x turns
  // that into ties away from zero. int64 keeps the nudge from overflowing near INT32_MAX.
  const std::int64_t half = std::int64_t{1} << (exponent - 1);
  const std::int64_t nudged = static_cast<std::int64_t>(x) + (x < 0 ? half - 1 : half);
  return static_cast<std::int32_t>(detail::floor_shift_right(nudged, exponent));
}

inline std::int32_t multiply_by_quantized_multiplier(std::int32_t x, QuantizedMultiplier m) noexcept {
  QSAFE_DCHECK(m.shift >= QuantizedMultiplier::kMinShift && m.shift <= QuantizedMultiplier::kMaxShift);
  const int shift = detail::clamp_shift(m.shift);
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  // Wrapping left shift (two's complement conversion back to int32, as GCC and Clang define it).
  const std::int32_t shifted = static_cast<std::int32_t>(static_cast<std::uint32_t>(x) << left);
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, m.multiplier), right);
}

inline std::int32_t multiply_by_quantized_multiplier_single_round(std::int32_t x, QuantizedMultiplier m) noexcept {
  QSAFE_DCHECK(m.shift >= QuantizedMultiplier::kMinShift && m.shift <= QuantizedMultiplier::kMaxShift);
  const int total_shift = 31 - detail::clamp_shift(m.shift);  // in [1, 62]
  // |x * multiplier| < 2^62 and the nudge is <= 2^61: the sum cannot overflow int64.
  const std::int64_t nudged =
      static_cast<std::int64_t>(x) * static_cast<std::int64_t>(m.multiplier) + (std::int64_t{1} << (total_shift - 1));
  const std::int64_t r = detail::floor_shift_right(nudged, total_shift);
  if (r > std::numeric_limits<std::int32_t>::max()) return std::numeric_limits<std::int32_t>::max();
  if (r < std::numeric_limits<std::int32_t>::min()) return std::numeric_limits<std::int32_t>::min();
  return static_cast<std::int32_t>(r);
}

}  // namespace qsafe

#endif  // QSAFE_CORE_FIXED_POINT_HPP_
