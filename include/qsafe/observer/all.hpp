// qsafe/observer/all.hpp: the one list of observers. Adding an observer = one header plus one line
// here; the contract test (tests/observer/contract_test.cpp) and the benchmark
// (benchmarks/bench_observer.cpp) iterate this list, so the new type is checked and timed with no
// other edit (docs/adding-an-observer.md).
#ifndef QSAFE_OBSERVER_ALL_HPP_
#define QSAFE_OBSERVER_ALL_HPP_

#include <tuple>

#include "qsafe/observer/entropy.hpp"
#include "qsafe/observer/histogram.hpp"
#include "qsafe/observer/min_max.hpp"
#include "qsafe/observer/moving_average_min_max.hpp"
#include "qsafe/observer/mse.hpp"
#include "qsafe/observer/observer.hpp"
#include "qsafe/observer/per_channel.hpp"
#include "qsafe/observer/percentile.hpp"

namespace qsafe {

using all_observers = std::tuple<MinMaxObserver, MovingAverageMinMaxObserver, PercentileObserver<2048>,
                                 MseObserver<2048>, EntropyObserver<4096>>;

// Per-channel forms (PerChannelObserver over caller storage), for their own contract test.
using all_per_channel_observers =
    std::tuple<PerChannelMinMaxObserver, MovingAveragePerChannelMinMaxObserver, PerChannelPercentileObserver<2048>>;

}  // namespace qsafe

#endif  // QSAFE_OBSERVER_ALL_HPP_
