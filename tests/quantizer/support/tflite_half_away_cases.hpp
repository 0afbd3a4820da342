// RoundHalfAway is TFLite's quantize, bit for bit (issue #2): every quantize path of qsafe with
// RoundHalfAway - the scalar reference, the vector loops, the counting loops the range policies
// use, fake-quantize, Quantizer per tensor / per channel / per group, packed int4, the range
// policies - against an independent restatement of TFLite's reference kernels:
//
//   quantize    q = clamp(std::round(fl(x / scale)) + zero_point, qmin, qmax)
//               (reference_ops::AffineQuantize / PerChannelQuantize: a float32 division, round
//               half away from zero, the sum and the clamp in double)
//   dequantize  x = float(double(scale) * (q - zero_point))   (reference_ops::Dequantize)
//
// on more than 10^6 random (x, scale, zero point) triples, most of them within 2 ulp of a tie,
// for every storage type, 8/4/16-bit, full and narrow ranges, and every run length 1..70 (the tails
// of every vector width and of the 64-float blocks). The test also shows that the inputs tell the
// division from a reciprocal multiply: on every named scale some of them quantize differently
// with fl(x * fl(1/scale)), so reverting RoundHalfAway to the reciprocal fails here.
//
// This file holds test cases and is included by vector_loops_test.cpp only, so that it is compiled
// into the baseline test binary and into each per-ISA binary (tests/cmake/quantizer_isa.cmake):
// the vector division is checked at SSE2, AVX2 and AVX-512.
#ifndef QSAFE_TESTS_QUANTIZER_SUPPORT_TFLITE_HALF_AWAY_CASES_HPP_
#define QSAFE_TESTS_QUANTIZER_SUPPORT_TFLITE_HALF_AWAY_CASES_HPP_

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "qsafe/quantize.hpp"

namespace tflite_half_away {

using qsafe::QParams;
using qsafe::QRange;
using qsafe::RoundHalfAway;
using qsafe::Span;
using qsafe::Status;

static_assert(qsafe::RoundHalfAway::scale_op == qsafe::ScaleOp::divide, "half-away quantizes as TFLite: x / scale");
static_assert(qsafe::RoundHalfEven::scale_op == qsafe::ScaleOp::multiply_by_reciprocal,
              "half-even quantizes as PyTorch: x * (1 / scale)");

// TFLite's reference quantize of one finite float (TFLite converts NaN to an integer: undefined).
inline std::int32_t tflite_quantize(float x, float scale, std::int32_t zero_point, QRange r) {
  const float quotient = x / scale;  // float32 division, as val / static_cast<float>(scale)
  const double unclamped = static_cast<double>(std::round(quotient)) + static_cast<double>(zero_point);
  const double clamped = std::min(std::max(unclamped, static_cast<double>(r.qmin)), static_cast<double>(r.qmax));
  return static_cast<std::int32_t>(clamped);
}

// TFLite's reference dequantize.
inline float tflite_dequantize(std::int32_t q, float scale, std::int32_t zero_point) {
  return static_cast<float>(static_cast<double>(scale) * static_cast<double>(q - zero_point));
}

// Whether round(x / scale) + zero_point lies inside [qmin, qmax] (fake-quantize's pass-through mask).
inline bool tflite_inside(float x, float scale, std::int32_t zero_point, QRange r) {
  const double u = static_cast<double>(std::round(x / scale)) + static_cast<double>(zero_point);
  return u >= r.qmin && u <= r.qmax;
}

// The same rounding applied to the reciprocal product instead: what a half-away quantizer that
// multiplies by fl(1/scale) (qsafe before issue #2) computes.
inline std::int32_t reciprocal_quantize(float x, float scale, std::int32_t zero_point, QRange r) {
  const float inv = 1.f / scale;
  const double unclamped = static_cast<double>(std::round(x * inv)) + static_cast<double>(zero_point);
  return static_cast<std::int32_t>(
      std::min(std::max(unclamped, static_cast<double>(r.qmin)), static_cast<double>(r.qmax)));
}

// The scales the issue names, plus the one docs/numerics.md uses as its example.
constexpr float kNamedScales[] = {0.1f, 1.f / 3.f, 0.007f, 1e-6f, 255.f / 7.f, 0.0377f};
constexpr std::size_t kNamedScaleCount = sizeof(kNamedScales) / sizeof(kNamedScales[0]);

inline float nudge(float x, int ulps) {
  for (int i = 0; i < ulps; ++i) x = std::nextafter(x, std::numeric_limits<float>::infinity());
  for (int i = 0; i < -ulps; ++i) x = std::nextafter(x, -std::numeric_limits<float>::infinity());
  return x;
}

// n finite inputs for one (scale, zero point): mostly within 2 ulp of a tie (k + 0.5) * scale
// over the whole integer range and a few levels beyond it, some near integers, some uniform over
// the range, some far outside it (saturation).
inline void near_tie_inputs(float scale, std::int32_t zero_point, QRange r, std::size_t n, std::mt19937& rng,
                            float* out) {
  std::uniform_int_distribution<std::int32_t> level(r.qmin - zero_point - 3, r.qmax - zero_point + 3);
  std::uniform_int_distribution<int> ulps(-2, 2);
  std::uniform_int_distribution<int> kind(0, 19);
  std::uniform_real_distribution<float> unit(-1.f, 1.f);
  const float span = static_cast<float>(r.qmax - r.qmin + 8) * scale;
  for (std::size_t i = 0; i < n; ++i) {
    const int k = kind(rng);
    const float kf = static_cast<float>(level(rng));
    if (k < 14) {
      out[i] = nudge((kf + 0.5f) * scale, ulps(rng));
    } else if (k < 16) {
      out[i] = nudge(kf * scale, ulps(rng));
    } else if (k < 19) {
      out[i] = unit(rng) * span;
    } else {
      out[i] = unit(rng) * span * 1e4f;
    }
  }
}

// A scale for run `run`: the named ones in turn, every third run a random one (log-uniform over
// 1e-6 .. 1e3 with a random mantissa).
inline float pick_scale(std::size_t run, std::mt19937& rng) {
  if (run % 3 != 0) return kNamedScales[(run / 3 + run) % kNamedScaleCount];
  std::uniform_real_distribution<float> e(-6.f, 3.f);
  std::uniform_real_distribution<float> m(1.f, 2.f);
  return m(rng) * std::pow(10.f, e(rng));
}

struct Tally {
  std::size_t triples = 0;
  std::size_t reciprocal_differs = 0;
  std::size_t reciprocal_differs_named[kNamedScaleCount] = {};
};

// Runs of length 1..70 (then again), each with its own scale and zero point, until `triples`
// inputs were checked: scalar reference, vector loop, counting loop and fake-quantize loop, each
// against TFLite. Returns the tally.
template <class Int>
void check_loops(QRange r, std::size_t triples, std::uint32_t seed, Tally& tally) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int32_t> zp_dist(r.qmin, r.qmax);
  constexpr std::size_t kMaxRun = 70;
  float x[kMaxRun];
  Int qs[kMaxRun + 1], qv[kMaxRun + 1], qc[kMaxRun + 1];
  float ys[kMaxRun], yv[kMaxRun];
  std::uint8_t ms[kMaxRun], mv[kMaxRun];
  std::int32_t want[kMaxRun];
  for (std::size_t run = 0, done = 0; done < triples; ++run) {
    const std::size_t n = run % kMaxRun + 1;
    const float scale = pick_scale(run, rng);
    const std::int32_t zp = zp_dist(rng);
    near_tie_inputs(scale, zp, r, n, rng, x);
    const qsafe::detail::QuantScale s(scale);
    qv[n] = qs[n] = qc[n] = Int{42};  // canaries: nothing written past n
    REQUIRE(qsafe::detail::quantize_loop_scalar<RoundHalfAway>(x, n, s, zp, r, qs) == 0);
    REQUIRE(qsafe::detail::quantize_loop<RoundHalfAway>(x, n, s, zp, r, qv) == 0);
    qsafe::detail::quantize_loop_counted<RoundHalfAway>(x, n, s, zp, r, qsafe::Range{-scale, scale}, qc);
    REQUIRE(qsafe::detail::fake_quantize_loop_scalar<RoundHalfAway>(x, n, s, zp, r, ys, ms) == 0);
    REQUIRE(qsafe::detail::fake_quantize_loop<RoundHalfAway>(x, n, s, zp, r, yv, mv) == 0);
    REQUIRE(qv[n] == Int{42});
    REQUIRE(qs[n] == Int{42});
    REQUIRE(qc[n] == Int{42});
    std::size_t bad = n;  // first element that disagrees with TFLite anywhere
    for (std::size_t i = 0; i < n; ++i) {
      want[i] = tflite_quantize(x[i], scale, zp, r);
      const float y = tflite_dequantize(want[i], scale, zp);
      const std::uint8_t m = tflite_inside(x[i], scale, zp, r) ? 1u : 0u;
      const bool same = qs[i] == want[i] && qv[i] == want[i] && qc[i] == want[i] && std::memcmp(&ys[i], &y, 4) == 0 &&
                        std::memcmp(&yv[i], &y, 4) == 0 && ms[i] == m && mv[i] == m;
      if (!same && bad == n) bad = i;
      if (reciprocal_quantize(x[i], scale, zp, r) != want[i]) {
        ++tally.reciprocal_differs;
        for (std::size_t j = 0; j < kNamedScaleCount; ++j)
          if (scale == kNamedScales[j]) ++tally.reciprocal_differs_named[j];
      }
    }
    if (bad != n) {
      const std::size_t i = bad;
      INFO("run " << run << " n " << n << " element " << i << ": x = " << x[i] << " (bits " << std::hexfloat << x[i]
                  << std::defaultfloat << ") scale = " << scale << " zp = " << zp << " qrange [" << r.qmin << ", "
                  << r.qmax << "] TFLite " << want[i] << " scalar " << int(qs[i]) << " vector " << int(qv[i])
                  << " counted " << int(qc[i]) << " fake (scalar, vector) " << ys[i] << ", " << yv[i]
                  << " TFLite dequantized " << tflite_dequantize(want[i], scale, zp));
      FAIL("RoundHalfAway differs from TFLite's reference quantize");
    }
    done += n;
    tally.triples += n;
  }
}

}  // namespace tflite_half_away

TEST_CASE("half-away == TFLite reference quantize: scalar, vector, counting, fake-quantize loops, 10^6 near-ties",
          "[quantizer][simd][tflite]") {
  QSAFE_SKIP_IF_CPU_LACKS_ISA();
  using namespace tflite_half_away;
  using qsafe::qrange_of;
  Tally t;
  const qsafe::QRangeOptions narrow{true, false};
  check_loops<std::int8_t>(qrange_of<std::int8_t>(), 200000, 1, t);
  check_loops<std::int8_t>(qrange_of<std::int8_t>(narrow), 150000, 2, t);
  check_loops<std::uint8_t>(qrange_of<std::uint8_t>(), 200000, 3, t);
  check_loops<std::uint8_t>(qrange_of<std::uint8_t>(narrow), 50000, 4, t);
  check_loops<std::int16_t>(qrange_of<std::int16_t>(), 150000, 5, t);
  check_loops<std::int16_t>(qrange_of<std::int16_t>(narrow), 50000, 6, t);
  check_loops<std::uint16_t>(qrange_of<std::uint16_t>(), 50000, 7, t);
  check_loops<std::int8_t>(qrange_of<std::int8_t, 4>(), 100000, 8, t);       // int4 [-8, 7]
  check_loops<std::int8_t>(qrange_of<std::int8_t, 4>(narrow), 50000, 9, t);  // int4 [-7, 7]
  check_loops<std::uint8_t>(qrange_of<std::uint8_t, 4>(), 50000, 10, t);     // uint4 [0, 15]
  INFO("vector loops: " << qsafe::detail::vector_loops_arch() << "; triples " << t.triples
                        << "; reciprocal multiply would differ on " << t.reciprocal_differs);
  CHECK(t.triples >= 1000000);
  // The inputs distinguish the division from the reciprocal multiply, on every named scale: a
  // half-away quantizer that multiplies by fl(1/scale) fails this test.
  CHECK(t.reciprocal_differs >= 1000);
  for (std::size_t j = 0; j < kNamedScaleCount; ++j) {
    CAPTURE(kNamedScales[j], t.reciprocal_differs_named[j]);
    CHECK(t.reciprocal_differs_named[j] > 0);
  }
}

TEST_CASE("half-away: the division and the reciprocal disagree on known inputs, qsafe follows the division",
          "[quantizer][tflite]") {
  using namespace tflite_half_away;
  const QRange r = qsafe::qrange_of<std::uint8_t>();
  struct Known {
    float x, scale;
    std::int32_t zp, tflite, reciprocal;
  };
  // fl(x / s) is an exact tie that rounds away; fl(x * fl(1/s)) lands one ulp on the near side
  // (or the other way round), so the two roundings give neighbouring integers.
  const Known known[] = {
      {-6.767149925231934f, 0.0377f, 200, 200 - 180, 200 - 179},  // docs/numerics.md's example
      {1.3964999914169312f, 0.007f, 0, 200, 199},                 // x / s = 199.5, x * (1/s) = 199.49998
      {19.549999237060547f, 0.1f, 0, 195, 196},                   // x / s = 195.49998, x * (1/s) = 195.5
      {66.166664123535156f, 1.f / 3.f, 0, 198, 199},              // x / s = 198.49998, x * (1/s) = 198.5
      {0.0001804999919841066f, 1e-6f, 0, 181, 180},               // x / s = 180.5, x * (1/s) = 180.49998
      {7231.07080078125f, 255.f / 7.f, 0, 198, 199},              // x / s = 198.49998, x * (1/s) = 198.5
  };
  for (const Known& k : known) {
    CAPTURE(k.x, k.scale);
    REQUIRE(tflite_quantize(k.x, k.scale, k.zp, r) == k.tflite);
    REQUIRE(reciprocal_quantize(k.x, k.scale, k.zp, r) == k.reciprocal);
    const qsafe::detail::QuantScale s(k.scale);
    CHECK(qsafe::detail::quantize_value<RoundHalfAway>(k.x, s, k.zp, r) == k.tflite);
    const qsafe::Quantizer<std::uint8_t, 8, qsafe::Affine, qsafe::PerTensor, RoundHalfAway> away;
    std::uint8_t q = 0;
    float y = 0.f;
    REQUIRE(away.quantize(Span<const float>(&k.x, 1), QParams{k.scale, k.zp}, Span<std::uint8_t>(&q, 1)) == Status::ok);
    REQUIRE(away.fake_quantize(Span<const float>(&k.x, 1), QParams{k.scale, k.zp}, Span<float>(&y, 1)) == Status::ok);
    CHECK(int(q) == k.tflite);
    CHECK(y == tflite_dequantize(k.tflite, k.scale, k.zp));
    // Half-even keeps PyTorch's reciprocal multiply: it rounds fl(x * fl(1/s)).
    CHECK(qsafe::detail::quantize_value<qsafe::RoundHalfEven>(k.x, s, k.zp, r) ==
          k.zp + qsafe::RoundHalfEven::to_int32(k.x * (1.f / k.scale)));
  }
}

namespace tflite_half_away {

// Quantizer<Int, Bits, Scheme, PerTensor, RoundHalfAway> on runs of 1..33 (and a few longer):
// quantize, fake-quantize (with mask) and dequantize against TFLite.
template <class Int, int Bits, class Scheme>
void check_quantizer_per_tensor(qsafe::QRangeOptions options, std::uint32_t seed) {
  const qsafe::Quantizer<Int, Bits, Scheme, qsafe::PerTensor, RoundHalfAway> quant(qsafe::PerTensor{}, options);
  const QRange r = quant.qrange();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int32_t> zp_dist(r.qmin, r.qmax);
  std::vector<std::size_t> sizes;
  for (std::size_t n = 1; n <= 33; ++n) sizes.push_back(n);
  for (std::size_t n : {63u, 64u, 65u, 127u, 1000u}) sizes.push_back(n);
  std::size_t run = 0;
  for (const std::size_t n : sizes)
    for (int rep = 0; rep < 8; ++rep, ++run) {
      const float scale = pick_scale(run, rng);
      const std::int32_t zp = std::is_same<Scheme, qsafe::Symmetric>::value
                                  ? (r.qmin < 0 ? 0 : qsafe::symmetric_unsigned_zero_point(r))
                                  : zp_dist(rng);
      const QParams p{scale, zp};
      std::vector<float> x(n), y(n), d(n);
      std::vector<Int> q(n);
      std::vector<std::uint8_t> mask(n);
      near_tie_inputs(scale, zp, r, n, rng, x.data());
      REQUIRE(quant.quantize(Span<const float>(x), p, Span<Int>(q)) == Status::ok);
      REQUIRE(quant.fake_quantize(Span<const float>(x), p, Span<float>(y), Span<std::uint8_t>(mask)) == Status::ok);
      REQUIRE(quant.dequantize(Span<const Int>(q), p, Span<float>(d)) == Status::ok);
      for (std::size_t i = 0; i < n; ++i) {
        const std::int32_t want = tflite_quantize(x[i], scale, zp, r);
        const float yw = tflite_dequantize(want, scale, zp);
        if (int(q[i]) == want && std::memcmp(&y[i], &yw, 4) == 0 && std::memcmp(&d[i], &yw, 4) == 0 &&
            mask[i] == (tflite_inside(x[i], scale, zp, r) ? 1u : 0u))
          continue;
        INFO("n " << n << " i " << i << " x " << x[i] << " scale " << scale << " zp " << zp << " qrange [" << r.qmin
                  << ", " << r.qmax << "] TFLite " << want << " got " << int(q[i]) << " fake " << y[i]
                  << " dequantized " << d[i] << " TFLite dequantized " << yw);
        FAIL("Quantizer<..., RoundHalfAway> differs from TFLite");
      }
    }
}

}  // namespace tflite_half_away

TEST_CASE("half-away Quantizer per tensor == TFLite: sizes 1..33, int8/uint8/int16/int4, narrow, symmetric",
          "[quantizer][simd][tflite]") {
  QSAFE_SKIP_IF_CPU_LACKS_ISA();
  using namespace tflite_half_away;
  const qsafe::QRangeOptions plain{}, narrow{true, false};
  check_quantizer_per_tensor<std::int8_t, 8, qsafe::Affine>(plain, 11);
  check_quantizer_per_tensor<std::int8_t, 8, qsafe::Symmetric>(narrow, 12);
  check_quantizer_per_tensor<std::uint8_t, 8, qsafe::Affine>(plain, 13);
  check_quantizer_per_tensor<std::uint8_t, 8, qsafe::Symmetric>(plain, 14);
  check_quantizer_per_tensor<std::int16_t, 16, qsafe::Affine>(plain, 15);
  check_quantizer_per_tensor<std::int16_t, 16, qsafe::Symmetric>(narrow, 16);
  check_quantizer_per_tensor<std::int8_t, 4, qsafe::Affine>(plain, 17);
  check_quantizer_per_tensor<std::int8_t, 4, qsafe::Symmetric>(narrow, 18);
  check_quantizer_per_tensor<std::uint8_t, 4, qsafe::Affine>(plain, 19);
}

namespace tflite_half_away {

// Per channel / per group on a [4, 7, 37] tensor: every element against TFLite with its own
// group's (scale, zero point) - TFLite's PerChannelQuantize divides by the channel's scale.
template <class Int, int Bits, class Granularity>
void check_quantizer_grouped(Granularity g, std::uint32_t seed) {
  const qsafe::Quantizer<Int, Bits, qsafe::Affine, Granularity, RoundHalfAway> quant(g);
  const QRange r = quant.qrange();
  const qsafe::Shape shape{4, 7, 37};
  const std::int64_t numel = 4 * 7 * 37;
  const qsafe::ParamLayout l = qsafe::param_layout(g, shape).value();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int32_t> zp_dist(r.qmin, r.qmax);
  std::vector<QParams> params(static_cast<std::size_t>(l.count()));
  for (std::size_t j = 0; j < params.size(); ++j) params[j] = QParams{pick_scale(j, rng), zp_dist(rng)};
  std::vector<float> x(static_cast<std::size_t>(numel));
  std::vector<std::size_t> group(x.size());
  const qsafe::AxisSplit s = l.split;
  for (std::int64_t o = 0; o < s.outer; ++o)
    for (std::int64_t a = 0; a < s.extent; ++a)
      for (std::int64_t i = 0; i < s.inner; ++i) {
        const std::size_t at = static_cast<std::size_t>((o * s.extent + a) * s.inner + i);
        group[at] = static_cast<std::size_t>(l.index(o, a, i));
        const QParams& p = params[group[at]];
        near_tie_inputs(p.scale, p.zero_point, r, 1, rng, &x[at]);
      }
  std::vector<Int> q(x.size());
  std::vector<float> y(x.size());
  const qsafe::TensorView<const float> xv(x.data(), shape);
  REQUIRE(quant.quantize(xv, Span<const QParams>(params), qsafe::TensorView<Int>(q.data(), shape)) == Status::ok);
  REQUIRE(quant.fake_quantize(xv, Span<const QParams>(params), qsafe::TensorView<float>(y.data(), shape)) ==
          Status::ok);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const QParams& p = params[group[i]];
    const std::int32_t want = tflite_quantize(x[i], p.scale, p.zero_point, r);
    const float yw = tflite_dequantize(want, p.scale, p.zero_point);
    if (int(q[i]) != want || std::memcmp(&y[i], &yw, 4) != 0) {
      if (wrong == 0) {
        INFO("element " << i << " x " << x[i] << " scale " << p.scale << " zp " << p.zero_point << " TFLite " << want
                        << " got " << int(q[i]) << " fake " << y[i]);
        CHECK(false);
      }
      ++wrong;
    }
  }
  CHECK(wrong == 0);
}

}  // namespace tflite_half_away

TEST_CASE("half-away Quantizer per channel and per group == TFLite (each element with its own parameters)",
          "[quantizer][simd][tflite]") {
  QSAFE_SKIP_IF_CPU_LACKS_ISA();
  using namespace tflite_half_away;
  using qsafe::PerChannel;
  using qsafe::PerGroup;
  for (int axis : {0, 1, 2, -1}) {
    CAPTURE(axis);
    check_quantizer_grouped<std::int8_t, 8>(PerChannel{axis}, 21);
    check_quantizer_grouped<std::uint8_t, 8>(PerChannel{axis}, 22);
    check_quantizer_grouped<std::int16_t, 16>(PerChannel{axis}, 23);
    check_quantizer_grouped<std::int8_t, 4>(PerChannel{axis}, 24);
  }
  for (const PerGroup g : {PerGroup{-1, 8}, PerGroup{-1, 32}, PerGroup{2, 5}, PerGroup{1, 3}, PerGroup{0, 2}}) {
    CAPTURE(g.axis, g.group_size);
    check_quantizer_grouped<std::int8_t, 4>(g, 31);
    check_quantizer_grouped<std::uint8_t, 4>(g, 32);
    check_quantizer_grouped<std::int8_t, 8>(g, 33);
    check_quantizer_grouped<std::int16_t, 16>(g, 34);
  }
}

TEST_CASE("half-away packed int4 and range policies == TFLite", "[quantizer][simd][tflite]") {
  QSAFE_SKIP_IF_CPU_LACKS_ISA();
  using namespace tflite_half_away;
  std::mt19937 rng(41);
  // Packed int4: quantize_int4_packed<Int, RoundHalfAway> runs the same loops.
  for (const bool is_signed : {true, false})
    for (std::size_t n = 1; n <= 70; ++n) {
      const QRange r = is_signed ? qsafe::qrange_of<std::int8_t, 4>() : qsafe::qrange_of<std::uint8_t, 4>();
      const QParams p{pick_scale(n, rng), is_signed ? -1 : 7};
      std::vector<float> x(n);
      near_tie_inputs(p.scale, p.zero_point, r, n, rng, x.data());
      std::vector<std::uint8_t> packed(qsafe::packed_int4_bytes(n));
      std::vector<std::int32_t> got(n);
      if (is_signed) {
        std::vector<std::int8_t> v(n);
        REQUIRE(qsafe::quantize_int4_packed<std::int8_t, RoundHalfAway>(Span<const float>(x), p,
                                                                        Span<std::uint8_t>(packed)) == Status::ok);
        REQUIRE(qsafe::unpack_int4(Span<const std::uint8_t>(packed), Span<std::int8_t>(v)) == Status::ok);
        std::copy(v.begin(), v.end(), got.begin());
      } else {
        std::vector<std::uint8_t> v(n);
        REQUIRE(qsafe::quantize_int4_packed<std::uint8_t, RoundHalfAway>(Span<const float>(x), p,
                                                                         Span<std::uint8_t>(packed)) == Status::ok);
        REQUIRE(qsafe::unpack_int4(Span<const std::uint8_t>(packed), Span<std::uint8_t>(v)) == Status::ok);
        std::copy(v.begin(), v.end(), got.begin());
      }
      for (std::size_t i = 0; i < n; ++i) {
        CAPTURE(n, i, x[i], p.scale);
        REQUIRE(got[i] == tflite_quantize(x[i], p.scale, p.zero_point, r));
      }
    }
  // Range policies take the rounding type as a template argument; with RoundHalfAway they divide
  // too (the counting loop of the portable path; the AVX2/AVX-512 row scans are half-even only).
  const std::int64_t rows = 5, cols = 67;
  std::vector<float> a(static_cast<std::size_t>(rows * cols));
  const QRange r8 = qsafe::qrange_of<std::uint8_t>();
  for (std::int64_t i = 0; i < rows; ++i)
    near_tie_inputs(0.0377f, 131, r8, static_cast<std::size_t>(cols), rng, a.data() + i * cols);
  const qsafe::QuantTarget t{r8, qsafe::SchemeKind::affine, qsafe::kDefaultScaleEps};
  const qsafe::MatrixView<const float> av(a.data(), rows, cols);
  std::vector<std::uint8_t> q(a.size());
  const qsafe::MatrixView<std::uint8_t> qv(q.data(), rows, cols);
  const auto check_rows = [&](const std::vector<QParams>& params) {
    for (std::int64_t i = 0; i < rows; ++i) {
      const QParams& p = params[params.size() == 1 ? 0 : static_cast<std::size_t>(i)];
      for (std::int64_t j = 0; j < cols; ++j) {
        const std::size_t at = static_cast<std::size_t>(i * cols + j);
        CAPTURE(i, j, a[at], p.scale, p.zero_point);
        REQUIRE(int(q[at]) == tflite_quantize(a[at], p.scale, p.zero_point, r8));
      }
    }
  };
  for (const qsafe::RowScanPath path : {qsafe::RowScanPath::automatic, qsafe::RowScanPath::portable,
                                        qsafe::RowScanPath::avx2, qsafe::RowScanPath::avx512}) {
    qsafe::StaticRange fixed(QParams{0.0377f, 131});
    fixed.set_scan_path(path);
    std::vector<QParams> one(1);
    REQUIRE(qsafe::quantize_matrix(fixed, av, t, qv, Span<QParams>(one), RoundHalfAway{}) == Status::ok);
    check_rows(one);
    qsafe::DynamicRange<qsafe::PerRow> dynamic;
    dynamic.set_scan_path(path);
    std::vector<QParams> per_row(static_cast<std::size_t>(rows));
    REQUIRE(qsafe::quantize_matrix(dynamic, av, t, qv, Span<QParams>(per_row), RoundHalfAway{}) == Status::ok);
    check_rows(per_row);
  }
}

#endif  // QSAFE_TESTS_QUANTIZER_SUPPORT_TFLITE_HALF_AWAY_CASES_HPP_
