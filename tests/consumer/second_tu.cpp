// A second translation unit including the same umbrella: a header-only library must link
// without duplicate symbols.
#include <cstdint>

#include <qsafe/quantize.hpp>

float round_trip_error_second_tu() {
  const qsafe::Quantizer<std::int8_t, 8, qsafe::Symmetric> quant;
  const qsafe::Result<qsafe::QParams> p =
      qsafe::qparams_from_range(qsafe::Range{-2.f, 2.f}, quant.qrange(), qsafe::SchemeKind::symmetric);
  if (!p.ok()) return 1e30f;
  float x[3] = {-2.f, 0.3f, 1.99f};
  std::int8_t q[3];
  float y[3];
  if (quant.quantize(qsafe::Span<const float>(x), *p, qsafe::Span<std::int8_t>(q)) != qsafe::Status::ok) return 1e30f;
  if (quant.dequantize(qsafe::Span<const std::int8_t>(q), *p, qsafe::Span<float>(y)) != qsafe::Status::ok) return 1e30f;
  float worst = 0.f;
  for (int i = 0; i < 3; ++i) {
    const float e = x[i] > y[i] ? x[i] - y[i] : y[i] - x[i];
    worst = e > worst ? e : worst;
  }
  return worst;
}
