// qsafe/quantizer/quantizer.hpp: Quantizer<Int, Bits, Scheme, Granularity, Rounding>.
//
//   Int          storage type: int8_t, uint8_t, int16_t, uint16_t
//   Bits         logical width in [2, 16] (int4 is Quantizer<int8_t, 4, ...>; see int4_pack.hpp
//                for the two-per-byte form)
//   Scheme       Affine or Symmetric (core/qparams.hpp)
//   Granularity  PerTensor, PerChannel{axis} or PerGroup{axis, group_size} (granularity.hpp)
//   Rounding     RoundHalfEven (PyTorch, default) or RoundHalfAway (TFLite) (core/rounding.hpp);
//                it fixes the whole quantize arithmetic, not only the ties:
//
// Maps: q = clamp(round(x (op) scale) + zero_point, qmin, qmax); x ~= (q - zero_point) * scale, where
//   RoundHalfEven: x * fl(1/scale), ties to even          = PyTorch's quantize_per_tensor/channel
//   RoundHalfAway: x / scale (true division), ties away   = TFLite's reference AffineQuantize
// (Rounding::scale_op; formulas in quantizer/detail/element_loops.hpp and docs/numerics.md).
// Parameters come from ranges through qparams_from_range (the one normative derivation).
// All functions are noexcept, allocate nothing and return a Status.
#ifndef QSAFE_QUANTIZER_QUANTIZER_HPP_
#define QSAFE_QUANTIZER_QUANTIZER_HPP_

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/rounding.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/quantizer/detail/element_loops.hpp"
#include "qsafe/quantizer/detail/vector_loops.hpp"
#include "qsafe/quantizer/granularity.hpp"
#include "qsafe/quantizer/qparams_from_range.hpp"

namespace qsafe {

template <class Int, int Bits = static_cast<int>(sizeof(Int) * 8), class Scheme = Affine, class Granularity = PerTensor,
          class Rounding = RoundHalfEven>
class Quantizer {
  static_assert(std::is_same<Int, std::int8_t>::value || std::is_same<Int, std::uint8_t>::value ||
                    std::is_same<Int, std::int16_t>::value || std::is_same<Int, std::uint16_t>::value,
                "Quantizer storage must be int8_t, uint8_t, int16_t or uint16_t");
  static_assert(std::is_same<Scheme, Affine>::value || std::is_same<Scheme, Symmetric>::value,
                "Scheme must be qsafe::Affine or qsafe::Symmetric");

 public:
  using storage_type = Int;
  using scheme_type = Scheme;
  using granularity_type = Granularity;
  using rounding_type = Rounding;
  static constexpr int bits = Bits;

  constexpr Quantizer() noexcept = default;
  constexpr explicit Quantizer(Granularity granularity, QRangeOptions options = {}) noexcept
      : granularity_(granularity), options_(options) {}

  constexpr QRange qrange() const noexcept { return qrange_of<Int, Bits>(options_); }
  constexpr const Granularity& granularity() const noexcept { return granularity_; }
  constexpr QRangeOptions options() const noexcept { return options_; }

  // Number of (scale, zero point) pairs a tensor of `shape` needs.
  Result<std::int64_t> param_count(const Shape& shape) const noexcept {
    const Result<ParamLayout> l = param_layout(granularity_, shape);
    if (!l.ok()) return l.status();
    return l.value().count();
  }

  // Exact min/max of every parameter group of x (what a min-max observer would report for one
  // batch; handy for weights). Errors: empty_input, non_finite_input, shape_mismatch.
  Status ranges_of(TensorView<const float> x, Span<Range> ranges) const noexcept {
    QSAFE_RETURN_IF_ERROR(x.check());
    if (x.numel() == 0) return Status::empty_input;
    const Result<ParamLayout> lr = param_layout(granularity_, x.shape);
    if (!lr.ok()) return lr.status();
    const ParamLayout& l = lr.value();
    if (static_cast<std::int64_t>(ranges.size()) != l.count()) return Status::shape_mismatch;
    for (Range& r : ranges) r = Range{0.f, 0.f};
    // seen[i] tracking without allocation: the first element of each group initialises it.
    const AxisSplit s = l.split;
    for (std::int64_t o = 0; o < s.outer; ++o)
      for (std::int64_t a = 0; a < s.extent; ++a) {
        const float* run = x.data + (o * s.extent + a) * s.inner;
        for (std::int64_t i = 0; i < s.inner; ++i) {
          const float v = run[i];
          if (detail::is_nan_or_inf(v)) return Status::non_finite_input;
          Range& r = ranges[static_cast<std::size_t>(l.index(o, a, i))];
          const bool first = l.per_inner ? (a % l.group_size == 0) : (o == 0 && a % l.group_size == 0 && i == 0);
          if (first) {
            r = Range{v, v};
          } else {
            r.lo = v < r.lo ? v : r.lo;
            r.hi = v > r.hi ? v : r.hi;
          }
        }
      }
    return Status::ok;
  }

  // Parameters for every group from its range (qparams_from_range, element-wise).
  Status params_from_ranges(Span<const Range> ranges, Span<QParams> params,
                            float eps = kDefaultScaleEps) const noexcept {
    return qparams_from_ranges(ranges, qrange(), Scheme::kind, params, eps);
  }

  // Convenience: exact ranges of x, then parameters (the usual way weights are quantized).
  Status params_from_data(TensorView<const float> x, Span<Range> ranges_workspace, Span<QParams> params,
                          float eps = kDefaultScaleEps) const noexcept {
    QSAFE_RETURN_IF_ERROR(ranges_of(x, ranges_workspace));
    return params_from_ranges(Span<const Range>(ranges_workspace.data(), ranges_workspace.size()), params, eps);
  }

  // q = quantize(x). Non-finite inputs are mapped (NaN -> zero point, +-Inf -> qmax/qmin) and
  // reported as non_finite_input after the whole output is written.
  Status quantize(TensorView<const float> x, Span<const QParams> params, TensorView<Int> q) const noexcept {
    const Result<ParamLayout> l = check_call(x, params, q.shape, q.check());
    if (!l.ok()) return l.status();
    const QRange r = qrange();
    std::size_t non_finite = 0;
    for_each_run(l.value(), [&](std::int64_t offset, std::int64_t n, std::int64_t p) {
      const QParams qp = params[static_cast<std::size_t>(p)];
      non_finite += detail::quantize_loop<Rounding>(x.data + offset, static_cast<std::size_t>(n),
                                                    detail::QuantScale(qp.scale), qp.zero_point, r, q.data + offset);
    });
    return non_finite == 0 ? Status::ok : Status::non_finite_input;
  }

  // x = (q - zero_point) * scale.
  Status dequantize(TensorView<const Int> q, Span<const QParams> params, TensorView<float> x) const noexcept {
    const Result<ParamLayout> l = check_call(q, params, x.shape, x.check());
    if (!l.ok()) return l.status();
    for_each_run(l.value(), [&](std::int64_t offset, std::int64_t n, std::int64_t p) {
      const QParams qp = params[static_cast<std::size_t>(p)];
      detail::dequantize_loop(q.data + offset, static_cast<std::size_t>(n), qp.scale, qp.zero_point, x.data + offset);
    });
    return Status::ok;
  }

  // y = dequantize(quantize(x)) without materialising q; optional mask (see fake_quant.hpp) gets 1
  // where the value was not clipped. y may alias x.
  Status fake_quantize(TensorView<const float> x, Span<const QParams> params, TensorView<float> y,
                       Span<std::uint8_t> mask = {}) const noexcept {
    const Result<ParamLayout> l = check_call(x, params, y.shape, y.check());
    if (!l.ok()) return l.status();
    const bool want_mask = mask.data() != nullptr || !mask.empty();
    if (want_mask && static_cast<std::int64_t>(mask.size()) != x.numel()) return Status::shape_mismatch;
    const QRange r = qrange();
    std::size_t non_finite = 0;
    for_each_run(l.value(), [&](std::int64_t offset, std::int64_t n, std::int64_t p) {
      const QParams qp = params[static_cast<std::size_t>(p)];
      non_finite += detail::fake_quantize_loop<Rounding>(x.data + offset, static_cast<std::size_t>(n),
                                                         detail::QuantScale(qp.scale), qp.zero_point, r,
                                                         y.data + offset, want_mask ? mask.data() + offset : nullptr);
    });
    return non_finite == 0 ? Status::ok : Status::non_finite_input;
  }

  // Per-tensor conveniences over flat spans.
  Status quantize(Span<const float> x, QParams p, Span<Int> q) const noexcept {
    static_assert(std::is_same<Granularity, PerTensor>::value, "span overloads are per-tensor only");
    if (x.size() != q.size()) return Status::shape_mismatch;
    return quantize(flat(x), Span<const QParams>(&p, 1), flat(q));
  }
  Status dequantize(Span<const Int> q, QParams p, Span<float> x) const noexcept {
    static_assert(std::is_same<Granularity, PerTensor>::value, "span overloads are per-tensor only");
    if (x.size() != q.size()) return Status::shape_mismatch;
    return dequantize(flat(q), Span<const QParams>(&p, 1), flat(x));
  }
  Status fake_quantize(Span<const float> x, QParams p, Span<float> y, Span<std::uint8_t> mask = {}) const noexcept {
    static_assert(std::is_same<Granularity, PerTensor>::value, "span overloads are per-tensor only");
    if (x.size() != y.size()) return Status::shape_mismatch;
    return fake_quantize(flat(x), Span<const QParams>(&p, 1), flat(y), mask);
  }

 private:
  template <class T>
  static TensorView<T> flat(Span<T> s) noexcept {
    return TensorView<T>(s.data(), Shape{static_cast<std::int64_t>(s.size())});
  }

  // Validates shapes, pointers and every parameter once, before any loop runs.
  template <class In>
  Result<ParamLayout> check_call(TensorView<const In> in, Span<const QParams> params, const Shape& out_shape,
                                 Status out_check) const noexcept {
    QSAFE_RETURN_IF_ERROR(in.check());
    QSAFE_RETURN_IF_ERROR(out_check);
    if (in.shape != out_shape) return Status::shape_mismatch;
    const Result<ParamLayout> l = param_layout(granularity_, in.shape);
    if (!l.ok()) return l.status();
    if (static_cast<std::int64_t>(params.size()) != l.value().count()) return Status::shape_mismatch;
    const QRange r = qrange();
    for (const QParams& p : params) QSAFE_RETURN_IF_ERROR(check_qparams(p, r));
    return l;
  }

  // Calls f(offset, count, param_index) over maximal contiguous runs sharing one parameter.
  template <class F>
  static void for_each_run(const ParamLayout& l, F&& f) noexcept {
    const AxisSplit s = l.split;
    if (!l.per_inner) {
      if (l.groups == 1) {  // per tensor: one run
        f(0, s.outer * s.extent * s.inner, 0);
        return;
      }
      for (std::int64_t o = 0; o < s.outer; ++o)
        for (std::int64_t a = 0; a < s.extent; ++a) f((o * s.extent + a) * s.inner, s.inner, a / l.group_size);
      return;
    }
    if (s.inner == 1) {  // groups are contiguous blocks of group_size along the last axis
      for (std::int64_t o = 0; o < s.outer; ++o)
        for (std::int64_t a = 0; a < s.extent; a += l.group_size) {
          const std::int64_t n = a + l.group_size <= s.extent ? l.group_size : s.extent - a;
          f(o * s.extent + a, n, l.index(o, a, 0));
        }
      return;
    }
    for (std::int64_t o = 0; o < s.outer; ++o)
      for (std::int64_t a = 0; a < s.extent; ++a)
        for (std::int64_t i = 0; i < s.inner; ++i) f((o * s.extent + a) * s.inner + i, 1, l.index(o, a, i));
  }

  Granularity granularity_{};
  QRangeOptions options_{};
};

}  // namespace qsafe

#endif  // QSAFE_QUANTIZER_QUANTIZER_HPP_
