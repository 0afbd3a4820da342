// Range policies (policy/): the contract over every registered policy, then what each one does -
// dynamic ranges equal PyTorch-style min/max params, the static range clips, and the guarded one
// contains an outlier that collapses the dynamic one.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

#include "qsafe/policy/all.hpp"
#include "qsafe/quantize.hpp"

using namespace qsafe;

namespace {

const QuantTarget kU8{qrange_of<std::uint8_t>(), SchemeKind::affine, kDefaultScaleEps};
const QuantTarget kS8Sym{qrange_of<std::int8_t>(), SchemeKind::symmetric, kDefaultScaleEps};

// A policy of each registered type, set up for data in about [-2, 2].
template <class P>
P make_policy();
template <>
StaticRange make_policy<StaticRange>() {
  return StaticRange::from_range(Range{-2.f, 2.f}, kU8).value();
}
template <>
DynamicRange<PerTensor> make_policy<DynamicRange<PerTensor>>() {
  return {};
}
template <>
DynamicRange<PerRow> make_policy<DynamicRange<PerRow>>() {
  return {};
}
template <>
GuardedRange<PerTensor> make_policy<GuardedRange<PerTensor>>() {
  return GuardedRange<PerTensor>(GuardOptions{Range{-2.f, 2.f}, 2.f, 0.f, OnViolation::clamp_to_envelope});
}
template <>
GuardedRange<PerRow> make_policy<GuardedRange<PerRow>>() {
  return GuardedRange<PerRow>(GuardOptions{Range{-2.f, 2.f}, 2.f, 0.f, OnViolation::clamp_to_envelope});
}

std::vector<float> smooth(std::int64_t rows, std::int64_t cols) {
  std::vector<float> x(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 1.9f * std::sin(0.37f * static_cast<float>(i) + 0.1f);
  return x;
}

}  // namespace

static_assert(is_range_policy_v<StaticRange>, "StaticRange models RangePolicy");
static_assert(is_range_policy_v<DynamicRange<PerTensor>>, "DynamicRange<PerTensor> models RangePolicy");
static_assert(is_range_policy_v<DynamicRange<PerRow>>, "DynamicRange<PerRow> models RangePolicy");
static_assert(is_range_policy_v<GuardedRange<PerTensor>>, "GuardedRange<PerTensor> models RangePolicy");
static_assert(is_range_policy_v<GuardedRange<PerRow>>, "GuardedRange<PerRow> models RangePolicy");
static_assert(!is_range_policy_v<int>, "int is not a policy");
static_assert(!is_range_policy_v<Quantizer<std::uint8_t>>, "a quantizer is not a policy");

TEMPLATE_LIST_TEST_CASE("range policy contract: quantize_matrix equals Quantizer::quantize with the same params",
                        "[policy]", all_range_policies) {
  TestType policy = make_policy<TestType>();
  const std::int64_t rows = 5, cols = 67, stride = 70;  // padded rows: the stride is honoured
  std::vector<float> x(static_cast<std::size_t>(rows * stride), std::numeric_limits<float>::quiet_NaN());
  const std::vector<float> v = smooth(rows, cols);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) x[static_cast<std::size_t>(r * stride + c)] = v[static_cast<std::size_t>(r * cols + c)];
  const MatrixView<const float> a(x.data(), rows, cols, stride);
  std::vector<std::uint8_t> q(static_cast<std::size_t>(rows * cols));
  const std::size_t groups = TestType::scope == RangeScope::per_row ? static_cast<std::size_t>(rows) : 1u;
  std::vector<QParams> params(groups);
  REQUIRE(quantize_matrix(policy, a, kU8, MatrixView<std::uint8_t>(q.data(), rows, cols), Span<QParams>(params)) ==
          Status::ok);
  const Quantizer<std::uint8_t> quant;
  for (std::int64_t r = 0; r < rows; ++r) {
    const QParams p = params[TestType::scope == RangeScope::per_row ? static_cast<std::size_t>(r) : 0u];
    REQUIRE(check_qparams(p, kU8.qrange) == Status::ok);
    std::vector<std::uint8_t> ref(static_cast<std::size_t>(cols));
    REQUIRE(quant.quantize(Span<const float>(a.row(r), static_cast<std::size_t>(cols)), p, Span<std::uint8_t>(ref)) ==
            Status::ok);
    for (std::int64_t c = 0; c < cols; ++c) REQUIRE(q[static_cast<std::size_t>(r * cols + c)] == ref[static_cast<std::size_t>(c)]);
  }
  CHECK(policy.counters().values == static_cast<std::uint64_t>(rows * cols));
  CHECK(policy.counters().runs == 1);
  CHECK(policy.counters().groups == groups);
  CHECK(policy.counters().non_finite == 0);
  policy.reset_counters();
  CHECK(policy.counters().values == 0);
}

TEMPLATE_LIST_TEST_CASE("range policy contract: NaN/Inf are reported and counted, never a NaN scale", "[policy]",
                        all_range_policies) {
  TestType policy = make_policy<TestType>();
  std::vector<float> x = smooth(3, 16);
  x[20] = std::numeric_limits<float>::quiet_NaN();
  x[21] = std::numeric_limits<float>::infinity();
  const MatrixView<const float> a(x.data(), 3, 16);
  std::vector<std::uint8_t> q(x.size());
  const std::size_t groups = TestType::scope == RangeScope::per_row ? 3u : 1u;
  std::vector<QParams> params(groups, QParams{1.f, 0});
  const Status s = quantize_matrix(policy, a, kU8, MatrixView<std::uint8_t>(q.data(), 3, 16), Span<QParams>(params));
  CHECK(s == Status::non_finite_input);
  CHECK(policy.counters().non_finite == 2);
  for (const QParams& p : params) {
    CHECK(std::isfinite(p.scale));
    CHECK(p.scale > 0.f);
  }
}

TEMPLATE_LIST_TEST_CASE("range policy contract: bad views and targets are errors; rows before begin too", "[policy]",
                        all_range_policies) {
  TestType policy = make_policy<TestType>();
  const float one = 1.f;
  std::uint8_t out = 0;
  CHECK(policy.row_params(Span<const float>(&one, 1)).status() == Status::invalid_argument);
  CHECK(policy.quantize_row(Span<const float>(&one, 1), RowParams{}, &out) == Status::invalid_argument);
  CHECK(policy.begin(MatrixView<const float>(nullptr, 2, 2), kU8) == Status::null_pointer);
  CHECK(policy.begin(MatrixView<const float>(&one, 1, 2, 1), kU8) == Status::invalid_argument);
  CHECK(policy.begin(MatrixView<const float>(&one, 1, 1), QuantTarget{QRange{3, 3}, SchemeKind::affine, 1e-7f}) ==
        Status::invalid_argument);
  // int8 storage cannot hold a uint8 target.
  REQUIRE(policy.begin(MatrixView<const float>(&one, 1, 1), kU8) == Status::ok);
  const Result<RowParams> p = policy.row_params(Span<const float>(&one, 1));
  REQUIRE(p.ok());
  std::int8_t s8 = 0;
  CHECK(policy.quantize_row(Span<const float>(&one, 1), p.value(), &s8) == Status::invalid_argument);
}

TEST_CASE("DynamicRange: per tensor and per row params are qparams_from_range of the exact min/max", "[policy]") {
  const std::int64_t rows = 4, cols = 100;
  std::vector<float> x = smooth(rows, cols);
  for (std::int64_t c = 0; c < cols; ++c) x[static_cast<std::size_t>(2 * cols + c)] *= 3.f;  // row 2 wider
  x[static_cast<std::size_t>(3 * cols + 7)] = -9.5f;
  const MatrixView<const float> a(x.data(), rows, cols);
  std::vector<std::int8_t> q(x.size());

  DynamicRange<PerTensor> tensor;
  QParams pt;
  REQUIRE(quantize_matrix(tensor, a, kS8Sym, MatrixView<std::int8_t>(q.data(), rows, cols), Span<QParams>(&pt, 1)) ==
          Status::ok);
  float lo = x[0], hi = x[0];
  for (float v : x) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const QParams want = qparams_from_range(Range{lo, hi}, kS8Sym.qrange, kS8Sym.scheme).value();
  CHECK(pt.scale == want.scale);
  CHECK(pt.zero_point == want.zero_point);
  CHECK(tensor.counters().clipped == 0);

  DynamicRange<PerRow> per_row;
  std::vector<QParams> pr(static_cast<std::size_t>(rows));
  REQUIRE(quantize_matrix(per_row, a, kS8Sym, MatrixView<std::int8_t>(q.data(), rows, cols), Span<QParams>(pr)) ==
          Status::ok);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = a.row(r);
    const float rl = *std::min_element(row, row + cols), rh = *std::max_element(row, row + cols);
    const QParams w = qparams_from_range(Range{rl, rh}, kS8Sym.qrange, kS8Sym.scheme).value();
    CHECK(pr[static_cast<std::size_t>(r)].scale == w.scale);
  }
  CHECK(per_row.counters().groups == static_cast<std::uint64_t>(rows));
  CHECK(per_row.counters().clipped == 0);
  // Symmetric int8 uses PyTorch's scale m / 127.5: a row maximum of +m maps to 127.5, rounds to
  // 128 and saturates at 127 (one value per row at most); -m maps to -127.5 -> -128, inside.
  CHECK(per_row.counters().saturated <= static_cast<std::uint64_t>(rows));
  CHECK(per_row.counters().saturated >= 1);
}

TEST_CASE("StaticRange: values beyond the calibrated range are clipped and saturate", "[policy]") {
  StaticRange policy = StaticRange::from_range(Range{-1.f, 1.f}, kU8).value();
  const float x[] = {-0.5f, 0.f, 0.99f, 1.5f, -3.f, 7.f};
  std::uint8_t q[6];
  QParams p;
  REQUIRE(quantize_matrix(policy, MatrixView<const float>(x, 1, 6), kU8, MatrixView<std::uint8_t>(q, 1, 6),
                          Span<QParams>(&p, 1)) == Status::ok);
  CHECK(p.scale == policy.params().scale);
  CHECK(policy.counters().clipped == 3);
  CHECK(policy.counters().saturated == 3);
  CHECK(q[3] == 255);
  CHECK(q[4] == 0);
  // Params that do not fit the target are rejected at begin.
  StaticRange bad(QParams{0.1f, 300});
  CHECK(bad.begin(MatrixView<const float>(x, 1, 6), kU8) == Status::invalid_argument);
}

TEST_CASE("GuardedRange: one 1e6 outlier collapses the dynamic range; the guard keeps the values", "[policy]") {
  // One row: 255 ordinary activations in [-1, 1] and one outlier.
  std::vector<float> x(256);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.1f * static_cast<float>(i));
  x[100] = 1e6f;
  const MatrixView<const float> a(x.data(), 1, 256);
  std::vector<std::uint8_t> qd(256), qg(256);
  const auto distinct_levels_except_outlier = [&](const std::vector<std::uint8_t>& q) {
    std::set<int> levels;
    for (std::size_t i = 0; i < q.size(); ++i)
      if (i != 100) levels.insert(q[i]);
    return levels.size();
  };

  DynamicRange<PerTensor> dynamic;
  QParams pd;
  REQUIRE(quantize_matrix(dynamic, a, kU8, MatrixView<std::uint8_t>(qd.data(), 1, 256), Span<QParams>(&pd, 1)) ==
          Status::ok);
  INFO("dynamic scale " << pd.scale);
  CHECK(distinct_levels_except_outlier(qd) <= 2);  // everything in [-1, 1] lands on 1 or 2 levels

  GuardedRange<PerTensor> guarded(GuardOptions{Range{-1.f, 1.f}, 2.f, 0.f, OnViolation::clamp_to_envelope});
  QParams pg;
  REQUIRE(quantize_matrix(guarded, a, kU8, MatrixView<std::uint8_t>(qg.data(), 1, 256), Span<QParams>(&pg, 1)) ==
          Status::ok);
  CHECK(distinct_levels_except_outlier(qg) > 100);
  CHECK(qg[100] == 255);  // the outlier saturates at the top
  CHECK(guarded.counters().envelope_violations == 1);
  CHECK(guarded.counters().clipped == 1);
  CHECK(guarded.counters().saturated == 1);
  CHECK(guarded.counters().fallbacks == 0);
  // Dequantized, the ordinary values keep their accuracy.
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (i == 100) continue;
    const float y = static_cast<float>(qg[i] - pg.zero_point) * pg.scale;
    CHECK(std::fabs(y - x[i]) <= pg.scale * 0.5f + 1e-6f);
  }

  // Fallbacks: the calibrated range itself, or "use float".
  GuardedRange<PerTensor> to_static(GuardOptions{Range{-1.f, 1.f}, 2.f, 0.f, OnViolation::use_static});
  QParams ps;
  REQUIRE(quantize_matrix(to_static, a, kU8, MatrixView<std::uint8_t>(qg.data(), 1, 256), Span<QParams>(&ps, 1)) ==
          Status::ok);
  CHECK(ps.scale == qparams_from_range(Range{-1.f, 1.f}, kU8.qrange, kU8.scheme).value().scale);
  CHECK(to_static.counters().fallbacks == 1);
  GuardedRange<PerTensor> to_float(GuardOptions{Range{-1.f, 1.f}, 2.f, 0.f, OnViolation::use_float});
  CHECK(quantize_matrix(to_float, a, kU8, MatrixView<std::uint8_t>(qg.data(), 1, 256), Span<QParams>(&ps, 1)) ==
        Status::out_of_range);
  CHECK(to_float.counters().envelope_violations == 1);
  CHECK(to_float.counters().fallbacks == 1);
  // Inside the envelope nothing is counted and the guard equals the dynamic policy.
  x[100] = 0.5f;
  REQUIRE(quantize_matrix(to_float, a, kU8, MatrixView<std::uint8_t>(qg.data(), 1, 256), Span<QParams>(&ps, 1)) ==
          Status::ok);
  REQUIRE(quantize_matrix(dynamic, a, kU8, MatrixView<std::uint8_t>(qd.data(), 1, 256), Span<QParams>(&pd, 1)) ==
          Status::ok);
  CHECK(ps.scale == pd.scale);
  CHECK(qg == qd);
  CHECK(to_float.counters().envelope_violations == 1);
}

TEST_CASE("GuardedRange per row: only the row with the outlier is clamped", "[policy]") {
  std::vector<float> x = smooth(3, 64);
  x[64 + 5] = -5e4f;
  GuardedRange<PerRow> guarded(GuardOptions{Range{-2.f, 2.f}, 1.5f, 0.f, OnViolation::clamp_to_envelope});
  DynamicRange<PerRow> dynamic;
  std::vector<std::int8_t> qg(x.size()), qd(x.size());
  std::vector<QParams> pg(3), pd(3);
  const MatrixView<const float> a(x.data(), 3, 64);
  REQUIRE(quantize_matrix(guarded, a, kS8Sym, MatrixView<std::int8_t>(qg.data(), 3, 64), Span<QParams>(pg)) ==
          Status::ok);
  REQUIRE(quantize_matrix(dynamic, a, kS8Sym, MatrixView<std::int8_t>(qd.data(), 3, 64), Span<QParams>(pd)) ==
          Status::ok);
  CHECK(pg[0].scale == pd[0].scale);
  CHECK(pg[2].scale == pd[2].scale);
  CHECK(pg[1].scale == qparams_from_range(Range{-3.f, 3.f}, kS8Sym.qrange, kS8Sym.scheme).value().scale);
  CHECK(pd[1].scale > 300.f);
  CHECK(guarded.counters().envelope_violations == 1);
  CHECK(guarded.counters().clipped == 1);
  CHECK(qg[64 + 5] == -128);
}

TEST_CASE("GuardedRange: the percentile clip drops the tail and stays above the exact percentile", "[policy]") {
  // 1000 values with |x| = 0.001 * i; the 99th percentile of |x| is 0.99..1.0; plus 10 outliers of 50.
  std::vector<float> x;
  for (int i = 1; i <= 990; ++i) x.push_back((i % 2 ? 1.f : -1.f) * 0.001f * static_cast<float>(i));
  for (int i = 0; i < 10; ++i) x.push_back(50.f);
  const float c = detail::abs_percentile_upper_bound(MatrixView<const float>(x.data(), 1, 1000), 99.f);
  CHECK(c >= 0.99f);
  CHECK(c <= 0.99f * 1.19f);
  GuardedRange<PerTensor> guarded(GuardOptions{Range{-100.f, 100.f}, 1.f, 99.f, OnViolation::clamp_to_envelope});
  std::vector<std::uint8_t> q(x.size());
  QParams p;
  REQUIRE(quantize_matrix(guarded, MatrixView<const float>(x.data(), 1, 1000), kU8,
                          MatrixView<std::uint8_t>(q.data(), 1, 1000), Span<QParams>(&p, 1)) == Status::ok);
  CHECK(guarded.counters().envelope_violations == 0);
  CHECK(guarded.counters().clipped == 10);
  CHECK(p.scale <= 2.f * c / 255.f * 1.0001f);
  // Bad options are rejected at begin.
  GuardedRange<PerTensor> bad(GuardOptions{Range{-1.f, 1.f}, 0.5f, 0.f, OnViolation::clamp_to_envelope});
  CHECK(bad.begin(MatrixView<const float>(x.data(), 1, 1000), kU8) == Status::invalid_argument);
  GuardedRange<PerTensor> bad_p(GuardOptions{Range{-1.f, 1.f}, 1.f, 30.f, OnViolation::clamp_to_envelope});
  CHECK(bad_p.begin(MatrixView<const float>(x.data(), 1, 1000), kU8) == Status::invalid_argument);
}

TEST_CASE("min_max_loop: vector equals scalar, non-finite counted", "[policy]") {
  std::vector<float> x = smooth(1, 300);
  for (std::size_t n = 0; n <= 70; ++n) {
    for (std::size_t off = 0; off < 3; ++off) {
      const detail::MinMax v = detail::min_max_loop(x.data() + off, n);
      const detail::MinMax s = detail::min_max_loop_scalar(x.data() + off, n);
      REQUIRE(v.lo == s.lo);
      REQUIRE(v.hi == s.hi);
      REQUIRE(v.non_finite == s.non_finite);
    }
  }
  x[150] = -std::numeric_limits<float>::infinity();
  x[7] = std::numeric_limits<float>::quiet_NaN();
  const detail::MinMax v = detail::min_max_loop(x.data(), x.size());
  CHECK(v.non_finite == 2);
  CHECK(std::isfinite(v.lo));
  CHECK(v.lo == detail::min_max_loop_scalar(x.data(), x.size()).lo);
}
