// Firmware compile check, translation unit 1 of 2 (scripts/ci/60-freestanding.sh): the core
// umbrella with -fno-exceptions -fno-rtti, no heap. Only static storage and caller buffers.
#include <cstddef>
#include <cstdint>

#include <qsafe/quantize.hpp>

#include "fw_api.hpp"

int fw_quantize_u8(const float* x, std::size_t n, std::uint8_t* q, float* scale, std::int32_t* zero_point) {
  const qsafe::Quantizer<std::uint8_t> quant;
  const qsafe::Result<qsafe::QParams> p =
      qsafe::qparams_from_range(qsafe::Range{-1.f, 3.f}, quant.qrange(), qsafe::SchemeKind::affine);
  if (!p.ok()) return static_cast<int>(p.status());
  *scale = p->scale;
  *zero_point = p->zero_point;
  return static_cast<int>(quant.quantize(qsafe::Span<const float>(x, n), *p, qsafe::Span<std::uint8_t>(q, n)));
}

int fw_fake_quantize_s8_half_away(const float* x, std::size_t n, float* y) {
  const qsafe::Quantizer<std::int8_t, 8, qsafe::Symmetric, qsafe::PerTensor, qsafe::RoundHalfAway> quant(
      qsafe::PerTensor{}, qsafe::QRangeOptions{true, false});
  const qsafe::Result<qsafe::QParams> p =
      qsafe::qparams_from_range(qsafe::Range{-2.f, 2.f}, quant.qrange(), qsafe::SchemeKind::symmetric);
  if (!p.ok()) return static_cast<int>(p.status());
  return static_cast<int>(quant.fake_quantize(qsafe::Span<const float>(x, n), *p, qsafe::Span<float>(y, n)));
}

int fw_quantize_int4_per_group(const float* x, std::int64_t rows, std::int64_t cols, std::int8_t* q,
                               qsafe::Range* ranges, qsafe::QParams* params, std::size_t groups) {
  const qsafe::Quantizer<std::int8_t, 4, qsafe::Symmetric, qsafe::PerGroup> quant(qsafe::PerGroup{-1, 8});
  const qsafe::TensorView<const float> xv(x, qsafe::Shape{rows, cols});
  QSAFE_RETURN_IF_ERROR_INT(quant.params_from_data(xv, qsafe::Span<qsafe::Range>(ranges, groups),
                                                   qsafe::Span<qsafe::QParams>(params, groups)));
  return static_cast<int>(quant.quantize(xv, qsafe::Span<const qsafe::QParams>(params, groups),
                                         qsafe::TensorView<std::int8_t>(q, qsafe::Shape{rows, cols})));
}

int fw_dequantize_s16_per_channel(const std::int16_t* q, std::int64_t rows, std::int64_t cols,
                                  const qsafe::QParams* params, float* x) {
  const qsafe::Quantizer<std::int16_t, 16, qsafe::Affine, qsafe::PerChannel> quant(qsafe::PerChannel{0});
  return static_cast<int>(quant.dequantize(qsafe::TensorView<const std::int16_t>(q, qsafe::Shape{rows, cols}),
                                           qsafe::Span<const qsafe::QParams>(params, static_cast<std::size_t>(rows)),
                                           qsafe::TensorView<float>(x, qsafe::Shape{rows, cols})));
}

std::int32_t fw_round_half_even(float x) { return qsafe::RoundHalfEven::to_int32(x); }
std::int32_t fw_round_half_away(float x) { return qsafe::RoundHalfAway::to_int32(x); }
