// Property tests of the quantizer over random ranges and data, for every storage type, logical bit
// width, scheme, rounding and range option (plain, narrow, reduce):
//   round trip    |dequantize(quantize(x)) - clamp(x)| <= scale / 2, and <= scale / 2 against x
//                 itself for every x inside the (zero-widened) calibrated range;
//   monotone      x <= y  =>  quantize(x) <= quantize(y);
//   qparams       zero point inside [qmin, qmax], finite scale >= eps, quantize(0) == zero point and
//                 it dequantizes to exactly 0; symmetric zero points centred; affine ranges that
//                 start or end at 0 put the zero point at qmin or qmax;
//   consistency   fake_quantize == dequantize(quantize) bit for bit; half-even (which rounds
//                 x * (1/scale)) and half-away (which rounds x / scale) differ only where a tie lies
//                 between those two values, by one step; per-channel and per-group results equal the
//                 per-tensor quantizer applied with each element's own parameters.
// Slack for float arithmetic: x * (1/scale) is rounded twice (the reciprocal, the product) and
// (q - zp) * scale once, so bounds get a few float epsilons relative to the magnitudes involved.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "qsafe/quantize.hpp"

namespace {

using qsafe::QParams;
using qsafe::QRange;
using qsafe::Range;
using qsafe::Status;

template <class Int_, int Bits_, class Scheme_, class Rounding_>
struct Config {
  using Int = Int_;
  using Scheme = Scheme_;
  using Rounding = Rounding_;
  static constexpr int kBits = Bits_;
};

constexpr double kEps = std::numeric_limits<float>::epsilon();

double half_step_bound(double scale, double magnitude) { return 0.5 * scale * (1 + 4 * kEps) + 4 * kEps * magnitude; }

// A random range: magnitudes log-uniform over 1e-6 .. 1e6, all sign patterns, some degenerate.
Range random_range(std::mt19937& rng) {
  std::uniform_real_distribution<double> log_mag(-6.0, 6.0);
  std::uniform_int_distribution<int> kind(0, 9);
  const float a = static_cast<float>(std::pow(10.0, log_mag(rng)));
  const float b = static_cast<float>(std::pow(10.0, log_mag(rng)));
  switch (kind(rng)) {
    case 0: return Range{0.f, a};                       // starts at 0
    case 1: return Range{-a, 0.f};                      // ends at 0
    case 2: return Range{std::min(a, b), std::max(a, b)};    // positive only: widened to 0
    case 3: return Range{-std::max(a, b), -std::min(a, b)};  // negative only
    case 4: return Range{a, a};                         // constant
    case 5: return Range{0.f, 0.f};                     // all zero
    case 6: return Range{-a * 1e-7f, a * 1e-7f};        // tiny: scale hits eps
    default: return Range{-a, b};
  }
}


template <class C>
std::vector<qsafe::QRangeOptions> options_for() {
  std::vector<qsafe::QRangeOptions> opts = {{false, false}, {true, false}};
  if (C::kBits > 2) opts.push_back({false, true});
  return opts;
}

template <class C>
using TensorQuantizer = qsafe::Quantizer<typename C::Int, C::kBits, typename C::Scheme, qsafe::PerTensor,
                                         typename C::Rounding>;

template <class C>
std::vector<typename C::Int> quantize(const TensorQuantizer<C>& quant, const std::vector<float>& x, QParams p) {
  std::vector<typename C::Int> q(x.size());
  REQUIRE(quant.quantize(qsafe::Span<const float>(x), p, qsafe::Span<typename C::Int>(q)) == Status::ok);
  return q;
}

template <class C>
std::vector<float> dequantize(const TensorQuantizer<C>& quant, const std::vector<typename C::Int>& q, QParams p) {
  std::vector<float> y(q.size());
  REQUIRE(quant.dequantize(qsafe::Span<const typename C::Int>(q), p, qsafe::Span<float>(y)) == Status::ok);
  return y;
}

}  // namespace

#define QSAFE_PROPERTY_CONFIGS                                                                       \
  (Config<std::int8_t, 8, qsafe::Affine, qsafe::RoundHalfEven>),                                     \
      (Config<std::uint8_t, 8, qsafe::Affine, qsafe::RoundHalfEven>),                                \
      (Config<std::int16_t, 16, qsafe::Affine, qsafe::RoundHalfEven>),                               \
      (Config<std::uint16_t, 16, qsafe::Affine, qsafe::RoundHalfEven>),                              \
      (Config<std::int8_t, 4, qsafe::Affine, qsafe::RoundHalfEven>),                                 \
      (Config<std::uint8_t, 4, qsafe::Affine, qsafe::RoundHalfAway>),                                \
      (Config<std::int8_t, 2, qsafe::Affine, qsafe::RoundHalfAway>),                                 \
      (Config<std::int16_t, 12, qsafe::Affine, qsafe::RoundHalfAway>),                               \
      (Config<std::uint8_t, 8, qsafe::Affine, qsafe::RoundHalfAway>),                                \
      (Config<std::int8_t, 8, qsafe::Symmetric, qsafe::RoundHalfEven>),                              \
      (Config<std::uint8_t, 8, qsafe::Symmetric, qsafe::RoundHalfEven>),                             \
      (Config<std::int16_t, 16, qsafe::Symmetric, qsafe::RoundHalfEven>),                            \
      (Config<std::uint16_t, 16, qsafe::Symmetric, qsafe::RoundHalfAway>),                           \
      (Config<std::int8_t, 4, qsafe::Symmetric, qsafe::RoundHalfEven>),                              \
      (Config<std::uint8_t, 4, qsafe::Symmetric, qsafe::RoundHalfAway>),                             \
      (Config<std::int8_t, 2, qsafe::Symmetric, qsafe::RoundHalfEven>),                              \
      (Config<std::int16_t, 12, qsafe::Symmetric, qsafe::RoundHalfAway>),                            \
      (Config<std::int8_t, 8, qsafe::Symmetric, qsafe::RoundHalfAway>)

TEMPLATE_TEST_CASE("property: qparams_from_range invariants and the round trip within half a step",
                   "[property]", QSAFE_PROPERTY_CONFIGS) {
  using C = TestType;
  std::mt19937 rng(20240611u + static_cast<unsigned>(C::kBits));
  for (const qsafe::QRangeOptions opt : options_for<C>()) {
    const TensorQuantizer<C> quant(qsafe::PerTensor{}, opt);
    const QRange r = quant.qrange();
    if (qsafe::check_qrange(r) != Status::ok) continue;
    for (int trial = 0; trial < 200; ++trial) {
      const Range range = random_range(rng);
      const qsafe::Result<QParams> rp = qsafe::qparams_from_range(range, r, C::Scheme::kind);
      INFO("range [" << range.lo << ", " << range.hi << "] qrange [" << r.qmin << ", " << r.qmax << "]");
      REQUIRE(rp.ok());
      const QParams p = rp.value();
      // qparams invariants.
      REQUIRE(std::isfinite(p.scale));
      REQUIRE(p.scale >= qsafe::kDefaultScaleEps);
      REQUIRE(p.zero_point >= r.qmin);
      REQUIRE(p.zero_point <= r.qmax);
      REQUIRE(qsafe::check_qparams(p, r) == Status::ok);
      if (C::Scheme::kind == qsafe::SchemeKind::symmetric) {
        REQUIRE(p.zero_point == (r.qmin < 0 ? 0 : qsafe::symmetric_unsigned_zero_point(r)));
      } else if (p.scale > qsafe::kDefaultScaleEps) {  // (a scale raised to eps moves the zero point)
        if (range.lo >= 0.f) REQUIRE(p.zero_point == r.qmin);
        if (range.hi <= 0.f) REQUIRE(p.zero_point == r.qmax);
      }
      // 0 is exactly representable.
      const std::vector<typename C::Int> q0 = quantize<C>(quant, {0.f, -0.f}, p);
      REQUIRE(q0[0] == p.zero_point);
      REQUIRE(q0[1] == p.zero_point);
      REQUIRE(dequantize<C>(quant, q0, p)[0] == 0.f);

      // Round trip: data inside the widened range, and beyond it on both sides.
      const double lo = std::min(0.0, static_cast<double>(range.lo));
      const double hi = std::max(0.0, static_cast<double>(range.hi));
      const double width = std::max(hi - lo, 1e-30);
      std::uniform_real_distribution<double> inside(lo, hi);
      std::uniform_real_distribution<double> around(lo - 0.5 * width, hi + 0.5 * width);
      std::vector<float> x;
      for (int i = 0; i < 64; ++i) x.push_back(static_cast<float>(inside(rng)));
      for (int i = 0; i < 32; ++i) x.push_back(static_cast<float>(around(rng)));
      x.push_back(range.lo);
      x.push_back(range.hi);
      const std::vector<typename C::Int> q = quantize<C>(quant, x, p);
      const std::vector<float> y = dequantize<C>(quant, q, p);
      const double grid_lo = (static_cast<double>(r.qmin) - p.zero_point) * p.scale;
      const double grid_hi = (static_cast<double>(r.qmax) - p.zero_point) * p.scale;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double xi = x[i];
        const double c = std::min(std::max(xi, grid_lo), grid_hi);
        const double bound = half_step_bound(p.scale, std::fabs(c) + p.scale);
        INFO("x = " << x[i] << " q = " << int(q[i]) << " y = " << y[i] << " scale = " << p.scale
                    << " zp = " << p.zero_point);
        REQUIRE(q[i] >= r.qmin);
        REQUIRE(q[i] <= r.qmax);
        REQUIRE(std::fabs(static_cast<double>(y[i]) - c) <= bound);
        if (xi >= lo && xi <= hi) REQUIRE(std::fabs(static_cast<double>(y[i]) - xi) <= bound);
      }

      // fake_quantize == dequantize(quantize), bit for bit.
      std::vector<float> fq(x.size());
      REQUIRE(quant.fake_quantize(qsafe::Span<const float>(x), p, qsafe::Span<float>(fq)) == Status::ok);
      REQUIRE(std::memcmp(fq.data(), y.data(), y.size() * sizeof(float)) == 0);
    }
  }
}

TEMPLATE_TEST_CASE("property: quantize and dequantize are monotone", "[property]", QSAFE_PROPERTY_CONFIGS) {
  using C = TestType;
  std::mt19937 rng(777u + static_cast<unsigned>(C::kBits));
  for (const qsafe::QRangeOptions opt : options_for<C>()) {
    const TensorQuantizer<C> quant(qsafe::PerTensor{}, opt);
    const QRange r = quant.qrange();
    if (qsafe::check_qrange(r) != Status::ok) continue;
    for (int trial = 0; trial < 50; ++trial) {
      const Range range = random_range(rng);
      const QParams p = qsafe::qparams_from_range(range, r, C::Scheme::kind).value();
      const double lo = std::min(0.0, static_cast<double>(range.lo));
      const double hi = std::max(0.0, static_cast<double>(range.hi));
      const double width = std::max(hi - lo, 1e-30);
      std::uniform_real_distribution<double> around(lo - width, hi + width);
      std::vector<float> x;
      for (int i = 0; i < 256; ++i) x.push_back(static_cast<float>(around(rng)));
      // Exact ties of the grid, where the two roundings differ.
      for (int k = -4; k <= 4; ++k) x.push_back(static_cast<float>((k + 0.5) * p.scale));
      x.push_back(-std::numeric_limits<float>::infinity());
      x.push_back(std::numeric_limits<float>::infinity());
      std::sort(x.begin(), x.end());
      std::vector<typename C::Int> q(x.size());
      const Status s = quant.quantize(qsafe::Span<const float>(x), p, qsafe::Span<typename C::Int>(q));
      REQUIRE(s == Status::non_finite_input);  // the two infinities, mapped to the ends
      REQUIRE(q.front() == r.qmin);
      REQUIRE(q.back() == r.qmax);
      for (std::size_t i = 1; i < q.size(); ++i) {
        INFO("x[" << i - 1 << "] = " << x[i - 1] << " x[" << i << "] = " << x[i]);
        REQUIRE(q[i - 1] <= q[i]);
      }
      const std::vector<float> y = dequantize<C>(quant, q, p);
      for (std::size_t i = 1; i < y.size(); ++i) REQUIRE(y[i - 1] <= y[i]);
    }
  }
}

TEMPLATE_TEST_CASE("property: half-even and half-away differ only next to ties, by one step", "[property]",
                   (std::int8_t), (std::uint8_t), (std::int16_t)) {
  using Int = TestType;
  std::mt19937 rng(99u);
  const qsafe::Quantizer<Int, 8 * sizeof(Int), qsafe::Affine, qsafe::PerTensor, qsafe::RoundHalfEven> even;
  const qsafe::Quantizer<Int, 8 * sizeof(Int), qsafe::Affine, qsafe::PerTensor, qsafe::RoundHalfAway> away;
  for (int trial = 0; trial < 100; ++trial) {
    const Range range = random_range(rng);
    const QParams p = qsafe::qparams_from_range(range, even.qrange(), qsafe::SchemeKind::affine).value();
    const float inv = qsafe::inverse_scale(p.scale);
    std::vector<float> x;
    std::uniform_int_distribution<int> k(-300, 300);
    for (int i = 0; i < 200; ++i) x.push_back(static_cast<float>(k(rng) + 0.5f) / inv);  // near-ties
    std::uniform_real_distribution<float> any(range.lo - 1.f, range.hi + 1.f);
    for (int i = 0; i < 200; ++i) x.push_back(any(rng));
    std::vector<Int> qe(x.size()), qa(x.size());
    REQUIRE(even.quantize(qsafe::Span<const float>(x), p, qsafe::Span<Int>(qe)) == Status::ok);
    REQUIRE(away.quantize(qsafe::Span<const float>(x), p, qsafe::Span<Int>(qa)) == Status::ok);
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (qe[i] == qa[i]) continue;
      const float scaled = x[i] * inv;        // what half-even rounds (PyTorch's reciprocal multiply)
      const float quotient = x[i] / p.scale;  // what half-away rounds (TFLite's division)
      INFO("x = " << x[i] << " scaled = " << scaled << " quotient = " << quotient);
      // A half-integer lies in [min, max] of the two (each may be the tie itself).
      const float lo = std::min(scaled, quotient), hi = std::max(scaled, quotient);
      REQUIRE(std::floor(hi - 0.5f) + 0.5f >= lo);
      REQUIRE(std::abs(int(qe[i]) - int(qa[i])) == 1);
    }
  }
}

TEMPLATE_TEST_CASE("property: per-channel and per-group equal per-tensor with each element's parameters",
                   "[property]", (Config<std::int8_t, 8, qsafe::Symmetric, qsafe::RoundHalfEven>),
                   (Config<std::uint8_t, 8, qsafe::Affine, qsafe::RoundHalfEven>),
                   (Config<std::int8_t, 4, qsafe::Symmetric, qsafe::RoundHalfAway>)) {
  using C = TestType;
  using Int = typename C::Int;
  std::mt19937 rng(4242u);
  const TensorQuantizer<C> per_tensor;
  const std::int64_t dims[3] = {3, 5, 7};
  const qsafe::Shape shape{dims[0], dims[1], dims[2]};
  std::normal_distribution<float> normal(0.f, 2.f);
  std::vector<float> x(3 * 5 * 7);
  for (float& v : x) v = normal(rng);
  const qsafe::TensorView<const float> xv(x.data(), shape);

  auto check = [&](const auto& quant, auto param_index) {
    const std::int64_t count = quant.param_count(shape).value();
    std::vector<Range> ranges(static_cast<std::size_t>(count));
    std::vector<QParams> params(static_cast<std::size_t>(count));
    REQUIRE(quant.params_from_data(xv, qsafe::Span<Range>(ranges), qsafe::Span<QParams>(params)) == Status::ok);
    std::vector<Int> q(x.size());
    REQUIRE(quant.quantize(xv, qsafe::Span<const QParams>(params), qsafe::TensorView<Int>(q.data(), shape)) ==
            Status::ok);
    for (std::int64_t o = 0; o < dims[0]; ++o)
      for (std::int64_t a = 0; a < dims[1]; ++a)
        for (std::int64_t i = 0; i < dims[2]; ++i) {
          const std::size_t e = static_cast<std::size_t>((o * dims[1] + a) * dims[2] + i);
          const QParams p = params[static_cast<std::size_t>(param_index(o, a, i))];
          const Range rg = ranges[static_cast<std::size_t>(param_index(o, a, i))];
          REQUIRE(x[e] >= rg.lo);
          REQUIRE(x[e] <= rg.hi);
          // The whole tensor with this element's parameters, then element e.
          std::vector<Int> want(x.size());
          REQUIRE(per_tensor.quantize(qsafe::Span<const float>(x), p, qsafe::Span<Int>(want)) == Status::ok);
          REQUIRE(q[e] == want[e]);
        }
  };
  using Q = qsafe::Quantizer<Int, C::kBits, typename C::Scheme, qsafe::PerChannel, typename C::Rounding>;
  using G = qsafe::Quantizer<Int, C::kBits, typename C::Scheme, qsafe::PerGroup, typename C::Rounding>;
  SECTION("per channel, axis 0") {
    check(Q(qsafe::PerChannel{0}), [](std::int64_t o, std::int64_t, std::int64_t) { return o; });
  }
  SECTION("per channel, axis 1") {
    check(Q(qsafe::PerChannel{1}), [](std::int64_t, std::int64_t a, std::int64_t) { return a; });
  }
  SECTION("per channel, axis -1") {
    check(Q(qsafe::PerChannel{-1}), [](std::int64_t, std::int64_t, std::int64_t i) { return i; });
  }
  SECTION("per group of 3 along the last axis (last group shorter)") {
    check(G(qsafe::PerGroup{-1, 3}),
          [&](std::int64_t o, std::int64_t a, std::int64_t i) { return (o * dims[1] + a) * 3 + i / 3; });
  }
  SECTION("per group of 2 along axis 1") {
    // params form [outer, ceil(extent / G), inner] = [3, 3, 7].
    check(G(qsafe::PerGroup{1, 2}),
          [&](std::int64_t o, std::int64_t a, std::int64_t i) { return (o * 3 + a / 2) * dims[2] + i; });
  }
}
