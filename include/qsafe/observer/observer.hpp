// qsafe/observer/observer.hpp: the contract every observer meets. Observers gather statistics of
// the values they see and report a real range; qparams_from_range alone turns that range into a
// scale and zero point (quantizer/qparams_from_range.hpp).
//
// A per-tensor observer O provides
//   Status O::observe(Span<const float> batch)
//       ok; empty_input for an empty batch; non_finite_input when the batch holds NaN or +-Inf.
//       On any error the statistics are left exactly as they were; after non_finite_input,
//       last_non_finite_count() says how many values of that batch were NaN or Inf (it is 0 after
//       an accepted batch).
//   Status O::merge(const O& other)
//       folds other's statistics into *this (data-parallel calibration). ok, or invalid_argument
//       when the two are configured incompatibly (nothing is changed then).
//   Result<Range> O::range() const
//       the range to quantize with; empty_input before any accepted batch. Always finite with
//       lo <= hi and inside [min, max] of everything observed: clipping observers may shrink the
//       range, never widen it. Folding 0 into the range is qparams_from_range's job, not theirs.
//   std::size_t O::last_non_finite_count() const
//   static constexpr const char* name            short, for benchmarks and tools ("minmax", ...)
//   static constexpr bool kMergeIsExact          true when merge(b) gives exactly the same range()
//                                                as observing b's batches after a's, in any order
//                                                (min-max and every histogram observer here);
//                                                false for running averages, whose merge is
//                                                documented by the observer.
//   void O::observe_validated(Range batch, std::uint64_t count, ForEachRun&& runs)
//       the unchecked core used by PerChannelObserver (per_channel.hpp): `batch` is the exact
//       finite min/max of `count` > 0 values that runs(f) passes to f(const float*, size_t) in
//       one or more pieces. Callers must have checked everything observe() checks.
//
// Observers are default-constructible values with a fixed size: nothing allocates, ever.
#ifndef QSAFE_OBSERVER_OBSERVER_HPP_
#define QSAFE_OBSERVER_OBSERVER_HPP_

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {

template <class T, class = void>
struct is_observer : std::false_type {};

template <class T>
struct is_observer<
    T, std::void_t<
           decltype(std::declval<T&>().observe(std::declval<Span<const float>>())),
           decltype(std::declval<T&>().merge(std::declval<const T&>())), decltype(std::declval<const T&>().range()),
           decltype(std::declval<const T&>().last_non_finite_count()), decltype(T::name), decltype(T::kMergeIsExact)>>
    : std::integral_constant<
          bool, std::is_same<decltype(std::declval<T&>().observe(std::declval<Span<const float>>())), Status>::value &&
                    std::is_same<decltype(std::declval<T&>().merge(std::declval<const T&>())), Status>::value &&
                    std::is_same<decltype(std::declval<const T&>().range()), Result<Range>>::value &&
                    std::is_same<decltype(std::declval<const T&>().last_non_finite_count()), std::size_t>::value &&
                    std::is_default_constructible<T>::value && std::is_copy_assignable<T>::value> {};

template <class T>
inline constexpr bool is_observer_v = is_observer<T>::value;

}  // namespace qsafe

#endif  // QSAFE_OBSERVER_OBSERVER_HPP_
