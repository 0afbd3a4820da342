// qsafe/observer/min_max.hpp: MinMaxObserver, the running minimum and maximum of everything seen.
// Same statistics as PyTorch's MinMaxObserver (torch.ao.quantization): range() is exactly
// [min, max], so qparams_from_range gives PyTorch's scale and zero point bit for bit.
#ifndef QSAFE_OBSERVER_MIN_MAX_HPP_
#define QSAFE_OBSERVER_MIN_MAX_HPP_

#include <cstddef>
#include <cstdint>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/observer/detail/scan.hpp"
#include "qsafe/observer/observer.hpp"

namespace qsafe {

class MinMaxObserver {
 public:
  static constexpr const char* name = "minmax";
  static constexpr bool kMergeIsExact = true;

  // ok, empty_input, non_finite_input (state unchanged; see last_non_finite_count()).
  Status observe(Span<const float> batch) noexcept {
    if (batch.empty()) return Status::empty_input;
    const detail::BatchScan s = detail::scan_batch(batch.data(), batch.size());
    last_non_finite_ = s.non_finite;
    if (s.non_finite != 0) return Status::non_finite_input;
    observe_validated(Range{s.lo, s.hi}, batch.size(), [](auto&&) {});
    return Status::ok;
  }

  // Exact: the result equals observing other's batches after ours. Never incompatible.
  Status merge(const MinMaxObserver& other) noexcept {
    if (other.count_ == 0) return Status::ok;
    observe_validated(Range{other.lo_, other.hi_}, other.count_, [](auto&&) {});
    return Status::ok;
  }

  // [min, max] of every accepted value; empty_input before the first accepted batch.
  Result<Range> range() const noexcept {
    if (count_ == 0) return Status::empty_input;
    return Range{lo_, hi_};
  }

  std::size_t last_non_finite_count() const noexcept { return last_non_finite_; }
  std::uint64_t count() const noexcept { return count_; }

  // Unchecked core (see observer.hpp); only the batch range matters here.
  template <class ForEachRun>
  void observe_validated(Range batch, std::uint64_t count, ForEachRun&&) noexcept {
    if (count_ == 0) {
      lo_ = batch.lo;
      hi_ = batch.hi;
    } else {
      lo_ = batch.lo < lo_ ? batch.lo : lo_;
      hi_ = batch.hi > hi_ ? batch.hi : hi_;
    }
    count_ += count;
  }

 private:
  float lo_ = 0.f;
  float hi_ = 0.f;
  std::uint64_t count_ = 0;
  std::size_t last_non_finite_ = 0;
};

}  // namespace qsafe

#endif  // QSAFE_OBSERVER_MIN_MAX_HPP_
