// qsafe/policy/guarded_range.hpp: GuardedRange<Scope> - dynamic (per tensor or per row, as
// DynamicRange), but held inside an envelope fixed at calibration time, so one wild value cannot
// stretch the range of its whole group and collapse every other value onto one or two levels.
//
// For each group (the tensor, or a row), from the exact run-time range [lo, hi]:
//   1. optional percentile clip (GuardOptions::percentile = p in (50, 100), 0 = off): |x| is
//      clipped at c >= its p-th percentile, [lo, hi] -> [max(lo, -c), min(hi, c)]. c is found with
//      a 1024-bucket histogram of |x| (bucket = exponent and top 2 mantissa bits, so c is the upper
//      edge of the bucket holding the percentile: at most 2^(1/4) ~ 1.19x the exact value, never
//      below it); one more pass over the group, no allocation (4 KiB of stack).
//   2. envelope E = [k * min(cal.lo, 0), k * max(cal.hi, 0)] (k >= 1, cal from an observer). If
//      [lo, hi] leaves E, the group is an envelope violation (counted) and on_violation says:
//        clamp_to_envelope  quantize with [max(lo, E.lo), min(hi, E.hi)] (the default);
//        use_static         quantize with the calibrated range itself (a fallback, counted);
//        use_float          return Status::out_of_range for the group (a fallback, counted): the
//                           caller should run this tensor / row in float.
//   3. params = qparams_from_range(range); values outside the range are clipped (counted by
//      quantize_row) and saturate.
// NaN/Inf in a group: non_finite_input (counted), as DynamicRange.
#ifndef QSAFE_POLICY_GUARDED_RANGE_HPP_
#define QSAFE_POLICY_GUARDED_RANGE_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/policy/range_policy.hpp"
#include "qsafe/quantizer/qparams_from_range.hpp"

namespace qsafe {

enum class OnViolation : std::uint8_t { clamp_to_envelope, use_static, use_float };

struct GuardOptions {
  Range calibrated;        // range seen at calibration (an observer's range())
  float k = 2.f;           // envelope = k x the calibrated range (k >= 1)
  float percentile = 0.f;  // run-time |x| percentile clip in (50, 100); 0 = off
  OnViolation on_violation = OnViolation::clamp_to_envelope;
};

constexpr Status check_guard_options(const GuardOptions& o) noexcept {
  if (!detail::is_finite(o.calibrated.lo) || !detail::is_finite(o.calibrated.hi)) return Status::non_finite_input;
  if (o.calibrated.lo > o.calibrated.hi) return Status::invalid_argument;
  if (!(o.k >= 1.f) || !detail::is_finite(o.k)) return Status::invalid_argument;
  if (!(o.percentile == 0.f || (o.percentile > 50.f && o.percentile < 100.f))) return Status::invalid_argument;
  return Status::ok;
}

namespace detail {

// Smallest c such that at least `percentile` % of the finite values of x have |x| <= c, rounded
// up to a histogram bucket edge (see the header comment). x holds no NaN/Inf (checked before).
inline float abs_percentile_upper_bound(MatrixView<const float> x, float percentile) noexcept {
  constexpr int kShift = 21;  // 8 exponent bits + 2 mantissa bits -> bucket
  constexpr std::size_t kBuckets = (0x7f800000u >> kShift) + 1;
  std::uint32_t hist[kBuckets] = {};
  std::uint64_t n = 0;
  for (std::int64_t r = 0; r < x.rows(); ++r) {
    const float* row = x.row(r);
    for (std::int64_t c = 0; c < x.cols(); ++c) {
      std::uint32_t bits;
      std::memcpy(&bits, &row[c], sizeof bits);
      ++hist[(bits & 0x7fffffffu) >> kShift];
    }
    n += static_cast<std::uint64_t>(x.cols());
  }
  // Rank of the percentile, rounded up: at least that many values must lie at or below c.
  const double want_d = static_cast<double>(percentile) / 100.0 * static_cast<double>(n);
  std::uint64_t want = static_cast<std::uint64_t>(want_d);
  if (static_cast<double>(want) < want_d) ++want;
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    seen += hist[b];
    if (seen >= want && seen > 0) {
      const std::uint32_t edge = static_cast<std::uint32_t>(b + 1) << kShift;  // first value of the next bucket
      if (edge >= 0x7f800000u) return std::numeric_limits<float>::max();
      float c;
      std::memcpy(&c, &edge, sizeof c);
      return c;
    }
  }
  return std::numeric_limits<float>::max();
}

}  // namespace detail

template <class Scope = PerTensor>
class GuardedRange : public RangePolicyBase {
  static_assert(std::is_same<Scope, PerTensor>::value || std::is_same<Scope, PerRow>::value,
                "GuardedRange scope must be qsafe::PerTensor or qsafe::PerRow");

 public:
  static constexpr RangeScope scope = range_scope_of<Scope>::value;
  static constexpr const char* name = scope == RangeScope::per_row ? "guarded_per_row" : "guarded_per_tensor";

  constexpr GuardedRange() noexcept = default;
  constexpr explicit GuardedRange(GuardOptions options) noexcept : options_(options) {}

  constexpr const GuardOptions& options() const noexcept { return options_; }
  // The envelope E (see the header comment).
  constexpr Range envelope() const noexcept {
    return Range{options_.k * (options_.calibrated.lo < 0.f ? options_.calibrated.lo : 0.f),
                 options_.k * (options_.calibrated.hi > 0.f ? options_.calibrated.hi : 0.f)};
  }

  Status begin(MatrixView<const float> a, const QuantTarget& t) noexcept {
    QSAFE_RETURN_IF_ERROR(check_guard_options(options_));
    QSAFE_RETURN_IF_ERROR(start(a, t));
    if constexpr (scope == RangeScope::per_tensor) {
      begun_ = false;
      const Result<RowParams> p = guard(a);
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
      return guard(MatrixView<const float>(row.data(), 1, static_cast<std::int64_t>(row.size())));
    }
  }

 private:
  Result<RowParams> guard(MatrixView<const float> group) noexcept {
    const Result<Range> found = find_range(group);
    if (!found.ok()) return found.status();
    Range r = found.value();
    if (options_.percentile > 0.f) {
      const float c = detail::abs_percentile_upper_bound(group, options_.percentile);
      r.lo = r.lo < -c ? -c : r.lo;
      r.hi = r.hi > c ? c : r.hi;
    }
    const Range e = envelope();
    if (r.lo < e.lo || r.hi > e.hi) {
      ++counters_.envelope_violations;
      switch (options_.on_violation) {
        case OnViolation::clamp_to_envelope:
          r.lo = r.lo < e.lo ? e.lo : r.lo;
          r.hi = r.hi > e.hi ? e.hi : r.hi;
          break;
        case OnViolation::use_static:
          ++counters_.fallbacks;
          r = options_.calibrated;
          break;
        case OnViolation::use_float: ++counters_.fallbacks; return Status::out_of_range;
      }
    }
    return params_for(r);
  }

  GuardOptions options_{};
  RowParams tensor_{};
};

}  // namespace qsafe

#endif  // QSAFE_POLICY_GUARDED_RANGE_HPP_
