// qsafe/observer/percentile.hpp: PercentileObserver<Bins>, a range that clips both tails at a
// percentile of everything observed (TensorRT's / ONNX Runtime's "percentile" calibration).
//
// With p the percentile (in [50, 100], default 99.99) and N values seen, the range is
//   lo = the value below which (1 - p / 100) * N values lie,
//   hi = the value above which (1 - p / 100) * N values lie,
// read from the histogram (histogram.hpp) assuming values spread uniformly inside a bin, then
// clamped to [min, max] seen. So lo and hi are within one bin width of the exact order statistics,
// p = 100 gives [min, max] exactly, and constant data gives [c, c].
#ifndef QSAFE_OBSERVER_PERCENTILE_HPP_
#define QSAFE_OBSERVER_PERCENTILE_HPP_

#include <cstddef>
#include <cstdint>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/observer/histogram.hpp"

namespace qsafe {
namespace detail {

inline float clamp_range_value(double v, float lo, float hi) noexcept {
  const float f = static_cast<float>(v);
  return f < lo ? lo : (f > hi ? hi : f);
}

// The value below which `rank` of the histogram's values lie (0 <= rank <= total), uniform in
// bins, clamped to [min, max].
template <std::size_t Bins>
float value_at_rank_from_below(const Histogram<Bins>& h, double rank) noexcept {
  double below = 0.;
  const double w = h.bin_width();
  for (std::size_t j = 0; j < h.used_bins(); ++j) {
    const double c = static_cast<double>(h.count(j));
    if (c > 0. && below + c >= rank)
      return clamp_range_value(h.lower_edge(j) + (rank - below) / c * w, h.min(), h.max());
    below += c;
  }
  return h.max();
}

// The value above which `rank` values lie, found from the top.
template <std::size_t Bins>
float value_at_rank_from_above(const Histogram<Bins>& h, double rank) noexcept {
  double above = 0.;
  const double w = h.bin_width();
  for (std::size_t j = h.used_bins(); j-- > 0;) {
    const double c = static_cast<double>(h.count(j));
    if (c > 0. && above + c >= rank)
      return clamp_range_value(h.lower_edge(j) + w - (rank - above) / c * w, h.min(), h.max());
    above += c;
  }
  return h.min();
}

}  // namespace detail

template <std::size_t Bins = 2048>
class PercentileObserver : public HistogramObserverBase<Bins> {
 public:
  static constexpr const char* name = "percentile";
  static constexpr float kDefaultPercentile = 99.99f;

  constexpr PercentileObserver() noexcept = default;
  // percentile in [50, 100]; otherwise range() returns invalid_argument.
  constexpr explicit PercentileObserver(float percentile) noexcept : percentile_(percentile) {}

  float percentile() const noexcept { return percentile_; }

  // Exact (kMergeIsExact): the histograms add on a common grid. The receiver keeps its percentile.
  Status merge(const PercentileObserver& other) noexcept {
    this->merge_histogram(other);
    return Status::ok;
  }

  // [lo, hi] as in the header comment; empty_input before any data; invalid_argument for a
  // percentile outside [50, 100].
  Result<Range> range() const noexcept {
    const Histogram<Bins>& h = this->hist_;
    if (!(percentile_ >= 50.f && percentile_ <= 100.f)) return Status::invalid_argument;
    if (h.empty()) return Status::empty_input;
    if (percentile_ == 100.f) return Range{h.min(), h.max()};
    const double tail = (1.0 - static_cast<double>(percentile_) / 100.0) * static_cast<double>(h.total());
    Range r{detail::value_at_rank_from_below(h, tail), detail::value_at_rank_from_above(h, tail)};
    if (r.lo > r.hi) r.hi = r.lo;  // only possible near p = 50 inside one bin
    return r;
  }

 private:
  float percentile_ = kDefaultPercentile;
};

}  // namespace qsafe

#endif  // QSAFE_OBSERVER_PERCENTILE_HPP_
