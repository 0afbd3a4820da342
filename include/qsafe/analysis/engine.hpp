// qsafe/analysis/engine.hpp: what the analysis asks of an inference engine, and the quantization
// configurations it asks the engine to run.
//
// Analysis never needs qsafe::nn: an engine with its own graph implements `Engine` (a handful of
// callbacks: run in float; prepare a configuration from calibration data; run it) and every
// analysis - evaluation over groups, per-layer sensitivity, calibration robustness, failure
// search, mixed precision - works on it. qsafe's own graph plugs in through nn_engine.hpp.
//
// The unit of a configuration is a *quantizable layer* (one that owns weights: conv2d, linear),
// numbered 0..num_layers()-1 in execution order. Each one is kept in float or quantized with:
//   weights      `weight_bits` (2..16) signed symmetric, per output channel or per tensor;
//   activations  its input quantized to `activation_bits` (2..16) unsigned affine, with the range
//                fixed by `policy`: calibrated by `observer` (static), found per input at run time
//                (dynamic, per tensor or per row), or dynamic inside a calibrated envelope
//                (guarded), optionally with the bit width picked per input by a `BitWidthRule`.
// A configuration where every layer is kept in float runs the float model.
//
// Host-side: may allocate, never throws; every error is a Status.
#ifndef QSAFE_ANALYSIS_ENGINE_HPP_
#define QSAFE_ANALYSIS_ENGINE_HPP_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/policy/guarded_range.hpp"
#include "qsafe/policy/range_policy.hpp"

namespace qsafe {
namespace analysis {

// Which observer fixes a static range (and a guarded policy's envelope).
enum class ObserverKind : std::uint8_t { min_max, moving_average, percentile, mse, entropy };

// How a layer's input activation range is fixed.
enum class ActPolicy : std::uint8_t {
  static_range,        // calibrated once by the observer
  dynamic_per_tensor,  // min/max of the whole input tensor of each call (each sample of a batch)
  dynamic_per_row,     // min/max of each row (linear: each sample; conv: each output pixel's patch row)
  guarded_per_tensor,  // dynamic per tensor inside k x the calibrated range (policy/guarded_range.hpp)
  guarded_per_row,
};

inline const char* to_string(ObserverKind k) noexcept {
  switch (k) {
    case ObserverKind::min_max: return "min_max";
    case ObserverKind::moving_average: return "moving_average";
    case ObserverKind::percentile: return "percentile";
    case ObserverKind::mse: return "mse";
    case ObserverKind::entropy: return "entropy";
  }
  return "?";
}

inline const char* to_string(ActPolicy p) noexcept {
  switch (p) {
    case ActPolicy::static_range: return "static";
    case ActPolicy::dynamic_per_tensor: return "dynamic_per_tensor";
    case ActPolicy::dynamic_per_row: return "dynamic_per_row";
    case ActPolicy::guarded_per_tensor: return "guarded_per_tensor";
    case ActPolicy::guarded_per_row: return "guarded_per_row";
  }
  return "?";
}

constexpr bool is_dynamic(ActPolicy p) noexcept { return p != ActPolicy::static_range; }

// A per-input bit-width policy (the dynamic-bit-width setting of the published failure study):
// before quantizing a layer's input, a cheap statistic of that input picks its activation bit
// width. Widths are tried from the narrowest: the first i with statistic <= thresholds[i] gives
// bits[i]; above every threshold, bits[last]. Engines log each choice (LayerRunStats::bits_chosen).
enum class InputStatistic : std::uint8_t {
  range,         // max - min of the input
  max_abs,       // max |x|
  peak_to_mean,  // max |x| / mean |x| (how outlier-dominated the input is)
};

struct BitWidthRule {
  bool enabled = false;
  InputStatistic statistic = InputStatistic::peak_to_mean;
  std::vector<float> thresholds;  // ascending, size = bits.size() - 1
  std::vector<int> bits;          // candidate activation widths, each in [2, 16]
};

inline Status check_bit_width_rule(const BitWidthRule& r) noexcept {
  if (!r.enabled) return Status::ok;
  if (r.bits.empty() || r.thresholds.size() + 1 != r.bits.size()) return Status::invalid_argument;
  for (int b : r.bits)
    if (b < 2 || b > 16) return Status::invalid_argument;
  for (std::size_t i = 0; i < r.thresholds.size(); ++i) {
    if (!(r.thresholds[i] == r.thresholds[i])) return Status::invalid_argument;  // NaN
    if (i > 0 && !(r.thresholds[i] > r.thresholds[i - 1])) return Status::invalid_argument;
  }
  return Status::ok;
}

// How one quantizable layer runs.
struct LayerConfig {
  bool keep_float = false;
  int weight_bits = 8;  // 2..16, signed symmetric (narrow range is not used: PyTorch's qint8 is full)
  bool per_channel_weights = true;
  int activation_bits = 8;  // 2..16, unsigned affine
  ObserverKind observer = ObserverKind::min_max;
  ActPolicy policy = ActPolicy::static_range;
  float guard_k = 2.f;                                        // guarded: envelope = k x calibrated range
  float guard_percentile = 0.f;                               // guarded: run-time |x| percentile clip, 0 = off
  OnViolation on_violation = OnViolation::clamp_to_envelope;  // guarded: use_float = run the layer in float
  BitWidthRule bit_width;                                     // per-input activation width (off by default)
};

inline Status check_layer_config(const LayerConfig& c) noexcept {
  if (c.keep_float) return Status::ok;
  if (c.weight_bits < 2 || c.weight_bits > 16 || c.activation_bits < 2 || c.activation_bits > 16)
    return Status::invalid_argument;
  if (!(c.guard_k >= 1.f) || !(c.guard_k < 1e30f)) return Status::invalid_argument;
  if (!(c.guard_percentile == 0.f || (c.guard_percentile > 50.f && c.guard_percentile < 100.f)))
    return Status::invalid_argument;
  return check_bit_width_rule(c.bit_width);
}

// A named configuration: `all` for every quantizable layer, unless `per_layer` (when non-empty,
// exactly one entry per quantizable layer) says otherwise.
struct QuantConfig {
  std::string name;
  LayerConfig all;
  std::vector<LayerConfig> per_layer;

  const LayerConfig& layer(std::size_t i) const noexcept { return per_layer.empty() ? all : per_layer[i]; }

  // The float model as a configuration.
  static QuantConfig float_model(std::size_t num_layers) {
    QuantConfig c;
    c.name = "float";
    c.all.keep_float = true;
    c.per_layer.assign(num_layers, c.all);
    return c;
  }
  // `base` with only layer i quantized (keep_quantized = true) or only layer i in float (false).
  static QuantConfig isolate(const QuantConfig& base, std::size_t num_layers, std::size_t i, bool keep_quantized) {
    QuantConfig c;
    c.name = base.name + (keep_quantized ? "/only:" : "/except:") + std::to_string(i);
    c.per_layer.resize(num_layers);
    for (std::size_t j = 0; j < num_layers; ++j) {
      c.per_layer[j] = base.layer(j);
      if ((j == i) != keep_quantized) c.per_layer[j].keep_float = true;
    }
    return c;
  }
};

inline Status check_config(const QuantConfig& c, std::size_t num_layers) noexcept {
  if (!c.per_layer.empty() && c.per_layer.size() != num_layers) return Status::shape_mismatch;
  for (std::size_t i = 0; i < num_layers; ++i) QSAFE_RETURN_IF_ERROR(check_layer_config(c.layer(i)));
  return Status::ok;
}

// What an engine says about a quantizable layer.
struct LayerInfo {
  std::string name;
  std::string kind;               // "conv2d", "linear", ... (free text for foreign engines)
  std::int64_t weight_count = 0;  // parameters (for byte budgets)
  std::int64_t macs_per_sample = 0;
};

// What happened in one quantizable layer during prepare() and the runs since (cumulative).
struct LayerRunStats {
  bool quantized = false;                       // false: the layer ran in float
  QParams input;                                // static / envelope activation parameters (dynamic: last used)
  QParams output;                               // output parameters when the engine requantizes, else {}
  Range input_range;                            // calibrated range of the input (observer's range)
  std::vector<float> weight_scales;             // per channel (or one)
  RangeCounters counters;                       // clipped / saturated / fallbacks / envelope violations ...
  std::array<std::uint64_t, 17> bits_chosen{};  // bits_chosen[b]: inputs quantized at b bits
  std::uint64_t float_fallbacks = 0;            // inputs the layer ran in float (use_float fallback)
};

// The callback interface. Inputs are `n` samples of sample_numel() floats each (for qsafe::nn,
// NCHW as PyTorch); outputs are [n, num_outputs()] (logits). An engine is stateful: prepare()
// fixes the configuration that run_quantized() uses until the next prepare().
class Engine {
 public:
  virtual ~Engine() = default;

  virtual std::size_t num_layers() const = 0;  // quantizable layers
  virtual LayerInfo layer_info(std::size_t i) const = 0;
  virtual std::int64_t sample_numel() const = 0;
  virtual std::int64_t num_outputs() const = 0;

  virtual Status run_float(Span<const float> x, std::int64_t n, Span<float> out) = 0;
  // Calibrates `config`'s observers on the float model over `calib` (n samples), quantizes the
  // weights, and resets the per-layer stats.
  virtual Status prepare(const QuantConfig& config, Span<const float> calib, std::int64_t n) = 0;
  virtual Status run_quantized(Span<const float> x, std::int64_t n, Span<float> out) = 0;
  // Stats of quantizable layer i since the last prepare().
  virtual LayerRunStats layer_stats(std::size_t i) const = 0;
};

}  // namespace analysis
}  // namespace qsafe

#endif  // QSAFE_ANALYSIS_ENGINE_HPP_
