// qsafe/policy/static_range.hpp: StaticRange - the range was fixed at calibration time (by an
// observer and qparams_from_range); at run time every row uses the same QParams and nothing is
// measured. Values beyond the calibrated range are clipped (counted) and saturate.
#ifndef QSAFE_POLICY_STATIC_RANGE_HPP_
#define QSAFE_POLICY_STATIC_RANGE_HPP_

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/policy/range_policy.hpp"
#include "qsafe/quantizer/qparams_from_range.hpp"

namespace qsafe {

class StaticRange : public RangePolicyBase {
 public:
  static constexpr RangeScope scope = RangeScope::per_tensor;
  static constexpr const char* name = "static";

  constexpr StaticRange() noexcept = default;
  constexpr explicit StaticRange(QParams params) noexcept : params_(params) {}

  // From a calibrated range, for target t (qparams_from_range; its errors).
  static Result<StaticRange> from_range(Range calibrated, const QuantTarget& t) noexcept {
    const Result<QParams> p = qparams_from_range(calibrated, t.qrange, t.scheme, t.eps);
    if (!p.ok()) return p.status();
    return StaticRange(p.value());
  }

  constexpr QParams params() const noexcept { return params_; }

  // invalid_argument if the held params do not fit t (zero point outside [qmin, qmax], bad scale).
  Status begin(MatrixView<const float> a, const QuantTarget& t) noexcept {
    QSAFE_RETURN_IF_ERROR(start(a, t));
    if (check_qparams(params_, t.qrange) != Status::ok) {
      begun_ = false;
      return Status::invalid_argument;
    }
    // The real interval the integer range covers: values outside it are clipped.
    clip_ = Range{static_cast<float>(t.qrange.qmin - params_.zero_point) * params_.scale,
                  static_cast<float>(t.qrange.qmax - params_.zero_point) * params_.scale};
    ++counters_.runs;
    ++counters_.groups;
    return Status::ok;
  }

  Result<RowParams> row_params(Span<const float>) noexcept {
    if (!begun_) return Status::invalid_argument;
    return RowParams{params_, clip_};
  }

 private:
  QParams params_{};
  Range clip_{};
};

}  // namespace qsafe

#endif  // QSAFE_POLICY_STATIC_RANGE_HPP_
