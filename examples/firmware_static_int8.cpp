// Template: a firmware-style static int8 Linear + ReLU layer. Every buffer is a caller-provided
// static array; nothing allocates, nothing throws (builds with -fno-exceptions -fno-rtti), and the
// int32 accumulators are requantized to int8 by fixed-point output stages that match TFLite /
// CMSIS-NN bit for bit. Copy it and replace the generated weights and frames with your own.
//
//   offline / at boot   weights -> int8 per output channel; bias -> int32 at scale s_in * s_w[n];
//                       multipliers s_in * s_w[n] / s_out -> Q31 + shift; pack the weights once
//   per frame           x (float) -> uint8 with the calibrated input parameters
//                       y (int8)   = Clamp(RequantizeQ31(AddBias(x_q * W_q)))   one gemm() call
//
// main() checks the int8 result against the float twin of the integer computation: within one
// output step on every value (and prints what quantization costs against the float layer).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "qsafe/quantize.hpp"

namespace {

constexpr std::int64_t kIn = 48, kOut = 24, kFrames = 4, kCalibFrames = 32;
using Isa = qsafe::arch::scalar;  // the firmware path: needs no GEMM workspace

// Model parameters (in a real product: const arrays generated offline, in flash).
float g_weight[kOut * kIn];
float g_bias[kOut];
// Quantized layer state, filled once by layer_init().
std::int8_t g_weight_q[kOut * kIn];
qsafe::QParams g_weight_params[kOut];
qsafe::Range g_weight_ranges[kOut];
std::int32_t g_bias_q[kOut];
qsafe::QuantizedMultiplier g_multiplier[kOut];
qsafe::QParams g_in_params, g_out_params;
// Packed weights: packed_weights_size<Isa>(kOut, kIn) bytes (checked at init), 64-byte aligned inside.
alignas(64) std::byte g_packed_storage[(kOut + 8) * (kIn + 4) + 4 * (kOut + 8) + 128];
qsafe::PackedWeights g_packed;
// Per-frame buffers.
float g_frame[kFrames * kIn];
std::uint8_t g_frame_q[kFrames * kIn];
std::int8_t g_out_q[kFrames * kOut];
float g_out_ref[kFrames * kOut];

// The float layer (relu(x W^T + b)), the reference the int8 one is checked against.
void linear_relu_float(const float* x, std::int64_t rows, float* y) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t n = 0; n < kOut; ++n) {
      double acc = g_bias[n];
      for (std::int64_t k = 0; k < kIn; ++k) acc += static_cast<double>(x[r * kIn + k]) * g_weight[n * kIn + k];
      y[r * kOut + n] = acc > 0 ? static_cast<float>(acc) : 0.f;
    }
}

// Fills frame data: deterministic, in [0, 1] like normalised sensor values.
void make_frames(float* x, std::int64_t rows, int seed) {
  for (std::int64_t i = 0; i < rows * kIn; ++i)
    x[i] = 0.5f + 0.5f * std::sin(0.37f * static_cast<float>(i) + static_cast<float>(seed));
}

// Calibrates an observer over frames (x) and returns quantization parameters for `q`.
template <class Quant>
qsafe::Status calibrate(const float* x, std::int64_t count, const Quant& q, qsafe::QParams* out) {
  qsafe::MinMaxObserver observer;  // a static value: no heap even for histogram observers
  QSAFE_RETURN_IF_ERROR(observer.observe(qsafe::Span<const float>(x, static_cast<std::size_t>(count))));
  const qsafe::Result<qsafe::Range> range = observer.range();
  if (!range.ok()) return range.status();
  const qsafe::Result<qsafe::QParams> p =
      qsafe::qparams_from_range(range.value(), q.qrange(), qsafe::SchemeKind::affine);
  if (!p.ok()) return p.status();
  *out = p.value();
  return qsafe::Status::ok;
}

qsafe::Status layer_init() {
  for (std::int64_t i = 0; i < kOut * kIn; ++i) g_weight[i] = 0.3f * std::sin(1.3f * static_cast<float>(i));
  for (std::int64_t n = 0; n < kOut; ++n) g_bias[n] = 0.05f * static_cast<float>(n % 5) - 0.1f;

  // Input and output parameters from calibration frames (here: generated into the frame buffer).
  const qsafe::Quantizer<std::uint8_t> in_quant;  // quint8 affine
  const qsafe::Quantizer<std::int8_t> out_quant;  // qint8 affine
  static float calib[kCalibFrames * kIn], calib_out[kCalibFrames * kOut];
  make_frames(calib, kCalibFrames, 7);
  linear_relu_float(calib, kCalibFrames, calib_out);
  QSAFE_RETURN_IF_ERROR(calibrate(calib, kCalibFrames * kIn, in_quant, &g_in_params));
  QSAFE_RETURN_IF_ERROR(calibrate(calib_out, kCalibFrames * kOut, out_quant, &g_out_params));

  // Weights: int8 symmetric per output channel.
  const qsafe::Quantizer<std::int8_t, 8, qsafe::Symmetric, qsafe::PerChannel> wq(qsafe::PerChannel{0});
  const qsafe::TensorView<const float> w(g_weight, qsafe::Shape{kOut, kIn});
  QSAFE_RETURN_IF_ERROR(wq.params_from_data(w, g_weight_ranges, g_weight_params));
  QSAFE_RETURN_IF_ERROR(
      wq.quantize(w, g_weight_params, qsafe::TensorView<std::int8_t>(g_weight_q, qsafe::Shape{kOut, kIn})));

  // Bias at the accumulator's scale, and the requantization multipliers, per channel.
  for (std::int64_t n = 0; n < kOut; ++n) {
    const double acc_scale = static_cast<double>(g_in_params.scale) * g_weight_params[n].scale;
    const double b = g_bias[n] / acc_scale;  // rounded half away from zero by hand: no libm call
    g_bias_q[n] = static_cast<std::int32_t>(b >= 0 ? b + 0.5 : b - 0.5);
    const qsafe::Result<qsafe::QuantizedMultiplier> m = qsafe::quantize_multiplier(acc_scale / g_out_params.scale);
    if (!m.ok()) return m.status();
    g_multiplier[n] = m.value();
  }

  // Pack once into the static storage (check the size: the bound above is the template's guess).
  if (qsafe::packed_weights_size<Isa>(kOut, kIn) > sizeof g_packed_storage) return qsafe::Status::workspace_too_small;
  const qsafe::Result<qsafe::PackedWeights> packed = qsafe::pack_weights<Isa>(
      qsafe::MatrixView<const std::int8_t>(g_weight_q, kOut, kIn), qsafe::WeightLayout::nk, g_packed_storage);
  if (!packed.ok()) return packed.status();
  g_packed = packed.value();
  return qsafe::Status::ok;
}

// One call per batch of frames: quantize the input, then GEMM + bias + requantize + ReLU.
qsafe::Status layer_run(const float* x, std::int64_t rows, std::uint8_t* x_q, std::int8_t* y_q) {
  const qsafe::Quantizer<std::uint8_t> in_quant;
  const std::size_t count = static_cast<std::size_t>(rows * kIn);
  QSAFE_RETURN_IF_ERROR(
      in_quant.quantize(qsafe::Span<const float>(x, count), g_in_params, qsafe::Span<std::uint8_t>(x_q, count)));
  const std::int32_t out_zp = g_out_params.zero_point;
  const auto stages = qsafe::pipeline(qsafe::AddBias{g_bias_q}, qsafe::RequantizeQ31{g_multiplier, out_zp},
                                      qsafe::relu(out_zp, 127));  // ReLU: clamp below at the zero point
  const std::int32_t in_zp = g_in_params.zero_point;
  return qsafe::gemm<Isa>(qsafe::MatrixView<const std::uint8_t>(x_q, rows, kIn),
                          qsafe::Span<const std::int32_t>(&in_zp, 1), g_packed, stages,
                          qsafe::MatrixView<std::int8_t>(y_q, rows, kOut));
}

}  // namespace

int main() {
  qsafe::Status s = layer_init();
  if (s == qsafe::Status::ok) {
    make_frames(g_frame, kFrames, 3);
    s = layer_run(g_frame, kFrames, g_frame_q, g_out_q);
  }
  if (s != qsafe::Status::ok) {
    std::printf("firmware_static_int8: %s\n", qsafe::to_string(s));
    return 1;
  }
  // Two checks: against the float layer (what quantization costs), and against the float twin of
  // the integer computation (dequantized inputs and weights, exact sums): only the final rounding
  // differs, so the int8 result must be within one output step of it.
  linear_relu_float(g_frame, kFrames, g_out_ref);
  const float out_lo = (-128 - g_out_params.zero_point) * g_out_params.scale;
  const float out_hi = (127 - g_out_params.zero_point) * g_out_params.scale;
  double steps_vs_float = 0, steps_vs_twin = 0;
  for (std::int64_t r = 0; r < kFrames; ++r)
    for (std::int64_t n = 0; n < kOut; ++n) {
      double twin = g_bias[n];
      for (std::int64_t k = 0; k < kIn; ++k)
        twin += (g_frame_q[r * kIn + k] - g_in_params.zero_point) * static_cast<double>(g_in_params.scale) *
                g_weight_q[n * kIn + k] * g_weight_params[n].scale;
      twin = std::fmin(std::fmax(twin, 0.0), out_hi);  // ReLU and the int8 range
      const double y = (g_out_q[r * kOut + n] - g_out_params.zero_point) * static_cast<double>(g_out_params.scale);
      const double ref = std::fmin(std::fmax(static_cast<double>(g_out_ref[r * kOut + n]), out_lo), out_hi);
      steps_vs_float = std::fmax(steps_vs_float, std::fabs(y - ref) / g_out_params.scale);
      steps_vs_twin = std::fmax(steps_vs_twin, std::fabs(y - twin) / g_out_params.scale);
    }
  std::printf(
      "static int8 Linear %lldx%lld + ReLU, %lld frames, no heap: input scale %.5f zp %d, output scale %.5f zp %d\n",
      static_cast<long long>(kIn), static_cast<long long>(kOut), static_cast<long long>(kFrames),
      static_cast<double>(g_in_params.scale), static_cast<int>(g_in_params.zero_point),
      static_cast<double>(g_out_params.scale), static_cast<int>(g_out_params.zero_point));
  std::printf("  packed weights: %zu of %zu static bytes\n", qsafe::packed_weights_size<Isa>(kOut, kIn),
              sizeof g_packed_storage);
  std::printf("  worst error: %.2f output steps vs the float layer, %.2f vs the integer path's float twin\n",
              steps_vs_float, steps_vs_twin);
  const bool ok = steps_vs_twin <= 1.0;
  std::printf("%s\n", ok ? "ok" : "FAILED: requantization is more than one step off its float twin");
  return ok ? 0 : 1;
}
