// qsafe/kernel/arch/avx2/output.hpp: the output stages on a YMM row of 8 accumulators (8
// consecutive columns of one row of C). Bit-identical to arch/scalar/output.hpp. Shared by every
// YMM path: arch::avx_vnni derives from arch::avx2, and these AVX2 functions inline into its
// (superset) target.
#ifndef QSAFE_KERNEL_ARCH_AVX2_OUTPUT_HPP_
#define QSAFE_KERNEL_ARCH_AVX2_OUTPUT_HPP_

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/avx2/arch.hpp"
#include "qsafe/kernel/arch/scalar/output.hpp"
#include "qsafe/kernel/output_stage.hpp"

#define QSAFE_AVX2_INLINE QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2

namespace qsafe {
namespace detail {

// 8 columns [col, col + lanes) of row `row`; `mask` has all bits set in the lanes < `lanes`.
struct Lanes8 {
  std::int64_t row;
  std::int64_t col;
  int lanes;
  __m256i mask;
};

QSAFE_AVX2_INLINE __m256i lane_mask8(int lanes) noexcept {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

QSAFE_AVX2_INLINE __m256i load_channel(Span<const std::int32_t> s, const Lanes8& l) noexcept {
  if (s.size() == 1) return _mm256_set1_epi32(s.data()[0]);
  return l.lanes == 8 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.data() + l.col))
                      : _mm256_maskload_epi32(reinterpret_cast<const int*>(s.data() + l.col), l.mask);
}

QSAFE_AVX2_INLINE __m256 load_channel(Span<const float> s, const Lanes8& l) noexcept {
  if (s.size() == 1) return _mm256_set1_ps(s.data()[0]);
  return l.lanes == 8 ? _mm256_loadu_ps(s.data() + l.col) : _mm256_maskload_ps(s.data() + l.col, l.mask);
}

QSAFE_AVX2_INLINE void load_multipliers(Span<const QuantizedMultiplier> s, const Lanes8& l, __m256i& mult,
                                        __m256i& shift) noexcept {
  static_assert(sizeof(QuantizedMultiplier) == 8 && offsetof(QuantizedMultiplier, shift) == 4,
                "QuantizedMultiplier must be {int32 multiplier; int32 shift}");
  if (s.size() == 1) {
    mult = _mm256_set1_epi32(s.data()[0].multiplier);
    shift = _mm256_set1_epi32(s.data()[0].shift);
    return;
  }
  // Pairs 0..3 and 4..7 as 8 dwords each (masked per pair), then de-interleaved.
  const int* p = reinterpret_cast<const int*>(s.data() + l.col);
  const __m256i pair_index = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  const __m256i m_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(l.lanes), pair_index);
  const __m256i m_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(l.lanes - 4), pair_index);
  const __m256i lo = _mm256_maskload_epi32(p, m_lo);      // m0 s0 m1 s1 m2 s2 m3 s3
  const __m256i hi = _mm256_maskload_epi32(p + 8, m_hi);  // m4 s4 ...
  const __m256i split = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m256i a = _mm256_permutevar8x32_epi32(lo, split);  // m0..m3 | s0..s3
  const __m256i b = _mm256_permutevar8x32_epi32(hi, split);  // m4..m7 | s4..s7
  mult = _mm256_permute2x128_si256(a, b, 0x20);
  shift = _mm256_permute2x128_si256(a, b, 0x31);
}

QSAFE_AVX2_INLINE __m256i apply(arch::avx2, const AddBias& s, __m256i v, const Lanes8& l) noexcept {
  return _mm256_add_epi32(v, load_channel(s.bias, l));
}

// round(x * m / 2^31), ties up (see the AVX-512 version). m >= 0: no saturation case.
QSAFE_AVX2_INLINE __m256i srdhm(__m256i x, __m256i m) noexcept {
  const __m256i nudge = _mm256_set1_epi64x(std::int64_t{1} << 30);
  const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(x, m), nudge);
  const __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32)), nudge);
  return _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_slli_epi64(odd, 1), 0xaa);
}

QSAFE_AVX2_INLINE __m256i rounding_divide_by_pot(__m256i x, __m256i e) noexcept {
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, e), one);
  const __m256i remainder = _mm256_and_si256(x, mask);
  const __m256i threshold = _mm256_add_epi32(_mm256_srli_epi32(mask, 1), _mm256_srli_epi32(x, 31));
  const __m256i q = _mm256_srav_epi32(x, e);
  return _mm256_sub_epi32(q, _mm256_cmpgt_epi32(remainder, threshold));  // -(-1) = +1 where greater
}

QSAFE_AVX2_INLINE __m256i apply(arch::avx2, const RequantizeQ31& s, __m256i v, const Lanes8& l) noexcept {
  __m256i mult, shift;
  load_multipliers(s.multiplier, l, mult, shift);
  const __m256i zero = _mm256_setzero_si256();
  const __m256i left = _mm256_max_epi32(shift, zero);
  const __m256i right = _mm256_max_epi32(_mm256_sub_epi32(zero, shift), zero);
  const __m256i y = rounding_divide_by_pot(srdhm(_mm256_sllv_epi32(v, left), mult), right);
  return _mm256_add_epi32(y, _mm256_set1_epi32(s.zero_point));
}

// floor(v / 2^n) for int64 lanes: AVX2 has no vpsravq, so shift the one's complement of negatives.
QSAFE_AVX2_INLINE __m256i floor_shift_right_epi64(__m256i v, __m256i n) noexcept {
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
  return _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(v, sign), n), sign);
}

QSAFE_AVX2_INLINE __m256i saturate_epi64_to_int32_range(__m256i v) noexcept {
  const __m256i lo = _mm256_set1_epi64x(-2147483648LL), hi = _mm256_set1_epi64x(2147483647LL);
  v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
  return _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
}

QSAFE_AVX2_INLINE __m256i apply(arch::avx2, const RequantizeQ31SingleRound& s, __m256i v, const Lanes8& l) noexcept {
  __m256i mult, shift;
  load_multipliers(s.multiplier, l, mult, shift);
  const __m256i total = _mm256_sub_epi32(_mm256_set1_epi32(31), shift);  // [1, 62]
  const __m256i total_even = _mm256_and_si256(total, _mm256_set1_epi64x(0xffffffffLL));
  const __m256i total_odd = _mm256_srli_epi64(total, 32);
  const __m256i one = _mm256_set1_epi64x(1);
  __m256i even = _mm256_mul_epi32(v, mult);
  __m256i odd = _mm256_mul_epi32(_mm256_srli_epi64(v, 32), _mm256_srli_epi64(mult, 32));
  even = _mm256_add_epi64(even, _mm256_sllv_epi64(one, _mm256_sub_epi64(total_even, one)));
  odd = _mm256_add_epi64(odd, _mm256_sllv_epi64(one, _mm256_sub_epi64(total_odd, one)));
  even = saturate_epi64_to_int32_range(floor_shift_right_epi64(even, total_even));
  odd = saturate_epi64_to_int32_range(floor_shift_right_epi64(odd, total_odd));
  const __m256i y = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xaa);
  return _mm256_add_epi32(y, _mm256_set1_epi32(s.zero_point));
}

QSAFE_AVX2_INLINE __m256i apply(arch::avx2, const RequantizeFloat& s, __m256i v, const Lanes8& l) noexcept {
  const __m256 limit = _mm256_set1_ps(kRequantizeFloatLimit);
  __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(v), load_channel(s.multiplier, l));
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_sub_ps(_mm256_setzero_ps(), limit)), limit);
  // Round half to even explicitly (independent of MXCSR), then convert the now-integral value.
  const __m256i q = _mm256_cvtps_epi32(_mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  return _mm256_add_epi32(q, _mm256_set1_epi32(s.zero_point));
}

QSAFE_AVX2_INLINE __m256 apply(arch::avx2, const Dequantize& s, __m256i v, const Lanes8& l) noexcept {
  const float sa = channel(s.activation_scale, l.row);
  const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(sa), load_channel(s.weight_scale, l));
  __m256 y = _mm256_mul_ps(_mm256_cvtepi32_ps(v), scale);
  if (s.bias.empty()) return y;
  __asm__("" : "+x"(y));  // round the product before the add: never an FMA (see scalar opaque())
  return _mm256_add_ps(y, load_channel(s.bias, l));
}

QSAFE_AVX2_INLINE __m256i apply(arch::avx2, const Clamp& s, __m256i v, const Lanes8&) noexcept {
  return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(s.lo)), _mm256_set1_epi32(s.hi));
}

// Compare-and-select, not vmaxps: it keeps -0.0 as the scalar `v < lo ? lo : v` does.
QSAFE_AVX2_INLINE __m256 apply(arch::avx2, const ClampFloat& s, __m256 v, const Lanes8&) noexcept {
  const __m256 lo = _mm256_set1_ps(s.lo), hi = _mm256_set1_ps(s.hi);
  v = _mm256_blendv_ps(v, lo, _mm256_cmp_ps(v, lo, _CMP_LT_OQ));
  return _mm256_blendv_ps(v, hi, _mm256_cmp_ps(v, hi, _CMP_GT_OQ));
}

template <std::size_t I, class Pipeline, class V>
QSAFE_AVX2_INLINE auto apply_stages(arch::avx2 isa, const Pipeline& p, V v, const Lanes8& l) noexcept {
  if constexpr (I == Pipeline::size) {
    return v;
  } else {
    return apply_stages<I + 1>(isa, p, apply(isa, std::get<I>(p.stages), v, l), l);
  }
}

QSAFE_AVX2_INLINE void store(arch::avx2, std::int32_t* out, __m256i v, const Lanes8& l) noexcept {
  if (l.lanes == 8)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), v);
  else
    _mm256_maskstore_epi32(reinterpret_cast<int*>(out), l.mask, v);
}
QSAFE_AVX2_INLINE void store(arch::avx2, float* out, __m256 v, const Lanes8& l) noexcept {
  if (l.lanes == 8)
    _mm256_storeu_ps(out, v);
  else
    _mm256_maskstore_ps(out, l.mask, v);
}
// 8 bytes (saturated) into the low 64 bits of an XMM, then all 8 or only `lanes` of them out.
QSAFE_AVX2_INLINE void store_bytes8(void* out, __m256i packed, int lanes) noexcept {
  const __m128i bytes =
      _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4)));
  if (lanes == 8) {
    _mm_storel_epi64(static_cast<__m128i*>(out), bytes);
  } else {
    unsigned char tmp[8];
    _mm_storel_epi64(reinterpret_cast<__m128i*>(tmp), bytes);
    std::memcpy(out, tmp, static_cast<std::size_t>(lanes));
  }
}
QSAFE_AVX2_INLINE void store(arch::avx2, std::int8_t* out, __m256i v, const Lanes8& l) noexcept {
  const __m256i w = _mm256_packs_epi32(v, v);            // int32 -> int16, saturating
  store_bytes8(out, _mm256_packs_epi16(w, w), l.lanes);  // int16 -> int8, saturating
}
QSAFE_AVX2_INLINE void store(arch::avx2, std::uint8_t* out, __m256i v, const Lanes8& l) noexcept {
  const __m256i w = _mm256_packs_epi32(v, v);             // int32 -> int16, saturating
  store_bytes8(out, _mm256_packus_epi16(w, w), l.lanes);  // int16 -> uint8, saturating
}

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_AVX2_OUTPUT_HPP_
