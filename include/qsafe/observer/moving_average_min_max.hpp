// qsafe/observer/moving_average_min_max.hpp: MovingAverageMinMaxObserver, PyTorch's exponential
// moving average of per-batch minima and maxima.
//
// Update rule (torch.ao.quantization.MovingAverageMinMaxObserver, checked against PyTorch 1.13 by
// tests/observer/golden_test.cpp): the first accepted batch sets lo = min(batch), hi = max(batch);
// every later batch does, in float32 with c rounded to float32 and no fused multiply-add,
//   lo = lo + c * (min(batch) - lo)
//   hi = hi + c * (max(batch) - hi)
// c is the averaging constant, in (0, 1]; PyTorch's default is 0.01.
//
// merge: both observers estimate the same running statistic, so merging takes their mean weighted
// by the number of batches each has seen (lo = lo + (n_o / (n + n_o)) * (lo_o - lo), same for hi);
// merging with an observer that has seen nothing changes nothing, and an empty observer becomes a
// copy. This is NOT the same as observing the other's batches (kMergeIsExact is false): an
// exponential average depends on the order of batches. Different averaging constants:
// invalid_argument.
#ifndef QSAFE_OBSERVER_MOVING_AVERAGE_MIN_MAX_HPP_
#define QSAFE_OBSERVER_MOVING_AVERAGE_MIN_MAX_HPP_

#include <cstddef>
#include <cstdint>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/observer/detail/scan.hpp"
#include "qsafe/observer/observer.hpp"

namespace qsafe {
namespace detail {
// Forces a product to be rounded to float before it is added (no contraction into an FMA, which
// -ffp-contract=fast or Clang's default would allow when the target has FMA).
inline float rounded_product(float a, float b) noexcept {
  volatile float p = a * b;
  return p;
}
}  // namespace detail

class MovingAverageMinMaxObserver {
 public:
  static constexpr const char* name = "moving_average";
  static constexpr bool kMergeIsExact = false;
  static constexpr float kDefaultAveragingConstant = 0.01f;

  constexpr MovingAverageMinMaxObserver() noexcept = default;
  // c must be in (0, 1]; otherwise observe() and merge() return invalid_argument.
  constexpr explicit MovingAverageMinMaxObserver(float averaging_constant) noexcept : c_(averaging_constant) {}

  float averaging_constant() const noexcept { return c_; }

  // ok, empty_input, non_finite_input (state unchanged; see last_non_finite_count()),
  // invalid_argument for an averaging constant outside (0, 1].
  Status observe(Span<const float> batch) noexcept {
    if (!(c_ > 0.f && c_ <= 1.f)) return Status::invalid_argument;
    if (batch.empty()) return Status::empty_input;
    const detail::BatchScan s = detail::scan_batch(batch.data(), batch.size());
    last_non_finite_ = s.non_finite;
    if (s.non_finite != 0) return Status::non_finite_input;
    observe_validated(Range{s.lo, s.hi}, batch.size(), [](auto&&) {});
    return Status::ok;
  }

  // Batch-count-weighted mean of the two running estimates (see the header comment).
  Status merge(const MovingAverageMinMaxObserver& other) noexcept {
    if (!(c_ > 0.f && c_ <= 1.f) || other.c_ != c_) return Status::invalid_argument;
    if (other.batches_ == 0) return Status::ok;
    if (batches_ == 0) {
      lo_ = other.lo_;
      hi_ = other.hi_;
      batches_ = other.batches_;
      return Status::ok;
    }
    const double w = static_cast<double>(other.batches_) / static_cast<double>(batches_ + other.batches_);
    lo_ = static_cast<float>(lo_ + w * (static_cast<double>(other.lo_) - lo_));
    hi_ = static_cast<float>(hi_ + w * (static_cast<double>(other.hi_) - hi_));
    batches_ += other.batches_;
    return Status::ok;
  }

  // The running averages [lo, hi]; empty_input before the first accepted batch. (Float rounding
  // could in principle leave hi one ulp below lo when both are nearly equal; then hi = lo.)
  Result<Range> range() const noexcept {
    if (batches_ == 0) return Status::empty_input;
    return Range{lo_, hi_ < lo_ ? lo_ : hi_};
  }

  std::size_t last_non_finite_count() const noexcept { return last_non_finite_; }
  std::uint64_t batches() const noexcept { return batches_; }

  // Unchecked core (see observer.hpp): one batch with exact range `batch`.
  template <class ForEachRun>
  void observe_validated(Range batch, std::uint64_t, ForEachRun&&) noexcept {
    if (batches_ == 0) {
      lo_ = batch.lo;
      hi_ = batch.hi;
    } else {
      lo_ = moving_update(lo_, batch.lo);
      hi_ = moving_update(hi_, batch.hi);
    }
    ++batches_;
  }

 private:
  // cur + c * (target - cur) in float, as PyTorch computes it. The true result lies between two
  // finite floats, so it is finite; only the difference can overflow (e.g. FLT_MAX then -FLT_MAX),
  // and then the update is taken in double instead of returning an infinite range.
  float moving_update(float cur, float target) const noexcept {
    const float diff = target - cur;
    if (diff - diff != 0.f)  // +-Inf
      return static_cast<float>(cur + static_cast<double>(c_) * (static_cast<double>(target) - cur));
    return cur + detail::rounded_product(c_, diff);
  }

  float c_ = kDefaultAveragingConstant;
  float lo_ = 0.f;
  float hi_ = 0.f;
  std::uint64_t batches_ = 0;
  std::size_t last_non_finite_ = 0;
};

}  // namespace qsafe

#endif  // QSAFE_OBSERVER_MOVING_AVERAGE_MIN_MAX_HPP_
