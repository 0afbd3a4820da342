// qsafe/kernel/arch/neon/output.hpp: the output stages on a NEON q register of 4 accumulators (4
// consecutive columns of one row of C), bit-identical to arch/scalar/output.hpp. Shared by the neon
// and neon_dotprod paths (plain ARMv8.0 instructions only).
//
// The fixed-point stages map onto AArch64 instructions exactly:
//   saturating_rounding_doubling_high_mul  = SQRDMULH (ties up, INT32_MIN^2 saturates), nothing else;
//   rounding_divide_by_pot (ties away)     = SRSHL by -e (ties up) after adding -1 to negative lanes
//                                            when e > 0 (SQADD, so INT32_MIN stays put: exact anyway);
//   the single-rounding int64 form         = SMULL/SMULL2, SRSHL.2d by -(31 - shift), SQXTN;
//   round_half_even(float)                 = FCVTNS (ties to even, saturating).
// Per-channel parameters are read 4 at a time, so the caller uses these only for 4 valid columns;
// tails go through the scalar finish_element().
#ifndef QSAFE_KERNEL_ARCH_NEON_OUTPUT_HPP_
#define QSAFE_KERNEL_ARCH_NEON_OUTPUT_HPP_

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/neon/arch.hpp"
#include "qsafe/kernel/arch/scalar/output.hpp"
#include "qsafe/kernel/output_stage.hpp"

#if QSAFE_AARCH64

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

namespace qsafe {
namespace detail {

// Columns [col, col + 4) of row `row`, all valid.
struct Lanes4 {
  std::int64_t row;
  std::int64_t col;
};

QSAFE_ALWAYS_INLINE int32x4_t load_channel(Span<const std::int32_t> s, const Lanes4& l) noexcept {
  return s.size() == 1 ? vdupq_n_s32(s.data()[0]) : vld1q_s32(s.data() + l.col);
}

QSAFE_ALWAYS_INLINE float32x4_t load_channel(Span<const float> s, const Lanes4& l) noexcept {
  return s.size() == 1 ? vdupq_n_f32(s.data()[0]) : vld1q_f32(s.data() + l.col);
}

// Per-channel {multiplier, shift} pairs: LD2 de-interleaves them into two registers.
QSAFE_ALWAYS_INLINE void load_multipliers(Span<const QuantizedMultiplier> s, const Lanes4& l, int32x4_t& mult,
                                          int32x4_t& shift) noexcept {
  static_assert(sizeof(QuantizedMultiplier) == 8 && offsetof(QuantizedMultiplier, shift) == 4,
                "QuantizedMultiplier must be {int32 multiplier; int32 shift}");
  if (s.size() == 1) {
    mult = vdupq_n_s32(s.data()[0].multiplier);
    shift = vdupq_n_s32(s.data()[0].shift);
    return;
  }
  const int32x4x2_t pairs = vld2q_s32(reinterpret_cast<const std::int32_t*>(s.data() + l.col));
  mult = pairs.val[0];
  shift = pairs.val[1];
}

QSAFE_ALWAYS_INLINE int32x4_t apply(arch::neon, const AddBias& s, int32x4_t v, const Lanes4& l) noexcept {
  return vaddq_s32(v, load_channel(s.bias, l));  // wraps, as wrap_add
}

// TFLite's double rounding: left shift (wrapping SSHL), SQRDMULH, rounding divide by 2^right.
QSAFE_ALWAYS_INLINE int32x4_t apply(arch::neon, const RequantizeQ31& s, int32x4_t v, const Lanes4& l) noexcept {
  int32x4_t mult, shift;
  load_multipliers(s.multiplier, l, mult, shift);
  const int32x4_t zero = vdupq_n_s32(0);
  const int32x4_t left = vmaxq_s32(shift, zero);
  const int32x4_t neg_right = vminq_s32(shift, zero);  // -right, the SRSHL amount
  const int32x4_t y = vqrdmulhq_s32(vshlq_s32(v, left), mult);
  // Ties away from zero: SRSHL rounds ties up, so pull negative lanes down by one first (only
  // where a right shift follows). The sign bit of (y & -right) is set exactly for those lanes.
  const int32x4_t fixup = vshrq_n_s32(vandq_s32(y, neg_right), 31);
  const int32x4_t q = vrshlq_s32(vqaddq_s32(y, fixup), neg_right);
  return vaddq_s32(q, vdupq_n_s32(s.zero_point));
}

// (x * m + 2^(total - 1)) >> total in int64, total = 31 - shift in [1, 62], saturated to int32.
QSAFE_ALWAYS_INLINE int32x4_t apply(arch::neon, const RequantizeQ31SingleRound& s, int32x4_t v,
                                    const Lanes4& l) noexcept {
  int32x4_t mult, shift;
  load_multipliers(s.multiplier, l, mult, shift);
  const int32x4_t neg_total = vsubq_s32(shift, vdupq_n_s32(31));
  // SRSHL by a negative amount is a rounding (ties up) arithmetic right shift, exact in 64 bits.
  const int64x2_t lo = vrshlq_s64(vmull_s32(vget_low_s32(v), vget_low_s32(mult)), vmovl_s32(vget_low_s32(neg_total)));
  const int64x2_t hi = vrshlq_s64(vmull_high_s32(v, mult), vmovl_high_s32(neg_total));
  const int32x4_t y = vcombine_s32(vqmovn_s64(lo), vqmovn_s64(hi));
  return vaddq_s32(y, vdupq_n_s32(s.zero_point));
}

QSAFE_ALWAYS_INLINE int32x4_t apply(arch::neon, const RequantizeFloat& s, int32x4_t v, const Lanes4& l) noexcept {
  const float32x4_t limit = vdupq_n_f32(kRequantizeFloatLimit);
  float32x4_t x = vmulq_f32(vcvtq_f32_s32(v), load_channel(s.multiplier, l));
  x = vminq_f32(vmaxq_f32(x, vnegq_f32(limit)), limit);
  return vaddq_s32(vcvtnq_s32_f32(x), vdupq_n_s32(s.zero_point));  // FCVTNS: ties to even
}

QSAFE_ALWAYS_INLINE float32x4_t apply(arch::neon, const Dequantize& s, int32x4_t v, const Lanes4& l) noexcept {
  const float sa = channel(s.activation_scale, l.row);
  const float32x4_t scale = vmulq_f32(vdupq_n_f32(sa), load_channel(s.weight_scale, l));
  float32x4_t y = vmulq_f32(vcvtq_f32_s32(v), scale);
  if (s.bias.empty()) return y;
  __asm__("" : "+w"(y));  // round the product before the add: never an FMLA (see scalar opaque())
  return vaddq_f32(y, vld1q_f32(s.bias.data() + l.col));
}

QSAFE_ALWAYS_INLINE int32x4_t apply(arch::neon, const Clamp& s, int32x4_t v, const Lanes4&) noexcept {
  return vminq_s32(vmaxq_s32(v, vdupq_n_s32(s.lo)), vdupq_n_s32(s.hi));
}

// Compare-and-select, not FMAX/FMIN: keeps -0.0 and NaN exactly as the scalar `v < lo ? lo : v`.
QSAFE_ALWAYS_INLINE float32x4_t apply(arch::neon, const ClampFloat& s, float32x4_t v, const Lanes4&) noexcept {
  const float32x4_t lo = vdupq_n_f32(s.lo), hi = vdupq_n_f32(s.hi);
  v = vbslq_f32(vcltq_f32(v, lo), lo, v);
  return vbslq_f32(vcgtq_f32(v, hi), hi, v);
}

template <std::size_t I, class Pipeline, class V>
QSAFE_ALWAYS_INLINE auto apply_stages(arch::neon isa, const Pipeline& p, V v, const Lanes4& l) noexcept {
  if constexpr (I == Pipeline::size) {
    return v;
  } else {
    return apply_stages<I + 1>(isa, p, apply(isa, std::get<I>(p.stages), v, l), l);
  }
}

// Stores 8 consecutive values (two registers) of one row, converting as store_scalar does.
QSAFE_ALWAYS_INLINE void store8(std::int32_t* out, int32x4_t lo, int32x4_t hi) noexcept {
  vst1q_s32(out, lo);
  vst1q_s32(out + 4, hi);
}
QSAFE_ALWAYS_INLINE void store8(std::int8_t* out, int32x4_t lo, int32x4_t hi) noexcept {
  // SQXTN twice: saturating to int16, then to [-128, 127].
  vst1_s8(out, vqmovn_s16(vcombine_s16(vqmovn_s32(lo), vqmovn_s32(hi))));
}
QSAFE_ALWAYS_INLINE void store8(std::uint8_t* out, int32x4_t lo, int32x4_t hi) noexcept {
  // SQXTUN clamps negatives to 0 (and saturates to 65535), then UQXTN to [0, 255].
  vst1_u8(out, vqmovn_u16(vcombine_u16(vqmovun_s32(lo), vqmovun_s32(hi))));
}
QSAFE_ALWAYS_INLINE void store8(float* out, float32x4_t lo, float32x4_t hi) noexcept {
  vst1q_f32(out, lo);
  vst1q_f32(out + 4, hi);
}

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_AARCH64
#endif  // QSAFE_KERNEL_ARCH_NEON_OUTPUT_HPP_
