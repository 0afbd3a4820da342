// qsafe/policy/detail/row_scan.hpp: the two loops a range policy runs over each row of float
// activations - its exact min/max, and the counting quantize into uint8/int8 - at the ISA chosen
// at run time (x86: AVX-512 or AVX2 through function-level target attributes and CPUID, as the
// GEMM kernels in kernel/arch/ are), so a baseline x86-64 build still gets full-width SIMD here.
// This is the one place for these dispatched loops; RangePolicyBase (range_policy.hpp) calls them.
//
// Paths (RowScanPath):
//   portable  the loops of quantizer/detail/vector_loops.hpp (xsimd at the compile-time ISA, or the
//             scalar reference without xsimd): every other target (ARM, other rounding modes -
//             RoundHalfAway divides by the scale, see quantizer/detail/element_loops.hpp -,
//             16-bit outputs) uses them;
//   avx2      AVX2 + FMA, 8 floats per vector (CpuFeatures::avx2_fma);
//   avx512    AVX-512 F/BW/DQ/VL, 16 floats per vector (CpuFeatures::avx512_vnni: the same CPU
//             test as the VNNI GEMM path, whose target attribute these functions share);
//   automatic the best available of the above (the default). A path the CPU lacks runs portable.
//
// Results equal the scalar references of vector_loops.hpp (min_max_loop_scalar,
// quantize_loop_counted_scalar) bit for bit: the same bytes, the same counts, the same min/max
// values (only the sign of a zero bound may differ, which qparams_from_range ignores). How:
//   quantize   s = x * inv_scale (one product; no FMA can touch it: nothing is added to it), then
//              round half to even by the instruction's own rounding control (AVX-512 embedded
//              {rn-sae}; AVX2 vroundps with an immediate), independent of MXCSR, then int32.
//              d = i - (qmin - zp) is checked as an unsigned number against qmax - qmin: a value
//              that would saturate, and NaN / +-Inf / |s| >= 2^31 (which convert to INT_MIN), all
//              fail that check. Values outside `clip` are caught by a running min/max of x. A
//              block (64 floats on AVX-512, 32 on AVX2) that holds anything to count is redone
//              by the scalar reference, which counts and writes the same bytes; clean blocks are
//              stored as d + qmin, exact in the 8-bit type (down-conversion or packs of values
//              already in range).
//   min/max    per-lane min/max over the row plus a probe p += x * 0 (an FMA: 0 for finite x,
//              NaN for NaN/+-Inf); if the probe is not 0 the scalar reference redoes the row and
//              counts the non-finite values.
// Tails use masked loads/stores (AVX-512) or a zero-padded stack block (AVX2): nothing is read or
// written past the caller's buffers.
#ifndef QSAFE_POLICY_DETAIL_ROW_SCAN_HPP_
#define QSAFE_POLICY_DETAIL_ROW_SCAN_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "qsafe/config.hpp"
#include "qsafe/core/qparams.hpp"
#include "qsafe/core/rounding.hpp"
#include "qsafe/kernel/arch/cpu_features.hpp"
#include "qsafe/quantizer/detail/vector_loops.hpp"

#if QSAFE_X86_64 && (QSAFE_COMPILE_AVX2 || QSAFE_COMPILE_AVX512_VNNI)
#include <immintrin.h>
#define QSAFE_ROW_SCAN_X86 1
#else
#define QSAFE_ROW_SCAN_X86 0
#endif

// GCC 12 PR105593: see config.hpp.
QSAFE_AVX512_CODE_BEGIN

namespace qsafe {

// Which loops a range policy runs over its rows (see the header comment).
enum class RowScanPath : std::uint8_t { automatic, portable, avx2, avx512 };

namespace detail {

inline const char* row_scan_name(RowScanPath p) noexcept {
  switch (p) {
    case RowScanPath::automatic: return "automatic";
    case RowScanPath::portable: return "portable";
    case RowScanPath::avx2: return "avx2";
    case RowScanPath::avx512: return "avx512";
  }
  return "?";
}

// Whether path p is compiled and this CPU runs it (automatic and portable always are). The CPU
// is probed once (arch::cpu_features(), cached); off x86 only portable exists.
inline bool row_scan_available(RowScanPath p) noexcept {
  switch (p) {
    case RowScanPath::automatic:
    case RowScanPath::portable: return true;
#if QSAFE_ROW_SCAN_X86
    case RowScanPath::avx2: return QSAFE_COMPILE_AVX2 && arch::cpu_features().avx2_fma;
    case RowScanPath::avx512: return QSAFE_COMPILE_AVX512_VNNI && arch::cpu_features().avx512_vnni;
#else
    default: return false;
#endif
  }
  return false;
}

// The path that runs for a request: automatic -> the best available, unavailable -> portable.
inline RowScanPath row_scan_resolve(RowScanPath p) noexcept {
#if QSAFE_ROW_SCAN_X86
  if (p == RowScanPath::automatic) {
    if (row_scan_available(RowScanPath::avx512)) return RowScanPath::avx512;
    return row_scan_available(RowScanPath::avx2) ? RowScanPath::avx2 : RowScanPath::portable;
  }
  return row_scan_available(p) ? p : RowScanPath::portable;
#else
  (void)p;
  return RowScanPath::portable;
#endif
}

inline void add_counts(QuantizeCounts& total, const QuantizeCounts& c) noexcept {
  total.non_finite += c.non_finite;
  total.saturated += c.saturated;
  total.clipped += c.clipped;
}

#if QSAFE_ROW_SCAN_X86 && QSAFE_COMPILE_AVX512_VNNI

QSAFE_TARGET_AVX512_VNNI inline MinMax row_min_max_avx512(const float* x, std::size_t n) noexcept {
  if (n < 16) return min_max_loop_scalar(x, n);
  const __m512 zero = _mm512_setzero_ps();
  __m512 lo0 = _mm512_loadu_ps(x), hi0 = lo0, lo1 = lo0, hi1 = lo0, lo2 = lo0, hi2 = lo0, lo3 = lo0, hi3 = lo0;
  __m512 p0 = zero, p1 = zero, p2 = zero, p3 = zero;
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
    const __m512 c = _mm512_loadu_ps(x + i + 32), d = _mm512_loadu_ps(x + i + 48);
    lo0 = _mm512_min_ps(lo0, a), hi0 = _mm512_max_ps(hi0, a), p0 = _mm512_fmadd_ps(a, zero, p0);
    lo1 = _mm512_min_ps(lo1, b), hi1 = _mm512_max_ps(hi1, b), p1 = _mm512_fmadd_ps(b, zero, p1);
    lo2 = _mm512_min_ps(lo2, c), hi2 = _mm512_max_ps(hi2, c), p2 = _mm512_fmadd_ps(c, zero, p2);
    lo3 = _mm512_min_ps(lo3, d), hi3 = _mm512_max_ps(hi3, d), p3 = _mm512_fmadd_ps(d, zero, p3);
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 a = _mm512_loadu_ps(x + i);
    lo0 = _mm512_min_ps(lo0, a), hi0 = _mm512_max_ps(hi0, a), p0 = _mm512_fmadd_ps(a, zero, p0);
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 a = _mm512_maskz_loadu_ps(m, x + i);  // zeros in the other lanes: finite
    lo1 = _mm512_mask_min_ps(lo1, m, lo1, a), hi1 = _mm512_mask_max_ps(hi1, m, hi1, a);
    p1 = _mm512_fmadd_ps(a, zero, p1);
  }
  const __m512 p = _mm512_add_ps(_mm512_add_ps(p0, p1), _mm512_add_ps(p2, p3));
  if (_mm512_cmp_ps_mask(p, zero, _CMP_NEQ_UQ) != 0) return min_max_loop_scalar(x, n);  // NaN/Inf: count
  MinMax r;
  r.lo = _mm512_reduce_min_ps(_mm512_min_ps(_mm512_min_ps(lo0, lo1), _mm512_min_ps(lo2, lo3)));
  r.hi = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(hi0, hi1), _mm512_max_ps(hi2, hi3)));
  return r;
}

// Quantizes 16 lanes (those in m); folds what must be checked into dmax / vmin / vmax.
struct Avx512QuantArgs {
  __m512 inv, clip_lo, clip_hi;
  __m512i lo, span, qmin;
};

QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI __m512i quantize16_avx512(__m512 v, const Avx512QuantArgs& a,
                                                                       __m512i& dmax) noexcept {
  const __m512 s = _mm512_mul_ps(v, a.inv);
  const __m512i i = _mm512_cvt_roundps_epi32(s, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512i d = _mm512_sub_epi32(i, a.lo);  // in [0, span] unless it saturates or was NaN/Inf
  dmax = _mm512_max_epu32(dmax, d);
  return _mm512_add_epi32(d, a.qmin);
}

template <class Int>
QSAFE_TARGET_AVX512_VNNI inline QuantizeCounts row_quantize_avx512(const float* x, std::size_t n, QuantScale s,
                                                                   std::int32_t zero_point, QRange r, Range clip,
                                                                   Int* q) noexcept {
  static_assert(sizeof(Int) == 1, "8-bit outputs only");
  Avx512QuantArgs a;
  a.inv = _mm512_set1_ps(s.inv_scale);
  a.clip_lo = _mm512_set1_ps(clip.lo);
  a.clip_hi = _mm512_set1_ps(clip.hi);
  a.lo = _mm512_set1_epi32(r.qmin - zero_point);
  a.span = _mm512_set1_epi32(r.qmax - r.qmin);
  a.qmin = _mm512_set1_epi32(r.qmin);
  QuantizeCounts total;
  constexpr std::size_t kBlock = 64;
  std::size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    __m512i dmax = _mm512_setzero_si512();
    __m512 vmin = a.clip_lo, vmax = a.clip_hi;
    __m512i t[4];
    QSAFE_UNROLL
    for (int k = 0; k < 4; ++k) {
      const __m512 v = _mm512_loadu_ps(x + i + 16 * k);
      vmin = _mm512_min_ps(vmin, v);
      vmax = _mm512_max_ps(vmax, v);
      t[k] = quantize16_avx512(v, a, dmax);
    }
    const __mmask16 flag = _mm512_cmpgt_epu32_mask(dmax, a.span) | _mm512_cmp_ps_mask(vmin, a.clip_lo, _CMP_LT_OQ) |
                           _mm512_cmp_ps_mask(vmax, a.clip_hi, _CMP_GT_OQ);
    if (flag != 0) {
      add_counts(total, quantize_loop_counted_scalar<RoundHalfEven>(x + i, kBlock, s, zero_point, r, clip, q + i));
    } else {
      QSAFE_UNROLL
      for (int k = 0; k < 4; ++k)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i + 16 * k), _mm512_cvtepi32_epi8(t[k]));
    }
  }
  if (i < n) {
    const std::size_t rest = n - i;  // 1..63
    __m512i dmax = _mm512_setzero_si512();
    __m512 vmin = a.clip_lo, vmax = a.clip_hi;
    __m512i t[4];
    __mmask16 m[4];
    for (std::size_t k = 0; k < 4; ++k) {
      const std::size_t have = rest > 16 * k ? rest - 16 * k : 0;
      m[k] = static_cast<__mmask16>(have >= 16 ? 0xffffu : (1u << have) - 1u);
      const __m512 v = _mm512_maskz_loadu_ps(m[k], x + i + 16 * k);
      vmin = _mm512_mask_min_ps(vmin, m[k], vmin, v);
      vmax = _mm512_mask_max_ps(vmax, m[k], vmax, v);
      t[k] = quantize16_avx512(v, a, dmax);  // zero lanes: d = zp - qmin, inside [0, span]
    }
    const __mmask16 flag = _mm512_cmpgt_epu32_mask(dmax, a.span) | _mm512_cmp_ps_mask(vmin, a.clip_lo, _CMP_LT_OQ) |
                           _mm512_cmp_ps_mask(vmax, a.clip_hi, _CMP_GT_OQ);
    if (flag != 0) {
      add_counts(total, quantize_loop_counted_scalar<RoundHalfEven>(x + i, rest, s, zero_point, r, clip, q + i));
    } else {
      for (std::size_t k = 0; k < 4; ++k) _mm512_mask_cvtepi32_storeu_epi8(q + i + 16 * k, m[k], t[k]);
    }
  }
  return total;
}

#endif  // AVX-512

#if QSAFE_ROW_SCAN_X86 && QSAFE_COMPILE_AVX2

QSAFE_TARGET_AVX2 inline MinMax row_min_max_avx2(const float* x, std::size_t n) noexcept {
  if (n < 8) return min_max_loop_scalar(x, n);
  const __m256 zero = _mm256_setzero_ps();
  __m256 lo0 = _mm256_loadu_ps(x), hi0 = lo0, lo1 = lo0, hi1 = lo0, lo2 = lo0, hi2 = lo0, lo3 = lo0, hi3 = lo0;
  __m256 p0 = zero, p1 = zero, p2 = zero, p3 = zero;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    const __m256 c = _mm256_loadu_ps(x + i + 16), d = _mm256_loadu_ps(x + i + 24);
    lo0 = _mm256_min_ps(lo0, a), hi0 = _mm256_max_ps(hi0, a), p0 = _mm256_fmadd_ps(a, zero, p0);
    lo1 = _mm256_min_ps(lo1, b), hi1 = _mm256_max_ps(hi1, b), p1 = _mm256_fmadd_ps(b, zero, p1);
    lo2 = _mm256_min_ps(lo2, c), hi2 = _mm256_max_ps(hi2, c), p2 = _mm256_fmadd_ps(c, zero, p2);
    lo3 = _mm256_min_ps(lo3, d), hi3 = _mm256_max_ps(hi3, d), p3 = _mm256_fmadd_ps(d, zero, p3);
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 a = _mm256_loadu_ps(x + i);
    lo0 = _mm256_min_ps(lo0, a), hi0 = _mm256_max_ps(hi0, a), p0 = _mm256_fmadd_ps(a, zero, p0);
  }
  const __m256 p = _mm256_add_ps(_mm256_add_ps(p0, p1), _mm256_add_ps(p2, p3));
  if (_mm256_movemask_ps(_mm256_cmp_ps(p, zero, _CMP_NEQ_UQ)) != 0) return min_max_loop_scalar(x, n);
  MinMax r = min_max_loop_scalar(x + i, n - i);  // the last n % 8
  if (r.non_finite != 0) return min_max_loop_scalar(x, n);
  alignas(32) float l[8], h[8];
  _mm256_store_ps(l, _mm256_min_ps(_mm256_min_ps(lo0, lo1), _mm256_min_ps(lo2, lo3)));
  _mm256_store_ps(h, _mm256_max_ps(_mm256_max_ps(hi0, hi1), _mm256_max_ps(hi2, hi3)));
  for (int j = 0; j < 8; ++j) {
    r.lo = l[j] < r.lo ? l[j] : r.lo;
    r.hi = h[j] > r.hi ? h[j] : r.hi;
  }
  return r;
}

struct Avx2QuantArgs {
  __m256 inv, clip_lo, clip_hi;
  __m256i lo, span, qmin;
};

// 32 floats -> 32 bytes in `out` (when the block is clean); returns true if the block holds
// anything to count (saturation, NaN/Inf, values outside clip).
template <class Int>
QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 bool quantize32_avx2(const float* x, const Avx2QuantArgs& a, Int* out) noexcept {
  __m256i dmax = _mm256_setzero_si256();
  __m256 vmin = a.clip_lo, vmax = a.clip_hi;
  __m256i t[4];
  QSAFE_UNROLL
  for (int k = 0; k < 4; ++k) {
    const __m256 v = _mm256_loadu_ps(x + 8 * k);
    vmin = _mm256_min_ps(vmin, v);
    vmax = _mm256_max_ps(vmax, v);
    const __m256 s = _mm256_round_ps(_mm256_mul_ps(v, a.inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i d = _mm256_sub_epi32(_mm256_cvttps_epi32(s), a.lo);
    dmax = _mm256_max_epu32(dmax, d);
    t[k] = _mm256_add_epi32(d, a.qmin);
  }
  const int bad_int = _mm256_movemask_epi8(_mm256_cmpeq_epi32(_mm256_max_epu32(dmax, a.span), a.span)) != -1;
  const int bad_clip = _mm256_movemask_ps(
      _mm256_or_ps(_mm256_cmp_ps(vmin, a.clip_lo, _CMP_LT_OQ), _mm256_cmp_ps(vmax, a.clip_hi, _CMP_GT_OQ)));
  if ((bad_int | bad_clip) != 0) return true;
  // Packs work per 128-bit lane; the permute puts the dwords back in order. Exact: in range.
  const __m256i ab = _mm256_packs_epi32(t[0], t[1]);
  const __m256i cd = _mm256_packs_epi32(t[2], t[3]);
  const __m256i bytes = std::is_signed<Int>::value ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                      _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  return false;
}

template <class Int>
QSAFE_TARGET_AVX2 inline QuantizeCounts row_quantize_avx2(const float* x, std::size_t n, QuantScale s,
                                                          std::int32_t zero_point, QRange r, Range clip,
                                                          Int* q) noexcept {
  static_assert(sizeof(Int) == 1, "8-bit outputs only");
  Avx2QuantArgs a;
  a.inv = _mm256_set1_ps(s.inv_scale);
  a.clip_lo = _mm256_set1_ps(clip.lo);
  a.clip_hi = _mm256_set1_ps(clip.hi);
  a.lo = _mm256_set1_epi32(r.qmin - zero_point);
  a.span = _mm256_set1_epi32(r.qmax - r.qmin);
  a.qmin = _mm256_set1_epi32(r.qmin);
  QuantizeCounts total;
  constexpr std::size_t kBlock = 32;
  std::size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    if (quantize32_avx2(x + i, a, q + i))
      add_counts(total, quantize_loop_counted_scalar<RoundHalfEven>(x + i, kBlock, s, zero_point, r, clip, q + i));
  }
  if (i < n) {
    const std::size_t rest = n - i;
    float tail[kBlock] = {};
    Int out[kBlock];
    std::memcpy(tail, x + i, rest * sizeof(float));
    if (quantize32_avx2(tail, a, out)) {  // the zero padding may flag a clip range without 0
      add_counts(total, quantize_loop_counted_scalar<RoundHalfEven>(x + i, rest, s, zero_point, r, clip, q + i));
    } else {
      std::memcpy(q + i, out, rest * sizeof(Int));
    }
  }
  return total;
}

#endif  // AVX2

// Exact min/max of x[0..n) and its NaN/Inf count, as min_max_loop_scalar.
inline MinMax row_min_max(const float* x, std::size_t n, RowScanPath path = RowScanPath::automatic) noexcept {
  switch (row_scan_resolve(path)) {
#if QSAFE_ROW_SCAN_X86 && QSAFE_COMPILE_AVX512_VNNI
    case RowScanPath::avx512: return row_min_max_avx512(x, n);
#endif
#if QSAFE_ROW_SCAN_X86 && QSAFE_COMPILE_AVX2
    case RowScanPath::avx2: return row_min_max_avx2(x, n);
#endif
    default: return min_max_loop(x, n);
  }
}

// The counting quantize of quantize_loop_counted (same output, same counts).
template <class Rounding, class Int>
inline QuantizeCounts row_quantize_counted(const float* x, std::size_t n, QuantScale s, std::int32_t zero_point,
                                           QRange r, Range clip, Int* q,
                                           RowScanPath path = RowScanPath::automatic) noexcept {
  if constexpr (std::is_same<Rounding, RoundHalfEven>::value && sizeof(Int) == 1) {
    switch (row_scan_resolve(path)) {
#if QSAFE_ROW_SCAN_X86 && QSAFE_COMPILE_AVX512_VNNI
      case RowScanPath::avx512: return row_quantize_avx512(x, n, s, zero_point, r, clip, q);
#endif
#if QSAFE_ROW_SCAN_X86 && QSAFE_COMPILE_AVX2
      case RowScanPath::avx2: return row_quantize_avx2(x, n, s, zero_point, r, clip, q);
#endif
      default: break;
    }
  } else {
    (void)path;
  }
  return quantize_loop_counted<Rounding>(x, n, s, zero_point, r, clip, q);
}

}  // namespace detail
}  // namespace qsafe

QSAFE_AVX512_CODE_END

#endif  // QSAFE_POLICY_DETAIL_ROW_SCAN_HPP_
