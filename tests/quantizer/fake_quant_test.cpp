// Fake-quant gradients (quantizer/fake_quant.hpp): PyTorch 1.13 golden values
// (scripts/golden/fake_quant_grad.py -> tests/fixtures/fake_quant_grad.inc) and finite differences.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "qsafe/quantize.hpp"
#include "qsafe/quantizer/fake_quant.hpp"

namespace {
#include "fixtures/fake_quant_grad.inc"

std::uint32_t bits_of(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// |a - b| within a few float roundings of the magnitudes involved.
bool close(double a, double b, double scale_of_terms) {
  return std::fabs(a - b) <= 1e-6 * std::fabs(b) + 1e-6 * scale_of_terms + 1e-30;
}

}  // namespace

using namespace qsafe;

TEST_CASE("fake_quant: STE gradient equals PyTorch's fake_quantize_per_tensor_affine backward", "[quantizer][qat]") {
  for (const SteCase& c : ste_cases()) {
    const QRange r{c.qmin, c.qmax};
    const Quantizer<std::int16_t> quant;  // any storage: fake quantize never stores integers
    (void)quant;
    std::vector<float> y(c.x.size());
    std::vector<std::uint8_t> mask(c.x.size());
    const std::size_t bad = detail::fake_quantize_loop<RoundHalfEven>(c.x.data(), c.x.size(), detail::QuantScale(c.scale),
                                                                       c.zero_point, r, y.data(), mask.data());
    REQUIRE(bad == 0);
    std::vector<float> dx(c.x.size());
    REQUIRE(fake_quantize_backward_ste(Span<const float>(c.dy), Span<const std::uint8_t>(mask), Span<float>(dx)) ==
            Status::ok);
    for (std::size_t i = 0; i < c.x.size(); ++i) {
      CAPTURE(i, c.x[i]);
      CHECK(bits_of(y[i]) == bits_of(c.y[i]));
      CHECK(bits_of(dx[i]) == bits_of(c.dx[i]));
    }
  }
  std::vector<float> g(3), out(2);
  std::vector<std::uint8_t> m(3);
  CHECK(fake_quantize_backward_ste(Span<const float>(g), Span<const std::uint8_t>(m), Span<float>(out)) ==
        Status::shape_mismatch);
}

TEST_CASE("fake_quant: LSQ per tensor equals PyTorch's learnable fake quant (forward and backward)", "[quantizer][qat]") {
  for (const LsqTensorCase& c : lsq_tensor_cases()) {
    const QRange r{c.qmin, c.qmax};
    CAPTURE(c.scale, c.zero_point, c.qmin, c.qmax);
    // Forward through the quantizer with the LSQ forward params.
    const Result<QParams> fp = lsq_forward_qparams(c.scale, c.zero_point, r);
    REQUIRE(fp.ok());
    std::vector<float> y(c.x.size());
    detail::fake_quantize_loop<RoundHalfEven>(c.x.data(), c.x.size(), detail::QuantScale(fp->scale), fp->zero_point,
                                              r, y.data(), nullptr);
    std::vector<float> dx(c.x.size()), each_s(c.x.size()), each_z(c.x.size());
    LsqGrad g;
    REQUIRE(lsq_backward_per_tensor(Span<const float>(c.x), Span<const float>(c.dy), c.scale, c.zero_point, r,
                                    c.grad_factor, Span<float>(dx), &g, Span<float>(each_s),
                                    Span<float>(each_z)) == Status::ok);
    double magnitude = 0;
    for (std::size_t i = 0; i < c.x.size(); ++i) {
      CAPTURE(i, c.x[i]);
      CHECK(bits_of(y[i]) == bits_of(c.y[i]));
      CHECK(bits_of(dx[i]) == bits_of(c.dx[i]));
      // Element-wise: bit-identical to PyTorch's x86 kernel (one-hot upstream gradients).
      CAPTURE(each_s[i], c.ds_each[i], each_z[i], c.dz_each[i]);
      CHECK(bits_of(each_s[i]) == bits_of(c.ds_each[i]));
      CHECK(bits_of(each_z[i]) == bits_of(c.dz_each[i]));
      magnitude += std::fabs(c.ds_each[i]) + std::fabs(c.dz_each[i]);
    }
    // Totals: PyTorch sums in float, qsafe in double.
    CHECK(close(g.scale, c.ds, magnitude));
    CHECK(close(g.zero_point, c.dz, magnitude));
  }
}

TEST_CASE("fake_quant: LSQ per channel equals PyTorch's learnable per-channel fake quant", "[quantizer][qat]") {
  for (const LsqChannelCase& c : lsq_channel_cases()) {
    const QRange r{c.qmin, c.qmax};
    const TensorView<const float> x(c.x.data(), Shape{c.channels, c.n});
    std::vector<float> dx(c.x.size());
    std::vector<LsqGrad> g(static_cast<std::size_t>(c.channels));
    REQUIRE(lsq_backward_per_channel(x, 0, Span<const float>(c.dy), Span<const float>(c.scale),
                                     Span<const float>(c.zero_point), r, c.grad_factor, Span<float>(dx),
                                     Span<LsqGrad>(g)) == Status::ok);
    for (std::size_t i = 0; i < c.x.size(); ++i) CHECK(bits_of(dx[i]) == bits_of(c.dx[i]));
    for (std::size_t ch = 0; ch < g.size(); ++ch) {
      double magnitude = 0;
      for (int j = 0; j < c.n; ++j)
        magnitude += std::fabs(c.dy[ch * static_cast<std::size_t>(c.n) + static_cast<std::size_t>(j)]) *
                     (std::fabs(static_cast<double>(c.qmax)) + std::fabs(static_cast<double>(c.qmin)) + 1.0);
      CAPTURE(ch);
      CHECK(close(g[ch].scale, c.ds[ch], magnitude * c.grad_factor));
      CHECK(close(g[ch].zero_point, c.dz[ch], magnitude * c.grad_factor));
    }
    // Forward, per channel: PyTorch's y equals qsafe's fake quantize with the LSQ forward params.
    for (int ch = 0; ch < c.channels; ++ch) {
      const QParams p = lsq_forward_qparams(c.scale[static_cast<std::size_t>(ch)],
                                            c.zero_point[static_cast<std::size_t>(ch)], r).value();
      const std::size_t off = static_cast<std::size_t>(ch * c.n);
      std::vector<float> y(static_cast<std::size_t>(c.n));
      detail::fake_quantize_loop<RoundHalfEven>(c.x.data() + off, y.size(), detail::QuantScale(p.scale),
                                                p.zero_point, r, y.data(), nullptr);
      for (std::size_t j = 0; j < y.size(); ++j) CHECK(bits_of(y[j]) == bits_of(c.y[off + j]));
    }
  }
}

TEST_CASE("fake_quant: PyTorch's backward rounds zb + x/s (a tie with an odd zero point)", "[quantizer][qat]") {
  // x / s = 0.5, z = 3: forward round(0.5) + 3 = 3 -> y = 0; backward round(3.5) = 4 -> xfq = 1,
  // grad_s = (1 - 0.5) / 1 = 0.5 (checked against torch 1.13 by hand).
  const float x = 0.5f, dy = 1.f;
  float dx = 0.f;
  LsqGrad g;
  REQUIRE(lsq_backward_per_tensor(Span<const float>(&x, 1), Span<const float>(&dy, 1), 1.f, 3.f, QRange{0, 255}, 1.f,
                                  Span<float>(&dx, 1), &g) == Status::ok);
  CHECK(g.scale == 0.5f);
  CHECK(dx == 1.f);
  // Zero-point conventions: per tensor int(clamp(z + 0.5)), per channel clamp(round_half_even(z)).
  CHECK(detail::lsq_backward_zero_point_per_tensor(2.5f, QRange{-8, 7}) == 3);
  CHECK(detail::lsq_backward_zero_point_per_channel(2.5f, QRange{-8, 7}) == 2);
  CHECK(detail::lsq_backward_zero_point_per_tensor(-1.7f, QRange{-8, 7}) == -1);
  CHECK(lsq_forward_qparams(1.f, 2.5f, QRange{-8, 7})->zero_point == 2);
  CHECK(lsq_forward_qparams(1.f, 40.f, QRange{-8, 7})->zero_point == 7);
  CHECK(lsq_backward_per_tensor(Span<const float>(&x, 1), Span<const float>(&dy, 1), 0.f, 3.f, QRange{0, 255}, 1.f,
                                Span<float>(&dx, 1), &g) == Status::invalid_argument);
}

namespace {

// LSQ's surrogate for one element: the rounding offset and the clamp region frozen at (s0, zb0),
// so f is smooth in (x, s, z) and its derivatives are what LSQ calls the gradient:
//   inside: f = s * ((x / s + zb + c) - zb) with c = round(x0/s0 + zb0) - (x0/s0 + zb0)
//   below / above: f = s * (qmin - zb) / s * (qmax - zb)
double lsq_surrogate(double x, double s, double z, double x0, double s0, double z0, QRange r) {
  const double u0 = x0 / s0 + z0;
  const double xq0 = std::nearbyint(u0);
  if (xq0 < r.qmin) return s * (r.qmin - z);
  if (xq0 > r.qmax) return s * (r.qmax - z);
  const double c = xq0 - u0;
  return s * ((x / s + z + c) - z);
}

}  // namespace

TEST_CASE("fake_quant: LSQ and STE gradients equal finite differences of the LSQ surrogate", "[quantizer][qat]") {
  const QRange r{-8, 7};
  const float scale = 0.3f, zero_point = 1.f;  // integral zero point: the surrogate's z is continuous
  std::vector<float> x, dy;
  for (int i = 0; i < 40; ++i) {
    x.push_back(-3.3f + 0.17f * static_cast<float>(i) + 0.013f);  // spans both clamp ends, no ties
    dy.push_back(0.5f + 0.03f * static_cast<float>(i % 7) - 0.4f * static_cast<float>(i % 2));
  }
  std::vector<float> dx(x.size());
  LsqGrad g;
  REQUIRE(lsq_backward_per_tensor(Span<const float>(x), Span<const float>(dy), scale, zero_point, r, 1.f,
                                  Span<float>(dx), &g) == Status::ok);
  const double hs = 1e-4, hz = 1e-3, hx = 1e-4;
  double fd_s = 0, fd_z = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    const auto f = [&](double xv, double s, double z) { return lsq_surrogate(xv, s, z, x0, scale, zero_point, r); };
    fd_s += dy[i] * (f(x0, scale + hs, zero_point) - f(x0, scale - hs, zero_point)) / (2 * hs);
    fd_z += dy[i] * (f(x0, scale, zero_point + hz) - f(x0, scale, zero_point - hz)) / (2 * hz);
    const double fd_x = dy[i] * (f(x0 + hx, scale, zero_point) - f(x0 - hx, scale, zero_point)) / (2 * hx);
    CAPTURE(i, x0);
    CHECK(std::fabs(fd_x - dx[i]) <= 1e-4);
  }
  CHECK(std::fabs(fd_s - g.scale) <= 1e-3 * (1 + std::fabs(fd_s)));
  CHECK(std::fabs(fd_z - g.zero_point) <= 1e-3 * (1 + std::fabs(fd_z)));
  CHECK(g.zero_point != 0.f);  // both clamp ends were hit

  // Per channel: the same surrogate, channel by channel (axis 1 of a [2, 3, 5] tensor).
  std::vector<float> xc(30), dyc(30), dxc(30);
  for (std::size_t i = 0; i < xc.size(); ++i) {
    xc[i] = -2.9f + 0.21f * static_cast<float>(i) + 0.011f;
    dyc[i] = 1.f - 0.05f * static_cast<float>(i);
  }
  const float scales[] = {0.2f, 0.35f, 0.5f};
  const float zps[] = {0.f, -2.f, 3.f};
  std::vector<LsqGrad> gc(3);
  REQUIRE(lsq_backward_per_channel(TensorView<const float>(xc.data(), Shape{2, 3, 5}), 1, Span<const float>(dyc),
                                   Span<const float>(scales), Span<const float>(zps), r, 1.f, Span<float>(dxc),
                                   Span<LsqGrad>(gc)) == Status::ok);
  for (int ch = 0; ch < 3; ++ch) {
    double fs = 0, fz = 0;
    for (int o = 0; o < 2; ++o)
      for (int i = 0; i < 5; ++i) {
        const std::size_t k = static_cast<std::size_t>((o * 3 + ch) * 5 + i);
        const double x0 = xc[k], s0 = scales[ch], z0 = zps[ch];
        const auto f = [&](double s, double z) { return lsq_surrogate(x0, s, z, x0, s0, z0, r); };
        fs += dyc[k] * (f(s0 + hs, z0) - f(s0 - hs, z0)) / (2 * hs);
        fz += dyc[k] * (f(s0, z0 + hz) - f(s0, z0 - hz)) / (2 * hz);
      }
    CAPTURE(ch);
    CHECK(std::fabs(fs - gc[static_cast<std::size_t>(ch)].scale) <= 1e-3 * (1 + std::fabs(fs)));
    CHECK(std::fabs(fz - gc[static_cast<std::size_t>(ch)].zero_point) <= 1e-3 * (1 + std::fabs(fz)));
  }
  CHECK(lsq_backward_per_channel(TensorView<const float>(xc.data(), Shape{2, 3, 5}), 3, Span<const float>(dyc),
                                 Span<const float>(scales), Span<const float>(zps), r, 1.f, Span<float>(dxc),
                                 Span<LsqGrad>(gc)) == Status::invalid_argument);
}
