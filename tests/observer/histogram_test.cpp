// Histogram<Bins> (observer/histogram.hpp): exact binning, canonical exponent, exact re-binning and
// merging, and vector == scalar for both index kernels.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "qsafe/observer/histogram.hpp"

using namespace qsafe;

namespace {

// floor(x / 2^e) in double: exact for every float x and e in [-126, 127].
std::int64_t exact_bin(float x, int e) { return static_cast<std::int64_t>(std::floor(std::ldexp(static_cast<double>(x), -e))); }

// The canonical exponent by brute force (histogram.hpp, conditions (a)-(c)).
int canonical_exponent(float lo, float hi, std::size_t bins) {
  const float max_abs = std::fmax(-lo, hi);
  for (int e = -126; e <= 127; ++e) {
    if (max_abs > 0.f && std::ldexp(static_cast<double>(max_abs), -e) >= std::ldexp(1.0, 30)) continue;
    if (exact_bin(hi, e) - exact_bin(lo, e) <= static_cast<std::int64_t>(bins) - 1) return e;
  }
  return 999;
}

template <std::size_t Bins>
void check_against_brute_force(const Histogram<Bins>& h, const std::vector<float>& all) {
  float lo = all[0], hi = all[0];
  for (float v : all) {
    lo = std::fmin(lo, v);
    hi = std::fmax(hi, v);
  }
  REQUIRE(h.total() == all.size());
  CHECK(h.min() == lo);
  CHECK(h.max() == hi);
  const int e = h.exponent();
  CHECK(e == canonical_exponent(lo, hi, Bins));
  std::map<std::int64_t, std::uint64_t> expected;
  for (float v : all) ++expected[exact_bin(v, e)];
  CHECK(h.first_bin() == exact_bin(lo, e));
  CHECK(static_cast<std::int64_t>(h.used_bins()) == exact_bin(hi, e) - exact_bin(lo, e) + 1);
  std::uint64_t seen = 0;
  for (std::size_t j = 0; j < h.used_bins(); ++j) {
    const std::int64_t k = h.first_bin() + static_cast<std::int64_t>(j);
    const auto it = expected.find(k);
    const std::uint64_t want = it == expected.end() ? 0 : it->second;
    if (h.count(j) != want) {
      FAIL_CHECK("bin " << k << ": " << h.count(j) << " != " << want);
    }
    CHECK(h.count_at(k) == want);
    seen += h.count(j);
  }
  CHECK(seen == all.size());
}

std::vector<float> mixed_values(unsigned seed, std::size_t n, float scale, float shift) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen) * scale + shift;
  return v;
}

}  // namespace

TEST_CASE("histogram: bin index kernels are exact floors, vector == scalar", "[observer][histogram]") {
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> mant(-2.f, 2.f);
  std::uniform_int_distribution<int> ex(-140, 120);
  std::vector<float> x;
  for (int i = 0; i < 4000; ++i) x.push_back(std::ldexp(mant(gen), ex(gen)));
  for (float v : {0.f, -0.f, 1.f, -1.f, 0.5f, -0.5f, 1e-45f, -1e-45f, -1e-40f, 3.f, -3.f, 1024.f, -1024.f})
    x.push_back(v);
  for (int e : {-126, -100, -30, -5, 0, 3, 20, 60, 100, 126}) {
    // Keep |x| / 2^e below 2^30 (the histogram's own precondition), as the exponent floor ensures.
    std::vector<float> ok;
    for (float v : x)
      if (std::fabs(std::ldexp(static_cast<double>(v), -e)) < std::ldexp(1.0, 30)) ok.push_back(v);
    // Exact multiples of 2^e (bin edges) and their neighbours.
    for (int k = -5; k <= 5; ++k) {
      const float edge = static_cast<float>(std::ldexp(static_cast<double>(k), e));
      if (!std::isfinite(edge) || std::isinf(std::nextafter(edge, INFINITY)) ||
          std::isinf(std::nextafter(edge, -INFINITY)))
        continue;
      ok.push_back(edge);
      ok.push_back(std::nextafter(edge, -INFINITY));
      ok.push_back(std::nextafter(edge, INFINITY));
    }
    const float inv = detail::histogram_pow2f(-e);
    REQUIRE(inv == static_cast<float>(std::ldexp(1.0, -e)));
    std::vector<std::int32_t> a(ok.size()), b(ok.size());
    detail::bin_indices_scalar(ok.data(), ok.size(), inv, 7, a.data());
    detail::bin_indices(ok.data(), ok.size(), inv, 7, b.data());
    for (std::size_t i = 0; i < ok.size(); ++i) {
      INFO("x=" << ok[i] << " e=" << e);
      CHECK(a[i] == exact_bin(ok[i], e) - 7);
      CHECK(b[i] == a[i]);
    }
  }
}

TEST_CASE("histogram: one-pass window kernel, vector == scalar, stops on the first bad chunk",
          "[observer][histogram]") {
  std::vector<float> x = mixed_values(2, 1000, 1.f, 0.f);
  const int e = -6;
  const float inv = detail::histogram_pow2f(-e);
  for (int variant = 0; variant < 5; ++variant) {
    std::vector<float> y = x;
    if (variant == 1) y[700] = std::numeric_limits<float>::quiet_NaN();
    if (variant == 2) y[130] = 100.f;  // outside the window
    if (variant == 3) y[999] = -std::numeric_limits<float>::infinity();
    if (variant == 4) y[5] = 3e9f;     // does not fit int32 after scaling
    std::vector<std::uint64_t> ca(1024, 0), cb(1024, 0);
    float la = 0, ha = 0, lb = 0, hb = 0;
    const std::size_t na = detail::window_add_scalar(y.data(), y.size(), inv, -512, 1024, ca.data(), la, ha);
    const std::size_t nb = detail::window_add(y.data(), y.size(), inv, -512, 1024, cb.data(), lb, hb);
    INFO("variant " << variant);
    CHECK(na == nb);
    CHECK(ca == cb);
    if (variant == 0) {
      CHECK(na == y.size());
      CHECK(la == lb);
      CHECK(ha == hb);
    } else {
      CHECK(na < y.size());
    }
  }
}

TEST_CASE("histogram: streaming growth, shifts and merges are exact and canonical", "[observer][histogram]") {
  // Batches that force every kind of move: left growth, right growth, both, exponent jumps,
  // one-signed data far from 0, constants first.
  const std::vector<std::vector<float>> batches = {
      std::vector<float>(10, 3.25f),
      mixed_values(3, 500, 0.01f, 3.f),
      mixed_values(4, 500, 1.f, -2.f),
      mixed_values(5, 500, 0.001f, 100.f),
      mixed_values(6, 500, 50.f, 0.f),
      {-1e4f, 1e-30f, -1e-30f, 0.f},
      mixed_values(7, 2000, 2.f, 1.f),
  };
  Histogram<64> streamed;
  std::vector<float> all;
  for (const auto& b : batches) {
    float lo = b[0], hi = b[0];
    for (float v : b) {
      lo = std::fmin(lo, v);
      hi = std::fmax(hi, v);
    }
    if (!streamed.try_add(b.data(), b.size())) {
      streamed.cover(lo, hi);
      streamed.add_unchecked(b.data(), b.size());
    }
    all.insert(all.end(), b.begin(), b.end());
    check_against_brute_force(streamed, all);
  }
  // Merge in a different grouping: identical histogram.
  Histogram<64> left, right;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    Histogram<64>& h = (i % 2 == 0) ? left : right;
    const auto& b = batches[i];
    float lo = b[0], hi = b[0];
    for (float v : b) {
      lo = std::fmin(lo, v);
      hi = std::fmax(hi, v);
    }
    h.cover(lo, hi);
    h.add_unchecked(b.data(), b.size());
  }
  right.merge(left);
  check_against_brute_force(right, all);
}

TEST_CASE("histogram: data spans at least half the bins", "[observer][histogram]") {
  for (float scale : {1e-20f, 0.3f, 1.f, 7.f, 1e20f}) {
    for (float shift : {0.f, 5.f, -100.f}) {
      const std::vector<float> x = mixed_values(8, 3000, scale, shift * scale);
      Histogram<2048> h;
      float lo = x[0], hi = x[0];
      for (float v : x) {
        lo = std::fmin(lo, v);
        hi = std::fmax(hi, v);
      }
      h.cover(lo, hi);
      h.add_unchecked(x.data(), x.size());
      INFO("scale " << scale << " shift " << shift);
      CHECK(h.used_bins() >= 2048 / 2 - 1);
      CHECK(h.used_bins() <= 2048);
    }
  }
}
