// qsafe/nn/any_observer.hpp: AnyObserver - one of qsafe's observers chosen at run time by an
// analysis::ObserverKind, behind one small interface (observe, range). Used where a per-layer
// configuration names the observer (nn/quantized_model.hpp); the observers themselves stay
// compile-time types (observer/all.hpp).
//
//   min_max         MinMaxObserver (PyTorch's MinMaxObserver)
//   moving_average  MovingAverageMinMaxObserver, averaging constant 0.01 (PyTorch's default)
//   percentile      PercentileObserver<2048> at 99.99 %
//   mse             MseObserver<2048> for the target integer range (affine): the activation bits
//   entropy         EntropyObserver<4096> (TensorRT's 128-level KL calibration)
//
// Host-side: allocates (the histogram observers are tens of KiB), never throws.
#ifndef QSAFE_NN_ANY_OBSERVER_HPP_
#define QSAFE_NN_ANY_OBSERVER_HPP_

#include <memory>

#include "qsafe/analysis/engine.hpp"
#include "qsafe/core/qparams.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/observer/all.hpp"

namespace qsafe {
namespace nn {

class AnyObserver {
 public:
  AnyObserver() = default;
  // `target` is the integer range the activations will be quantized to (MSE optimises for it).
  AnyObserver(analysis::ObserverKind kind, QRange target) : kind_(kind) {
    switch (kind) {
      case analysis::ObserverKind::min_max: impl_.reset(new Box<MinMaxObserver>(MinMaxObserver())); break;
      case analysis::ObserverKind::moving_average:
        impl_.reset(new Box<MovingAverageMinMaxObserver>(MovingAverageMinMaxObserver()));
        break;
      case analysis::ObserverKind::percentile:
        impl_.reset(new Box<PercentileObserver<2048>>(PercentileObserver<2048>()));
        break;
      case analysis::ObserverKind::mse:
        impl_.reset(new Box<MseObserver<2048>>(MseObserver<2048>(target, SchemeKind::affine)));
        break;
      case analysis::ObserverKind::entropy: impl_.reset(new Box<EntropyObserver<4096>>(EntropyObserver<4096>())); break;
    }
  }

  bool valid() const noexcept { return impl_ != nullptr; }
  analysis::ObserverKind kind() const noexcept { return kind_; }
  // The observer's own statuses (empty_input, non_finite_input, ...); invalid_argument if empty.
  Status observe(Span<const float> batch) noexcept { return impl_ ? impl_->observe(batch) : Status::invalid_argument; }
  Result<Range> range() const noexcept { return impl_ ? impl_->range() : Result<Range>(Status::invalid_argument); }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual Status observe(Span<const float> batch) noexcept = 0;
    virtual Result<Range> range() const noexcept = 0;
  };
  template <class O>
  struct Box final : Base {
    explicit Box(O o) : obs(o) {}
    Status observe(Span<const float> batch) noexcept override { return obs.observe(batch); }
    Result<Range> range() const noexcept override { return obs.range(); }
    O obs;
  };

  analysis::ObserverKind kind_ = analysis::ObserverKind::min_max;
  std::unique_ptr<Base> impl_;
};

}  // namespace nn
}  // namespace qsafe

#endif  // QSAFE_NN_ANY_OBSERVER_HPP_
