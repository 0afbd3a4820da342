// qsafe/policy/dynamic_range.hpp: DynamicRange<Scope> - the range is found at run time from the
// data being quantized, as PyTorch's dynamic quantization does (exact min/max, widened to
// include 0, then qparams_from_range):
//   DynamicRange<PerTensor>  one min/max pass over the whole matrix in begin(), one QParams;
//   DynamicRange<PerRow>     each row's min/max in row_params(), right before quantize_row reads
//                            the same (cache-hot) row: one QParams per row.
// Nothing is clipped by construction, so one outlier stretches the range of its whole group (see
// GuardedRange for the contained version). NaN/Inf in a group: non_finite_input, counted, and no
// parameters (never a NaN scale).
#ifndef QSAFE_POLICY_DYNAMIC_RANGE_HPP_
#define QSAFE_POLICY_DYNAMIC_RANGE_HPP_

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/policy/range_policy.hpp"

namespace qsafe {

template <class Scope = PerTensor>
class DynamicRange : public RangePolicyBase {
  static_assert(std::is_same<Scope, PerTensor>::value || std::is_same<Scope, PerRow>::value,
                "DynamicRange scope must be qsafe::PerTensor or qsafe::PerRow");

 public:
  static constexpr RangeScope scope = range_scope_of<Scope>::value;
  static constexpr const char* name = scope == RangeScope::per_row ? "dynamic_per_row" : "dynamic_per_tensor";

  Status begin(MatrixView<const float> a, const QuantTarget& t) noexcept {
    QSAFE_RETURN_IF_ERROR(start(a, t));
    if constexpr (scope == RangeScope::per_tensor) {
      begun_ = false;
      const Result<Range> r = find_range(a);
      if (!r.ok()) return r.status();
      const Result<RowParams> p = params_for(r.value());
      if (!p.ok()) return p.status();
      tensor_ = p.value();
      begun_ = true;
    }
    ++counters_.runs;
    return Status::ok;
  }

  Result<RowParams> row_params(Span<const float> row) noexcept {
    if (!begun_) return Status::invalid_argument;
    if constexpr (scope == RangeScope::per_tensor) {
      return tensor_;
    } else {
      if (row.data() == nullptr && !row.empty()) return Status::null_pointer;
      const Result<Range> r = find_range(MatrixView<const float>(row.data(), 1, static_cast<std::int64_t>(row.size())));
      if (!r.ok()) return r.status();
      return params_for(r.value());
    }
  }

 private:
  RowParams tensor_{};
};

}  // namespace qsafe

#endif  // QSAFE_POLICY_DYNAMIC_RANGE_HPP_
