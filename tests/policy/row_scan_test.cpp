// policy/detail/row_scan.hpp: every row-scan path this machine runs (each one forced) equals the
// scalar references of quantizer/detail/vector_loops.hpp bit for bit - bytes, counts, min/max -
// on awkward lengths, extreme values, NaN/Inf, saturating scales and clip ranges; and a policy
// forced onto each path gives the same parameters, bytes, counters and statuses.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "qsafe/policy/detail/row_scan.hpp"
#include "qsafe/policy/dynamic_range.hpp"
#include "qsafe/policy/guarded_range.hpp"
#include "qsafe/policy/static_range.hpp"

using qsafe::RowScanPath;

namespace {

constexpr std::size_t kLengths[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 127, 129, 4097};
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kMax = std::numeric_limits<float>::max();

std::vector<RowScanPath> runnable_paths() {
  std::vector<RowScanPath> v;
  for (RowScanPath p : {RowScanPath::portable, RowScanPath::avx2, RowScanPath::avx512, RowScanPath::automatic}) {
    if (qsafe::detail::row_scan_available(p)) {
      v.push_back(p);
    } else {
      WARN("row-scan path " << qsafe::detail::row_scan_name(p) << " not run: this CPU lacks it");
    }
  }
  return v;
}

enum class Fill { normal, extremes, ties, denormals, one_nan, one_pos_inf, one_neg_inf, all_nan };

std::vector<float> make_row(std::size_t n, Fill f, std::mt19937& rng) {
  std::vector<float> x(n);
  std::normal_distribution<float> nd(0.2f, 3.f);
  for (auto& v : x) v = nd(rng);
  std::uniform_int_distribution<std::size_t> at(0, n == 0 ? 0 : n - 1);
  switch (f) {
    case Fill::normal: break;
    case Fill::extremes:
      for (std::size_t i = 0; i < n; i += 3) x[i] = (i % 2 ? kMax : -kMax) * (i % 7 == 0 ? 1.f : 1e-3f);
      break;
    case Fill::ties:  // exact halves of the 0.05 scale used below, and their neighbours
      for (std::size_t i = 0; i < n; ++i) {
        const float h = (static_cast<float>(i % 41) - 20.f + 0.5f) * 0.05f;
        x[i] = i % 3 == 0 ? h : (i % 3 == 1 ? std::nextafter(h, kInf) : std::nextafter(h, -kInf));
      }
      break;
    case Fill::denormals:
      for (std::size_t i = 0; i < n; i += 2) x[i] = std::numeric_limits<float>::denorm_min() * static_cast<float>(i);
      break;
    case Fill::one_nan:
      if (n) x[at(rng)] = std::numeric_limits<float>::quiet_NaN();
      break;
    case Fill::one_pos_inf:
      if (n) x[at(rng)] = kInf;
      break;
    case Fill::one_neg_inf:
      if (n) x[at(rng)] = -kInf;
      break;
    case Fill::all_nan:
      for (auto& v : x) v = std::numeric_limits<float>::quiet_NaN();
      break;
  }
  return x;
}

constexpr Fill kFills[] = {Fill::normal,  Fill::extremes,    Fill::ties,        Fill::denormals,
                           Fill::one_nan, Fill::one_pos_inf, Fill::one_neg_inf, Fill::all_nan};

struct QuantCase {
  float scale;
  std::int32_t zero_point;
  qsafe::QRange qrange;
  qsafe::Range clip;
};

template <class Int>
void check_quantize(const std::vector<float>& x, const QuantCase& c, RowScanPath path) {
  const std::size_t n = x.size();
  const qsafe::detail::QuantScale inv(c.scale);
  // Canaries one past each end: nothing may be written outside [0, n).
  std::vector<Int> want(n + 2, Int{99}), got(n + 2, Int{99});
  const auto w = qsafe::detail::quantize_loop_counted_scalar<qsafe::RoundHalfEven>(x.data(), n, inv, c.zero_point,
                                                                                   c.qrange, c.clip, want.data() + 1);
  const auto g = qsafe::detail::row_quantize_counted<qsafe::RoundHalfEven>(x.data(), n, inv, c.zero_point, c.qrange,
                                                                           c.clip, got.data() + 1, path);
  INFO("path " << qsafe::detail::row_scan_name(path) << ", n " << n << ", scale " << c.scale << ", zp " << c.zero_point
               << ", qrange [" << c.qrange.qmin << ", " << c.qrange.qmax << "]");
  REQUIRE(std::memcmp(want.data(), got.data(), (n + 2) * sizeof(Int)) == 0);
  CHECK(g.non_finite == w.non_finite);
  CHECK(g.saturated == w.saturated);
  CHECK(g.clipped == w.clipped);
}

}  // namespace

TEST_CASE("row_scan: min/max equals the scalar reference on every path", "[policy][row_scan]") {
  std::mt19937 rng(11);
  for (RowScanPath path : runnable_paths()) {
    for (std::size_t n : kLengths) {
      for (Fill f : kFills) {
        const std::vector<float> x = make_row(n, f, rng);
        const auto want = qsafe::detail::min_max_loop_scalar(x.data(), n);
        const auto got = qsafe::detail::row_min_max(x.data(), n, path);
        INFO("path " << qsafe::detail::row_scan_name(path) << ", n " << n << ", fill " << static_cast<int>(f));
        CHECK(got.non_finite == want.non_finite);
        CHECK(got.lo == want.lo);  // == : the sign of a zero bound may differ
        CHECK(got.hi == want.hi);
      }
    }
  }
}

TEST_CASE("row_scan: the counting quantize equals the scalar reference on every path, bit for bit",
          "[policy][row_scan]") {
  std::mt19937 rng(12);
  const QuantCase cases[] = {
      {0.05f, 128, {0, 255}, {-6.4f, 6.35f}},      // wide: most values inside
      {0.05f, 0, {0, 255}, {0.f, 12.75f}},         // zero point at the bottom: negatives saturate
      {0.05f, 255, {0, 255}, {-12.75f, 0.f}},      // ... at the top
      {0.01f, 100, {0, 255}, {-1.f, 1.55f}},       // narrow: many clipped / saturated
      {0.05f, 64, {0, 127}, {-3.2f, 3.15f}},       // reduce_range
      {1e-30f, 128, {0, 255}, {-1e-28f, 1e-28f}},  // a tiny scale: products overflow to +-Inf
      {3e38f, 7, {0, 255}, {-kMax, kMax}},         // a huge scale: everything rounds to 0
      {0.05f, 0, {-128, 127}, {-6.4f, 6.35f}},     // int8 target
      {0.05f, -128, {-128, 127}, {0.f, 12.75f}},   // int8, zero point at the bottom
      {0.05f, 127, {-128, 127}, {-12.75f, 0.f}},   // int8, zero point at the top
      {0.1f, 10, {0, 255}, {0.5f, 2.f}},           // a clip range without 0 (tails flag)
  };
  for (RowScanPath path : runnable_paths()) {
    for (std::size_t n : kLengths) {
      for (Fill f : kFills) {
        const std::vector<float> x = make_row(n, f, rng);
        for (const QuantCase& c : cases) {
          if (c.qrange.qmin < 0) {
            check_quantize<std::int8_t>(x, c, path);
          } else {
            check_quantize<std::uint8_t>(x, c, path);
          }
        }
      }
    }
  }
}

TEST_CASE("row_scan: random scales and zero points, long rows, every path", "[policy][row_scan]") {
  std::mt19937 rng(13);
  std::uniform_real_distribution<float> log_scale(-6.f, 2.f);
  for (RowScanPath path : runnable_paths()) {
    for (int trial = 0; trial < 200; ++trial) {
      const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 700)(rng);
      std::vector<float> x = make_row(n, Fill::normal, rng);
      const float spread = std::pow(10.f, log_scale(rng));
      for (auto& v : x) v *= spread;
      const float scale = spread * std::uniform_real_distribution<float>(0.005f, 0.05f)(rng);
      const std::int32_t zp = std::uniform_int_distribution<std::int32_t>(0, 255)(rng);
      const QuantCase c{scale, zp, {0, 255}, {-scale * static_cast<float>(zp), scale * static_cast<float>(255 - zp)}};
      check_quantize<std::uint8_t>(x, c, path);
    }
  }
}

TEMPLATE_TEST_CASE("row_scan: a policy forced onto each path gives the same params, bytes, counters and status",
                   "[policy][row_scan]", qsafe::DynamicRange<qsafe::PerRow>, qsafe::DynamicRange<qsafe::PerTensor>,
                   qsafe::GuardedRange<qsafe::PerRow>, qsafe::GuardedRange<qsafe::PerTensor>) {
  std::mt19937 rng(14);
  for (const std::int64_t cols : {1, 7, 17, 64, 65, 4097}) {
    for (Fill f : {Fill::normal, Fill::extremes, Fill::one_nan, Fill::one_pos_inf}) {
      const std::int64_t rows = 5;
      std::vector<float> a;
      for (std::int64_t r = 0; r < rows; ++r) {
        const auto row = make_row(static_cast<std::size_t>(cols), r == 2 ? f : Fill::normal, rng);
        a.insert(a.end(), row.begin(), row.end());
      }
      const qsafe::MatrixView<const float> av(a.data(), rows, cols);
      const std::size_t groups = TestType::scope == qsafe::RangeScope::per_row ? static_cast<std::size_t>(rows) : 1u;

      auto run = [&](RowScanPath path, std::vector<std::uint8_t>& q, std::vector<qsafe::QParams>& params,
                     qsafe::RangeCounters& counters) {
        TestType policy;
        if constexpr (std::is_constructible<TestType, qsafe::GuardOptions>::value) {
          qsafe::GuardOptions o;
          o.calibrated = qsafe::Range{-2.f, 3.f};
          policy = TestType(o);
        }
        policy.set_scan_path(path);
        q.assign(a.size(), 0);
        params.assign(groups, qsafe::QParams{});
        const qsafe::Status s = qsafe::quantize_matrix(policy, av, qsafe::QuantTarget{},
                                                       qsafe::MatrixView<std::uint8_t>(q.data(), rows, cols),
                                                       qsafe::Span<qsafe::QParams>(params.data(), params.size()));
        counters = policy.counters();
        return s;
      };
      std::vector<std::uint8_t> q0;
      std::vector<qsafe::QParams> p0;
      qsafe::RangeCounters c0;
      const qsafe::Status s0 = run(RowScanPath::portable, q0, p0, c0);
      for (RowScanPath path : runnable_paths()) {
        std::vector<std::uint8_t> q1;
        std::vector<qsafe::QParams> p1;
        qsafe::RangeCounters c1;
        const qsafe::Status s1 = run(path, q1, p1, c1);
        INFO("path " << qsafe::detail::row_scan_name(path) << ", cols " << cols << ", fill " << static_cast<int>(f));
        REQUIRE(s1 == s0);
        CHECK(q1 == q0);
        for (std::size_t g = 0; g < groups; ++g) {
          CHECK(p1[g].zero_point == p0[g].zero_point);
          CHECK(std::memcmp(&p1[g].scale, &p0[g].scale, sizeof(float)) == 0);
        }
        CHECK(c1.values == c0.values);
        CHECK(c1.non_finite == c0.non_finite);
        CHECK(c1.clipped == c0.clipped);
        CHECK(c1.saturated == c0.saturated);
        CHECK(c1.groups == c0.groups);
        CHECK(c1.envelope_violations == c0.envelope_violations);
      }
    }
  }
}
