// qsafe/observer/mse.hpp: MseObserver<Bins>, the clip range that minimises the expected squared
// quantization error of a given target quantizer (integer range + scheme) on everything observed.
//
// Error model. Values are spread uniformly inside each histogram bin (the first and last bins are
// narrowed to [min, max]). A candidate range r gets its (scale s, zero point z) from
// qparams_from_range(r, target, scheme) -- the same numbers the quantizer will use -- and the
// error of a value x is (x - s * (clamp(round(x / s + z), qmin, qmax) - z))^2: rounding error
// inside the range, clipping error outside. In level units u = x / s + z, with
// H(u) = (c - qmin) / 12 + ((u - c)^3 + 1/8) / 3, c = clamp(round(u), qmin, qmax),
// the integral of (u - Q(u))^2 is H(u1) - H(u0) exactly (H is continuous across cells), so a bin
// [x0, x1) holding n values costs n * s^2 * (H(u1) - H(u0)) / (u1 - u0). Sums are in double.
//
// Search (deterministic). Candidate bounds are the histogram's bin edges strictly inside (min, max)
// plus min and max themselves.
//   symmetric: one threshold t, range [clamp(-t), clamp(t)] (clamped to [min, max]);
//   affine:    coordinate descent on (lo, hi) from (min, max): best hi for the current lo, then
//              best lo for that hi, until neither moves (at most 8 rounds).
// Each 1-D search scans every kCoarse-th candidate (about 128 per scan), then every candidate
// within one stride of the best. Ties keep the wider range. The result lies inside [min, max].
// Cost: O(candidates * occupied bins), a few milliseconds for 2048 bins.
#ifndef QSAFE_OBSERVER_MSE_HPP_
#define QSAFE_OBSERVER_MSE_HPP_

#include <cstddef>
#include <cstdint>
#include <limits>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/observer/histogram.hpp"
#include "qsafe/observer/percentile.hpp"
#include "qsafe/quantizer/qparams_from_range.hpp"

namespace qsafe {
namespace detail {

// floor(v) without libm. Doubles of magnitude >= 2^52 are already integers (and NaN stays NaN), so
// only smaller ones go through the int64 conversion, which would be undefined beyond 2^63.
inline double floor_to_double(double v) noexcept {
  if (!(v > -4503599627370496.0 && v < 4503599627370496.0)) return v;
  const double t = static_cast<double>(static_cast<std::int64_t>(v));
  return t > v ? t - 1.0 : t;
}

// The antiderivative H of the header comment.
inline double quantization_error_antiderivative(double u, double qmin, double qmax) noexcept {
  double c;
  if (u <= qmin) {
    c = qmin;
  } else if (u >= qmax) {
    c = qmax;
  } else {
    c = floor_to_double(u + 0.5);
  }
  const double d = u - c;
  return (c - qmin) / 12.0 + (d * d * d + 0.125) / 3.0;
}

}  // namespace detail

template <std::size_t Bins = 2048>
class MseObserver : public HistogramObserverBase<Bins> {
 public:
  static constexpr const char* name = "mse";

  // Default target: quint8 affine, PyTorch's default activation quantizer.
  constexpr MseObserver() noexcept = default;
  constexpr MseObserver(QRange target, SchemeKind scheme) noexcept : target_(target), scheme_(scheme) {}

  QRange target() const noexcept { return target_; }
  SchemeKind scheme() const noexcept { return scheme_; }

  // Exact (kMergeIsExact). The receiver keeps its target.
  Status merge(const MseObserver& other) noexcept {
    this->merge_histogram(other);
    return Status::ok;
  }

  // The error-minimising range (header comment); empty_input before any data; invalid_argument
  // for a bad target range.
  Result<Range> range() const noexcept {
    const Histogram<Bins>& h = this->hist_;
    if (check_qrange(target_) != Status::ok) return Status::invalid_argument;
    if (h.empty()) return Status::empty_input;
    if (!(h.min() < h.max())) return Range{h.min(), h.max()};
    if (scheme_ == SchemeKind::symmetric) {
      const Thresholds th = thresholds();
      const std::int64_t best =
          search(th.count, th.count - 1, [&](std::int64_t i) { return expected_error(symmetric_range(th, i)); });
      return symmetric_range(th, best);
    }
    const Candidates cand = candidates();
    std::int64_t lo_i = 0;
    std::int64_t hi_i = cand.count - 1;
    for (int round = 0; round < 8; ++round) {
      const std::int64_t new_hi = search(cand.count, hi_i, [&](std::int64_t i) {
        return i <= lo_i ? kInf : expected_error(Range{cand.value(lo_i), cand.value(i)});
      });
      const std::int64_t new_lo = search_ascending(cand.count, lo_i, [&](std::int64_t i) {
        return i >= new_hi ? kInf : expected_error(Range{cand.value(i), cand.value(new_hi)});
      });
      const bool moved = new_hi != hi_i || new_lo != lo_i;
      hi_i = new_hi;
      lo_i = new_lo;
      if (!moved) break;
    }
    return Range{cand.value(lo_i), cand.value(hi_i)};
  }

  // Expected total squared error of quantizing everything observed with the parameters
  // qparams_from_range(r, target, scheme) gives (header comment). +Inf when those parameters do not
  // exist (e.g. the scale overflows); 0 while empty.
  double expected_error(Range r) const noexcept {
    const Histogram<Bins>& h = this->hist_;
    const Result<QParams> p = qparams_from_range(r, target_, scheme_);
    if (!p.ok()) return kInf;
    const double s = p->scale;
    const double z = p->zero_point;
    const double qmin = target_.qmin;
    const double qmax = target_.qmax;
    const double w = h.bin_width();
    const double dmin = h.min();
    const double dmax = h.max();
    double total = 0.;
    for (std::size_t j = 0; j < h.used_bins(); ++j) {
      const std::uint64_t c = h.count(j);
      if (c == 0) continue;
      double x0 = h.lower_edge(j);
      double x1 = x0 + w;
      x0 = x0 < dmin ? dmin : x0;
      x1 = x1 > dmax ? dmax : x1;
      const double u0 = x0 / s + z;
      const double u1 = x1 / s + z;
      double per_value;  // mean of (u - Q(u))^2 over the bin
      if (u1 > u0) {
        per_value = (detail::quantization_error_antiderivative(u1, qmin, qmax) -
                     detail::quantization_error_antiderivative(u0, qmin, qmax)) /
                    (u1 - u0);
      } else {  // a bin squeezed to one point (min == max inside it)
        double q = detail::floor_to_double(u0 + 0.5);
        q = q < qmin ? qmin : (q > qmax ? qmax : q);
        per_value = (u0 - q) * (u0 - q);
      }
      total += static_cast<double>(c) * per_value;
    }
    return total * s * s;
  }

 private:
  static constexpr double kInf = std::numeric_limits<double>::infinity();

  // Sorted candidate bounds: min, the bin edges strictly inside (min, max), max.
  struct Candidates {
    float lo = 0.f;
    float hi = 0.f;
    std::int64_t first_edge = 0;  // absolute bin index of the first inner edge
    double w = 1.;
    std::int64_t count = 2;
    float value(std::int64_t i) const noexcept {
      if (i <= 0) return lo;
      if (i >= count - 1) return hi;
      return static_cast<float>(static_cast<double>(first_edge + i - 1) * w);
    }
  };

  Candidates candidates() const noexcept {
    const Histogram<Bins>& h = this->hist_;
    Candidates c;
    c.lo = h.min();
    c.hi = h.max();
    c.w = h.bin_width();
    // Inner edges are (first + 1) * w .. (first + used - 1) * w, all in (min, max] ; drop one equal to max.
    c.first_edge = h.first_bin() + 1;
    std::int64_t inner = static_cast<std::int64_t>(h.used_bins()) - 1;
    if (inner > 0 && static_cast<double>(c.first_edge + inner - 1) * c.w >= static_cast<double>(h.max())) --inner;
    c.count = inner + 2;
    return c;
  }

  // Symmetric thresholds: the bin edges strictly between t_min and max|x|, then max|x| itself,
  // where t_min is the smallest |x| of one-signed data (0 when the data straddles 0): thresholds
  // below it all clip everything to one point. Index i -> t = (k0 + 1 + i) * w; the last is max|x|.
  struct Thresholds {
    std::int64_t k0 = 0;
    std::int64_t count = 1;
    float max_abs = 0.f;
  };

  Thresholds thresholds() const noexcept {
    const Histogram<Bins>& h = this->hist_;
    const double w = h.bin_width();
    Thresholds t;
    t.max_abs = -h.min() > h.max() ? -h.min() : h.max();
    const double t_min = h.min() > 0.f ? h.min() : (h.max() < 0.f ? -h.max() : 0.f);
    t.k0 = static_cast<std::int64_t>(t_min / w);                                     // k0 * w <= t_min
    std::int64_t k = static_cast<std::int64_t>(static_cast<double>(t.max_abs) / w);  // k * w <= max|x|
    if (static_cast<double>(k) * w >= static_cast<double>(t.max_abs)) --k;           // strictly below
    t.count = (k > t.k0 ? k - t.k0 : 0) + 1;
    return t;
  }

  Range symmetric_range(const Thresholds& th, std::int64_t i) const noexcept {
    const Histogram<Bins>& h = this->hist_;
    const double t =
        i >= th.count - 1 ? static_cast<double>(th.max_abs) : static_cast<double>(th.k0 + 1 + i) * h.bin_width();
    return Range{detail::clamp_range_value(-t, h.min(), h.max()), detail::clamp_range_value(t, h.min(), h.max())};
  }

  // Coarse-to-fine 1-D search over indices [0, n), starting from `start`, scanning from high to
  // low index so that ties keep the larger (wider) bound.
  template <class Cost>
  static std::int64_t search(std::int64_t n, std::int64_t start, Cost&& cost) noexcept {
    return search_impl(n, start, cost, false);
  }
  template <class Cost>
  static std::int64_t search_ascending(std::int64_t n, std::int64_t start, Cost&& cost) noexcept {
    return search_impl(n, start, cost, true);
  }
  template <class Cost>
  static std::int64_t search_impl(std::int64_t n, std::int64_t start, Cost& cost, bool ascending) noexcept {
    constexpr std::int64_t kCoarse = 128;
    const std::int64_t stride = n / kCoarse > 1 ? n / kCoarse : 1;
    std::int64_t best = start;
    double best_cost = cost(start);
    auto visit = [&](std::int64_t i) {
      if (i < 0 || i >= n || i == best) return;
      const double c = cost(i);
      if (c < best_cost) {
        best_cost = c;
        best = i;
      }
    };
    if (ascending) {
      for (std::int64_t i = 0; i < n; i += stride) visit(i);
      visit(n - 1);
    } else {
      for (std::int64_t i = n - 1; i >= 0; i -= stride) visit(i);
      visit(0);
    }
    const std::int64_t centre = best;
    if (ascending) {
      for (std::int64_t i = centre - stride; i <= centre + stride; ++i) visit(i);
    } else {
      for (std::int64_t i = centre + stride; i >= centre - stride; --i) visit(i);
    }
    return best;
  }

  QRange target_ = qrange_of<std::uint8_t>();
  SchemeKind scheme_ = SchemeKind::affine;
};

}  // namespace qsafe

#endif  // QSAFE_OBSERVER_MSE_HPP_
