// qsafe/observer/histogram.hpp: Histogram<Bins>, the streaming histogram that the percentile, MSE
// and entropy observers share, and HistogramObserverBase, their common observe/merge code.
//
// The grid is canonical: bins have width w = 2^e and edges at integer multiples of w, so bin k
// holds the values x with k * w <= x < (k + 1) * w, i.e. k = floor(x / 2^e). Counts_[j] is bin
// first + j. The exponent e is the smallest one that
//   (a) fits every value seen into Bins consecutive bins: floor(max / w) - floor(min / w) < Bins,
//   (b) keeps |x| / w below 2^30 (so bin indices fit int32; e >= ilogb(max |x|) - 29), and
//   (c) is at least kMinExponent = -126 (w stays a normal float, 1 / w stays finite).
// When new data needs a larger e, bins are merged in aligned groups of 2^(e' - e) and the window
// slides: re-binning is exact (no interpolation), because floor(floor(x / w) / 2^k) = floor(x / (w 2^k)).
// Consequences:
//   - the state depends only on the multiset of values seen, not on batch boundaries or their
//     order, so merge(a, b) equals observing a's and b's data in one stream, bit for bit, even
//     when a and b had different ranges;
//   - the values occupy between about Bins / 2 and Bins bins (a power-of-two width wastes at most
//     half), and 0 is always a bin edge, so |x| folds exactly onto the same grid (entropy.hpp).
// Counts are 64-bit; the exact min and max seen are kept beside the bins.
//
// Bin index computation, scalar and vector (they are tested equal): floor_scaled below, exact for
// every finite x in range, including products that underflow. On x86-64 the counting pass of
// try_add / add_unchecked is the run-time dispatched AVX2 one of detail/histogram_count.hpp (same
// float operations, same counts; uint16 sub-histograms on the stack for large batches).
#ifndef QSAFE_OBSERVER_HISTOGRAM_HPP_
#define QSAFE_OBSERVER_HISTOGRAM_HPP_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qsafe/config.hpp"
#include "qsafe/core/qparams.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/observer/detail/histogram_count.hpp"
#include "qsafe/observer/detail/scan.hpp"
#include "qsafe/observer/observer.hpp"

#if defined(QSAFE_HAS_XSIMD)
#include <xsimd/xsimd.hpp>
#endif

namespace qsafe {
namespace detail {

inline constexpr int kHistogramMinExponent = -126;

// 2^e as a float, e in [-149, 127] (subnormal powers included).
inline float histogram_pow2f(int e) noexcept {
  std::uint32_t bits;
  if (e >= -126) {
    bits = static_cast<std::uint32_t>(e + 127) << 23;
  } else {
    bits = std::uint32_t{1} << (e + 149);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// 2^e as a double, e in [-1022, 1023].
inline double histogram_pow2d(int e) noexcept {
  const std::uint64_t bits = static_cast<std::uint64_t>(e + 1023) << 52;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

// floor(log2(a)) for a finite a > 0 normal; -127 for zero and subnormals.
inline int unbiased_exponent(float a) noexcept {
  std::uint32_t bits;
  std::memcpy(&bits, &a, sizeof bits);
  return static_cast<int>((bits >> 23) & 0xffu) - 127;
}

// floor(x / w) for w = 2^e, given inv = 2^-e; requires |x| * inv < 2^31.
// t = trunc(x * inv) is exact, or 0 when the product underflows (|x / w| < 2^-126); float(t) is
// exact (|t| < 2^23, or t equals the integral product) and so is float(t) * w (t = 0, or
// |t * w| >= w, a normal power of two). Then floor = t - (x < t * w): the one comparison also
// sends an underflowed negative x (t = 0) to -1, and keeps -0.0 in bin 0.
QSAFE_ALWAYS_INLINE std::int32_t floor_scaled(float x, float inv, float w) noexcept {
  const std::int32_t t = static_cast<std::int32_t>(x * inv);  // truncation toward zero
  return t - (x < static_cast<float>(t) * w ? 1 : 0);
}

// floor(a / 2^k) for int64 a, k >= 0 (no reliance on the sign behaviour of >>; shifts of 63 or
// more, reachable with huge values, give the limit 0 or -1 instead of undefined behaviour).
constexpr std::int64_t floor_div_pow2_i64(std::int64_t a, int k) noexcept {
  if (k >= 63) return a >= 0 ? 0 : -1;
  return a >= 0 ? (a >> k) : -(((-a) - 1) >> k) - 1;
}

// Smallest exponent satisfying (b) and (c) of the header comment for values up to |max_abs|.
inline int exponent_floor(float max_abs) noexcept {
  const int e = unbiased_exponent(max_abs) - 29;
  return e > kHistogramMinExponent ? e : kHistogramMinExponent;
}

// Bin indices relative to `first` for n values: the scalar reference.
inline void bin_indices_scalar(const float* x, std::size_t n, float inv, std::int32_t first,
                               std::int32_t* out) noexcept {
  const float w = 1.f / inv;  // exact: a power of two
  for (std::size_t i = 0; i < n; ++i) out[i] = floor_scaled(x[i], inv, w) - first;
}

#if defined(QSAFE_HAS_XSIMD)
// Same indices, vectorised at the compile-time ISA.
inline void bin_indices_simd(const float* x, std::size_t n, float inv, std::int32_t first, std::int32_t* out) noexcept {
  using fbatch = xsimd::batch<float>;
  using ibatch = xsimd::batch<std::int32_t>;
  constexpr std::size_t kLanes = fbatch::size;
  static_assert(ibatch::size == kLanes, "float and int32 batches must have the same lane count");
  const fbatch vinv(inv);
  const fbatch vw(1.f / inv);
  const ibatch izero(0);
  const ibatch iminus_one(-1);
  const ibatch vfirst(first);
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const fbatch v = fbatch::load_unaligned(x + i);
    ibatch t = xsimd::to_int(v * vinv);                                                       // truncation toward zero
    t = t + xsimd::select(xsimd::bool_cast(v < xsimd::to_float(t) * vw), iminus_one, izero);  // floor_scaled
    (t - vfirst).store_unaligned(out + i);
  }
  bin_indices_scalar(x + i, n - i, inv, first, out + i);
}
#endif

inline void bin_indices(const float* x, std::size_t n, float inv, std::int32_t first, std::int32_t* out) noexcept {
#if defined(QSAFE_HAS_XSIMD)
  bin_indices_simd(x, n, inv, first, out);
#else
  bin_indices_scalar(x, n, inv, first, out);
#endif
}

// The fused single pass of Histogram::try_add: bins n values into counts[0, window) where index
// = floor(x / w) - first, in chunks of kWindowChunk, tracking min and max. Before a chunk is
// counted, it is checked: a NaN, or an index outside [0, window) (which includes +-Inf and
// values too large to convert), stops the pass and that chunk is not counted. Returns the number
// of values counted (n on success); lo and hi are their min and max (meaningful when n > 0 and
// all were counted). window must be a power of two. (kWindowChunk: detail/histogram_count.hpp.)

template <class Count>
std::size_t window_add_scalar(const float* x, std::size_t n, float inv, std::int32_t first, std::uint32_t window,
                              Count* counts, float& lo, float& hi) noexcept {
  std::uint32_t idx[kWindowChunk];
  const float w = 1.f / inv;
  float l = n > 0 ? x[0] : 0.f;
  float h = l;
  for (std::size_t start = 0; start < n; start += kWindowChunk) {
    const std::size_t m = n - start < kWindowChunk ? n - start : kWindowChunk;
    bool bad = false;
    float cl = l;
    float ch = h;
    for (std::size_t i = 0; i < m; ++i) {
      const float v = x[start + i];
      const float p = v * inv;
      // Range check before converting (out-of-range float -> int is undefined); NaN fails it.
      const bool in = p > -2147483520.f && p < 2147483520.f;
      bad = bad || !in;
      const std::int32_t t = in ? floor_scaled(v, inv, w) : 0;
      idx[i] = static_cast<std::uint32_t>(t) - static_cast<std::uint32_t>(first);
      bad = bad || idx[i] >= window;
      cl = v < cl ? v : cl;
      ch = v > ch ? v : ch;
    }
    if (bad) {
      lo = l;
      hi = h;
      return start;
    }
    for (std::size_t i = 0; i < m; ++i) ++counts[idx[i]];
    l = cl;
    h = ch;
  }
  lo = l;
  hi = h;
  return n;
}

#if defined(QSAFE_HAS_XSIMD)
template <class Count>
std::size_t window_add_simd(const float* x, std::size_t n, float inv, std::int32_t first, std::uint32_t window,
                            Count* counts, float& lo, float& hi) noexcept {
  using fbatch = xsimd::batch<float>;
  using ibatch = xsimd::batch<std::int32_t>;
  constexpr std::size_t kLanes = fbatch::size;
  static_assert(kWindowChunk % kLanes == 0, "chunk must hold whole vectors");
  if (n < kWindowChunk) return window_add_scalar(x, n, inv, first, window, counts, lo, hi);
  const fbatch vinv(inv);
  const fbatch vw(1.f / inv);
  const ibatch izero(0);
  const ibatch iminus_one(-1);
  const ibatch vfirst(first);
  QSAFE_DCHECK(window != 0 && (window & (window - 1)) == 0);
  const ibatch vhigh(static_cast<std::int32_t>(~(window - 1)));
  alignas(64) std::int32_t idx[kWindowChunk];
  fbatch vlo = fbatch::load_unaligned(x);
  fbatch vhi = vlo;
  std::size_t start = 0;
  for (; start + kWindowChunk <= n; start += kWindowChunk) {
    fbatch clo = vlo;
    fbatch chi = vhi;
    ibatch any_bits = izero;
    for (std::size_t i = 0; i < kWindowChunk; i += kLanes) {
      const fbatch v = fbatch::load_unaligned(x + start + i);
      ibatch t = xsimd::to_int(v * vinv);  // out-of-range and NaN lanes give garbage, caught below
      t = t + xsimd::select(xsimd::bool_cast(v < xsimd::to_float(t) * vw), iminus_one, izero);  // floor_scaled
      const ibatch j = t - vfirst;
      // Out of the window <=> some bit above log2(window) is set in j as uint32 (window is a
      // power of two); huge values and +-Inf convert to INT_MIN or saturate, both outside.
      any_bits = any_bits | j;
#if !QSAFE_X86_64
      // x86 converts NaN to INT_MIN (outside); other ISAs may give 0, so test NaN directly.
      any_bits = any_bits | xsimd::select(xsimd::bool_cast(v != v), iminus_one, izero);
#endif
      j.store_aligned(idx + i);
      clo = xsimd::min(clo, v);
      chi = xsimd::max(chi, v);
    }
    if (xsimd::any((any_bits & vhigh) != izero)) break;
    for (std::size_t i = 0; i < kWindowChunk; ++i) ++counts[static_cast<std::uint32_t>(idx[i])];
    vlo = clo;
    vhi = chi;
  }
  alignas(64) float lanes_lo[kLanes];
  alignas(64) float lanes_hi[kLanes];
  vlo.store_aligned(lanes_lo);
  vhi.store_aligned(lanes_hi);
  float l = lanes_lo[0];
  float h = lanes_hi[0];
  for (std::size_t k = 1; k < kLanes; ++k) {
    l = lanes_lo[k] < l ? lanes_lo[k] : l;
    h = lanes_hi[k] > h ? lanes_hi[k] : h;
  }
  if (start + kWindowChunk <= n) {  // stopped early on a bad chunk
    lo = l;
    hi = h;
    return start;
  }
  float tl = 0.f;
  float th = 0.f;
  const std::size_t rest = window_add_scalar(x + start, n - start, inv, first, window, counts, tl, th);
  if (rest > 0) {
    l = tl < l ? tl : l;
    h = th > h ? th : h;
  }
  lo = l;
  hi = h;
  return start + rest;
}
#endif

template <class Count>
std::size_t window_add(const float* x, std::size_t n, float inv, std::int32_t first, std::uint32_t window,
                       Count* counts, float& lo, float& hi) noexcept {
#if defined(QSAFE_HAS_XSIMD)
  return window_add_simd(x, n, inv, first, window, counts, lo, hi);
#else
  return window_add_scalar(x, n, inv, first, window, counts, lo, hi);
#endif
}

// window_add for the Histogram<Bins> counts: the AVX2 pass (detail/histogram_count.hpp) when the
// CPU has it, else the compile-time one. Same counts, same return value.
template <std::size_t Bins>
std::size_t histogram_window_add(const float* x, std::size_t n, float inv, std::int32_t first, std::uint64_t* counts,
                                 float& lo, float& hi) noexcept {
#if QSAFE_HISTOGRAM_AVX2
  if (n >= kWindowChunk && arch::cpu_features().avx2_fma) {
    const std::size_t done = window_chunks_avx2<Bins>(x, n, inv, first, counts, lo, hi);
    if (done != n - n % kWindowChunk || done == n) return done;  // stopped early, or no tail
    float tl = 0.f;
    float th = 0.f;
    const std::size_t rest =
        window_add_scalar(x + done, n - done, inv, first, static_cast<std::uint32_t>(Bins), counts, tl, th);
    if (rest > 0) {
      lo = tl < lo ? tl : lo;
      hi = th > hi ? th : hi;
    }
    return done + rest;
  }
#endif
  return window_add(x, n, inv, first, static_cast<std::uint32_t>(Bins), counts, lo, hi);
}

}  // namespace detail

// A fixed-size, exactly mergeable histogram of finite floats (see the header comment).
// Storage is a window of Bins counters starting at absolute bin window_first_; the occupied bins
// [bin(min), bin(max)] sit inside it. When the window must move it is re-centred on the occupied
// bins, so later batches usually land inside it and take the one-pass path (try_add). Where the
// window sits never changes a result: every accessor below speaks of occupied bins.
template <std::size_t Bins>
class Histogram {
  static_assert(Bins >= 16 && Bins <= (std::size_t{1} << 24), "Bins must be in [16, 2^24]");
  static_assert((Bins & (Bins - 1)) == 0, "Bins must be a power of two");

 public:
  static constexpr std::size_t kBins = Bins;

  bool empty() const noexcept { return total_ == 0; }
  std::uint64_t total() const noexcept { return total_; }
  // Exact extremes of every value added (meaningless while empty()).
  float min() const noexcept { return min_; }
  float max() const noexcept { return max_; }
  // Bin width 2^exponent().
  int exponent() const noexcept { return exp_; }
  double bin_width() const noexcept { return detail::histogram_pow2d(exp_); }
  // Absolute index of the bin holding min(): it spans [first_bin() * w, (first_bin() + 1) * w).
  std::int64_t first_bin() const noexcept { return lo_bin_; }
  // Occupied bins, from the bin of min() to the bin of max() (0 while empty()).
  std::size_t used_bins() const noexcept { return has_range_ ? static_cast<std::size_t>(hi_bin_ - lo_bin_ + 1) : 0; }
  // Count of occupied bin j (absolute bin first_bin() + j), j < used_bins().
  std::uint64_t count(std::size_t j) const noexcept {
    QSAFE_DCHECK(j < used_bins());
    return counts_[static_cast<std::size_t>(lo_bin_ - window_first_) + j];
  }
  // Count of absolute bin k; 0 outside the occupied bins.
  std::uint64_t count_at(std::int64_t k) const noexcept {
    if (!has_range_ || k < lo_bin_ || k > hi_bin_) return 0;
    return counts_[static_cast<std::size_t>(k - window_first_)];
  }
  // Lower edge of occupied bin j (exact in double).
  double lower_edge(std::size_t j) const noexcept {
    return static_cast<double>(lo_bin_ + static_cast<std::int64_t>(j)) * bin_width();
  }

  // Makes the grid cover [lo, hi] and records them as seen extremes. Precondition: finite, lo <= hi.
  // Does not change any count, so a following add_unchecked of values in [lo, hi] is always safe.
  void cover(float lo, float hi) noexcept {
    QSAFE_DCHECK(lo <= hi);
    const float new_min = (has_range_ && min_ < lo) ? min_ : lo;
    const float new_max = (has_range_ && max_ > hi) ? max_ : hi;
    const float max_abs = -new_min > new_max ? -new_min : new_max;
    int e = has_range_ ? exp_ : detail::kHistogramMinExponent;
    const int e_floor = detail::exponent_floor(max_abs);
    if (e < e_floor) e = e_floor;
    while (bin_of(new_max, e) - bin_of(new_min, e) > static_cast<std::int64_t>(Bins) - 1) ++e;
    const std::int64_t lo_bin = bin_of(new_min, e);
    const std::int64_t hi_bin = bin_of(new_max, e);
    if (!has_range_) {
      window_first_ = centred_window(lo_bin, hi_bin);
    } else if (e != exp_ || lo_bin < window_first_ || hi_bin >= window_first_ + static_cast<std::int64_t>(Bins)) {
      const std::int64_t new_first = centred_window(lo_bin, hi_bin);
      rebin(e, new_first);
      window_first_ = new_first;
    }
    exp_ = e;
    lo_bin_ = lo_bin;
    hi_bin_ = hi_bin;
    min_ = new_min;
    max_ = new_max;
    has_range_ = true;
  }

  // Counts n values. Precondition: cover() has been called with a range holding every x[i].
  void add_unchecked(const float* x, std::size_t n) noexcept { update_unchecked<true>(x, n); }

  // One pass: counts x when every value is finite and falls inside the current window without
  // changing the exponent (the steady state of calibration), and returns true. Otherwise returns
  // false with nothing changed; the caller then scans, cover()s and add_unchecked()s.
  bool try_add(const float* x, std::size_t n) noexcept {
    if (!has_range_ || n == 0) return false;
    float lo = 0.f;
    float hi = 0.f;
    const std::size_t done = detail::histogram_window_add<Bins>(
        x, n, detail::histogram_pow2f(-exp_), static_cast<std::int32_t>(window_first_), counts_.data(), lo, hi);
    if (done == n) {
      const float new_min = min_ < lo ? min_ : lo;
      const float new_max = max_ > hi ? max_ : hi;
      const float max_abs = -new_min > new_max ? -new_min : new_max;
      if (detail::exponent_floor(max_abs) <= exp_) {  // the exponent stays canonical
        min_ = new_min;
        max_ = new_max;
        lo_bin_ = bin_of(new_min, exp_);
        hi_bin_ = bin_of(new_max, exp_);
        total_ += n;
        return true;
      }
    }
    update_unchecked<false>(x, done);  // undo the counted prefix
    return false;
  }

  // Folds other into *this. The result is the histogram of both data sets (exact, see header).
  void merge(const Histogram& other) noexcept {
    if (!other.has_range_) return;
    if (!has_range_) {
      *this = other;
      return;
    }
    cover(other.min_, other.max_);
    const int k = exp_ - other.exp_;  // >= 0: the union needs at least other's exponent
    QSAFE_DCHECK(k >= 0);
    for (std::int64_t b = other.lo_bin_; b <= other.hi_bin_; ++b) {
      const std::uint64_t c = other.counts_[static_cast<std::size_t>(b - other.window_first_)];
      if (c == 0) continue;
      const std::int64_t to = detail::floor_div_pow2_i64(b, k) - window_first_;
      QSAFE_DCHECK(to >= 0 && to < static_cast<std::int64_t>(Bins));
      counts_[static_cast<std::size_t>(to)] += c;
    }
    total_ += other.total_;
  }

  // Absolute bin of x at exponent e (same arithmetic as every counting path).
  static std::int64_t bin_of(float x, int e) noexcept {
    return detail::floor_scaled(x, detail::histogram_pow2f(-e), detail::histogram_pow2f(e));
  }

 private:
  static std::int64_t centred_window(std::int64_t lo_bin, std::int64_t hi_bin) noexcept {
    const std::int64_t slack = static_cast<std::int64_t>(Bins) - (hi_bin - lo_bin + 1);
    return lo_bin - slack / 2;
  }

  template <bool Add>
  void update_unchecked(const float* x, std::size_t n) noexcept {
    QSAFE_DCHECK(has_range_);
#if QSAFE_HISTOGRAM_AVX2
    if (Add && n >= detail::kWindowChunk && arch::cpu_features().avx2_fma) {
      // The checked pass: with every value covered it counts them all.
      float lo = 0.f;
      float hi = 0.f;
      const std::size_t done = detail::histogram_window_add<Bins>(
          x, n, detail::histogram_pow2f(-exp_), static_cast<std::int32_t>(window_first_), counts_.data(), lo, hi);
      QSAFE_DCHECK(done == n);
      static_cast<void>(done);
      total_ += n;
      return;
    }
#endif
    constexpr std::size_t kChunk = detail::kWindowChunk;  // small: index and count phases overlap
    alignas(64) std::int32_t idx[kChunk];
    const float inv = detail::histogram_pow2f(-exp_);
    const std::int32_t first = static_cast<std::int32_t>(window_first_);
    for (std::size_t start = 0; start < n; start += kChunk) {
      const std::size_t m = n - start < kChunk ? n - start : kChunk;
      detail::bin_indices(x + start, m, inv, first, idx);
      for (std::size_t i = 0; i < m; ++i) {
        const std::uint32_t a = static_cast<std::uint32_t>(idx[i]);
        QSAFE_DCHECK(a < Bins);
        if (Add) {
          ++counts_[a];
        } else {
          --counts_[a];
        }
      }
    }
    if (Add) total_ += n;
  }

  // Moves counts from (exp_, window_first_) to (e, new_first): absolute bin b goes to
  // floor(b / 2^(e - exp_)). As a map of window slots, d(j) is non-decreasing and d(j) - j is
  // non-increasing, so the slots moving right come first and land at or left of the crossover,
  // the others land at or right of it: right-movers are moved in descending order, left-movers in
  // ascending order, and no count is read after it was overwritten.
  void rebin(int e, std::int64_t new_first) noexcept {
    const int k = e - exp_;
    const std::size_t j0 = static_cast<std::size_t>(lo_bin_ - window_first_);
    const std::size_t j1 = static_cast<std::size_t>(hi_bin_ - window_first_) + 1;
    auto dest = [&](std::size_t j) {
      return static_cast<std::size_t>(detail::floor_div_pow2_i64(window_first_ + static_cast<std::int64_t>(j), k) -
                                      new_first);
    };
    std::size_t cross = j0;
    while (cross < j1 && dest(cross) >= cross) ++cross;
    for (std::size_t j = cross; j-- > j0;) {
      const std::size_t d = dest(j);
      if (d == j) continue;
      counts_[d] += counts_[j];
      counts_[j] = 0;
    }
    for (std::size_t j = cross; j < j1; ++j) {
      const std::size_t d = dest(j);
      counts_[d] += counts_[j];
      counts_[j] = 0;
    }
  }

  std::array<std::uint64_t, Bins> counts_{};
  std::uint64_t total_ = 0;
  std::int64_t window_first_ = 0;  // absolute bin of counts_[0]
  std::int64_t lo_bin_ = 0;        // absolute bins of min_ and max_
  std::int64_t hi_bin_ = -1;
  int exp_ = detail::kHistogramMinExponent;
  float min_ = 0.f;
  float max_ = 0.f;
  bool has_range_ = false;
};

// observe / merge / last_non_finite_count for observers whose statistics are one Histogram<Bins>.
// Derived provides `Result<Range> range() const` from histogram().
template <std::size_t Bins>
class HistogramObserverBase {
 public:
  static constexpr bool kMergeIsExact = true;
  static constexpr std::size_t kBins = Bins;

  // ok, empty_input, non_finite_input (state unchanged; see last_non_finite_count()).
  Status observe(Span<const float> batch) noexcept {
    if (batch.empty()) return Status::empty_input;
    if (hist_.try_add(batch.data(), batch.size())) {  // the usual case once the grid is set
      last_non_finite_ = 0;
      return Status::ok;
    }
    const detail::BatchScan s = detail::scan_batch(batch.data(), batch.size());
    last_non_finite_ = s.non_finite;
    if (s.non_finite != 0) return Status::non_finite_input;
    hist_.cover(s.lo, s.hi);
    hist_.add_unchecked(batch.data(), batch.size());
    return Status::ok;
  }

  // Unchecked core (see observer.hpp).
  template <class ForEachRun>
  void observe_validated(Range batch, std::uint64_t, ForEachRun&& runs) noexcept {
    hist_.cover(batch.lo, batch.hi);
    runs([this](const float* x, std::size_t n) { hist_.add_unchecked(x, n); });
  }

  std::size_t last_non_finite_count() const noexcept { return last_non_finite_; }
  const Histogram<Bins>& histogram() const noexcept { return hist_; }

 protected:
  // Exact; the derived merge adds its own compatibility checks (none so far).
  void merge_histogram(const HistogramObserverBase& other) noexcept { hist_.merge(other.hist_); }

  Histogram<Bins> hist_;
  std::size_t last_non_finite_ = 0;
};

}  // namespace qsafe

#endif  // QSAFE_OBSERVER_HISTOGRAM_HPP_
