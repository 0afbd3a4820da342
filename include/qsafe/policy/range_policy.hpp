// qsafe/policy/range_policy.hpp: the RangePolicy contract - when and how the real range of an
// activation matrix is fixed, and how it is quantized row by row with counters.
//
// A range policy P quantizes a row-major float matrix A [rows x cols] (MatrixView<const float>,
// any row stride) into a QuantTarget (integer range + scheme). It provides:
//
//   static constexpr RangeScope scope;      per_tensor (one QParams for A) or per_row (one per row)
//   Status begin(MatrixView<const float> a, const QuantTarget& t) noexcept;
//       Starts a run over A. Per-tensor policies fix the tensor's parameters here (a dynamic one
//       makes one min/max pass over A). Errors: invalid_argument / null_pointer (bad view or
//       target), non_finite_input (NaN/Inf found by a min/max pass; counted), out_of_range (a
//       guarded policy whose fallback is "use float" saw the envelope violated: run this tensor
//       in float), empty_input (a dynamic per-tensor policy on an empty matrix).
//   Result<RowParams> row_params(Span<const float> row) noexcept;
//       Parameters for one row of A (after begin). Per-row policies find them now, from the row's
//       data, so the row is cache-hot when quantize_row follows; per-tensor policies return the
//       tensor's parameters (the row is not read). Same errors as begin for that row.
//   template <class Int, class Rounding = RoundHalfEven>
//   Status quantize_row(Span<const float> row, const RowParams& p, Int* dst, Rounding = {}) noexcept;
//       dst[i] = clamp(round(row[i] * (1/scale)) + zero_point, qmin, qmax) (row[i] / scale with
//       RoundHalfAway: the scale is applied as Rounding::scale_op says) - exactly what
//       Quantizer::quantize computes - while counting clipped / saturated / non-finite values
//       into the counters. Non-finite values are mapped (NaN -> zero point, +-Inf -> the ends)
//       and reported as non_finite_input after the row is written.
//   const RangeCounters& counters() const noexcept;   cumulative since the last reset
//   void reset_counters() noexcept;
//
// A packer for a GEMM with dynamically quantized activations (row blocks of MR rows) uses it so:
//
//   template <class Policy>
//   Status pack_activations(Policy& policy, MatrixView<const float> a, QuantTarget t, ...) {
//     static_assert(is_range_policy_v<Policy>, "Policy must model RangePolicy");
//     QSAFE_RETURN_IF_ERROR(policy.begin(a, t));           // per tensor: the range is fixed here
//     for (std::int64_t r0 = 0; r0 < a.rows(); r0 += MR)
//       for (std::int64_t r = r0; r < std::min(a.rows(), r0 + MR); ++r) {
//         const Span<const float> row(a.row(r), static_cast<std::size_t>(a.cols()));
//         const Result<RowParams> p = policy.row_params(row);  // per row: min/max of this row now
//         if (!p.ok()) return p.status();
//         QSAFE_RETURN_IF_ERROR(policy.quantize_row(row, *p, packed_row_pointer(r)));
//         row_qparams[r] = p->params;                      // for the zero-point correction / output stage
//       }
//     return Status::ok;                                   // policy.counters() now tells what happened
//   }
//
// Policies are cheap value types with mutable counters: use one object per thread.
#ifndef QSAFE_POLICY_RANGE_POLICY_HPP_
#define QSAFE_POLICY_RANGE_POLICY_HPP_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/rounding.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/policy/detail/row_scan.hpp"
#include "qsafe/quantizer/detail/vector_loops.hpp"
#include "qsafe/quantizer/granularity.hpp"
#include "qsafe/quantizer/qparams_from_range.hpp"

namespace qsafe {

// One (scale, zero point) per row of a matrix (PerTensor, from granularity.hpp, is the other scope).
struct PerRow {
  static constexpr const char* name = "per_row";
};

enum class RangeScope : std::uint8_t { per_tensor, per_row };

template <class Scope>
struct range_scope_of;
template <>
struct range_scope_of<PerTensor> : std::integral_constant<RangeScope, RangeScope::per_tensor> {};
template <>
struct range_scope_of<PerRow> : std::integral_constant<RangeScope, RangeScope::per_row> {};

// What the policy quantizes into: the integer range and scheme of the activation quantizer.
struct QuantTarget {
  QRange qrange = qrange_of<std::uint8_t>();
  SchemeKind scheme = SchemeKind::affine;
  float eps = kDefaultScaleEps;
};

// The target of a Quantizer (quantizer.hpp) type.
template <class Quantizer>
constexpr QuantTarget quant_target_of(const Quantizer& q) noexcept {
  return QuantTarget{q.qrange(), Quantizer::scheme_type::kind, kDefaultScaleEps};
}

constexpr Status check_quant_target(const QuantTarget& t) noexcept {
  QSAFE_RETURN_IF_ERROR(check_qrange(t.qrange));
  if (!(t.eps > 0.f) || !detail::is_finite(t.eps)) return Status::invalid_argument;
  return Status::ok;
}

// Parameters of one row (or of the tensor) and the real interval they were made from: values
// outside `range` are counted as clipped.
struct RowParams {
  QParams params;
  Range range;
};

// Cumulative counters of a policy (element counts unless stated).
struct RangeCounters {
  std::uint64_t runs = 0;                 // begin() calls that succeeded
  std::uint64_t groups = 0;               // parameter sets produced (rows, or tensors)
  std::uint64_t values = 0;               // elements quantized
  std::uint64_t non_finite = 0;           // NaN/Inf met by a min/max pass or by quantize_row
  std::uint64_t clipped = 0;              // finite values outside their group's RowParams::range
  std::uint64_t saturated = 0;            // finite values whose round(x/s) + zp left [qmin, qmax]
  std::uint64_t envelope_violations = 0;  // groups whose run-time range left the envelope (guarded)
  std::uint64_t fallbacks = 0;            // groups that took the fallback (static range or float)
};

// Shared state and the row quantizer every policy uses (no virtual functions).
class RangePolicyBase {
 public:
  const RangeCounters& counters() const noexcept { return counters_; }
  void reset_counters() noexcept { counters_ = RangeCounters{}; }
  const QuantTarget& target() const noexcept { return target_; }
  // Which loops scan and quantize the rows (policy/detail/row_scan.hpp): the best this CPU runs
  // by default; forcing one (tests, benchmarks) changes the speed, never the results.
  void set_scan_path(RowScanPath p) noexcept { scan_path_ = p; }
  RowScanPath scan_path() const noexcept { return scan_path_; }

  template <class Int, class Rounding = RoundHalfEven>
  Status quantize_row(Span<const float> row, const RowParams& p, Int* dst, Rounding = {}) noexcept {
    static_assert(std::is_same<Int, std::int8_t>::value || std::is_same<Int, std::uint8_t>::value ||
                      std::is_same<Int, std::int16_t>::value || std::is_same<Int, std::uint16_t>::value,
                  "quantize_row stores int8_t, uint8_t, int16_t or uint16_t");
    if (!begun_) return Status::invalid_argument;
    if (target_.qrange.qmin < std::numeric_limits<Int>::min() || target_.qrange.qmax > std::numeric_limits<Int>::max())
      return Status::invalid_argument;
    if (row.data() == nullptr && !row.empty()) return Status::null_pointer;
    if (dst == nullptr && !row.empty()) return Status::null_pointer;
    QSAFE_RETURN_IF_ERROR(check_qparams(p.params, target_.qrange));
    const detail::QuantizeCounts c =
        detail::row_quantize_counted<Rounding>(row.data(), row.size(), detail::QuantScale(p.params.scale),
                                               p.params.zero_point, target_.qrange, p.range, dst, scan_path_);
    counters_.values += row.size();
    counters_.non_finite += c.non_finite;
    counters_.saturated += c.saturated;
    counters_.clipped += c.clipped;
    return c.non_finite == 0 ? Status::ok : Status::non_finite_input;
  }

 protected:
  // Validates a run's inputs and records the target.
  Status start(MatrixView<const float> a, const QuantTarget& t) noexcept {
    begun_ = false;
    QSAFE_RETURN_IF_ERROR(a.check());
    QSAFE_RETURN_IF_ERROR(check_quant_target(t));
    target_ = t;
    begun_ = true;
    return Status::ok;
  }

  // Exact range of a matrix (or one row); non_finite_input (counted) if any value is NaN/Inf,
  // empty_input if there are no elements.
  Result<Range> find_range(MatrixView<const float> a) noexcept {
    detail::MinMax total;
    for (std::int64_t r = 0; r < a.rows(); ++r) {
      const detail::MinMax m = detail::row_min_max(a.row(r), static_cast<std::size_t>(a.cols()), scan_path_);
      total.non_finite += m.non_finite;
      total.lo = m.lo < total.lo ? m.lo : total.lo;
      total.hi = m.hi > total.hi ? m.hi : total.hi;
    }
    if (total.non_finite != 0) {
      counters_.non_finite += total.non_finite;
      return Status::non_finite_input;
    }
    if (a.rows() == 0 || a.cols() == 0) return Status::empty_input;
    return Range{total.lo, total.hi};
  }

  // Params from a range that contains 0 (qparams_from_range widens it so anyway).
  Result<RowParams> params_for(Range r) noexcept {
    const Result<QParams> p = qparams_from_range(r, target_.qrange, target_.scheme, target_.eps);
    if (!p.ok()) return p.status();
    ++counters_.groups;
    return RowParams{p.value(), Range{r.lo < 0.f ? r.lo : 0.f, r.hi > 0.f ? r.hi : 0.f}};
  }

  QuantTarget target_{};
  bool begun_ = false;
  RowScanPath scan_path_ = RowScanPath::automatic;
  RangeCounters counters_{};
};

// is_range_policy_v<P>: P models the contract above (C++17 detection).
template <class T, class = void>
struct is_range_policy : std::false_type {};
template <class T>
struct is_range_policy<
    T,
    std::void_t<decltype(T::scope),
                decltype(std::declval<T&>().begin(std::declval<MatrixView<const float>>(),
                                                  std::declval<const QuantTarget&>())),
                decltype(std::declval<T&>().row_params(std::declval<Span<const float>>())),
                decltype(std::declval<T&>().quantize_row(
                    std::declval<Span<const float>>(), std::declval<const RowParams&>(), std::declval<std::int8_t*>())),
                decltype(std::declval<const T&>().counters()), decltype(std::declval<T&>().reset_counters())>>
    : std::integral_constant<
          bool, std::is_same<std::remove_cv_t<decltype(T::scope)>, RangeScope>::value &&
                    std::is_same<decltype(std::declval<T&>().begin(std::declval<MatrixView<const float>>(),
                                                                   std::declval<const QuantTarget&>())),
                                 Status>::value &&
                    std::is_same<decltype(std::declval<T&>().row_params(std::declval<Span<const float>>())),
                                 Result<RowParams>>::value &&
                    std::is_same<decltype(std::declval<const T&>().counters()), const RangeCounters&>::value> {};
template <class T>
inline constexpr bool is_range_policy_v = is_range_policy<T>::value;

// Convenience: a whole matrix through a policy into q (same shape), with the parameters of every
// group in `params` (rows entries for per_row policies, 1 for per_tensor ones). Stops at the first
// error other than non_finite_input from quantize_row (that one is returned after every row is
// written, as Quantizer::quantize does).
template <class Policy, class Int, class Rounding = RoundHalfEven>
Status quantize_matrix(Policy& policy, MatrixView<const float> a, const QuantTarget& t, MatrixView<Int> q,
                       Span<QParams> params, Rounding rounding = {}) noexcept {
  static_assert(is_range_policy_v<Policy>, "Policy must model qsafe's RangePolicy (policy/range_policy.hpp)");
  QSAFE_RETURN_IF_ERROR(q.check());
  if (q.rows() != a.rows() || q.cols() != a.cols()) return Status::shape_mismatch;
  const std::size_t groups = Policy::scope == RangeScope::per_row ? static_cast<std::size_t>(a.rows()) : 1u;
  if (params.size() != groups) return Status::shape_mismatch;
  QSAFE_RETURN_IF_ERROR(policy.begin(a, t));
  Status result = Status::ok;
  for (std::int64_t r = 0; r < a.rows(); ++r) {
    const Span<const float> row(a.row(r), static_cast<std::size_t>(a.cols()));
    const Result<RowParams> p = policy.row_params(row);
    if (!p.ok()) return p.status();
    const Status s = policy.quantize_row(row, p.value(), q.row(r), rounding);
    if (s == Status::non_finite_input) {
      result = s;
    } else if (s != Status::ok) {
      return s;
    }
    params[Policy::scope == RangeScope::per_row ? static_cast<std::size_t>(r) : 0u] = p.value().params;
  }
  if (a.rows() == 0 && groups == 1) {
    const Result<RowParams> p = policy.row_params(Span<const float>());
    if (p.ok()) params[0] = p.value().params;
  }
  return result;
}

}  // namespace qsafe

#endif  // QSAFE_POLICY_RANGE_POLICY_HPP_
