// qsafe/quantizer/detail/vector_loops.hpp: the loops Quantizer and the range policies call. They
// use xsimd at the compile-time ISA (xsimd::default_arch: SSE2 on baseline x86-64, AVX2+FMA with
// -mavx2 -mfma, AVX-512 with -mavx512*, NEON on aarch64) when QSAFE_HAS_XSIMD is defined, else the
// scalar reference (element_loops.hpp). Both give bit-identical results (tests/quantizer/
// vector_loops_test.cpp, built once per ISA by tests/cmake/quantizer_isa.cmake).
//
// How the vector quantize stays bit-identical to the scalar one:
//   s = x * (1/scale)  or  x / scale  as Rounding::scale_op says (element_loops.hpp): one float
//                                     operation, never fused with anything (no a*b+c here); the
//                                     vector division (divps, vdivq_f32: see apply_scale) is the
//                                     correctly rounded IEEE division, like the scalar one
//   s = NaN ? 0 : s                   NaN -> round(0) + zp = zero point (fake quantize; the
//                                     quantize loops leave NaN blocks to the scalar reference)
//   c = clamp(s, lo, hi)              lo = qmin - zp, hi = qmax - zp: small exact integers
//   q = round(c) + zp                 exact in int32
// Rounding is monotone and maps integers to themselves, so round(clamp(s, lo, hi)) equals
// clamp(round(s), lo, hi), which is what the scalar code computes (and +-Inf lands on the ends).
// The float clamp also keeps the conversion far from int32 overflow. Where the unclamped result
// matters (the fake-quant mask, the saturation count) the clamp is [lo - 1, hi + 1] and the
// integer result is clamped afterwards.
//   half to even:  cvtps2dq / fcvtns, the hardware conversion in the default rounding mode
//                  (round-to-nearest-even; every C++ program starts in it - a program that calls
//                  fesetround would make this path differ from the scalar one);
//   half away:     trunc(c + copysign(0.49999997, c)) (see round_int).
//
// Data moves in blocks of kBlock floats. The int32 results of a block are narrowed into the
// storage type with saturating packs (exact: the values are already in range) or AVX-512
// down-conversions. The last partial block is copied into a zero-padded stack block, so tails
// run the same vector code and nothing is read or written past the caller's buffers; zero is
// finite and inside every range, so the padding never touches the counters.
//
// Non-finite inputs are rare, so the quantize loops only prove their absence (a sum of the scaled
// values stays finite) and hand any other block to the scalar reference, which maps NaN and
// counts; the counting quantize does the same with any block that has something to count. The
// fake-quantize loop (whose output may alias its input) maps and counts lane by lane. NaN tests
// are written x == x, never x != x: xsimd's != is unordered on SSE but ordered on AVX.
#ifndef QSAFE_QUANTIZER_DETAIL_VECTOR_LOOPS_HPP_
#define QSAFE_QUANTIZER_DETAIL_VECTOR_LOOPS_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/rounding.hpp"
#include "qsafe/quantizer/detail/element_loops.hpp"

#if defined(QSAFE_HAS_XSIMD) && !defined(QSAFE_NO_XSIMD)
#include <xsimd/xsimd.hpp>
#if XSIMD_WITH_SSE2 || XSIMD_WITH_NEON64
#define QSAFE_VECTOR_LOOPS_XSIMD 1
#endif
#endif
#ifndef QSAFE_VECTOR_LOOPS_XSIMD
#define QSAFE_VECTOR_LOOPS_XSIMD 0
#endif

// GCC 12 at -O3 reports -Warray-bounds / -Wstringop-overflow inside the block loops below when a
// caller quantizes a 1-element object (`float x; quantize(Span(&x, 1), ...)`): the loops only take
// full blocks when n >= kBlock, which GCC cannot prove for a run-time n. Silenced here, for these
// loops only, so -Werror users are not broken by a false positive (tests/quantizer/
// one_element_test.cpp compiles that call at -O3 -Werror).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

namespace qsafe {
namespace detail {

// What a counting quantize saw (all counts of elements):
//   non_finite  NaN or +-Inf inputs (mapped as in quantize_value);
//   saturated   finite inputs whose round(x / scale) + zero_point fell outside [qmin, qmax], so the
//               quantizer's clamp changed them;
//   clipped     finite inputs outside the real interval `clip` the caller passes (the range its
//               parameters came from): values the range policy chose to cut off.
struct QuantizeCounts {
  std::size_t non_finite = 0;
  std::size_t saturated = 0;
  std::size_t clipped = 0;
};

// Scalar reference of the counting quantize. Output identical to quantize_loop_scalar.
template <class Rounding, class Int>
inline QuantizeCounts quantize_loop_counted_scalar(const float* x, std::size_t n, QuantScale s, std::int32_t zero_point,
                                                   QRange r, Range clip, Int* q) noexcept {
  QuantizeCounts c;
  for (std::size_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float scaled = apply_scale<Rounding>(v, s);
    std::int32_t out = zero_point;
    if (is_nan_or_inf(v)) {
      ++c.non_finite;
    } else {
      c.clipped += (v < clip.lo || v > clip.hi) ? 1u : 0u;
    }
    if (scaled == scaled) {
      const std::int64_t u = static_cast<std::int64_t>(Rounding::to_int32(scaled)) + zero_point;
      if ((u < r.qmin || u > r.qmax) && !is_nan_or_inf(v)) ++c.saturated;
      out = static_cast<std::int32_t>(u < r.qmin ? r.qmin : (u > r.qmax ? r.qmax : u));
    }
    q[i] = static_cast<Int>(out);
  }
  return c;
}

// Exact min and max of x[0..n) and the number of NaN/+-Inf among them (min/max then cover only
// the finite values; lo > hi when there are none).
struct MinMax {
  float lo = std::numeric_limits<float>::infinity();
  float hi = -std::numeric_limits<float>::infinity();
  std::size_t non_finite = 0;
};

inline MinMax min_max_loop_scalar(const float* x, std::size_t n) noexcept {
  MinMax m;
  for (std::size_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (is_nan_or_inf(v)) {
      ++m.non_finite;
      continue;
    }
    m.lo = v < m.lo ? v : m.lo;
    m.hi = v > m.hi ? v : m.hi;
  }
  return m;
}

// Rounding types the vector loops implement; any other Rounding uses the scalar reference.
template <class Rounding>
struct has_vector_rounding : std::integral_constant<bool, std::is_same<Rounding, RoundHalfEven>::value ||
                                                              std::is_same<Rounding, RoundHalfAway>::value> {};

#if QSAFE_VECTOR_LOOPS_XSIMD
// GCC 12's own AVX-512 intrinsics (_mm512_max_ps, _mm512_cvtepi32_ps, ...) pass
// _mm512_undefined_ps() as the merge source and trip -Wmaybe-uninitialized once inlined (GCC bug
// 105593, fixed in GCC 13). Silenced for the vector loops only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define QSAFE_VECTOR_LOOPS_POP_DIAGNOSTIC 1
#endif
namespace simd {

using Arch = xsimd::default_arch;
using FloatV = xsimd::batch<float, Arch>;
using IntV = xsimd::batch<std::int32_t, Arch>;
using MaskV = xsimd::batch_bool<float, Arch>;
constexpr std::size_t kLanes = FloatV::size;
constexpr std::size_t kBlock = 64;
constexpr std::size_t kVecs = kBlock / kLanes;
static_assert(kBlock % (4 * kLanes) == 0, "a block holds a multiple of four vectors");

// Integral float nearest to c (|c| <= 2^17 here), ties as Rounding says.
//   half even: the hardware conversion (round-to-nearest-even mode);
//   half away: trunc(c + copysign(0.49999997, c)). The constant is the float just below 0.5, so
//   a value just below a tie cannot be carried over it by the addition's own rounding, and a tie
//   is (the sum rounds up to the next integer). Checked exhaustively for every float with
//   |c| < 140000 against RoundHalfAway; the clamp keeps c inside that.
template <class Rounding>
QSAFE_ALWAYS_INLINE IntV round_int(const FloatV& c) noexcept {
  if constexpr (std::is_same<Rounding, RoundHalfEven>::value) {
    return xsimd::nearbyint_as_int(c);
  } else {
    return xsimd::to_int(c + xsimd::copysign(FloatV(0.49999997f), c));  // to_int truncates
  }
}

template <class Rounding>
QSAFE_ALWAYS_INLINE FloatV round_integral(const FloatV& c) noexcept {
  return xsimd::to_float(round_int<Rounding>(c));
}

QSAFE_ALWAYS_INLINE IntV as_count(const MaskV& m) noexcept {  // 1 where m holds, else 0
  return xsimd::to_int(xsimd::select(m, FloatV(1.f), FloatV(0.f)));
}

// Stores kBlock int32 values, all inside Int's range, as Int. The saturating packs are exact on
// such values; on AVX-512 the truncating down-conversions are.
template <class Int>
QSAFE_ALWAYS_INLINE void store_block(const IntV* v, Int* dst) noexcept {
#if XSIMD_WITH_AVX512F
  static_assert(kLanes == 16, "AVX-512 batches hold 16 int32");
  for (std::size_t k = 0; k < kVecs; ++k) {
    if constexpr (sizeof(Int) == 1) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16 * k), _mm512_cvtepi32_epi8(v[k]));
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 16 * k), _mm512_cvtepi32_epi16(v[k]));
    }
  }
#elif XSIMD_WITH_AVX2
  static_assert(kLanes == 8, "AVX2 batches hold 8 int32");
  if constexpr (sizeof(Int) == 1) {
    // Packs work per 128-bit lane: after two packs the dwords hold v0lo v1lo v2lo v3lo | v0hi v1hi
    // v2hi v3hi (4 bytes each); the permute puts them back in order.
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (std::size_t k = 0; k < kVecs; k += 4) {
      const __m256i a = _mm256_packs_epi32(v[k], v[k + 1]);
      const __m256i b = _mm256_packs_epi32(v[k + 2], v[k + 3]);
      const __m256i c = std::is_signed<Int>::value ? _mm256_packs_epi16(a, b) : _mm256_packus_epi16(a, b);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 8 * k), _mm256_permutevar8x32_epi32(c, order));
    }
  } else {
    for (std::size_t k = 0; k < kVecs; k += 2) {
      const __m256i a =
          std::is_signed<Int>::value ? _mm256_packs_epi32(v[k], v[k + 1]) : _mm256_packus_epi32(v[k], v[k + 1]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 8 * k), _mm256_permute4x64_epi64(a, 0xD8));
    }
  }
#elif XSIMD_WITH_SSE2 && !XSIMD_WITH_AVX
  static_assert(kLanes == 4, "SSE batches hold 4 int32");
  if constexpr (sizeof(Int) == 1) {
    for (std::size_t k = 0; k < kVecs; k += 4) {
      const __m128i a = _mm_packs_epi32(v[k], v[k + 1]);
      const __m128i b = _mm_packs_epi32(v[k + 2], v[k + 3]);
      const __m128i c = std::is_signed<Int>::value ? _mm_packs_epi16(a, b) : _mm_packus_epi16(a, b);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 4 * k), c);
    }
  } else {
    for (std::size_t k = 0; k < kVecs; k += 2) {
      __m128i a;
      if constexpr (std::is_signed<Int>::value) {
        a = _mm_packs_epi32(v[k], v[k + 1]);
      } else {
        // SSE2 has no unsigned 32 -> 16 pack: shift [0, 65535] to int16, pack, flip the top bit.
        const __m128i bias = _mm_set1_epi32(32768);
        a = _mm_xor_si128(_mm_packs_epi32(_mm_sub_epi32(v[k], bias), _mm_sub_epi32(v[k + 1], bias)),
                          _mm_set1_epi16(static_cast<short>(0x8000)));
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 4 * k), a);
    }
  }
#else
  alignas(64) std::int32_t tmp[kBlock];
  for (std::size_t k = 0; k < kVecs; ++k) v[k].store_aligned(tmp + k * kLanes);
  for (std::size_t j = 0; j < kBlock; ++j) dst[j] = static_cast<Int>(tmp[j]);
#endif
}

struct QuantizeArgs {
  FloatV scale, inv_scale, lo, hi, lo1, hi1;
  IntV zero_point;
  QuantizeArgs(QuantScale s, std::int32_t zp, QRange r) noexcept
      : scale(s.scale),
        inv_scale(s.inv_scale),
        lo(static_cast<float>(r.qmin - zp)),
        hi(static_cast<float>(r.qmax - zp)),
        lo1(static_cast<float>(r.qmin - zp - 1)),
        hi1(static_cast<float>(r.qmax - zp + 1)),
        zero_point(zp) {}
};

// v with the scale applied as Rounding::scale_op says (the vector form of detail::apply_scale).
// The division must be the correctly rounded IEEE one, as the scalar x / scale: xsimd's operator/
// is (divps, vdivps) on x86, but on NEON64 xsimd 8 inherits ARMv7's reciprocal estimate refined by
// Newton steps, which is not; there the AArch64 instruction (fdiv, vdivq_f32) is called directly.
template <class Rounding>
QSAFE_ALWAYS_INLINE FloatV apply_scale(const FloatV& v, const QuantizeArgs& a) noexcept {
  if constexpr (Rounding::scale_op == ScaleOp::divide) {
#if XSIMD_WITH_NEON64
    return FloatV(vdivq_f32(v, a.scale));
#else
    return v / a.scale;
#endif
  } else {
    return v * a.inv_scale;
  }
}

// True if any lane of a running sum is NaN or +-Inf.
QSAFE_ALWAYS_INLINE bool not_all_finite(const FloatV& sum) noexcept {
  const FloatV d = sum - sum;  // 0 for finite lanes, NaN otherwise
  return xsimd::any(!(d == d));
}

// x[0..kBlock) -> q[0..kBlock) for blocks of finite values. Returns true if the block may hold a
// NaN or +-Inf (the sum of the scaled values is not finite; a finite sum that overflows only
// raises a false alarm). The caller then redoes the block with the scalar reference, so this
// path need not map NaN to the zero point itself.
template <class Rounding>
QSAFE_ALWAYS_INLINE bool quantize_block(const float* x, const QuantizeArgs& a, IntV* q) noexcept {
  FloatV probe(0.f);
  for (std::size_t k = 0; k < kVecs; ++k) {
    const FloatV s = apply_scale<Rounding>(FloatV::load_unaligned(x + k * kLanes), a);
    probe += s;
    q[k] = round_int<Rounding>(xsimd::min(xsimd::max(s, a.lo), a.hi)) + a.zero_point;
  }
  return not_all_finite(probe);
}

// As quantize_block; returns true if the block may hold a non-finite value, or holds a value that
// saturates or lies outside `clip` (the caller then counts it with the scalar reference).
template <class Rounding>
QSAFE_ALWAYS_INLINE bool quantize_block_flagged(const float* x, const QuantizeArgs& a, const FloatV& clip_lo,
                                                const FloatV& clip_hi, IntV* q) noexcept {
  FloatV probe(0.f);
  MaskV flag(false);
  for (std::size_t k = 0; k < kVecs; ++k) {
    const FloatV v = FloatV::load_unaligned(x + k * kLanes);
    const FloatV s = apply_scale<Rounding>(v, a);
    probe += s;
    const FloatV r = round_integral<Rounding>(xsimd::min(xsimd::max(s, a.lo1), a.hi1));
    flag = flag || (r < a.lo) || (r > a.hi) || (v < clip_lo) || (v > clip_hi);
    q[k] = xsimd::to_int(xsimd::min(xsimd::max(r, a.lo), a.hi)) + a.zero_point;
  }
  return xsimd::any(flag) || not_all_finite(probe);
}

// Returns the number of non-finite inputs of the block. Counted lane by lane (not recounted
// afterwards) because y may alias x: the inputs are gone once the block is written.
template <class Rounding>
QSAFE_ALWAYS_INLINE std::size_t fake_quantize_block(const float* x, const QuantizeArgs& a, float* y,
                                                    IntV* mask) noexcept {
  FloatV bad(0.f);
  for (std::size_t k = 0; k < kVecs; ++k) {
    const FloatV v = FloatV::load_unaligned(x + k * kLanes);
    const FloatV d = v - v;  // NaN exactly for NaN and +-Inf
    bad += xsimd::select(d == d, FloatV(0.f), FloatV(1.f));
    FloatV s = apply_scale<Rounding>(v, a);
    const MaskV not_nan = s == s;
    s = xsimd::select(not_nan, s, FloatV(0.f));
    const FloatV r = round_integral<Rounding>(xsimd::min(xsimd::max(s, a.lo1), a.hi1));
    // (clamp(r) + zp - zp) * scale: the clamped integer times scale, one product.
    (xsimd::min(xsimd::max(r, a.lo), a.hi) * a.scale).store_unaligned(y + k * kLanes);
    if (mask != nullptr) mask[k] = as_count(not_nan && (r >= a.lo) && (r <= a.hi));
  }
  // Each lane counts at most kVecs, so the float sum is exact.
  return xsimd::any(bad != FloatV(0.f)) ? static_cast<std::size_t>(xsimd::hadd(bad)) : 0u;
}

}  // namespace simd

// Name of the compile-time ISA the vector loops use ("sse2", "fma3+avx2", "avx512bw", "neon64").
inline const char* vector_loops_arch() noexcept { return simd::Arch::name(); }
#else
inline const char* vector_loops_arch() noexcept { return "scalar"; }
#endif  // QSAFE_VECTOR_LOOPS_XSIMD

template <class Rounding, class Int>
inline std::size_t quantize_loop(const float* x, std::size_t n, QuantScale s, std::int32_t zero_point, QRange r,
                                 Int* q) noexcept {
#if QSAFE_VECTOR_LOOPS_XSIMD
  if constexpr (has_vector_rounding<Rounding>::value) {
    using namespace simd;
    const QuantizeArgs a(s, zero_point, r);
    IntV qv[kVecs];
    std::size_t non_finite = 0, i = 0;
    for (const std::size_t full = n - n % kBlock; i < full; i += kBlock) {
      if (quantize_block<Rounding>(x + i, a, qv)) {
        non_finite += quantize_loop_scalar<Rounding>(x + i, kBlock, s, zero_point, r, q + i);
      } else {
        store_block(qv, q + i);
      }
    }
    if (i < n) {
      const std::size_t rest = n - i;
      float tail[kBlock] = {};
      Int out[kBlock];
      std::memcpy(tail, x + i, rest * sizeof(float));
      if (quantize_block<Rounding>(tail, a, qv)) {
        non_finite += quantize_loop_scalar<Rounding>(x + i, rest, s, zero_point, r, q + i);
      } else {
        store_block(qv, out);
        std::memcpy(q + i, out, rest * sizeof(Int));
      }
    }
    return non_finite;
  }
#endif
  return quantize_loop_scalar<Rounding>(x, n, s, zero_point, r, q);
}

// quantize_loop that also counts saturated and clipped values (see QuantizeCounts). The range
// policies use it; the quantized output is identical to quantize_loop's. Blocks where anything
// is to be counted are recounted (and rewritten, identically) by the scalar reference.
template <class Rounding, class Int>
inline QuantizeCounts quantize_loop_counted(const float* x, std::size_t n, QuantScale s, std::int32_t zero_point,
                                            QRange r, Range clip, Int* q) noexcept {
#if QSAFE_VECTOR_LOOPS_XSIMD
  if constexpr (has_vector_rounding<Rounding>::value) {
    using namespace simd;
    const QuantizeArgs a(s, zero_point, r);
    const FloatV clip_lo(clip.lo), clip_hi(clip.hi);
    IntV qv[kVecs];
    QuantizeCounts total;
    const auto recount = [&](std::size_t at, std::size_t len) noexcept {
      const QuantizeCounts c = quantize_loop_counted_scalar<Rounding>(x + at, len, s, zero_point, r, clip, q + at);
      total.non_finite += c.non_finite;
      total.saturated += c.saturated;
      total.clipped += c.clipped;
    };
    std::size_t i = 0;
    for (const std::size_t full = n - n % kBlock; i < full; i += kBlock) {
      if (quantize_block_flagged<Rounding>(x + i, a, clip_lo, clip_hi, qv)) {
        recount(i, kBlock);
      } else {
        store_block(qv, q + i);
      }
    }
    if (i < n) {
      const std::size_t rest = n - i;
      float tail[kBlock] = {};
      Int out[kBlock];
      std::memcpy(tail, x + i, rest * sizeof(float));
      if (quantize_block_flagged<Rounding>(tail, a, clip_lo, clip_hi, qv)) {
        recount(i, rest);  // the zero padding may have raised the flag (a clip range without 0)
      } else {
        store_block(qv, out);
        std::memcpy(q + i, out, rest * sizeof(Int));
      }
    }
    return total;
  }
#endif
  return quantize_loop_counted_scalar<Rounding>(x, n, s, zero_point, r, clip, q);
}

// min_max_loop_scalar, vectorised: per-lane min/max plus a running sum that proves every value
// finite; if it does not, the scalar reference redoes the whole range (and counts). The min and
// max of finite values do not depend on the order, except for the sign of a zero bound, which
// qparams_from_range ignores.
inline MinMax min_max_loop(const float* x, std::size_t n) noexcept {
#if QSAFE_VECTOR_LOOPS_XSIMD
  using namespace simd;
  if (n >= kLanes) {
    FloatV lo = FloatV::load_unaligned(x), hi = lo, probe(0.f);
    std::size_t i = 0;
    for (const std::size_t full = n - n % kLanes; i < full; i += kLanes) {
      const FloatV v = FloatV::load_unaligned(x + i);
      probe += v - v;  // 0 for finite values, NaN otherwise
      lo = xsimd::min(lo, v);
      hi = xsimd::max(hi, v);
    }
    if (!(xsimd::all(probe == probe))) return min_max_loop_scalar(x, n);
    alignas(64) float l[kLanes], h[kLanes];
    lo.store_aligned(l);
    hi.store_aligned(h);
    MinMax m = min_max_loop_scalar(x + i, n - i);
    if (m.non_finite != 0) return min_max_loop_scalar(x, n);
    for (std::size_t j = 0; j < kLanes; ++j) {
      m.lo = l[j] < m.lo ? l[j] : m.lo;
      m.hi = h[j] > m.hi ? h[j] : m.hi;
    }
    return m;
  }
#endif
  return min_max_loop_scalar(x, n);
}

template <class Int>
inline void dequantize_loop(const Int* q, std::size_t n, float scale, std::int32_t zero_point, float* x) noexcept {
#if QSAFE_VECTOR_LOOPS_XSIMD
  using namespace simd;
  const IntV zp(zero_point);
  const FloatV s(scale);
  alignas(64) std::int32_t q32[kBlock];
  alignas(64) float y[kBlock];
  std::size_t i = 0;
  for (const std::size_t full = n - n % kBlock; i < full; i += kBlock) {
    for (std::size_t j = 0; j < kBlock; ++j) q32[j] = q[i + j];  // widening: compilers vectorise it
    for (std::size_t j = 0; j < kBlock; j += kLanes)
      (xsimd::to_float(IntV::load_aligned(q32 + j) - zp) * s).store_unaligned(x + i + j);
  }
  if (i < n) {
    const std::size_t rest = n - i;
    for (std::size_t j = 0; j < kBlock; ++j) q32[j] = j < rest ? static_cast<std::int32_t>(q[i + j]) : zero_point;
    for (std::size_t j = 0; j < kBlock; j += kLanes)
      (xsimd::to_float(IntV::load_aligned(q32 + j) - zp) * s).store_aligned(y + j);
    std::memcpy(x + i, y, rest * sizeof(float));
  }
#else
  dequantize_loop_scalar(q, n, scale, zero_point, x);
#endif
}

template <class Rounding>
inline std::size_t fake_quantize_loop(const float* x, std::size_t n, QuantScale s, std::int32_t zero_point, QRange r,
                                      float* y, std::uint8_t* mask) noexcept {
#if QSAFE_VECTOR_LOOPS_XSIMD
  if constexpr (has_vector_rounding<Rounding>::value) {
    using namespace simd;
    const QuantizeArgs a(s, zero_point, r);
    IntV mv[kVecs];
    IntV* const m = mask != nullptr ? mv : nullptr;
    std::size_t non_finite = 0, i = 0;
    // y may alias x: each vector is loaded before the same lanes are stored.
    for (const std::size_t full = n - n % kBlock; i < full; i += kBlock) {
      non_finite += fake_quantize_block<Rounding>(x + i, a, y + i, m);
      if (mask != nullptr) store_block(mv, mask + i);
    }
    if (i < n) {
      const std::size_t rest = n - i;
      float tail[kBlock] = {};
      float out[kBlock];
      std::uint8_t mout[kBlock];
      std::memcpy(tail, x + i, rest * sizeof(float));
      non_finite += fake_quantize_block<Rounding>(tail, a, out, m);
      std::memcpy(y + i, out, rest * sizeof(float));
      if (mask != nullptr) {
        store_block(mv, mout);
        std::memcpy(mask + i, mout, rest);
      }
    }
    return non_finite;
  }
#endif
  return fake_quantize_loop_scalar<Rounding>(x, n, s, zero_point, r, y, mask);
}

}  // namespace detail
}  // namespace qsafe

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#if defined(QSAFE_VECTOR_LOOPS_POP_DIAGNOSTIC)
#pragma GCC diagnostic pop
#undef QSAFE_VECTOR_LOOPS_POP_DIAGNOSTIC
#endif

#endif  // QSAFE_QUANTIZER_DETAIL_VECTOR_LOOPS_HPP_
