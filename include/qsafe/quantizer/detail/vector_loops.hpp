// qsafe/quantizer/detail/vector_loops.hpp: the loops Quantizer and the range policies call. They
// use xsimd at the compile-time ISA (xsimd::default_arch: SSE2 on baseline x86-64, AVX2+FMA with
// -mavx2 -mfma, AVX-512 with -mavx512*, NEON on aarch64) when QSAFE_HAS_XSIMD is defined, else the
// scalar reference (element_loops.hpp). Both give bit-identical results (tests/quantizer/
// vector_loops_test.cpp, built once per ISA by tests/cmake/quantizer_isa.cmake).
//
// How the vector quantize stays bit-identical to the scalar one:
//   s = x * (1/scale)                 one float product, never fused with anything (no a*b+c here)
//   s = NaN ? 0 : s                   NaN -> round(0) + zp = zero point
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
//   half away:     t = trunc(c) (exact), f = c - t (exact), t + [f >= 0.5] - [f <= -0.5].
//
// Data moves in blocks of kBlock floats: the float work writes int32 into a stack block, and a
// fixed-length loop narrows it into the storage type (compilers turn it into pack/shuffle
// sequences for every ISA). The last partial block is copied into a zero-padded stack block, so
// tails run the same vector code and nothing is read or written past the caller's buffers.
// Zero padding is finite and inside every range, so it never touches the counters.
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
inline QuantizeCounts quantize_loop_counted_scalar(const float* x, std::size_t n, float inv_scale,
                                                   std::int32_t zero_point, QRange r, Range clip, Int* q) noexcept {
  QuantizeCounts c;
  for (std::size_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float scaled = v * inv_scale;
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

// Rounding types the vector loops implement; any other Rounding uses the scalar reference.
template <class Rounding>
struct has_vector_rounding
    : std::integral_constant<bool, std::is_same<Rounding, RoundHalfEven>::value ||
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
static_assert(kBlock % kLanes == 0, "a block holds whole vectors");

// Integral float nearest to c (|c| < 2^23), ties as Rounding says.
template <class Rounding>
QSAFE_ALWAYS_INLINE FloatV round_integral(const FloatV& c) noexcept {
  if constexpr (std::is_same<Rounding, RoundHalfEven>::value) {
    return xsimd::to_float(xsimd::nearbyint_as_int(c));
  } else {
    const FloatV t = xsimd::to_float(xsimd::to_int(c));  // truncation toward zero
    const FloatV f = c - t;                              // exact: the fraction bits of c
    const FloatV one(1.f), zero(0.f);
    return t + xsimd::select(f >= FloatV(0.5f), one, zero) - xsimd::select(f <= FloatV(-0.5f), one, zero);
  }
}

// int32 nearest to c (|c| < 2^23).
template <class Rounding>
QSAFE_ALWAYS_INLINE IntV round_int(const FloatV& c) noexcept {
  if constexpr (std::is_same<Rounding, RoundHalfEven>::value) {
    return xsimd::nearbyint_as_int(c);
  } else {
    return xsimd::to_int(round_integral<Rounding>(c));  // exact: already integral
  }
}

QSAFE_ALWAYS_INLINE FloatV count_of(const MaskV& m) noexcept { return xsimd::select(m, FloatV(1.f), FloatV(0.f)); }

// Sum of per-lane counts; each lane holds at most kBlock, so the float sum is exact.
QSAFE_ALWAYS_INLINE std::size_t total(const FloatV& counts) noexcept {
  return static_cast<std::size_t>(xsimd::hadd(counts));
}

QSAFE_ALWAYS_INLINE MaskV finite(const FloatV& x) noexcept {
  return xsimd::abs(x) <= FloatV(std::numeric_limits<float>::max());  // false for NaN and +-Inf
}

struct QuantizeArgs {
  FloatV inv_scale, lo, hi, zero_point_f;
  IntV zero_point;
  QuantizeArgs(float inv, std::int32_t zp, QRange r) noexcept
      : inv_scale(inv),
        lo(static_cast<float>(r.qmin - zp)),
        hi(static_cast<float>(r.qmax - zp)),
        zero_point_f(static_cast<float>(zp)),
        zero_point(zp) {}
};

// x[0..kBlock) -> q32[0..kBlock); returns the non-finite count.
template <class Rounding>
QSAFE_ALWAYS_INLINE std::size_t quantize_block(const float* x, const QuantizeArgs& a, std::int32_t* q32) noexcept {
  FloatV bad(0.f);
  for (std::size_t j = 0; j < kBlock; j += kLanes) {
    const FloatV v = FloatV::load_unaligned(x + j);
    FloatV s = v * a.inv_scale;
    s = xsimd::select(s == s, s, FloatV(0.f));
    const FloatV c = xsimd::min(xsimd::max(s, a.lo), a.hi);
    (round_int<Rounding>(c) + a.zero_point).store_aligned(q32 + j);
    bad += count_of(!finite(v));
  }
  return total(bad);
}

template <class Rounding>
QSAFE_ALWAYS_INLINE QuantizeCounts quantize_block_counted(const float* x, const QuantizeArgs& a, FloatV clip_lo,
                                                          FloatV clip_hi, std::int32_t* q32) noexcept {
  FloatV bad(0.f), sat(0.f), clipped(0.f);
  const FloatV one(1.f);
  for (std::size_t j = 0; j < kBlock; j += kLanes) {
    const FloatV v = FloatV::load_unaligned(x + j);
    FloatV s = v * a.inv_scale;
    s = xsimd::select(s == s, s, FloatV(0.f));
    const FloatV r = round_integral<Rounding>(xsimd::min(xsimd::max(s, a.lo - one), a.hi + one));
    const MaskV fin = finite(v);
    bad += count_of(!fin);
    sat += count_of(fin && ((r < a.lo) || (r > a.hi)));
    clipped += count_of(fin && ((v < clip_lo) || (v > clip_hi)));
    (xsimd::to_int(xsimd::min(xsimd::max(r, a.lo), a.hi)) + a.zero_point).store_aligned(q32 + j);
  }
  QuantizeCounts c;
  c.non_finite = total(bad);
  c.saturated = total(sat);
  c.clipped = total(clipped);
  return c;
}

template <class Rounding>
QSAFE_ALWAYS_INLINE std::size_t fake_quantize_block(const float* x, const QuantizeArgs& a, FloatV scale, float* y,
                                                    std::int32_t* mask32) noexcept {
  FloatV bad(0.f);
  const FloatV one(1.f);
  for (std::size_t j = 0; j < kBlock; j += kLanes) {
    const FloatV v = FloatV::load_unaligned(x + j);
    FloatV s = v * a.inv_scale;
    const MaskV not_nan = s == s;
    s = xsimd::select(not_nan, s, FloatV(0.f));
    const FloatV r = round_integral<Rounding>(xsimd::min(xsimd::max(s, a.lo - one), a.hi + one));
    // (clamp(r) + zp - zp) * scale: the clamped integer times scale, one product.
    (xsimd::min(xsimd::max(r, a.lo), a.hi) * scale).store_unaligned(y + j);
    bad += count_of(!finite(v));
    if (mask32 != nullptr) {
      const MaskV inside = not_nan && (r >= a.lo) && (r <= a.hi);
      xsimd::to_int(count_of(inside)).store_aligned(mask32 + j);
    }
  }
  return total(bad);
}

}  // namespace simd

// Name of the compile-time ISA the vector loops use ("sse2", "fma3+avx2", "avx512bw", "neon64").
inline const char* vector_loops_arch() noexcept { return simd::Arch::name(); }
#else
inline const char* vector_loops_arch() noexcept { return "scalar"; }
#endif  // QSAFE_VECTOR_LOOPS_XSIMD

template <class Rounding, class Int>
inline std::size_t quantize_loop(const float* x, std::size_t n, float inv_scale, std::int32_t zero_point, QRange r,
                                 Int* q) noexcept {
#if QSAFE_VECTOR_LOOPS_XSIMD
  if constexpr (has_vector_rounding<Rounding>::value) {
    using namespace simd;
    const QuantizeArgs a(inv_scale, zero_point, r);
    alignas(64) std::int32_t q32[kBlock];
    std::size_t non_finite = 0, i = 0;
    for (; i + kBlock <= n; i += kBlock) {
      non_finite += quantize_block<Rounding>(x + i, a, q32);
      for (std::size_t j = 0; j < kBlock; ++j) q[i + j] = static_cast<Int>(q32[j]);  // in range: exact
    }
    if (i < n) {
      const std::size_t rest = n - i;
      float tail[kBlock] = {};
      std::memcpy(tail, x + i, rest * sizeof(float));
      non_finite += quantize_block<Rounding>(tail, a, q32);
      for (std::size_t j = 0; j < rest; ++j) q[i + j] = static_cast<Int>(q32[j]);
    }
    return non_finite;
  }
#endif
  return quantize_loop_scalar<Rounding>(x, n, inv_scale, zero_point, r, q);
}

// quantize_loop that also counts saturated and clipped values (see QuantizeCounts). The range
// policies use it; the quantized output is identical to quantize_loop's.
template <class Rounding, class Int>
inline QuantizeCounts quantize_loop_counted(const float* x, std::size_t n, float inv_scale, std::int32_t zero_point,
                                            QRange r, Range clip, Int* q) noexcept {
#if QSAFE_VECTOR_LOOPS_XSIMD
  if constexpr (has_vector_rounding<Rounding>::value) {
    using namespace simd;
    const QuantizeArgs a(inv_scale, zero_point, r);
    const FloatV clip_lo(clip.lo), clip_hi(clip.hi);
    alignas(64) std::int32_t q32[kBlock];
    QuantizeCounts total_counts;
    const auto add = [&total_counts](const QuantizeCounts& c) noexcept {
      total_counts.non_finite += c.non_finite;
      total_counts.saturated += c.saturated;
      total_counts.clipped += c.clipped;
    };
    std::size_t i = 0;
    for (; i + kBlock <= n; i += kBlock) {
      add(quantize_block_counted<Rounding>(x + i, a, clip_lo, clip_hi, q32));
      for (std::size_t j = 0; j < kBlock; ++j) q[i + j] = static_cast<Int>(q32[j]);
    }
    if (i < n) {
      const std::size_t rest = n - i;
      float tail[kBlock] = {};  // zero: inside every range the policies build (they contain 0)
      std::memcpy(tail, x + i, rest * sizeof(float));
      QuantizeCounts c = quantize_block_counted<Rounding>(tail, a, clip_lo, clip_hi, q32);
      // A clip interval that excludes 0 would count the padding: remove it.
      if (!(clip.lo <= 0.f && 0.f <= clip.hi)) c.clipped -= kBlock - rest;
      add(c);
      for (std::size_t j = 0; j < rest; ++j) q[i + j] = static_cast<Int>(q32[j]);
    }
    return total_counts;
  }
#endif
  return quantize_loop_counted_scalar<Rounding>(x, n, inv_scale, zero_point, r, clip, q);
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
  for (; i + kBlock <= n; i += kBlock) {
    for (std::size_t j = 0; j < kBlock; ++j) q32[j] = q[i + j];
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
inline std::size_t fake_quantize_loop(const float* x, std::size_t n, float scale, float inv_scale,
                                      std::int32_t zero_point, QRange r, float* y, std::uint8_t* mask) noexcept {
#if QSAFE_VECTOR_LOOPS_XSIMD
  if constexpr (has_vector_rounding<Rounding>::value) {
    using namespace simd;
    const QuantizeArgs a(inv_scale, zero_point, r);
    const FloatV s(scale);
    alignas(64) std::int32_t m32[kBlock];
    std::int32_t* const m = mask != nullptr ? m32 : nullptr;
    std::size_t non_finite = 0, i = 0;
    // y may alias x: each block is read completely before it is written.
    for (; i + kBlock <= n; i += kBlock) {
      non_finite += fake_quantize_block<Rounding>(x + i, a, s, y + i, m);
      if (mask != nullptr)
        for (std::size_t j = 0; j < kBlock; ++j) mask[i + j] = static_cast<std::uint8_t>(m32[j]);
    }
    if (i < n) {
      const std::size_t rest = n - i;
      float tail[kBlock] = {};
      float out[kBlock];
      std::memcpy(tail, x + i, rest * sizeof(float));
      non_finite += fake_quantize_block<Rounding>(tail, a, s, out, m);
      std::memcpy(y + i, out, rest * sizeof(float));
      if (mask != nullptr)
        for (std::size_t j = 0; j < rest; ++j) mask[i + j] = static_cast<std::uint8_t>(m32[j]);
    }
    return non_finite;
  }
#endif
  return fake_quantize_loop_scalar<Rounding>(x, n, scale, inv_scale, zero_point, r, y, mask);
}

}  // namespace detail
}  // namespace qsafe

#if defined(QSAFE_VECTOR_LOOPS_POP_DIAGNOSTIC)
#pragma GCC diagnostic pop
#undef QSAFE_VECTOR_LOOPS_POP_DIAGNOSTIC
#endif

#endif  // QSAFE_QUANTIZER_DETAIL_VECTOR_LOOPS_HPP_
