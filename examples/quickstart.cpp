// Quick start: calibrate activation ranges with three observers on data that has one outlier,
// derive PyTorch-exact quantization parameters, quantize, and show what each choice costs.
// Copy this file as a starting template.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "qsafe/quantize.hpp"

namespace {

// SQNR in dB of y against x over the elements where mask is true.
double sqnr_db(const std::vector<float>& x, const std::vector<float>& y, bool outliers_only, float threshold) {
  double signal = 0, noise = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if ((std::fabs(x[i]) > threshold) != outliers_only) continue;
    signal += static_cast<double>(x[i]) * x[i];
    noise += static_cast<double>(x[i] - y[i]) * (x[i] - y[i]);
  }
  return noise == 0 ? INFINITY : 10.0 * std::log10(signal / noise);
}

template <class Observer>
int report(const char* name, Observer observer, const std::vector<float>& x) {
  const qsafe::Quantizer<std::uint8_t> quantizer;  // quint8, affine, per tensor, round half to even
  // Observers gather statistics batch by batch; qparams_from_range is the one place a range
  // becomes scale and zero point (PyTorch's formulas, bit for bit).
  for (std::size_t start = 0; start < x.size(); start += 256) {
    if (qsafe::Status s = observer.observe(qsafe::Span<const float>(x.data() + start, 256)); s != qsafe::Status::ok) {
      std::fprintf(stderr, "%s: observe failed: %s\n", name, qsafe::to_string(s));
      return 1;
    }
  }
  const qsafe::Result<qsafe::Range> range = observer.range();
  const qsafe::Result<qsafe::QParams> params =
      range.ok() ? qsafe::qparams_from_range(*range, quantizer.qrange(), qsafe::SchemeKind::affine)
                 : qsafe::Result<qsafe::QParams>(range.status());
  if (!params.ok()) {
    std::fprintf(stderr, "%s: no parameters: %s\n", name, qsafe::to_string(params.status()));
    return 1;
  }
  std::vector<float> y(x.size());
  if (quantizer.fake_quantize(qsafe::Span<const float>(x), *params, qsafe::Span<float>(y)) != qsafe::Status::ok) {
    std::fprintf(stderr, "%s: quantization failed\n", name);
    return 1;
  }
  std::printf("  %-10s range [%8.4f, %8.4f]  scale %.6f  zero_point %3d   SQNR bulk %5.1f dB   outlier %5.1f dB\n",
              name, range->lo, range->hi, params->scale, params->zero_point, sqnr_db(x, y, false, 4.f),
              sqnr_db(x, y, true, 4.f));
  return 0;
}

}  // namespace

int main() {
  // 4096 activations in [-1, 1] and one outlier at 40: the kind of value that blows up a
  // dynamic range and silently costs every other value its resolution.
  std::vector<float> x(4096);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i)) * std::cos(0.011f * i);
  x[1000] = 40.f;

  std::printf("qsafe %s quick start: calibrating quint8 parameters for 4096 values with one outlier\n",
              QSAFE_VERSION_STRING);
  int failures = 0;
  failures += report("min-max", qsafe::MinMaxObserver{}, x);
  failures += report("p99.9", qsafe::PercentileObserver<2048>{99.9f}, x);
  failures += report("mse", qsafe::MseObserver<2048>{}, x);
  std::printf("Min-max spends the 256 levels on the outlier; the percentile observer clips it and keeps\n"
              "the bulk precise. MSE keeps the outlier too: by squared error, clipping one value at 40\n"
              "costs more than coarse steps for 4095 small ones. Which is right depends on what the\n"
              "outlier means; qsafe makes the trade-off visible instead of choosing silently.\n");
  return failures == 0 ? 0 : 1;
}
