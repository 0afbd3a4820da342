// MinMaxObserver and the scan every observer starts with (observer/detail/scan.hpp): the vector
// scan equals the scalar reference on every length, alignment and non-finite pattern.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "qsafe/observer/min_max.hpp"
#include "qsafe/observer/per_channel.hpp"

#include "support/special_floats.hpp"

using namespace qsafe;

namespace {
using qsafe_test::kInf;
using qsafe_test::kNaN;

void check_scan_equal(const float* x, std::size_t n) {
  const detail::BatchScan s = detail::scan_batch_scalar(x, n);
  const detail::BatchScan v = detail::scan_batch(x, n);
  CHECK(s.non_finite == v.non_finite);
  CHECK(s.non_finite == detail::count_nan_inf(x, n));
  if (s.non_finite == 0 && n > 0) {
    CHECK(s.lo == v.lo);
    CHECK(s.hi == v.hi);
    float lo = x[0], hi = x[0];
    for (std::size_t i = 0; i < n; ++i) {
      lo = std::fmin(lo, x[i]);
      hi = std::fmax(hi, x[i]);
    }
    CHECK(s.lo == lo);
    CHECK(s.hi == hi);
  }
}
}  // namespace

TEST_CASE("scan: vector and scalar forms agree on lengths, offsets and non-finite values", "[observer][scan]") {
  std::mt19937 gen(42);
  std::normal_distribution<float> d(0.f, 10.f);
  std::vector<float> buf(300);
  for (float& v : buf) v = d(gen);
  buf[17] = -0.f;
  buf[18] = 0.f;
  for (std::size_t offset = 0; offset < 5; ++offset)
    for (std::size_t n = 0; n + offset <= 200; ++n) check_scan_equal(buf.data() + offset, n);
  // Non-finite values at every position of a 70-element batch (first vector, body, tail).
  for (std::size_t pos = 0; pos < 70; ++pos) {
    for (float bad : {kNaN, kInf, -kInf}) {
      std::vector<float> x(buf.begin(), buf.begin() + 70);
      x[pos] = bad;
      check_scan_equal(x.data(), x.size());
      x[(pos * 7 + 3) % 70] = bad;
      check_scan_equal(x.data(), x.size());
    }
  }
  // Extremes and subnormals.
  std::vector<float> ext = {std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::denorm_min(), -1e-40f, 0.f, -0.f, 1.f, 2.f,
                            3.f, 4.f, 5.f, 6.f, 7.f, 8.f, 9.f, 10.f, 11.f, 12.f, 13.f, 14.f, 15.f, 16.f,
                            17.f, 18.f, 19.f, 20.f, 21.f, 22.f, 23.f, 24.f, 25.f, 26.f, 27.f, 28.f, 29.f, 30.f,
                            31.f, 32.f, 33.f, 34.f, 35.f};
  check_scan_equal(ext.data(), ext.size());
}

TEST_CASE("MinMaxObserver: running min and max over batches", "[observer][minmax]") {
  MinMaxObserver obs;
  const float a[] = {1.f, 2.f, 3.f};
  const float b[] = {-5.f, 0.f};
  const float c[] = {10.f};
  REQUIRE(obs.observe(Span<const float>(a)) == Status::ok);
  CHECK(obs.range()->lo == 1.f);
  CHECK(obs.range()->hi == 3.f);
  REQUIRE(obs.observe(Span<const float>(b)) == Status::ok);
  REQUIRE(obs.observe(Span<const float>(c)) == Status::ok);
  CHECK(obs.range()->lo == -5.f);
  CHECK(obs.range()->hi == 10.f);
  CHECK(obs.count() == 6);
}

TEST_CASE("PerChannelMinMaxObserver: every axis, against a direct per-channel loop", "[observer][minmax][per_channel]") {
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> d(-4.f, 4.f);
  std::vector<float> x(3 * 4 * 5);
  for (float& v : x) v = d(gen);
  const std::int64_t dims[3] = {3, 4, 5};
  for (int axis = -3; axis < 3; ++axis) {
    const int a = axis < 0 ? axis + 3 : axis;
    std::vector<MinMaxObserver> storage(static_cast<std::size_t>(dims[a]));
    PerChannelMinMaxObserver obs(axis, Span<MinMaxObserver>(storage));
    REQUIRE(obs.observe(TensorView<const float>(x.data(), Shape{3, 4, 5})) == Status::ok);
    std::vector<Range> r(storage.size());
    REQUIRE(obs.ranges(Span<Range>(r)) == Status::ok);
    for (std::int64_t c = 0; c < dims[a]; ++c) {
      float lo = 1e30f, hi = -1e30f;
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j)
          for (int k = 0; k < 5; ++k) {
            const int idx[3] = {i, j, k};
            if (idx[a] != c) continue;
            const float v = x[static_cast<std::size_t>((i * 4 + j) * 5 + k)];
            lo = std::fmin(lo, v);
            hi = std::fmax(hi, v);
          }
      CHECK(r[static_cast<std::size_t>(c)].lo == lo);
      CHECK(r[static_cast<std::size_t>(c)].hi == hi);
    }
  }
  std::vector<MinMaxObserver> storage(4);
  PerChannelMinMaxObserver bad_axis(3, Span<MinMaxObserver>(storage));
  CHECK(bad_axis.observe(TensorView<const float>(x.data(), Shape{3, 4, 5})) == Status::invalid_argument);
}
