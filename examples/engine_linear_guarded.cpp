// Template: an inference engine's Linear layer running on qsafe's dynamic int8 GEMM with a
// guarded range policy. Copy QuantizedLinear into your engine and replace main() with your graph.
//
//   load()       once per model: int8 symmetric weights per output channel, packed for this CPU
//   calibrate()  once, over representative inputs: the envelope the run-time range must stay in
//   forward()    per call: float in, float out; the input's range is found at run time (dynamic,
//                per tensor) but clamped to k x the calibrated range, so one wild value cannot
//                stretch the range of the whole batch and flatten every other value to a few levels
//
// main() shows why: a batch whose first row holds one outlier, through an unguarded dynamic
// policy and through the guarded one, both compared with the float layer on the clean rows.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "qsafe/quantize.hpp"

namespace {

class QuantizedLinear {
 public:
  // w: [n, k] (PyTorch's nn.Linear.weight layout), bias: n values. Kept in float too, for the
  // fallback path and for comparisons.
  qsafe::Status load(const float* w, const float* bias, std::int64_t n, std::int64_t k) {
    n_ = n;
    k_ = k;
    w_float_.assign(w, w + n * k);
    bias_.assign(bias, bias + n);
    // Weights: int8 symmetric, one scale per output channel (axis 0), from their exact ranges.
    const qsafe::Quantizer<std::int8_t, 8, qsafe::Symmetric, qsafe::PerChannel> wq(qsafe::PerChannel{0});
    const qsafe::TensorView<const float> wv(w_float_.data(), qsafe::Shape{n, k});
    std::vector<qsafe::Range> ranges(static_cast<std::size_t>(n));
    std::vector<qsafe::QParams> params(static_cast<std::size_t>(n));
    QSAFE_RETURN_IF_ERROR(
        wq.params_from_data(wv, qsafe::Span<qsafe::Range>(ranges), qsafe::Span<qsafe::QParams>(params)));
    std::vector<std::int8_t> w8(w_float_.size());
    QSAFE_RETURN_IF_ERROR(wq.quantize(wv, params, qsafe::TensorView<std::int8_t>(w8.data(), qsafe::Shape{n, k})));
    weight_scale_.resize(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) weight_scale_[i] = params[i].scale;
    // Packed once, for the best path this CPU runs; the storage must outlive the PackedWeights.
    packed_storage_.resize(qsafe::packed_weights_size(n, k));
    const qsafe::Result<qsafe::PackedWeights> packed =
        qsafe::pack_weights(qsafe::MatrixView<const std::int8_t>(w8.data(), n, k), qsafe::WeightLayout::nk,
                            qsafe::Span<std::byte>(packed_storage_));
    if (!packed.ok()) return packed.status();
    packed_ = packed.value();
    return qsafe::Status::ok;
  }

  // Observes the layer's input over calibration batches ([rows, k] each) and fixes the envelope.
  qsafe::Status calibrate(const float* x, std::int64_t rows, float k_envelope = 2.f) {
    qsafe::MinMaxObserver observer;  // or PercentileObserver<2048>{99.99f}, MseObserver, ...
    QSAFE_RETURN_IF_ERROR(observer.observe(qsafe::Span<const float>(x, static_cast<std::size_t>(rows * k_))));
    const qsafe::Result<qsafe::Range> r = observer.range();
    if (!r.ok()) return r.status();
    qsafe::GuardOptions options;
    options.calibrated = r.value();
    options.k = k_envelope;
    // clamp_to_envelope (default) clips; use_float makes gemm_dynamic return out_of_range, and
    // forward() then runs the float layer for that call instead.
    options.on_violation = qsafe::OnViolation::clamp_to_envelope;
    policy_ = qsafe::GuardedRange<qsafe::PerTensor>(options);
    return qsafe::check_guard_options(options);
  }

  // y[m, n] = x[m, k] * W^T + bias, through int8. Any RangePolicy works here (Policy defaults to
  // the guarded one set by calibrate(); main() also passes an unguarded DynamicRange).
  template <class Policy>
  qsafe::Status forward(const float* x, std::int64_t m, float* y, Policy& policy) {
    workspace_.resize(qsafe::gemm_dynamic_workspace_size(m, packed_));  // grows once, then reused
    const qsafe::Status s = qsafe::gemm_dynamic(
        qsafe::MatrixView<const float>(x, m, k_), policy, packed_, qsafe::Span<const float>(weight_scale_),
        qsafe::Span<const float>(bias_), qsafe::MatrixView<float>(y, m, n_), qsafe::Span<std::byte>(workspace_));
    if (s == qsafe::Status::out_of_range) return forward_float(x, m, y);  // guarded use_float fallback
    return s;
  }
  qsafe::Status forward(const float* x, std::int64_t m, float* y) { return forward(x, m, y, policy_); }

  qsafe::Status forward_float(const float* x, std::int64_t m, float* y) const {
    for (std::int64_t r = 0; r < m; ++r)
      for (std::int64_t j = 0; j < n_; ++j) {
        double acc = bias_[static_cast<std::size_t>(j)];
        for (std::int64_t i = 0; i < k_; ++i)
          acc += static_cast<double>(x[r * k_ + i]) * w_float_[static_cast<std::size_t>(j * k_ + i)];
        y[r * n_ + j] = static_cast<float>(acc);
      }
    return qsafe::Status::ok;
  }

  const qsafe::GuardedRange<qsafe::PerTensor>& policy() const { return policy_; }

 private:
  std::int64_t n_ = 0, k_ = 0;
  std::vector<float> w_float_, bias_, weight_scale_;
  std::vector<std::byte> packed_storage_, workspace_;
  qsafe::PackedWeights packed_;
  qsafe::GuardedRange<qsafe::PerTensor> policy_;
};

// Largest |a - b| over rows [first_row, rows) of two [rows, n] matrices.
double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b, std::int64_t n, std::int64_t first_row) {
  double d = 0;
  for (std::size_t i = static_cast<std::size_t>(first_row * n); i < a.size(); ++i)
    d = std::fmax(d, std::fabs(static_cast<double>(a[i]) - b[i]));
  return d;
}

}  // namespace

int main() {
  constexpr std::int64_t kIn = 64, kOut = 32, kRows = 8;
  std::vector<float> w(kIn * kOut), bias(kOut), calib(kIn * 64), x(kIn * kRows);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.2f * std::sin(0.7f * static_cast<float>(i));
  for (std::size_t i = 0; i < bias.size(); ++i) bias[i] = 0.01f * static_cast<float>(i);
  for (std::size_t i = 0; i < calib.size(); ++i) calib[i] = std::cos(0.13f * static_cast<float>(i * i % 977));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.29f * static_cast<float>(i * 7 % 911));
  x[3] = 200.f;  // one outlier in row 0: a sensor glitch, a rare token, an attack

  QuantizedLinear layer;
  qsafe::Status s = layer.load(w.data(), bias.data(), kOut, kIn);
  if (s == qsafe::Status::ok) s = layer.calibrate(calib.data(), 64);
  std::vector<float> y_float(kOut * kRows), y_guarded(y_float.size()), y_dynamic(y_float.size());
  qsafe::DynamicRange<qsafe::PerTensor> unguarded;
  if (s == qsafe::Status::ok) s = layer.forward_float(x.data(), kRows, y_float.data());
  if (s == qsafe::Status::ok) s = layer.forward(x.data(), kRows, y_guarded.data());
  if (s == qsafe::Status::ok) s = layer.forward(x.data(), kRows, y_dynamic.data(), unguarded);
  if (s != qsafe::Status::ok) {
    std::fprintf(stderr, "engine_linear_guarded: %s\n", qsafe::to_string(s));
    return 1;
  }
  // Rows 1.. are clean: they should not pay for row 0's outlier.
  const double err_dynamic = max_abs_diff(y_float, y_dynamic, kOut, 1);
  const double err_guarded = max_abs_diff(y_float, y_guarded, kOut, 1);
  const qsafe::RangeCounters& c = layer.policy().counters();
  std::printf("Linear %lldx%lld, batch of %lld rows, row 0 holds one outlier (200, calibrated range ~[-1, 1])\n",
              static_cast<long long>(kIn), static_cast<long long>(kOut), static_cast<long long>(kRows));
  std::printf("  max |error| on the clean rows vs float: dynamic per tensor %.4f, guarded %.4f\n", err_dynamic,
              err_guarded);
  std::printf("  guarded policy: %llu envelope violation(s), %llu value(s) clipped\n",
              static_cast<unsigned long long>(c.envelope_violations), static_cast<unsigned long long>(c.clipped));
  const bool ok = err_guarded < err_dynamic && err_guarded < 0.05 && c.envelope_violations == 1;
  std::printf("%s\n", ok ? "ok: the envelope kept the clean rows precise"
                         : "FAILED: the guarded policy did not contain the outlier");
  return ok ? 0 : 1;
}
