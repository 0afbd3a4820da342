// Downstream use of qsafe through its CMake package: calibrate a range, quantize, dequantize, and
// check the round trip. Exits non-zero on any failure.
#include <cstdint>
#include <cstdio>
#include <vector>

#include <qsafe/quantize.hpp>

float round_trip_error_second_tu();  // second_tu.cpp: the same header in another TU (ODR)

int main() {
  const qsafe::Quantizer<std::uint8_t> quant;
  const std::vector<float> x = {-1.f, 0.f, 0.5f, 3.f};
  const qsafe::Result<qsafe::QParams> params =
      qsafe::qparams_from_range(qsafe::Range{-1.f, 3.f}, quant.qrange(), qsafe::SchemeKind::affine);
  if (!params.ok()) {
    std::printf("qparams_from_range: %s\n", qsafe::to_string(params.status()));
    return 1;
  }
  std::vector<std::uint8_t> q(x.size());
  std::vector<float> y(x.size());
  qsafe::Status s = quant.quantize(qsafe::Span<const float>(x), *params, qsafe::Span<std::uint8_t>(q));
  if (s == qsafe::Status::ok) s = quant.dequantize(qsafe::Span<const std::uint8_t>(q), *params, qsafe::Span<float>(y));
  if (s != qsafe::Status::ok) {
    std::printf("quantize/dequantize: %s\n", qsafe::to_string(s));
    return 1;
  }
  // PyTorch: scale = 4/255, zero_point = 64 -> q = {0, 64, 96, 255}.
  const std::uint8_t want[] = {0, 64, 96, 255};
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (q[i] != want[i]) {
      std::printf("q[%zu] = %d, want %d\n", i, q[i], want[i]);
      return 1;
    }
  }
  const float e = round_trip_error_second_tu();
  if (!(e <= params->scale / 2)) {
    std::printf("round-trip error %g > scale/2\n", static_cast<double>(e));
    return 1;
  }
  std::printf("qsafe %s consumer ok: scale %.9g zero_point %d\n", QSAFE_VERSION_STRING,
              static_cast<double>(params->scale), params->zero_point);
  return 0;
}
