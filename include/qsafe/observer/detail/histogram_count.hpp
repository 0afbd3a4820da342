// qsafe/observer/detail/histogram_count.hpp: the x86 AVX2 counting pass of Histogram::try_add,
// chosen at run time (function-level target attribute, CPUID through arch::cpu_features()) on a
// baseline x86-64 build. Same contract and same counts as window_add_scalar (histogram.hpp).
//
// Why it is faster than the compile-time (SSE2) pass: the loop is bound by one read-modify-write
// of a bin counter per value. It computes the bin index, the window check and min/max 8 values at
// a time with exactly the float operations of floor_scaled (multiply by 2^-e, truncate, convert
// back, multiply by 2^e, compare), so bins are bit-identical; and for large batches it counts into
// K interleaved uint16 sub-histograms on the stack (value i goes to sub-histogram i % K), summed
// into the 64-bit counts after every block of kHistogramSubBlock values. Separate arrays mean
// that equal bins of neighbouring values do not hit the same counter back to back (a store-to-load
// dependency or a memory-ordering replay), and uint16 keeps the K arrays as small as the 64-bit
// counts (16 KiB in all), which are not touched while counting.
#ifndef QSAFE_OBSERVER_DETAIL_HISTOGRAM_COUNT_HPP_
#define QSAFE_OBSERVER_DETAIL_HISTOGRAM_COUNT_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qsafe/config.hpp"

#if QSAFE_RUNTIME_DISPATCH && QSAFE_COMPILE_AVX2
#include <immintrin.h>

#include "qsafe/kernel/arch/cpu_features.hpp"
#define QSAFE_HISTOGRAM_AVX2 1
#else
#define QSAFE_HISTOGRAM_AVX2 0
#endif

namespace qsafe {
namespace detail {

// Values per chunk of the fused pass: a chunk is checked (NaN, outside the window) before any of
// it is counted.
inline constexpr std::size_t kWindowChunk = 64;

#if QSAFE_HISTOGRAM_AVX2

// Values per flush of the sub-histograms: every uint16 sub-counter, and the sum of the K of one
// bin, stay below 2^16.
inline constexpr std::size_t kHistogramSubBlock = 32768;

// Number of interleaved sub-histograms for a window of Bins bins: K * Bins uint16 counters in at
// most 16 KiB of stack; 1 (count straight into the 64-bit counts) for larger windows.
template <std::size_t Bins>
inline constexpr std::size_t kHistogramSubCounts = Bins <= 2048 ? 4 : (Bins <= 4096 ? 2 : 1);

// Batches smaller than this count straight into the 64-bit counts: clearing and summing the
// sub-histograms (2 * K * Bins bytes each) would cost more than they save.
template <std::size_t Bins>
inline constexpr std::size_t kHistogramSubMinValues = 16 * Bins;

// Bin indices relative to first (as uint32 bit patterns in int32) of the kWindowChunk values at x
// into idx, min and max folded into lo and hi; returns the OR of the indices, which has a bit of
// ~(window - 1) set iff some index is outside [0, window). floor_scaled 8 lanes at a time: x86
// converts NaN, +-Inf and out-of-range products to INT_MIN (and INT_MIN - 1 wraps to INT_MAX),
// all far outside the window (|first| < 2^30 + 2^24).
QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 __m256i histogram_chunk_avx2(const float* x, __m256 inv, __m256 w, __m256i first,
                                                                   std::int32_t* idx, __m256& lo, __m256& hi) noexcept {
  __m256i any = _mm256_setzero_si256();
  for (std::size_t i = 0; i < kWindowChunk; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    __m256i t = _mm256_cvttps_epi32(_mm256_mul_ps(v, inv));  // truncation toward zero
    const __m256 below = _mm256_cmp_ps(v, _mm256_mul_ps(_mm256_cvtepi32_ps(t), w), _CMP_LT_OQ);
    t = _mm256_add_epi32(t, _mm256_castps_si256(below));  // floor_scaled: -1 where x < t * w
    const __m256i j = _mm256_sub_epi32(t, first);
    any = _mm256_or_si256(any, j);
    _mm256_store_si256(reinterpret_cast<__m256i*>(idx + i), j);
    lo = _mm256_min_ps(lo, v);
    hi = _mm256_max_ps(hi, v);
  }
  return any;
}

QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 float histogram_hmin_avx2(__m256 v) noexcept {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX2 float histogram_hmax_avx2(__m256 v) noexcept {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

// The whole chunks of window_add (window = Bins) for n >= kWindowChunk: counts them into counts
// and returns how many values were counted, a multiple of kWindowChunk, stopping before the
// first chunk that holds a NaN or a value outside the window (on the sub-histogram path, before
// the block holding it: counts then hold exactly the returned prefix). lo and hi are the min and
// max of the counted values when every whole chunk was counted. The caller counts the tail.
template <std::size_t Bins>
QSAFE_TARGET_AVX2 std::size_t window_chunks_avx2(const float* x, std::size_t n, float inv, std::int32_t first,
                                                 std::uint64_t* counts, float& lo, float& hi) noexcept {
  constexpr std::size_t K = kHistogramSubCounts<Bins>;
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256 vw = _mm256_set1_ps(1.f / inv);  // exact: a power of two
  const __m256i vfirst = _mm256_set1_epi32(first);
  const __m256i vhigh = _mm256_set1_epi32(static_cast<std::int32_t>(~(static_cast<std::uint32_t>(Bins) - 1u)));
  alignas(32) std::int32_t idx[kWindowChunk];
  __m256 vlo = _mm256_loadu_ps(x);
  __m256 vhi = vlo;
  const std::size_t whole = n - n % kWindowChunk;
  std::size_t start = 0;
  if constexpr (K > 1) {
    if (n >= kHistogramSubMinValues<Bins>) {
      alignas(64) std::uint16_t sub[K * Bins];
      std::memset(sub, 0, sizeof sub);
      while (start < whole) {
        const std::size_t end = whole - start > kHistogramSubBlock ? start + kHistogramSubBlock : whole;
        for (std::size_t s = start; s < end; s += kWindowChunk) {
          const __m256i any = histogram_chunk_avx2(x + s, vinv, vw, vfirst, idx, vlo, vhi);
          if (!_mm256_testz_si256(any, vhigh)) return start;  // this block is dropped
          for (std::size_t i = 0; i < kWindowChunk; i += K) {
            for (std::size_t k = 0; k < K; ++k) ++sub[k * Bins + static_cast<std::uint32_t>(idx[i + k])];
          }
        }
        for (std::size_t j = 0; j < Bins; ++j) {
          std::uint32_t sum = 0;
          for (std::size_t k = 0; k < K; ++k) sum += sub[k * Bins + j];
          counts[j] += sum;
        }
        std::memset(sub, 0, sizeof sub);
        start = end;
      }
      lo = histogram_hmin_avx2(vlo);
      hi = histogram_hmax_avx2(vhi);
      return start;
    }
  }
  for (; start < whole; start += kWindowChunk) {
    const __m256i any = histogram_chunk_avx2(x + start, vinv, vw, vfirst, idx, vlo, vhi);
    if (!_mm256_testz_si256(any, vhigh)) return start;
    for (std::size_t i = 0; i < kWindowChunk; ++i) ++counts[static_cast<std::uint32_t>(idx[i])];
  }
  lo = histogram_hmin_avx2(vlo);
  hi = histogram_hmax_avx2(vhi);
  return start;
}

#endif  // QSAFE_HISTOGRAM_AVX2

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_OBSERVER_DETAIL_HISTOGRAM_COUNT_HPP_
