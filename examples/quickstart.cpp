// Quick start: calibrate a range, derive PyTorch-exact quantization parameters, quantize,
// dequantize, and report the error. Copy this file as a starting template.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "qsafe/quantize.hpp"

int main() {
  // A small activation tensor with one outlier.
  std::vector<float> x(1024);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.05f * static_cast<float>(i));
  x[100] = 8.f;

  qsafe::Quantizer<std::uint8_t> quantizer;  // quint8, affine, per tensor, round half to even
  qsafe::Range range;
  if (qsafe::Status s = quantizer.ranges_of(qsafe::TensorView<const float>(x.data(), qsafe::Shape{1024}),
                                            qsafe::Span<qsafe::Range>(&range, 1));
      s != qsafe::Status::ok) {
    std::fprintf(stderr, "calibration failed: %s\n", qsafe::to_string(s));
    return 1;
  }
  const qsafe::Result<qsafe::QParams> params =
      qsafe::qparams_from_range(range, quantizer.qrange(), qsafe::SchemeKind::affine);
  if (!params.ok()) {
    std::fprintf(stderr, "qparams failed: %s\n", qsafe::to_string(params.status()));
    return 1;
  }
  std::vector<std::uint8_t> q(x.size());
  std::vector<float> y(x.size());
  if (quantizer.quantize(qsafe::Span<const float>(x), *params, qsafe::Span<std::uint8_t>(q)) != qsafe::Status::ok ||
      quantizer.dequantize(qsafe::Span<const std::uint8_t>(q), *params, qsafe::Span<float>(y)) != qsafe::Status::ok) {
    std::fprintf(stderr, "quantization failed\n");
    return 1;
  }
  double err = 0, sig = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    err += (x[i] - y[i]) * (x[i] - y[i]);
    sig += x[i] * x[i];
  }
  std::printf("qsafe %s quick start\n", QSAFE_VERSION_STRING);
  std::printf("calibrated range [%g, %g] -> quint8 affine scale %.9g zero_point %d\n", range.lo, range.hi,
              params->scale, params->zero_point);
  std::printf("quantized %zu values; SQNR %.2f dB (the outlier at 8.0 stretches the range)\n", x.size(),
              10.0 * std::log10(sig / err));
  return 0;
}
