// Behaviour of the clipping observers: percentile, MSE and entropy.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "qsafe/observer/all.hpp"
#include "qsafe/quantize.hpp"

using namespace qsafe;

namespace {

std::vector<float> gaussian_with_outliers(std::size_t n, std::size_t outliers, float outlier, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  for (std::size_t i = 0; i < outliers; ++i) v[(i * 7919) % n] = (i % 2 == 0 ? outlier : -outlier);
  return v;
}

std::vector<float> student_t(std::size_t n, float dof, unsigned seed) {
  std::mt19937 gen(seed);
  std::student_t_distribution<float> d(dof);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

// Mean squared error of fake-quantizing x with the parameters qparams_from_range gives for r.
template <class Int, class Scheme, int Bits = sizeof(Int) * 8>
double fake_quant_mse(const std::vector<float>& x, Range r) {
  Quantizer<Int, Bits, Scheme> q;
  const QParams p = qparams_from_range(r, q.qrange(), Scheme::kind).value();
  std::vector<float> y(x.size());
  REQUIRE(q.fake_quantize(Span<const float>(x.data(), x.size()), p, Span<float>(y)) == Status::ok);
  double e = 0.;
  for (std::size_t i = 0; i < x.size(); ++i) e += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
  return e / static_cast<double>(x.size());
}

template <class Obs>
Range observe_all(Obs& obs, const std::vector<float>& x) {
  REQUIRE(obs.observe(Span<const float>(x.data(), x.size())) == Status::ok);
  const Result<Range> r = obs.range();
  REQUIRE(r.ok());
  return r.value();
}

}  // namespace

TEST_CASE("PercentileObserver: clips outliers on both tails, within one bin of the exact quantile",
          "[observer][percentile]") {
  const std::vector<float> x = gaussian_with_outliers(100000, 10, 1000.f, 1);
  PercentileObserver<2048> obs(99.9f);
  const Range r = observe_all(obs, x);
  std::vector<float> sorted = x;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t tail = static_cast<std::size_t>(0.001 * x.size());  // 100 values each side
  const double w = obs.histogram().bin_width();
  CHECK(std::fabs(r.lo - sorted[tail]) <= w);
  CHECK(std::fabs(r.hi - sorted[x.size() - 1 - tail]) <= w);
  CHECK(r.hi < 5.f);
  CHECK(r.lo > -5.f);

  PercentileObserver<2048> all(100.f);
  const Range full = observe_all(all, x);
  CHECK(full.lo == -1000.f);
  CHECK(full.hi == 1000.f);
  PercentileObserver<2048> bad(40.f);
  REQUIRE(bad.observe(Span<const float>(x.data(), x.size())) == Status::ok);
  CHECK(bad.range().status() == Status::invalid_argument);
}

TEST_CASE("PerChannelPercentileObserver: each channel clips its own outliers", "[observer][percentile][per_channel]") {
  // [2 channels, 20000]: channel 0 ~ N(0, 1) with outliers at 500, channel 1 ~ N(0, 10).
  std::vector<float> x = gaussian_with_outliers(40000, 0, 0.f, 2);
  for (std::size_t i = 0; i < 20000; i += 2000) x[i] = 500.f;
  for (std::size_t i = 20000; i < 40000; ++i) x[i] *= 10.f;
  std::vector<PercentileObserver<1024>> storage(2, PercentileObserver<1024>(99.9f));
  PerChannelPercentileObserver<1024> obs(0, Span<PercentileObserver<1024>>(storage));
  REQUIRE(obs.observe(TensorView<const float>(x.data(), Shape{2, 20000})) == Status::ok);
  Range r[2];
  REQUIRE(obs.ranges(Span<Range>(r)) == Status::ok);
  CHECK(r[0].hi < 5.f);
  CHECK(r[1].hi > 25.f);
  CHECK(r[1].hi < 50.f);
}

TEST_CASE("MseObserver: its clip beats min-max on heavy tails, for the target it was given", "[observer][mse]") {
  std::mt19937 gen(9);
  std::exponential_distribution<float> ex(1.f);
  std::vector<float> laplace(50000);
  for (std::size_t i = 0; i < laplace.size(); ++i) laplace[i] = (i % 2 == 0 ? 1.f : -1.f) * ex(gen);
  // 8 bits on Student-t(2): a modest gain (clipping the rare huge values costs nearly what it saves).
  {
    const std::vector<float> x = student_t(50000, 2.f, 3);
    MinMaxObserver mm;
    const Range full = observe_all(mm, x);
    MseObserver<2048> mse(qrange_of<std::uint8_t>(), SchemeKind::affine);
    const Range r = observe_all(mse, x);
    const double e_mse = fake_quant_mse<std::uint8_t, Affine>(x, r);
    const double e_mm = fake_quant_mse<std::uint8_t, Affine>(x, full);
    CHECK(e_mse < 0.95 * e_mm);
    // The error model predicts the real error closely.
    CHECK(mse.expected_error(r) / x.size() == Approx(e_mse).epsilon(0.02));
    CHECK(mse.expected_error(full) / x.size() == Approx(e_mm).epsilon(0.02));
    MseObserver<2048> sym(qrange_of<std::int8_t>(), SchemeKind::symmetric);
    const Range rs = observe_all(sym, x);
    CHECK(fake_quant_mse<std::int8_t, Symmetric>(x, rs) < 0.95 * fake_quant_mse<std::int8_t, Symmetric>(x, full));
  }
  // 4 bits on Laplace tails: a large gain.
  {
    MinMaxObserver mm;
    const Range full = observe_all(mm, laplace);
    MseObserver<2048> mse(qrange_of<std::uint8_t, 4>(), SchemeKind::affine);
    const Range r = observe_all(mse, laplace);
    CHECK(fake_quant_mse<std::uint8_t, Affine, 4>(laplace, r) <
          0.6 * fake_quant_mse<std::uint8_t, Affine, 4>(laplace, full));
    MseObserver<2048> sym(qrange_of<std::int8_t, 4>(), SchemeKind::symmetric);
    const Range rs = observe_all(sym, laplace);
    CHECK(fake_quant_mse<std::int8_t, Symmetric, 4>(laplace, rs) <
          0.6 * fake_quant_mse<std::int8_t, Symmetric, 4>(laplace, full));
  }
}

TEST_CASE("MseObserver: the search finds the exhaustive optimum over candidate ranges", "[observer][mse]") {
  const std::vector<float> x = student_t(20000, 3.f, 10);
  for (SchemeKind scheme : {SchemeKind::affine, SchemeKind::symmetric}) {
    MseObserver<128> mse(qrange_of<std::uint8_t>(), scheme);
    const Range r = observe_all(mse, x);
    const Histogram<128>& h = mse.histogram();
    // Every pair of candidate bounds: min, inner bin edges, max.
    std::vector<float> cand = {h.min()};
    for (std::size_t j = 1; j < h.used_bins(); ++j) cand.push_back(static_cast<float>(h.lower_edge(j)));
    cand.push_back(h.max());
    double best = mse.expected_error(Range{h.min(), h.max()});
    for (float lo : cand)
      for (float hi : cand)
        if (lo < hi) {
          if (scheme == SchemeKind::symmetric && !(lo == h.min() || hi == h.max())) continue;
          best = std::min(best, mse.expected_error(Range{lo, hi}));
        }
    INFO("scheme " << static_cast<int>(scheme));
    CHECK(mse.expected_error(r) <= best * 1.01);
  }
}

TEST_CASE("MseObserver: no clipping where there is nothing to clip", "[observer][mse]") {
  std::mt19937 gen(4);
  std::uniform_real_distribution<float> d(-1.f, 3.f);
  std::vector<float> x(20000);
  for (float& v : x) v = d(gen);
  MseObserver<2048> mse;
  const Range r = observe_all(mse, x);
  MinMaxObserver mm;
  const Range full = observe_all(mm, x);
  CHECK(r.lo <= full.lo + 0.02f * (full.hi - full.lo));
  CHECK(r.hi >= full.hi - 0.02f * (full.hi - full.lo));
  MseObserver<2048> bad(QRange{3, 3}, SchemeKind::affine);
  REQUIRE(bad.observe(Span<const float>(x.data(), x.size())) == Status::ok);
  CHECK(bad.range().status() == Status::invalid_argument);
}

TEST_CASE("EntropyObserver: a Gaussian with outliers is clipped well inside the max", "[observer][entropy]") {
  const std::vector<float> x = gaussian_with_outliers(200000, 20, 50.f, 5);
  EntropyObserver<4096> obs;
  const Range r = observe_all(obs, x);
  CHECK(r.hi > 2.f);
  CHECK(r.hi < 10.f);
  CHECK(r.lo == -r.hi);
  // One-signed data (after ReLU): the threshold stays positive and inside the data.
  std::vector<float> relu = x;
  for (float& v : relu) v = std::fabs(v);
  EntropyObserver<4096> pos;
  const Range rp = observe_all(pos, relu);
  CHECK(rp.lo == *std::min_element(relu.begin(), relu.end()));
  CHECK(rp.hi > 2.f);
  CHECK(rp.hi < 10.f);
  // Smooth data without outliers keeps most of its range.
  std::mt19937 gen(6);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> u(100000);
  for (float& v : u) v = d(gen);
  EntropyObserver<4096> uni;
  const Range ru = observe_all(uni, u);
  CHECK(ru.hi > 0.8f);
}
