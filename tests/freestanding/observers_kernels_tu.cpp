// Firmware compile check, translation unit 2 of 2: observers, fixed-point requantization and the
// GEMM's scalar path, each as soon as its header exists, plus the core umbrella again (so the two
// TUs link only if every function in the headers is inline or a template).
#include <cstddef>
#include <cstdint>

#include <qsafe/quantize.hpp>

#if __has_include(<qsafe/observer/all.hpp>)
#include <qsafe/observer/all.hpp>
#define QSAFE_FW_HAS_OBSERVERS 1
#endif
#if __has_include(<qsafe/core/fixed_point.hpp>)
#include <qsafe/core/fixed_point.hpp>
#define QSAFE_FW_HAS_FIXED_POINT 1
#endif
#if __has_include(<qsafe/kernel/gemm.hpp>)
#include <qsafe/kernel/gemm.hpp>
#define QSAFE_FW_HAS_GEMM 1
#endif

#include "fw_api.hpp"

#ifdef QSAFE_FW_HAS_OBSERVERS
namespace {
// Observers are fixed-size values: they live in static storage on a microcontroller.
qsafe::MinMaxObserver g_min_max;
qsafe::MovingAverageMinMaxObserver g_moving_average;
qsafe::PercentileObserver<256> g_percentile;
qsafe::MseObserver<256> g_mse;
qsafe::EntropyObserver<512> g_entropy;

template <class Obs>
int observe_one(Obs& obs, qsafe::Span<const float> x, qsafe::Range* range) {
  QSAFE_RETURN_IF_ERROR_INT(obs.observe(x));
  Obs copy = obs;
  QSAFE_RETURN_IF_ERROR_INT(copy.merge(obs));
  const qsafe::Result<qsafe::Range> r = obs.range();
  if (!r.ok()) return static_cast<int>(r.status());
  *range = r.value();
  return 0;
}
}  // namespace
#endif

int fw_observe(const float* x, std::size_t n, qsafe::Range* range) {
#ifdef QSAFE_FW_HAS_OBSERVERS
  const qsafe::Span<const float> s(x, n);
  int rc = observe_one(g_min_max, s, range);
  if (rc == 0) rc = observe_one(g_moving_average, s, range);
  if (rc == 0) rc = observe_one(g_percentile, s, range);
  if (rc == 0) rc = observe_one(g_mse, s, range);
  if (rc == 0) rc = observe_one(g_entropy, s, range);
  return rc;
#else
  (void)x, (void)n, (void)range;
  return 0;
#endif
}

std::int32_t fw_requantize(std::int32_t acc) {
#ifdef QSAFE_FW_HAS_FIXED_POINT
  const qsafe::Result<qsafe::QuantizedMultiplier> m = qsafe::quantize_multiplier(0.0123);
  if (!m.ok()) return 0;
  return qsafe::multiply_by_quantized_multiplier(acc, m.value()) +
         qsafe::multiply_by_quantized_multiplier_single_round(acc, m.value());
#else
  return acc;
#endif
}

int fw_gemm_s8(const std::uint8_t* a, const std::int8_t* w, std::int64_t m, std::int64_t n, std::int64_t k,
               std::int8_t* c, std::byte* storage, std::size_t storage_size) {
#ifdef QSAFE_FW_HAS_GEMM
  // Weights packed once into caller storage; the scalar path needs no workspace.
  const qsafe::Result<qsafe::PackedWeights> packed = qsafe::pack_weights<qsafe::arch::scalar>(
      qsafe::MatrixView<const std::int8_t>(w, n, k), qsafe::WeightLayout::nk,
      qsafe::Span<std::byte>(storage, storage_size));
  if (!packed.ok()) return static_cast<int>(packed.status());
  const std::int32_t a_zero_point = 128;
  const qsafe::Result<qsafe::QuantizedMultiplier> mult = qsafe::quantize_multiplier(0.0123);
  if (!mult.ok()) return static_cast<int>(mult.status());
  const qsafe::QuantizedMultiplier mults[1] = {mult.value()};
  const auto stages = qsafe::pipeline(qsafe::RequantizeQ31{qsafe::Span<const qsafe::QuantizedMultiplier>(mults), 3},
                                      qsafe::Clamp{-128, 127});
  return static_cast<int>(qsafe::gemm<qsafe::arch::scalar>(
      qsafe::MatrixView<const std::uint8_t>(a, m, k), qsafe::Span<const std::int32_t>(&a_zero_point, 1),
      packed.value(), stages, qsafe::MatrixView<std::int8_t>(c, m, n)));
#else
  (void)a, (void)w, (void)m, (void)n, (void)k, (void)c, (void)storage, (void)storage_size;
  return 0;
#endif
}

// A 3x3 convolution (im2col into caller workspace) and a 3x3 depthwise convolution on an 8x8 NHWC
// image, scalar paths, every buffer the caller's: what a firmware layer on qsafe's conv looks like.
int fw_conv_u8(const std::uint8_t* x, const std::int8_t* w, const std::int8_t* dw_w, std::uint8_t* y,
               std::uint8_t* dw_y, std::byte* storage, std::size_t storage_size, std::byte* workspace,
               std::size_t workspace_size) {
#if defined(QSAFE_FW_HAS_GEMM) && __has_include(<qsafe/kernel/conv2d.hpp>) && __has_include(<qsafe/kernel/depthwise.hpp>)
  qsafe::Conv2dGeometry g;
  g.in_h = g.in_w = 8;
  g.in_channels = 4;
  g.out_channels = 4;
  g.kernel_h = g.kernel_w = 3;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
  const std::int32_t x_zero_point = 3;
  const float multipliers[1] = {0.01f};
  const auto stages = qsafe::pipeline(qsafe::RequantizeFloat{qsafe::Span<const float>(multipliers), 7},
                                      qsafe::Clamp{0, 255});
  const qsafe::Result<qsafe::PackedConv2dWeights> packed = qsafe::pack_conv2d_weights<qsafe::arch::scalar>(
      g, qsafe::Span<const std::int8_t>(w, static_cast<std::size_t>(g.weight_numel())),
      qsafe::Span<std::byte>(storage, storage_size));
  if (!packed.ok()) return static_cast<int>(packed.status());
  QSAFE_RETURN_IF_ERROR_INT(qsafe::conv2d<qsafe::arch::scalar>(
      g, qsafe::Span<const std::uint8_t>(x, static_cast<std::size_t>(g.input_numel())), x_zero_point, packed.value(),
      stages, qsafe::Span<std::uint8_t>(y, static_cast<std::size_t>(g.output_numel())),
      qsafe::Span<std::byte>(workspace, workspace_size)));
  g.groups = 4;  // depthwise: one filter per channel, no workspace
  const qsafe::Result<qsafe::DepthwiseWeights> dw = qsafe::pack_depthwise_weights<qsafe::arch::scalar>(
      g, qsafe::Span<const std::int8_t>(dw_w, static_cast<std::size_t>(g.weight_numel())),
      qsafe::Span<std::byte>(storage, storage_size));
  if (!dw.ok()) return static_cast<int>(dw.status());
  return static_cast<int>(qsafe::depthwise_conv2d<qsafe::arch::scalar>(
      g, qsafe::Span<const std::uint8_t>(x, static_cast<std::size_t>(g.input_numel())), x_zero_point, dw.value(),
      stages, qsafe::Span<std::uint8_t>(dw_y, static_cast<std::size_t>(g.output_numel()))));
#else
  (void)x, (void)w, (void)dw_w, (void)y, (void)dw_y, (void)storage, (void)storage_size, (void)workspace,
      (void)workspace_size;
  return 0;
#endif
}
