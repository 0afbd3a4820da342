// qsafe/core/float_requant.hpp: float ("fp32") requantization, bit-exact with PyTorch's qnnpack
// engine (quantized::linear, quantized::linear_relu, quantized::conv2d) and XNNPACK's fp32 kernels.
//
// The formula, established by experiment against torch 1.13 (engine 'qnnpack') with
// scripts/golden/requant.py and checked integer for integer by tests/core/fixed_point_float_test.cpp:
//
//   scale = (float(weight_scale) * float(input_scale)) * (1.0f / float(output_scale))
//           every operand cast to float first, every operation in float (round to nearest even);
//           per output channel with per-channel weight scales
//   q     = clamp(round_half_even(float(acc) * scale) + output_zero_point, qmin, qmax)
//           float(acc): int32 -> float rounds to nearest even (|acc| > 2^24 loses bits, as in PyTorch);
//           the product is rounded to float once; qmin/qmax = 0/255 for quint8 (qmin = zero point for
//           the fused ReLU)
//
// acc is the int32 sum of (x - input_zero_point) * w (int8 weights, zero point 0), plus the int32
// bias PyTorch derives from a float bias as round_half_even(bias * (1.0f / float(w_scale * in_scale)))
// (quantize_per_tensor to qint32, scale product in double; pytorch_quantize_bias below). The experiments rejected the
// alternatives that compute the scale in double and cast once (differs in ~1 of 3 discriminating cases), compute w * i
// / o with a float division, or use float(1 / output_scale) computed in double.
//
// One deliberate difference: when |float(acc) * scale| >= 2^31 (only possible for scale > 1 and huge
// accumulators), qnnpack's x86 code gets cvtps2dq's "integer indefinite" INT32_MIN and so outputs
// qmin for a huge positive value; qsafe saturates (qmax). No real layer reaches that range.
//
// No libm: rounding is core/rounding.hpp's bit-level RoundHalfEven; no addition is involved, so FMA
// contraction cannot change a result.
#ifndef QSAFE_CORE_FLOAT_REQUANT_HPP_
#define QSAFE_CORE_FLOAT_REQUANT_HPP_

#include <cstdint>

#include "qsafe/config.hpp"
#include "qsafe/core/rounding.hpp"

namespace qsafe {

// PyTorch's requantization scale for one output channel (see the formula above). Scales are positive
// finite; the caller checks that (PyTorch rejects a non-normal or non-positive result).
inline float pytorch_requant_scale(double input_scale, double weight_scale, double output_scale) noexcept {
  const float product = static_cast<float>(weight_scale) * static_cast<float>(input_scale);
  const float inverse_output_scale = 1.0f / static_cast<float>(output_scale);
  return product * inverse_output_scale;
}

// PyTorch's int32 bias: quantize_per_tensor(bias, weight_scale * input_scale, 0, qint32), i.e.
// round_half_even(bias * (1.0f / float(weight_scale * input_scale))) with the scale product in double,
// saturated to int32.
inline std::int32_t pytorch_quantize_bias(float bias, double input_scale, double weight_scale) noexcept {
  const float inverse_scale = 1.0f / static_cast<float>(weight_scale * input_scale);
  return RoundHalfEven::to_int32(bias * inverse_scale);
}

// clamp(round_half_even(float(acc) * scale) + zero_point, qmin, qmax). Requires qmin <= qmax; the
// rounded product saturates to int32 first (and NaN, from a NaN scale, gives 0), so nothing overflows.
inline std::int32_t requantize_float(std::int32_t acc, float scale, std::int32_t zero_point, std::int32_t qmin,
                                     std::int32_t qmax) noexcept {
  const float scaled = static_cast<float>(acc) * scale;
  const std::int64_t q = static_cast<std::int64_t>(RoundHalfEven::to_int32(scaled)) + zero_point;
  return static_cast<std::int32_t>(q < qmin ? qmin : q > qmax ? qmax : q);
}

}  // namespace qsafe

#endif  // QSAFE_CORE_FLOAT_REQUANT_HPP_
