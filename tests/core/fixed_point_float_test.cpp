// Float requantization (core/float_requant.hpp) against PyTorch's qnnpack engine, integer for integer.
// The fixture holds PyTorch's inputs and outputs (scripts/golden/requant.py); the accumulators are
// recomputed here with a plain loop.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "qsafe/core/float_requant.hpp"

#include "fixtures/requant_qnnpack.inc"

TEST_CASE("float_requant: reproduces PyTorch qnnpack linear / linear_relu / conv2d outputs", "[core][float_requant]") {
  int outputs = 0;
  for (const auto& c : requant_fixtures::kQnnpackCases) {
    CAPTURE(c.name);
    for (int j = 0; j < c.n; ++j) {
      const double ws = c.weight_scales[c.num_weight_scales == 1 ? 0 : j];
      const float scale = qsafe::pytorch_requant_scale(c.input_scale, ws, c.output_scale);
      const std::int32_t bias = c.bias ? qsafe::pytorch_quantize_bias(c.bias[j], c.input_scale, ws) : 0;
      for (int i = 0; i < c.m; ++i) {
        std::int32_t acc = bias;
        for (int k = 0; k < c.k; ++k) {
          acc += (static_cast<std::int32_t>(c.x[i * c.k + k]) - c.input_zero_point) * c.w[j * c.k + k];
        }
        const std::int32_t got = qsafe::requantize_float(acc, scale, c.output_zero_point, c.qmin, c.qmax);
        CAPTURE(i, j, acc);
        REQUIRE(got == static_cast<std::int32_t>(c.y[i * c.n + j]));
        ++outputs;
      }
    }
  }
  CHECK(outputs > 700);
}

TEST_CASE("float_requant: rounding, clamping and saturation", "[core][float_requant]") {
  CHECK(qsafe::requantize_float(1, 0.5f, 0, -128, 127) == 0);   // 0.5 -> 0 (half to even)
  CHECK(qsafe::requantize_float(3, 0.5f, 0, -128, 127) == 2);   // 1.5 -> 2
  CHECK(qsafe::requantize_float(-3, 0.5f, 0, -128, 127) == -2);
  CHECK(qsafe::requantize_float(-5, 0.5f, 10, -128, 127) == 8);
  CHECK(qsafe::requantize_float(1000, 1.0f, 0, 0, 255) == 255);
  CHECK(qsafe::requantize_float(-1000, 1.0f, 0, 0, 255) == 0);
  CHECK(qsafe::requantize_float(5, 1.0f, 3, 3, 255) == 8);  // ReLU: qmin = zero point
  CHECK(qsafe::requantize_float(-5, 1.0f, 3, 3, 255) == 3);
  // Huge products saturate (qnnpack's x86 code would give qmin here; see the header).
  CHECK(qsafe::requantize_float(2147483647, 4.0f, 0, 0, 255) == 255);
  CHECK(qsafe::requantize_float(-2147483647 - 1, 4.0f, 200, 0, 255) == 0);
  // float(acc) rounds to nearest even: 2^24 + 1 -> 2^24.
  CHECK(qsafe::requantize_float((1 << 24) + 1, 1.0f, 0, -(1 << 30), 1 << 30) == (1 << 24));
  CHECK(qsafe::pytorch_quantize_bias(1.5f, 1.0, 1.0) == 2);
  CHECK(qsafe::pytorch_quantize_bias(2.5f, 1.0, 1.0) == 2);
  CHECK(qsafe::pytorch_requant_scale(0.5, 1.0, 1.0) == 0.5f);
}
