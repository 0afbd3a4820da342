// The Histogram<Bins> counting pass (detail::histogram_window_add: the run-time dispatched AVX2
// pass of observer/detail/histogram_count.hpp where the CPU has it, with its uint16
// sub-histograms on large batches) against the scalar reference detail::window_add_scalar: same
// counts for every input, min and max, and on a NaN / +-Inf / out-of-window value a counted
// prefix that stops before it, with counts holding exactly that prefix. Then the same through
// Histogram::try_add and the observers: a failed batch leaves the state unchanged.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "qsafe/observer/histogram.hpp"
#include "qsafe/observer/percentile.hpp"

#include "support/special_floats.hpp"

using namespace qsafe;

namespace {

using qsafe_test::kInf;
using qsafe_test::kNaN;

// Compares histogram_window_add<Bins> with the scalar reference on y (window [first, first + Bins)
// at bin width 1 / inv).
template <std::size_t Bins>
void check_kernel(const std::vector<float>& y, float inv, std::int32_t first) {
  std::vector<std::uint64_t> ref(Bins, 0), got(Bins, 0);
  float lr = 0.f, hr = 0.f, lg = 0.f, hg = 0.f;
  const std::size_t nr =
      detail::window_add_scalar(y.data(), y.size(), inv, first, static_cast<std::uint32_t>(Bins), ref.data(), lr, hr);
  const std::size_t ng = detail::histogram_window_add<Bins>(y.data(), y.size(), inv, first, got.data(), lg, hg);
  INFO("Bins " << Bins << " n " << y.size() << " first " << first << " inv " << inv);
  REQUIRE(ng <= nr);
  if (nr == y.size()) {
    CHECK(ng == nr);
    CHECK(got == ref);
    CHECK(lg == lr);
    CHECK(hg == hr);
  } else {
    // Stopped before the bad value: exactly the prefix [0, ng) is counted, and it ends on a
    // chunk boundary (or is the whole run of good values before a bad tail).
    CHECK(ng % detail::kWindowChunk == 0);
    std::vector<std::uint64_t> prefix(Bins, 0);
    float a = 0.f, b = 0.f;
    REQUIRE(detail::window_add_scalar(y.data(), ng, inv, first, static_cast<std::uint32_t>(Bins), prefix.data(), a,
                                      b) == ng);
    CHECK(got == prefix);
  }
}

// Values filling the window [first * w, (first + Bins) * w): uniform, exact bin edges and their
// float neighbours below, the window's own extremes, -0.0 and 0.
std::vector<float> window_values(std::mt19937& gen, std::size_t n, std::size_t bins, int e, std::int32_t first) {
  const float w = std::ldexp(1.f, e);
  const float lo = static_cast<float>(first) * w;
  const float hi = static_cast<float>(first + static_cast<std::int32_t>(bins)) * w;  // excluded
  std::uniform_real_distribution<float> u(lo, hi);
  std::uniform_int_distribution<std::int32_t> k(first + 1, first + static_cast<std::int32_t>(bins) - 1);
  std::uniform_int_distribution<int> kind(0, 9);
  std::vector<float> v(n);
  for (float& x : v) {
    switch (kind(gen)) {
      case 0: x = static_cast<float>(k(gen)) * w; break;                         // a bin edge
      case 1: x = std::nextafter(static_cast<float>(k(gen)) * w, -kInf); break;  // just below one
      case 2: x = lo; break;                                                     // the window's min
      case 3: x = std::nextafter(hi, -kInf); break;                              // its max
      case 4: x = (gen() & 1u) ? 0.f : -0.f; break;
      default:
        x = u(gen);
        if (x >= hi) x = lo;
        break;
    }
  }
  return v;
}

template <std::size_t Bins>
void check_kernel_sizes(unsigned seed) {
  std::mt19937 gen(seed);
  const std::vector<std::size_t> sizes = {1,
                                          2,
                                          3,
                                          5,
                                          7,
                                          8,
                                          9,
                                          15,
                                          16,
                                          17,
                                          63,
                                          64,
                                          65,
                                          127,
                                          128,
                                          129,
                                          1000,
                                          4093,
                                          16 * Bins - 1,
                                          16 * Bins,
                                          16 * Bins + 17,
                                          32768 + 3 * 64 + 5,
                                          65536 + 17};
  for (int e : {-7, 0, -126, 20}) {
    const std::int32_t first = e == 20 ? 1000 : -static_cast<std::int32_t>(Bins) / 2;
    const float inv = detail::histogram_pow2f(-e);
    for (std::size_t n : sizes) {
      check_kernel<Bins>(window_values(gen, n, Bins, e, first), inv, first);
    }
  }
  // Constant input: every value in one counter (the uint16 sub-counters must not wrap).
  for (std::size_t n : {std::size_t{17}, std::size_t{64}, 16 * Bins, std::size_t{3 * 32768 + 100}}) {
    check_kernel<Bins>(std::vector<float>(n, 0.25f), 128.f, -static_cast<std::int32_t>(Bins) / 2);
    check_kernel<Bins>(std::vector<float>(n, -1.f), 128.f, -128);  // the window's first bin
  }
  // Subnormals at the smallest exponent: bin 0, and -1 for negative ones.
  {
    std::vector<float> v(16 * Bins + 33);
    std::uniform_int_distribution<int> s(-50, 50);
    for (float& x : v) x = static_cast<float>(s(gen)) * 1e-44f;
    check_kernel<Bins>(v, detail::histogram_pow2f(126), -4);
  }
  // One bad value at several places (first chunk, middle, second block, last whole chunk, tail).
  const float w = 1.f / 128.f;
  const std::int32_t first = -static_cast<std::int32_t>(Bins) / 2;
  const float outside_hi = static_cast<float>(first + static_cast<std::int32_t>(Bins)) * w;
  const float outside_lo = std::nextafter(static_cast<float>(first) * w, -kInf);
  for (std::size_t n : {std::size_t{9}, std::size_t{100}, 16 * Bins + 17, std::size_t{2 * 32768 + 77}}) {
    const std::vector<float> good = window_values(gen, n, Bins, -7, first);
    for (float bad : {kNaN, -kNaN, kInf, -kInf, outside_hi, outside_lo, 3e9f, -3e9f, 1e38f}) {
      for (std::size_t at :
           {std::size_t{0}, n / 2, n > 40000 ? std::size_t{40000} : n - 1, n - n % detail::kWindowChunk - 1, n - 1}) {
        if (at >= n) continue;
        std::vector<float> y = good;
        y[at] = bad;
        INFO("bad " << bad << " at " << at);
        check_kernel<Bins>(y, 128.f, first);
      }
    }
  }
}

struct Snapshot {
  std::uint64_t total;
  float lo, hi;
  int e;
  std::int64_t first;
  std::vector<std::uint64_t> counts;
  bool operator==(const Snapshot& o) const {
    return total == o.total && lo == o.lo && hi == o.hi && e == o.e && first == o.first && counts == o.counts;
  }
};

template <std::size_t Bins>
Snapshot snapshot(const Histogram<Bins>& h) {
  Snapshot s{h.total(), h.min(), h.max(), h.exponent(), h.first_bin(), {}};
  for (std::size_t j = 0; j < h.used_bins(); ++j) s.counts.push_back(h.count(j));
  return s;
}

}  // namespace

TEST_CASE("histogram count pass == scalar reference (16 bins)", "[observer][histogram]") { check_kernel_sizes<16>(1); }
TEST_CASE("histogram count pass == scalar reference (2048 bins)", "[observer][histogram]") {
  check_kernel_sizes<2048>(2);
}
TEST_CASE("histogram count pass == scalar reference (4096 bins)", "[observer][histogram]") {
  check_kernel_sizes<4096>(3);
}
TEST_CASE("histogram count pass == scalar reference (8192 bins)", "[observer][histogram]") {
  check_kernel_sizes<8192>(4);
}

TEST_CASE("histogram try_add: large batches equal the reference, bad batches change nothing", "[observer][histogram]") {
  std::mt19937 gen(5);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(128 * 4096 + 13);
  for (float& v : x) v = d(gen);
  float lo = x[0], hi = x[0];
  for (float v : x) {
    lo = std::fmin(lo, v);
    hi = std::fmax(hi, v);
  }
  auto* a = new Histogram<2048>();  // large: off the stack
  auto* b = new Histogram<2048>();
  a->cover(lo * 0.99f, hi * 0.99f);  // same grid; try_add extends the extremes
  b->cover(lo, hi);
  for (int round = 0; round < 3; ++round) {
    REQUIRE(a->try_add(x.data(), x.size()));
    b->add_unchecked(x.data(), x.size());
  }
  CHECK(a->min() == lo);
  CHECK(a->max() == hi);
  CHECK(snapshot(*a) == snapshot(*b));
  // Reference: exact floors in double.
  std::map<std::int64_t, std::uint64_t> expected;
  for (float v : x)
    expected[static_cast<std::int64_t>(std::floor(std::ldexp(static_cast<double>(v), -a->exponent())))] += 3;
  REQUIRE(a->used_bins() > 0);
  for (std::size_t j = 0; j < a->used_bins(); ++j) {
    const std::int64_t k = a->first_bin() + static_cast<std::int64_t>(j);
    const auto it = expected.find(k);
    CHECK(a->count(j) == (it == expected.end() ? 0u : it->second));
  }

  const Snapshot before = snapshot(*a);
  for (float bad : {kNaN, kInf, -kInf, 1e30f}) {
    for (std::size_t at : {std::size_t{0}, std::size_t{70000}, x.size() - 20, x.size() - 1}) {
      std::vector<float> y = x;
      y[at] = bad;
      INFO("bad " << bad << " at " << at);
      CHECK_FALSE(a->try_add(y.data(), y.size()));
      CHECK(snapshot(*a) == before);
    }
  }
  delete a;
  delete b;
}

TEST_CASE("percentile observer: NaN in a large batch is an error with the state unchanged", "[observer][histogram]") {
  std::mt19937 gen(6);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(100000);
  for (float& v : x) v = d(gen);
  auto* obs = new PercentileObserver<>();
  REQUIRE(obs->observe(Span<const float>(x.data(), x.size())) == Status::ok);
  REQUIRE(obs->observe(Span<const float>(x.data(), x.size())) == Status::ok);  // the one-pass path
  const Snapshot before = snapshot(obs->histogram());
  std::vector<float> y = x;
  y[99999] = kNaN;
  CHECK(obs->observe(Span<const float>(y.data(), y.size())) == Status::non_finite_input);
  CHECK(obs->last_non_finite_count() == 1);
  CHECK(snapshot(obs->histogram()) == before);
  delete obs;
}
