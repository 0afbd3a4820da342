#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "qsafe/core/conv_geometry.hpp"
#include "qsafe/nn/float_reference.hpp"

using qsafe::Conv2dGeometry;
using qsafe::Span;
using qsafe::Status;
namespace ref = qsafe::nn::reference;

#include "fixtures/conv_float.inc"

TEST_CASE("float reference conv2d matches torch.nn.functional.conv2d", "[nn][reference]") {
  for (const ConvFloatCase& c : conv_float_cases()) {
    std::vector<float> y(c.y.size());
    REQUIRE(ref::conv2d_nhwc(c.g, Span<const float>(c.x), Span<const float>(c.w), Span<const float>(c.b),
                             Span<float>(y)) == Status::ok);
    for (std::size_t i = 0; i < y.size(); ++i) {
      CAPTURE(i, c.g.groups, c.g.dilation_h);
      REQUIRE(y[i] == Approx(c.y[i]).margin(1e-5).epsilon(1e-5));
    }
  }
}

TEST_CASE("float reference conv2d: a 1x1 convolution is a linear layer", "[nn][reference]") {
  Conv2dGeometry g;
  g.batch = 2;
  g.in_h = 3;
  g.in_w = 5;
  g.in_channels = 7;
  g.out_channels = 4;
  std::mt19937 rng(3);
  std::normal_distribution<float> d;
  std::vector<float> x(static_cast<std::size_t>(g.input_numel())), w(static_cast<std::size_t>(g.weight_numel())),
      b(4), y(static_cast<std::size_t>(g.output_numel())), y2(y.size());
  for (float& v : x) v = d(rng);
  for (float& v : w) v = d(rng);
  for (float& v : b) v = d(rng);
  REQUIRE(ref::conv2d_nhwc(g, Span<const float>(x), Span<const float>(w), Span<const float>(b), Span<float>(y)) ==
          Status::ok);
  REQUIRE(ref::linear(2 * 3 * 5, 7, 4, Span<const float>(x), Span<const float>(w), Span<const float>(b),
                      Span<float>(y2)) == Status::ok);
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(y[i] == y2[i]);
}

TEST_CASE("float reference conv2d: dilation equals a zero-inserted kernel", "[nn][reference]") {
  Conv2dGeometry g;
  g.in_h = 9;
  g.in_w = 8;
  g.in_channels = 2;
  g.out_channels = 3;
  g.kernel_h = g.kernel_w = 3;
  g.dilation_h = g.dilation_w = 2;
  g.pad_top = g.pad_left = 1;
  g.pad_bottom = 2;
  Conv2dGeometry wide = g;
  wide.kernel_h = wide.kernel_w = 5;
  wide.dilation_h = wide.dilation_w = 1;
  std::mt19937 rng(5);
  std::normal_distribution<float> d;
  std::vector<float> x(static_cast<std::size_t>(g.input_numel())), w(static_cast<std::size_t>(g.weight_numel()));
  for (float& v : x) v = d(rng);
  for (float& v : w) v = d(rng);
  std::vector<float> w5(static_cast<std::size_t>(wide.weight_numel()), 0.f);
  for (int o = 0; o < 3; ++o)
    for (int i = 0; i < 2; ++i)
      for (int kh = 0; kh < 3; ++kh)
        for (int kw = 0; kw < 3; ++kw)
          w5[static_cast<std::size_t>(((o * 2 + i) * 5 + 2 * kh) * 5 + 2 * kw)] =
              w[static_cast<std::size_t>(((o * 2 + i) * 3 + kh) * 3 + kw)];
  REQUIRE(g.out_h() == wide.out_h());
  REQUIRE(g.out_w() == wide.out_w());
  std::vector<float> y(static_cast<std::size_t>(g.output_numel())), y5(y.size());
  REQUIRE(ref::conv2d_nhwc(g, Span<const float>(x), Span<const float>(w), {}, Span<float>(y)) == Status::ok);
  REQUIRE(ref::conv2d_nhwc(wide, Span<const float>(x), Span<const float>(w5), {}, Span<float>(y5)) == Status::ok);
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(y[i] == Approx(y5[i]).margin(1e-6));
}

TEST_CASE("conv geometry: bad shapes are errors", "[nn][reference]") {
  Conv2dGeometry g;
  g.in_h = g.in_w = 2;
  g.kernel_h = g.kernel_w = 3;
  CHECK(g.check() == Status::invalid_argument);  // window larger than the unpadded input
  g.pad_top = g.pad_bottom = g.pad_left = g.pad_right = 1;
  CHECK(g.check() == Status::ok);
  g.groups = 2;
  CHECK(g.check() == Status::invalid_argument);  // 1 channel not divisible by 2 groups
  g.groups = 1;
  g.stride_h = 0;
  CHECK(g.check() == Status::invalid_argument);
  g.stride_h = 1;
  g.pad_left = -1;
  CHECK(g.check() == Status::invalid_argument);
  g.pad_left = 1;
  g.in_channels = std::int64_t{1} << 40;
  CHECK(g.check() == Status::invalid_argument);
  g.in_channels = 1;
  std::vector<float> x(4), w(9), y(3);
  CHECK(ref::conv2d_nhwc(g, Span<const float>(x), Span<const float>(w), {}, Span<float>(y)) == Status::shape_mismatch);
}

TEST_CASE("float reference pooling and softmax", "[nn][reference]") {
  Conv2dGeometry g;
  g.in_h = g.in_w = 4;
  g.in_channels = g.out_channels = 1;
  g.kernel_h = g.kernel_w = 2;
  g.stride_h = g.stride_w = 2;
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[static_cast<std::size_t>(i)] = static_cast<float>(i);
  std::vector<float> y(4);
  REQUIRE(ref::max_pool2d_nhwc(g, Span<const float>(x), Span<float>(y)) == Status::ok);
  CHECK(y == std::vector<float>{5.f, 7.f, 13.f, 15.f});
  REQUIRE(ref::avg_pool2d_nhwc(g, Span<const float>(x), Span<float>(y)) == Status::ok);
  CHECK(y == std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f});
  const std::vector<float> logits = {0.f, std::log(3.f), 1000.f, 1000.f};
  std::vector<float> p(4);
  REQUIRE(ref::softmax(2, 2, Span<const float>(logits), Span<float>(p)) == Status::ok);
  CHECK(p[0] == Approx(0.25));
  CHECK(p[1] == Approx(0.75));
  CHECK(p[2] == Approx(0.5));
  std::vector<float> r = {-1.f, 3.f, 7.f};
  ref::clamp(Span<float>(r), 0.f, 6.f);
  CHECK(r == std::vector<float>{0.f, 3.f, 6.f});
}
