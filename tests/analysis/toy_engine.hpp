// tests/analysis/toy_engine.hpp: small analysis::Engine implementations whose answers are known
// by construction, for the analysis tests.
//
// ToyMlp: a stack of linear layers (ReLU between them, none after the last) run per sample. A
// quantized layer fake-quantizes
//   its weights   signed symmetric, `weight_bits`, per output row or per tensor, round half even
//                 (qparams_from_range, as the real quantizer);
//   its input     unsigned affine `activation_bits` through qsafe's own range policies
//                 (StaticRange / DynamicRange / GuardedRange, quantize_matrix into uint16, then
//                 (q - zp) * scale), one sample = one tensor = one row, so a dynamic per-tensor
//                 policy sees one huge value stretch the whole sample's range exactly as it would
//                 in a real engine; guarded use_float runs the sample's layer in float.
// Calibration is the exact min/max of each layer's float input over the calibration set (every
// ObserverKind is treated as min_max). Counters come from the policies.
//
// Synthetic data (make_bars): D = 16 features in [0, 1], 4 classes; class c lights the features
// j < 15 with j % 4 == c (value 1, others 0.1) plus Gaussian noise, clipped to [0, 1]; feature 15
// is always 0 and no layer reads it (a "dead pixel").
// make_bars_mlp(outlier): 16 -> 16 -> 16 -> 4. Layer 0 = identity on features 0..14, layer 1 =
// identity, layer 2 scores class c by sum_{j%4==c} h_j - sum_{others} h_j / 3. With outlier =
// true, layer 1's unit 0 is scaled x1000 and layer 2's column 0 by 1/1000: the float model is the
// same, but layer 2's input has one outlier channel that crushes per-tensor activation
// quantization of that layer (and only that layer).
//
// TableEngine: one input feature k selects row k of a float and a quantized logit table; one
// "layer" whose counters count the quantized runs: for hand-computed evaluation checks.
#ifndef QSAFE_TESTS_ANALYSIS_TOY_ENGINE_HPP_
#define QSAFE_TESTS_ANALYSIS_TOY_ENGINE_HPP_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "qsafe/analysis/corruptions.hpp"
#include "qsafe/analysis/dataset.hpp"
#include "qsafe/analysis/engine.hpp"
#include "qsafe/core/rounding.hpp"
#include "qsafe/policy/dynamic_range.hpp"
#include "qsafe/policy/guarded_range.hpp"
#include "qsafe/policy/static_range.hpp"
#include "qsafe/quantizer/qparams_from_range.hpp"

namespace qsafe_test {

namespace qa = qsafe::analysis;
using qsafe::QParams;
using qsafe::QRange;
using qsafe::Range;
using qsafe::Result;
using qsafe::Span;
using qsafe::Status;

struct ToyLayer {
  std::int64_t in = 0, out = 0;
  std::vector<float> w;  // [out, in]
  std::vector<float> b;  // [out]
};

class ToyMlp : public qa::Engine {
 public:
  explicit ToyMlp(std::vector<ToyLayer> layers) : layers_(std::move(layers)) {
    stats_.resize(layers_.size());
    cal_.resize(layers_.size());
    wq_.resize(layers_.size());
    config_ = qa::QuantConfig::float_model(layers_.size());
  }

  std::size_t num_layers() const override { return layers_.size(); }
  qa::LayerInfo layer_info(std::size_t i) const override {
    qa::LayerInfo info;
    info.name = "fc" + std::to_string(i);
    info.kind = "linear";
    info.weight_count = layers_[i].in * layers_[i].out;
    info.macs_per_sample = info.weight_count;
    return info;
  }
  std::int64_t sample_numel() const override { return layers_.front().in; }
  std::int64_t num_outputs() const override { return layers_.back().out; }

  Status run_float(Span<const float> x, std::int64_t n, Span<float> out) override { return run(x, n, out, false); }

  Status prepare(const qa::QuantConfig& config, Span<const float> calib, std::int64_t n) override {
    QSAFE_RETURN_IF_ERROR(qa::check_config(config, layers_.size()));
    if (n < 1 || calib.size() != static_cast<std::size_t>(n * sample_numel())) return Status::shape_mismatch;
    ++prepares;
    config_ = config;
    // Calibration: exact min/max of every layer's float input.
    for (Range& r : cal_) r = Range{std::numeric_limits<float>::max(), -std::numeric_limits<float>::max()};
    std::vector<float> h, next;
    for (std::int64_t s = 0; s < n; ++s) {
      h.assign(calib.begin() + s * sample_numel(), calib.begin() + (s + 1) * sample_numel());
      for (std::size_t l = 0; l < layers_.size(); ++l) {
        for (float v : h) {
          cal_[l].lo = std::min(cal_[l].lo, v);
          cal_[l].hi = std::max(cal_[l].hi, v);
        }
        linear(l, h.data(), layers_[l].w, next);
        if (l + 1 < layers_.size()) relu(next);
        h.swap(next);
      }
    }
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const qa::LayerConfig& c = config_.layer(l);
      stats_[l] = qa::LayerRunStats{};
      stats_[l].quantized = !c.keep_float;
      stats_[l].input_range = cal_[l];
      if (c.keep_float) continue;
      QSAFE_RETURN_IF_ERROR(quantize_weights(l, c));
      const Result<QParams> p =
          qsafe::qparams_from_range(cal_[l], act_qrange(c.activation_bits), qsafe::SchemeKind::affine);
      if (!p.ok()) return p.status();
      stats_[l].input = p.value();
    }
    return Status::ok;
  }

  Status run_quantized(Span<const float> x, std::int64_t n, Span<float> out) override { return run(x, n, out, true); }
  qa::LayerRunStats layer_stats(std::size_t i) const override { return stats_[i]; }

  int prepares = 0;

 private:
  static QRange act_qrange(int bits) { return QRange{0, (1 << bits) - 1}; }

  Status quantize_weights(std::size_t l, const qa::LayerConfig& c) {
    const ToyLayer& L = layers_[l];
    const QRange qr{-(1 << (c.weight_bits - 1)), (1 << (c.weight_bits - 1)) - 1};
    wq_[l].assign(L.w.size(), 0.f);
    stats_[l].weight_scales.clear();
    const std::int64_t groups = c.per_channel_weights ? L.out : 1;
    const std::int64_t per = static_cast<std::int64_t>(L.w.size()) / groups;
    for (std::int64_t g = 0; g < groups; ++g) {
      float lo = 0, hi = 0;
      for (std::int64_t k = 0; k < per; ++k) {
        lo = std::min(lo, L.w[static_cast<std::size_t>(g * per + k)]);
        hi = std::max(hi, L.w[static_cast<std::size_t>(g * per + k)]);
      }
      const Result<QParams> p = qsafe::qparams_from_range(Range{lo, hi}, qr, qsafe::SchemeKind::symmetric);
      if (!p.ok()) return p.status();
      stats_[l].weight_scales.push_back(p->scale);
      for (std::int64_t k = 0; k < per; ++k) {
        const std::size_t i = static_cast<std::size_t>(g * per + k);
        std::int32_t q = qsafe::RoundHalfEven::to_int32(L.w[i] / p->scale);
        q = std::min(qr.qmax, std::max(qr.qmin, q));
        wq_[l][i] = static_cast<float>(q) * p->scale;
      }
    }
    return Status::ok;
  }

  void linear(std::size_t l, const float* x, const std::vector<float>& w, std::vector<float>& y) const {
    const ToyLayer& L = layers_[l];
    y.assign(static_cast<std::size_t>(L.out), 0.f);
    for (std::int64_t o = 0; o < L.out; ++o) {
      double acc = L.b[static_cast<std::size_t>(o)];
      for (std::int64_t i = 0; i < L.in; ++i)
        acc += static_cast<double>(w[static_cast<std::size_t>(o * L.in + i)]) * x[i];
      y[static_cast<std::size_t>(o)] = static_cast<float>(acc);
    }
  }
  static void relu(std::vector<float>& v) {
    for (float& x : v) x = std::max(x, 0.f);
  }

  static double statistic(const std::vector<float>& h, qa::InputStatistic s) {
    double lo = h[0], hi = h[0], max_abs = 0, sum_abs = 0;
    for (float v : h) {
      lo = std::min(lo, static_cast<double>(v));
      hi = std::max(hi, static_cast<double>(v));
      max_abs = std::max(max_abs, static_cast<double>(std::fabs(v)));
      sum_abs += std::fabs(v);
    }
    switch (s) {
      case qa::InputStatistic::range: return hi - lo;
      case qa::InputStatistic::max_abs: return max_abs;
      case qa::InputStatistic::peak_to_mean:
        return sum_abs == 0 ? 0.0 : max_abs / (sum_abs / static_cast<double>(h.size()));
    }
    return 0.0;
  }

  template <class Policy>
  Status through(Policy& policy, std::size_t l, std::vector<float>& h, int bits) {
    const qsafe::QuantTarget t{act_qrange(bits), qsafe::SchemeKind::affine, qsafe::kDefaultScaleEps};
    std::vector<std::uint16_t> q(h.size());
    QParams p;
    const std::int64_t cols = static_cast<std::int64_t>(h.size());
    const Status st = qsafe::quantize_matrix(policy, qsafe::MatrixView<const float>(h.data(), 1, cols), t,
                                             qsafe::MatrixView<std::uint16_t>(q.data(), 1, cols), Span<QParams>(&p, 1));
    qsafe::RangeCounters& c = stats_[l].counters;
    const qsafe::RangeCounters& d = policy.counters();
    c.runs += d.runs;
    c.groups += d.groups;
    c.values += d.values;
    c.non_finite += d.non_finite;
    c.clipped += d.clipped;
    c.saturated += d.saturated;
    c.envelope_violations += d.envelope_violations;
    c.fallbacks += d.fallbacks;
    if (st != Status::ok) return st;
    stats_[l].input = p;
    for (std::size_t i = 0; i < h.size(); ++i)
      h[i] = static_cast<float>(static_cast<std::int32_t>(q[i]) - p.zero_point) * p.scale;
    return Status::ok;
  }

  // Fake-quantizes one sample's input of layer l in place; out_of_range = run in float.
  Status quantize_input(std::size_t l, std::vector<float>& h) {
    const qa::LayerConfig& c = config_.layer(l);
    int bits = c.activation_bits;
    if (c.bit_width.enabled) {
      const double s = statistic(h, c.bit_width.statistic);
      std::size_t k = 0;
      while (k < c.bit_width.thresholds.size() && s > c.bit_width.thresholds[k]) ++k;
      bits = c.bit_width.bits[k];
    }
    ++stats_[l].bits_chosen[static_cast<std::size_t>(bits)];
    const qsafe::GuardOptions g{cal_[l], c.guard_k, c.guard_percentile, c.on_violation};
    switch (c.policy) {
      case qa::ActPolicy::static_range: {
        const Result<QParams> p = qsafe::qparams_from_range(cal_[l], act_qrange(bits), qsafe::SchemeKind::affine);
        if (!p.ok()) return p.status();
        qsafe::StaticRange pol(p.value());
        return through(pol, l, h, bits);
      }
      case qa::ActPolicy::dynamic_per_tensor: {
        qsafe::DynamicRange<qsafe::PerTensor> pol;
        return through(pol, l, h, bits);
      }
      case qa::ActPolicy::dynamic_per_row: {
        qsafe::DynamicRange<qsafe::PerRow> pol;
        return through(pol, l, h, bits);
      }
      case qa::ActPolicy::guarded_per_tensor: {
        qsafe::GuardedRange<qsafe::PerTensor> pol(g);
        return through(pol, l, h, bits);
      }
      case qa::ActPolicy::guarded_per_row: {
        qsafe::GuardedRange<qsafe::PerRow> pol(g);
        return through(pol, l, h, bits);
      }
    }
    return Status::invalid_argument;
  }

  Status run(Span<const float> x, std::int64_t n, Span<float> out, bool quantized) {
    if (n < 0 || x.size() != static_cast<std::size_t>(n * sample_numel()) ||
        out.size() != static_cast<std::size_t>(n * num_outputs()))
      return Status::shape_mismatch;
    std::vector<float> h, next;
    for (std::int64_t s = 0; s < n; ++s) {
      h.assign(x.begin() + s * sample_numel(), x.begin() + (s + 1) * sample_numel());
      for (std::size_t l = 0; l < layers_.size(); ++l) {
        const qa::LayerConfig& c = config_.layer(l);
        bool use_float = !quantized || c.keep_float;
        if (!use_float) {
          const Status st = quantize_input(l, h);
          if (st == Status::out_of_range) {
            ++stats_[l].float_fallbacks;
            use_float = true;
          } else if (st != Status::ok) {
            return st;
          }
        }
        linear(l, h.data(), use_float ? layers_[l].w : wq_[l], next);
        if (l + 1 < layers_.size()) relu(next);
        h.swap(next);
      }
      std::copy(h.begin(), h.end(), out.begin() + s * num_outputs());
    }
    return Status::ok;
  }

  std::vector<ToyLayer> layers_;
  std::vector<qa::LayerRunStats> stats_;
  std::vector<Range> cal_;
  std::vector<std::vector<float>> wq_;
  qa::QuantConfig config_;
};

constexpr std::int64_t kBarsFeatures = 16;
constexpr std::int64_t kBarsClasses = 4;
constexpr std::int64_t kDeadFeature = 15;

// n samples, classes in turn (0, 1, 2, 3, 0, ...), noise sigma `noise`, seeded.
inline qa::Dataset make_bars(std::int64_t n, std::uint64_t seed, double noise = 0.05) {
  qa::Dataset d;
  d.n = n;
  qa::Rng rng(seed);
  for (std::int64_t s = 0; s < n; ++s) {
    const std::int64_t c = s % kBarsClasses;
    d.labels.push_back(c);
    for (std::int64_t j = 0; j < kBarsFeatures; ++j) {
      double v = j == kDeadFeature ? 0.0 : (j % kBarsClasses == c ? 1.0 : 0.1) + noise * rng.normal();
      if (j != kDeadFeature) v = std::min(1.0, std::max(0.0, v));
      d.x.push_back(static_cast<float>(v));
    }
  }
  return d;
}

// The layers of make_bars_mlp (also used to build the same network as an nn::Model).
inline std::vector<ToyLayer> bars_layers(bool outlier) {
  const std::int64_t D = kBarsFeatures, C = kBarsClasses;
  ToyLayer l0{D, D, std::vector<float>(static_cast<std::size_t>(D * D), 0.f),
              std::vector<float>(static_cast<std::size_t>(D), 0.f)};
  ToyLayer l1 = l0;
  for (std::int64_t j = 0; j < D; ++j) {
    if (j != kDeadFeature) l0.w[static_cast<std::size_t>(j * D + j)] = 1.f;
    l1.w[static_cast<std::size_t>(j * D + j)] = 1.f;
  }
  ToyLayer l2{D, C, std::vector<float>(static_cast<std::size_t>(C * D), 0.f),
              std::vector<float>(static_cast<std::size_t>(C), 0.f)};
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t j = 0; j < D; ++j)
      if (j != kDeadFeature) l2.w[static_cast<std::size_t>(c * D + j)] = j % C == c ? 1.f : -1.f / 3.f;
  if (outlier) {
    l1.w[0] = 1000.f;
    for (std::int64_t c = 0; c < C; ++c) l2.w[static_cast<std::size_t>(c * D)] /= 1000.f;
  }
  return {l0, l1, l2};
}

inline ToyMlp make_bars_mlp(bool outlier) { return ToyMlp(bars_layers(outlier)); }

// Every layer quantized the same way.
inline qa::QuantConfig uniform_config(const std::string& name, qa::ActPolicy policy, int bits = 8) {
  qa::QuantConfig c;
  c.name = name;
  c.all.policy = policy;
  c.all.weight_bits = bits;
  c.all.activation_bits = bits;
  return c;
}

// TableEngine: input feature = row index into two logit tables.
class TableEngine : public qa::Engine {
 public:
  TableEngine(std::int64_t classes, std::vector<float> float_logits, std::vector<float> quant_logits)
      : classes_(classes), f_(std::move(float_logits)), q_(std::move(quant_logits)) {}
  std::size_t num_layers() const override { return 1; }
  qa::LayerInfo layer_info(std::size_t) const override { return qa::LayerInfo{"table", "lookup", 10, 10}; }
  std::int64_t sample_numel() const override { return 1; }
  std::int64_t num_outputs() const override { return classes_; }
  Status run_float(Span<const float> x, std::int64_t n, Span<float> out) override { return look(f_, x, n, out); }
  Status prepare(const qa::QuantConfig& config, Span<const float>, std::int64_t) override {
    QSAFE_RETURN_IF_ERROR(qa::check_config(config, 1));
    stats_ = qa::LayerRunStats{};
    stats_.quantized = !config.layer(0).keep_float;
    return Status::ok;
  }
  // Counters: values += n, clipped += samples whose row index is odd.
  Status run_quantized(Span<const float> x, std::int64_t n, Span<float> out) override {
    stats_.counters.runs += 1;
    stats_.counters.groups += static_cast<std::uint64_t>(n);
    stats_.counters.values += static_cast<std::uint64_t>(n);
    for (std::int64_t s = 0; s < n; ++s)
      stats_.counters.clipped += static_cast<std::int64_t>(x[static_cast<std::size_t>(s)]) % 2;
    return look(q_, x, n, out);
  }
  qa::LayerRunStats layer_stats(std::size_t) const override { return stats_; }

 private:
  Status look(const std::vector<float>& t, Span<const float> x, std::int64_t n, Span<float> out) const {
    if (out.size() != static_cast<std::size_t>(n * classes_)) return Status::shape_mismatch;
    for (std::int64_t s = 0; s < n; ++s) {
      const std::size_t row = static_cast<std::size_t>(x[static_cast<std::size_t>(s)]);
      if ((row + 1) * static_cast<std::size_t>(classes_) > t.size()) return Status::invalid_argument;
      for (std::int64_t c = 0; c < classes_; ++c)
        out[static_cast<std::size_t>(s * classes_ + c)] =
            t[row * static_cast<std::size_t>(classes_) + static_cast<std::size_t>(c)];
    }
    return Status::ok;
  }
  std::int64_t classes_;
  std::vector<float> f_, q_;
  qa::LayerRunStats stats_;
};

}  // namespace qsafe_test

#endif  // QSAFE_TESTS_ANALYSIS_TOY_ENGINE_HPP_
