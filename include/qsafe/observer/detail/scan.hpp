// qsafe/observer/detail/scan.hpp: the one pass every observer starts with: min, max and the number
// of non-finite values of a batch. The scalar loop is the reference; the xsimd loop (compile-time
// ISA, when QSAFE_HAS_XSIMD is defined) gives the same lo, hi (compared with ==; the sign of a zero
// may differ) and the same count.
#ifndef QSAFE_OBSERVER_DETAIL_SCAN_HPP_
#define QSAFE_OBSERVER_DETAIL_SCAN_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qsafe/config.hpp"

#if defined(QSAFE_HAS_XSIMD)
#include <xsimd/xsimd.hpp>
#endif

namespace qsafe {
namespace detail {

// lo and hi are meaningful only when non_finite == 0 and the batch was not empty.
struct BatchScan {
  float lo = 0.f;
  float hi = 0.f;
  std::size_t non_finite = 0;
};

// NaN and +-Inf have an all-ones exponent field.
QSAFE_ALWAYS_INLINE bool is_non_finite_bits(float v) noexcept {
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return (bits & 0x7f800000u) == 0x7f800000u;
}

inline std::size_t count_nan_inf(const float* x, std::size_t n) noexcept {
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i) count += is_non_finite_bits(x[i]) ? 1u : 0u;
  return count;
}

// Scalar reference. Four independent accumulators so that the loop is not one latency chain.
inline BatchScan scan_batch_scalar(const float* x, std::size_t n) noexcept {
  BatchScan r;
  if (n == 0) return r;
  float lo[4] = {x[0], x[0], x[0], x[0]};
  float hi[4] = {x[0], x[0], x[0], x[0]};
  std::size_t bad = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int k = 0; k < 4; ++k) {
      const float v = x[i + k];
      bad += is_non_finite_bits(v) ? 1u : 0u;
      lo[k] = v < lo[k] ? v : lo[k];
      hi[k] = v > hi[k] ? v : hi[k];
    }
  }
  for (; i < n; ++i) {
    const float v = x[i];
    bad += is_non_finite_bits(v) ? 1u : 0u;
    lo[0] = v < lo[0] ? v : lo[0];
    hi[0] = v > hi[0] ? v : hi[0];
  }
  for (int k = 1; k < 4; ++k) {
    lo[0] = lo[k] < lo[0] ? lo[k] : lo[0];
    hi[0] = hi[k] > hi[0] ? hi[k] : hi[0];
  }
  r.lo = lo[0];
  r.hi = hi[0];
  r.non_finite = bad;
  return r;
}

#if defined(QSAFE_HAS_XSIMD)
// Vector form: min/max in four vector accumulators plus an OR of "x != x" (NaN) masks; an Inf
// shows up in the final min or max. Only when something non-finite was seen is the batch scanned
// again to count exactly (the error path may be slow).
inline BatchScan scan_batch_simd(const float* x, std::size_t n) noexcept {
  using batch = xsimd::batch<float>;
  constexpr std::size_t kLanes = batch::size;
  if (n < 4 * kLanes) return scan_batch_scalar(x, n);
  batch lo0 = batch::load_unaligned(x), lo1 = lo0, lo2 = lo0, lo3 = lo0;
  batch hi0 = lo0, hi1 = lo0, hi2 = lo0, hi3 = lo0;
  xsimd::batch_bool<float> nan = (lo0 != lo0);
  std::size_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    const batch v0 = batch::load_unaligned(x + i);
    const batch v1 = batch::load_unaligned(x + i + kLanes);
    const batch v2 = batch::load_unaligned(x + i + 2 * kLanes);
    const batch v3 = batch::load_unaligned(x + i + 3 * kLanes);
    lo0 = xsimd::min(lo0, v0);
    lo1 = xsimd::min(lo1, v1);
    lo2 = xsimd::min(lo2, v2);
    lo3 = xsimd::min(lo3, v3);
    hi0 = xsimd::max(hi0, v0);
    hi1 = xsimd::max(hi1, v1);
    hi2 = xsimd::max(hi2, v2);
    hi3 = xsimd::max(hi3, v3);
    nan = nan | (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3);
  }
  lo0 = xsimd::min(xsimd::min(lo0, lo1), xsimd::min(lo2, lo3));
  hi0 = xsimd::max(xsimd::max(hi0, hi1), xsimd::max(hi2, hi3));
  alignas(64) float lanes_lo[kLanes];
  alignas(64) float lanes_hi[kLanes];
  lo0.store_aligned(lanes_lo);
  hi0.store_aligned(lanes_hi);
  BatchScan r;
  r.lo = lanes_lo[0];
  r.hi = lanes_hi[0];
  for (std::size_t k = 1; k < kLanes; ++k) {
    r.lo = lanes_lo[k] < r.lo ? lanes_lo[k] : r.lo;
    r.hi = lanes_hi[k] > r.hi ? lanes_hi[k] : r.hi;
  }
  bool bad = xsimd::any(nan);
  for (const float* p = x + i; p != x + n; ++p) {  // tail: scalar, never reads past x + n
    const float v = *p;
    bad = bad || v != v;
    r.lo = v < r.lo ? v : r.lo;
    r.hi = v > r.hi ? v : r.hi;
  }
  if (bad || is_non_finite_bits(r.lo) || is_non_finite_bits(r.hi)) r.non_finite = count_nan_inf(x, n);
  return r;
}
#endif

// The scan observers use: the vector form when compiled in, else the scalar reference.
inline BatchScan scan_batch(const float* x, std::size_t n) noexcept {
#if defined(QSAFE_HAS_XSIMD)
  return scan_batch_simd(x, n);
#else
  return scan_batch_scalar(x, n);
#endif
}

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_OBSERVER_DETAIL_SCAN_HPP_
