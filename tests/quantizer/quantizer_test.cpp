#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "qsafe/quantize.hpp"

using namespace qsafe;

TEST_CASE("qrange_of: storage, bit width, narrow and reduced ranges", "[quantizer]") {
  CHECK(qrange_of<std::int8_t>().qmin == -128);
  CHECK(qrange_of<std::int8_t>().qmax == 127);
  CHECK(qrange_of<std::uint8_t>().qmax == 255);
  CHECK(qrange_of<std::int8_t, 4>().qmin == -8);
  CHECK(qrange_of<std::int8_t, 4>().qmax == 7);
  CHECK(qrange_of<std::int8_t>({true, false}).qmin == -127);
  CHECK(qrange_of<std::uint8_t>({false, true}).qmax == 127);
  CHECK(qrange_of<std::int8_t>({false, true}).qmin == -64);
  CHECK(qrange_of<std::int8_t>({false, true}).qmax == 63);
  CHECK(qrange_of<std::int16_t>().qmin == -32768);
  CHECK(qrange_of<std::uint8_t, 2>().qmax == 3);
}

TEST_CASE("qparams_from_range: PyTorch formulas on a simple range", "[quantizer]") {
  const Result<QParams> a = qparams_from_range({-1.f, 3.f}, qrange_of<std::uint8_t>(), SchemeKind::affine);
  REQUIRE(a.ok());
  CHECK(a->scale == 4.f / 255.f);
  CHECK(a->zero_point == 64);  // 0 - round(-1 / (4/255)) = round(63.75) = 64
  const Result<QParams> s = qparams_from_range({-1.f, 3.f}, qrange_of<std::int8_t>(), SchemeKind::symmetric);
  REQUIRE(s.ok());
  CHECK(s->scale == 3.f / 127.5f);
  CHECK(s->zero_point == 0);
  const Result<QParams> u = qparams_from_range({-1.f, 3.f}, qrange_of<std::uint8_t>(), SchemeKind::symmetric);
  REQUIRE(u.ok());
  CHECK(u->zero_point == 128);
}

TEST_CASE("qparams_from_range: zero, constant and bad ranges", "[quantizer]") {
  const Result<QParams> z = qparams_from_range({0.f, 0.f}, qrange_of<std::uint8_t>(), SchemeKind::affine);
  REQUIRE(z.ok());
  CHECK(z->scale == std::numeric_limits<float>::epsilon());
  CHECK(z->zero_point == 0);
  const Result<QParams> c = qparams_from_range({2.f, 2.f}, qrange_of<std::uint8_t>(), SchemeKind::affine);
  REQUIRE(c.ok());
  CHECK(c->scale == 2.f / 255.f);
  CHECK(c->zero_point == 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(qparams_from_range({nan, 1.f}, qrange_of<std::uint8_t>(), SchemeKind::affine).status() == Status::non_finite_input);
  CHECK(qparams_from_range({-inf, 1.f}, qrange_of<std::uint8_t>(), SchemeKind::affine).status() == Status::non_finite_input);
  CHECK(qparams_from_range({2.f, 1.f}, qrange_of<std::uint8_t>(), SchemeKind::affine).status() == Status::invalid_argument);
  CHECK(qparams_from_range({-3e38f, 3e38f}, qrange_of<std::uint8_t>(), SchemeKind::affine).status() == Status::out_of_range);
  CHECK(qparams_from_range({0.f, 1.f}, QRange{5, 5}, SchemeKind::affine).status() == Status::invalid_argument);
}

TEST_CASE("Quantizer: per-tensor quantize/dequantize round trip and non-finite inputs", "[quantizer]") {
  Quantizer<std::uint8_t> quant;
  const QParams p = qparams_from_range({-1.f, 1.f}, quant.qrange(), SchemeKind::affine).value();
  std::vector<float> x = {-1.f, -0.5f, 0.f, 0.25f, 1.f, 5.f, -5.f};
  std::vector<std::uint8_t> q(x.size());
  REQUIRE(quant.quantize(Span<const float>(x), p, Span<std::uint8_t>(q)) == Status::ok);
  CHECK(q[5] == 255);
  CHECK(q[6] == 0);
  CHECK(static_cast<int>(q[2]) == p.zero_point);
  std::vector<float> y(x.size());
  REQUIRE(quant.dequantize(Span<const std::uint8_t>(q), p, Span<float>(y)) == Status::ok);
  for (std::size_t i = 0; i < 5; ++i) CHECK(std::fabs(y[i] - x[i]) <= p.scale / 2 + 1e-7f);

  x[1] = std::numeric_limits<float>::quiet_NaN();
  x[3] = std::numeric_limits<float>::infinity();
  CHECK(quant.quantize(Span<const float>(x), p, Span<std::uint8_t>(q)) == Status::non_finite_input);
  CHECK(static_cast<int>(q[1]) == p.zero_point);
  CHECK(q[3] == 255);
}

TEST_CASE("Quantizer: per-channel and per-group parameter layouts", "[quantizer]") {
  // 2 x 3 x 4 tensor; per-channel on axis 1 -> 3 params; per-group along the last axis, G = 3 ->
  // 2 * 3 * 2 = 12 params.
  std::vector<float> x(24);
  for (int i = 0; i < 24; ++i) x[static_cast<std::size_t>(i)] = static_cast<float>(i % 7) - 3.f + 0.1f * static_cast<float>(i);
  const Shape shape{2, 3, 4};
  Quantizer<std::int8_t, 8, Symmetric, PerChannel> pc(PerChannel{1});
  REQUIRE(pc.param_count(shape).value() == 3);
  Quantizer<std::int8_t, 4, Symmetric, PerGroup> pg(PerGroup{-1, 3});
  REQUIRE(pg.param_count(shape).value() == 12);

  std::vector<Range> ranges(12);
  std::vector<QParams> params(12);
  REQUIRE(pg.params_from_data(TensorView<const float>(x.data(), shape), Span<Range>(ranges), Span<QParams>(params)) ==
          Status::ok);
  // Group (o=1, g=1, i) covers x[1, 1, 3] only (a tail of one element).
  const float v = x[(1 * 3 + 1) * 4 + 3];
  CHECK(ranges[(1 * 3 + 1) * 2 + 1].lo == v);
  CHECK(ranges[(1 * 3 + 1) * 2 + 1].hi == v);
  std::vector<std::int8_t> q(24);
  REQUIRE(pg.quantize(TensorView<const float>(x.data(), shape), Span<const QParams>(params),
                      TensorView<std::int8_t>(q.data(), shape)) == Status::ok);
  for (std::int8_t e : q) {
    CHECK(e >= -8);
    CHECK(e <= 7);
  }
  // Mismatched parameter count and shapes are errors, not UB.
  CHECK(pg.quantize(TensorView<const float>(x.data(), shape), Span<const QParams>(params.data(), 11),
                    TensorView<std::int8_t>(q.data(), shape)) == Status::shape_mismatch);
  CHECK(pg.quantize(TensorView<const float>(x.data(), shape), Span<const QParams>(params),
                    TensorView<std::int8_t>(q.data(), Shape{2, 12})) == Status::shape_mismatch);
  CHECK(pc.param_count(Shape{2, 3}).ok());
  CHECK(Quantizer<std::int8_t, 8, Symmetric, PerChannel>(PerChannel{5}).param_count(shape).status() ==
        Status::invalid_argument);
}
