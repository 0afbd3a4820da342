// qsafe/kernel/arch/avx512_vnni/output.hpp: the output stages on a ZMM row of 16 accumulators
// (16 consecutive columns of one row of C). Bit-identical to arch/scalar/output.hpp; every function
// carries QSAFE_TARGET_AVX512_VNNI and is inlined into the micro-kernel.
#ifndef QSAFE_KERNEL_ARCH_AVX512_VNNI_OUTPUT_HPP_
#define QSAFE_KERNEL_ARCH_AVX512_VNNI_OUTPUT_HPP_

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/avx512_vnni/arch.hpp"
#include "qsafe/kernel/arch/scalar/output.hpp"
#include "qsafe/kernel/output_stage.hpp"

#define QSAFE_AVX512_INLINE QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI

// GCC 12 reports its own _mm512_undefined_*() (self-initialised) as uninitialised once an
// intrinsic is inlined into a target("avx512f") function (GCC PR105593); the pragma must cover
// the inlining site, so it wraps this header's functions.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qsafe {
namespace detail {

// 16 columns [col, col + 16) of row `row`; lanes at or beyond N are off in `mask`.
struct Lanes16 {
  std::int64_t row;
  std::int64_t col;
  __mmask16 mask;
};

QSAFE_AVX512_INLINE __m512i load_channel(Span<const std::int32_t> s, const Lanes16& l) noexcept {
  return s.size() == 1 ? _mm512_set1_epi32(s.data()[0]) : _mm512_maskz_loadu_epi32(l.mask, s.data() + l.col);
}

QSAFE_AVX512_INLINE __m512 load_channel(Span<const float> s, const Lanes16& l) noexcept {
  return s.size() == 1 ? _mm512_set1_ps(s.data()[0]) : _mm512_maskz_loadu_ps(l.mask, s.data() + l.col);
}

// Per-channel {multiplier, shift} pairs, split into two vectors.
QSAFE_AVX512_INLINE void load_multipliers(Span<const QuantizedMultiplier> s, const Lanes16& l, __m512i& mult,
                                          __m512i& shift) noexcept {
  static_assert(sizeof(QuantizedMultiplier) == 8 && offsetof(QuantizedMultiplier, shift) == 4,
                "QuantizedMultiplier must be {int32 multiplier; int32 shift}");
  if (s.size() == 1) {
    mult = _mm512_set1_epi32(s.data()[0].multiplier);
    shift = _mm512_set1_epi32(s.data()[0].shift);
    return;
  }
  // Lane i of the 64-bit view is pair i: masks of the first and second 8 pairs.
  const auto m_lo = static_cast<__mmask8>(l.mask & 0xff);
  const auto m_hi = static_cast<__mmask8>(l.mask >> 8);
  const auto* p = reinterpret_cast<const long long*>(s.data() + l.col);
  const __m512i lo = _mm512_maskz_loadu_epi64(m_lo, p);
  const __m512i hi = _mm512_maskz_loadu_epi64(m_hi, p + 8);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  mult = _mm512_permutex2var_epi32(lo, even, hi);
  shift = _mm512_permutex2var_epi32(lo, odd, hi);
}

QSAFE_AVX512_INLINE __m512i apply(arch::avx512_vnni, const AddBias& s, __m512i v, const Lanes16& l) noexcept {
  return _mm512_add_epi32(v, load_channel(s.bias, l));
}

// round(x * m / 2^31), ties up: the high half of the 64-bit product plus 2^30, lanes done in even
// and odd halves (vpmuldq multiplies the low dword of each qword). m >= 0, so no saturation case.
QSAFE_AVX512_INLINE __m512i srdhm(__m512i x, __m512i m) noexcept {
  const __m512i nudge = _mm512_set1_epi64(std::int64_t{1} << 30);
  const __m512i even = _mm512_add_epi64(_mm512_mul_epi32(x, m), nudge);
  const __m512i odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(m, 32)), nudge);
  // Result = bits 31..62 of each sum: low dword of (even >> 31), high dword of (odd << 1).
  return _mm512_mask_blend_epi32(0xaaaa, _mm512_srli_epi64(even, 31), _mm512_slli_epi64(odd, 1));
}

// round(x / 2^e), ties away from zero (gemmlowp's RoundingDivideByPOT), e in [0, 31] per lane.
QSAFE_AVX512_INLINE __m512i rounding_divide_by_pot(__m512i x, __m512i e) noexcept {
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, e), one);
  const __m512i remainder = _mm512_and_si512(x, mask);
  const __m512i threshold = _mm512_add_epi32(_mm512_srli_epi32(mask, 1), _mm512_srli_epi32(x, 31));
  const __m512i q = _mm512_srav_epi32(x, e);
  return _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(remainder, threshold), q, one);
}

QSAFE_AVX512_INLINE __m512i apply(arch::avx512_vnni, const RequantizeQ31& s, __m512i v, const Lanes16& l) noexcept {
  __m512i mult, shift;
  load_multipliers(s.multiplier, l, mult, shift);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i left = _mm512_max_epi32(shift, zero);
  const __m512i right = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
  const __m512i x = _mm512_sllv_epi32(v, left);  // wraps, as the scalar reference defines
  const __m512i y = rounding_divide_by_pot(srdhm(x, mult), right);
  return _mm512_add_epi32(y, _mm512_set1_epi32(s.zero_point));
}

QSAFE_AVX512_INLINE __m512i apply(arch::avx512_vnni, const RequantizeQ31SingleRound& s, __m512i v,
                                  const Lanes16& l) noexcept {
  __m512i mult, shift;
  load_multipliers(s.multiplier, l, mult, shift);
  const __m512i total = _mm512_sub_epi32(_mm512_set1_epi32(31), shift);  // [1, 62]
  const __m512i low32 = _mm512_set1_epi64(0xffffffffLL);
  const __m512i total_even = _mm512_and_si512(total, low32);
  const __m512i total_odd = _mm512_srli_epi64(total, 32);
  const __m512i one = _mm512_set1_epi64(1);
  const __m512i lo = _mm512_set1_epi64(-2147483648LL), hi = _mm512_set1_epi64(2147483647LL);
  __m512i even = _mm512_mul_epi32(v, mult);
  __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(v, 32), _mm512_srli_epi64(mult, 32));
  even =
      _mm512_srav_epi64(_mm512_add_epi64(even, _mm512_sllv_epi64(one, _mm512_sub_epi64(total_even, one))), total_even);
  odd = _mm512_srav_epi64(_mm512_add_epi64(odd, _mm512_sllv_epi64(one, _mm512_sub_epi64(total_odd, one))), total_odd);
  even = _mm512_min_epi64(_mm512_max_epi64(even, lo), hi);
  odd = _mm512_min_epi64(_mm512_max_epi64(odd, lo), hi);
  const __m512i y = _mm512_mask_blend_epi32(0xaaaa, even, _mm512_slli_epi64(odd, 32));
  return _mm512_add_epi32(y, _mm512_set1_epi32(s.zero_point));
}

QSAFE_AVX512_INLINE __m512i apply(arch::avx512_vnni, const RequantizeFloat& s, __m512i v, const Lanes16& l) noexcept {
  const __m512 limit = _mm512_set1_ps(kRequantizeFloatLimit);
  __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(v), load_channel(s.multiplier, l));
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_sub_ps(_mm512_setzero_ps(), limit)), limit);
  const __m512i q = _mm512_cvt_roundps_epi32(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // half even
  return _mm512_add_epi32(q, _mm512_set1_epi32(s.zero_point));
}

QSAFE_AVX512_INLINE __m512 apply(arch::avx512_vnni, const Dequantize& s, __m512i v, const Lanes16& l) noexcept {
  const float sa = channel(s.activation_scale, l.row);
  const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(sa), load_channel(s.weight_scale, l));
  __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(v), scale);
  if (s.bias.empty()) return y;
  __asm__("" : "+v"(y));  // round the product before the add: never an FMA (see scalar opaque())
  return _mm512_add_ps(y, _mm512_maskz_loadu_ps(l.mask, s.bias.data() + l.col));
}

QSAFE_AVX512_INLINE __m512i apply(arch::avx512_vnni, const Clamp& s, __m512i v, const Lanes16&) noexcept {
  return _mm512_min_epi32(_mm512_max_epi32(v, _mm512_set1_epi32(s.lo)), _mm512_set1_epi32(s.hi));
}

// Compare-and-select, not vmaxps: it keeps -0.0 as the scalar `v < lo ? lo : v` does.
QSAFE_AVX512_INLINE __m512 apply(arch::avx512_vnni, const ClampFloat& s, __m512 v, const Lanes16&) noexcept {
  const __m512 lo = _mm512_set1_ps(s.lo), hi = _mm512_set1_ps(s.hi);
  v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ), v, lo);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, hi, _CMP_GT_OQ), v, hi);
}

template <std::size_t I, class Pipeline, class V>
QSAFE_AVX512_INLINE auto apply_stages(arch::avx512_vnni isa, const Pipeline& p, V v, const Lanes16& l) noexcept {
  if constexpr (I == Pipeline::size) {
    return v;
  } else {
    return apply_stages<I + 1>(isa, p, apply(isa, std::get<I>(p.stages), v, l), l);
  }
}

QSAFE_AVX512_INLINE void store(arch::avx512_vnni, std::int32_t* out, __m512i v, __mmask16 m) noexcept {
  _mm512_mask_storeu_epi32(out, m, v);
}
QSAFE_AVX512_INLINE void store(arch::avx512_vnni, std::int8_t* out, __m512i v, __mmask16 m) noexcept {
  _mm512_mask_cvtsepi32_storeu_epi8(out, m, v);  // saturating to [-128, 127]
}
QSAFE_AVX512_INLINE void store(arch::avx512_vnni, std::uint8_t* out, __m512i v, __mmask16 m) noexcept {
  // vpmovusdb saturates unsigned: clear negatives first.
  _mm512_mask_cvtusepi32_storeu_epi8(out, m, _mm512_max_epi32(v, _mm512_setzero_si512()));
}
QSAFE_AVX512_INLINE void store(arch::avx512_vnni, float* out, __m512 v, __mmask16 m) noexcept {
  _mm512_mask_storeu_ps(out, m, v);
}

}  // namespace detail
}  // namespace qsafe

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // QSAFE_KERNEL_ARCH_AVX512_VNNI_OUTPUT_HPP_
