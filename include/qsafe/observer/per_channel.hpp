// qsafe/observer/per_channel.hpp: PerChannelObserver<Obs>, one per-tensor observer per index
// along a channel axis (PyTorch's PerChannelMinMaxObserver(ch_axis) and its relatives).
//
// The channel observers live in caller storage (a Span<Obs> of exactly as many elements as the
// axis is long), so nothing allocates and each channel may carry its own configuration (e.g. a
// percentile). Channel c sees the elements (o, c, i) of the tensor viewed as
// [outer, channels, inner] around the axis (core/tensor_view.hpp), as one batch per observe().
//
//   observe(TensorView<const float> x)
//       ok; invalid_argument (bad shape or axis); null_pointer; shape_mismatch (the axis length is
//       not storage.size()); empty_input (no elements); non_finite_input: any NaN/Inf anywhere
//       rejects the whole tensor, every channel is left unchanged, last_non_finite_count() says
//       how many. Two passes: a finiteness scan of the whole tensor, then per channel.
//   merge(const PerChannelObserver& other)
//       channel by channel; shape_mismatch for a different channel count, invalid_argument for a
//       different axis; then the first channel error, if any (channels checked before any change
//       only for these two conditions: Obs::merge itself leaves its channel unchanged on error).
//   ranges(Span<Range> out) const
//       out[c] = channel c's range(); shape_mismatch for a wrong out size; empty_input before any
//       data. Feed them to qparams_from_ranges.
#ifndef QSAFE_OBSERVER_PER_CHANNEL_HPP_
#define QSAFE_OBSERVER_PER_CHANNEL_HPP_

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/observer/detail/scan.hpp"
#include "qsafe/observer/min_max.hpp"
#include "qsafe/observer/moving_average_min_max.hpp"
#include "qsafe/observer/observer.hpp"
#include "qsafe/observer/percentile.hpp"

namespace qsafe {

template <class Obs>
class PerChannelObserver {
  static_assert(is_observer_v<Obs>, "PerChannelObserver needs a type modelling the observer contract");

 public:
  using channel_observer = Obs;

  constexpr PerChannelObserver() noexcept = default;
  // `channels` must outlive this object; its elements are the per-channel states.
  constexpr PerChannelObserver(int axis, Span<Obs> channels) noexcept : axis_(axis), channels_(channels) {}

  int axis() const noexcept { return axis_; }
  std::size_t channels() const noexcept { return channels_.size(); }
  const Obs& channel(std::size_t c) const noexcept { return channels_[c]; }
  std::size_t last_non_finite_count() const noexcept { return last_non_finite_; }

  Status observe(TensorView<const float> x) noexcept {
    QSAFE_RETURN_IF_ERROR(x.check());
    const Result<AxisSplit> split = split_at_axis(x.shape, axis_);
    if (!split.ok()) return split.status();
    const AxisSplit s = split.value();
    if (s.extent != static_cast<std::int64_t>(channels_.size())) return Status::shape_mismatch;
    if (x.numel() == 0) return Status::empty_input;
    last_non_finite_ = detail::count_nan_inf(x.data, static_cast<std::size_t>(x.numel()));
    if (last_non_finite_ != 0) return Status::non_finite_input;
    const std::size_t inner = static_cast<std::size_t>(s.inner);
    for (std::int64_t c = 0; c < s.extent; ++c) {
      // The runs of channel c: outer pieces of `inner` contiguous values.
      auto for_each_run = [&](auto&& f) {
        for (std::int64_t o = 0; o < s.outer; ++o) f(x.data + (o * s.extent + c) * s.inner, inner);
      };
      Range r{0.f, 0.f};
      bool first = true;
      for_each_run([&](const float* run, std::size_t n) {
        const detail::BatchScan b = detail::scan_batch(run, n);
        if (first) {
          r = Range{b.lo, b.hi};
          first = false;
        } else {
          r.lo = b.lo < r.lo ? b.lo : r.lo;
          r.hi = b.hi > r.hi ? b.hi : r.hi;
        }
      });
      channels_[static_cast<std::size_t>(c)].observe_validated(r, static_cast<std::uint64_t>(s.outer) * inner,
                                                               for_each_run);
    }
    return Status::ok;
  }

  Status merge(const PerChannelObserver& other) noexcept {
    if (other.channels_.size() != channels_.size()) return Status::shape_mismatch;
    if (other.axis_ != axis_) return Status::invalid_argument;
    Status first_error = Status::ok;
    for (std::size_t c = 0; c < channels_.size(); ++c) {
      const Status st = channels_[c].merge(other.channels_[c]);
      if (st != Status::ok && first_error == Status::ok) first_error = st;
    }
    return first_error;
  }

  Status ranges(Span<Range> out) const noexcept {
    if (out.size() != channels_.size()) return Status::shape_mismatch;
    if (channels_.empty()) return Status::empty_input;
    for (std::size_t c = 0; c < channels_.size(); ++c) {
      const Result<Range> r = channels_[c].range();
      if (!r.ok()) return r.status();
      out[c] = r.value();
    }
    return Status::ok;
  }

 private:
  int axis_ = 0;
  Span<Obs> channels_;
  std::size_t last_non_finite_ = 0;
};

// The per-channel forms PyTorch users know, plus a histogram one.
using PerChannelMinMaxObserver = PerChannelObserver<MinMaxObserver>;
using MovingAveragePerChannelMinMaxObserver = PerChannelObserver<MovingAverageMinMaxObserver>;
template <std::size_t Bins = 2048>
using PerChannelPercentileObserver = PerChannelObserver<PercentileObserver<Bins>>;

template <class T>
struct is_per_channel_observer : std::false_type {};
template <class Obs>
struct is_per_channel_observer<PerChannelObserver<Obs>> : std::true_type {};
template <class T>
inline constexpr bool is_per_channel_observer_v = is_per_channel_observer<T>::value;

}  // namespace qsafe

#endif  // QSAFE_OBSERVER_PER_CHANNEL_HPP_
