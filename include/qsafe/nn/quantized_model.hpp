// qsafe/nn/quantized_model.hpp: QuantizedModel - a finalized nn::Model run quantized under a
// per-layer configuration (analysis::QuantConfig), next to its float twin.
//
// Quantizable layers are conv2d and linear, numbered 0.. in execution order; every other layer
// follows the representation of its input. prepare() calibrates, quantizes weights and plans;
// run() executes. Each quantizable layer runs in one of three modes:
//
//  keep_float   the float reference (Model::run_layer_float) on float input (a quantized input is
//               dequantized first). A configuration with every layer kept in float gives exactly
//               Model::forward_float's output.
//
//  static_u8    policy static_range, activation_bits <= 8, weight_bits <= 8, no BitWidthRule:
//               PyTorch's eager-mode static int8 pipeline, integer for integer (engine qnnpack):
//                 input   uint8 with the tensor's qparams when it arrives quantized at the same
//                         bit width (PyTorch semantics: the producer's output qparams); otherwise
//                         quantized from float by StaticRange with the layer's calibrated input
//                         range (its observer, its activation_bits)
//                 acc     int32 = bias_q[oc] + sum (x - x_zp) * w_q      (kernel/conv2d.hpp,
//                         kernel/depthwise.hpp, the GEMM for linear layers)
//                         bias_q = pytorch_quantize_bias(bias, x_scale, w_scale[oc])
//                 output  clamp(round_half_even(float(acc) * M[oc]) + y_zp, lo, qmax)  uint8
//                         M = pytorch_requant_scale(x_scale, w_scale[oc], y_scale); y qparams from
//                         the layer's observer on its float output *after* a directly following
//                         relu / relu6, which is fused (lo = y_zp) unless an add reads the pre-ReLU
//                         tensor; qmax = 2^activation_bits - 1
//               Between quantized layers, uint8 tensors stay uint8: relu / relu6 clamp, max pooling
//               and flatten on uint8 with unchanged qparams; add through reference::qnnpack_add
//               when both operands are uint8 (output qparams observed on the float add with the
//               observer and bits of the last quantizable layer before it; a scale ratio qnnpack
//               rejects falls back to a float add). Anything else (average pooling, softmax, a
//               float layer) dequantizes: (q - zp) * scale. The model output is dequantized.
//
//  float_out    every other configuration (dynamic / guarded policies, a BitWidthRule, static with
//               more than 8 activation or weight bits), as PyTorch's dynamic quantization: for each
//               input sample, the BitWidthRule (if enabled) picks the activation width b from a
//               statistic of the sample's float input (logged in bits_chosen), and the layer's
//               RangePolicy quantizes it to [0, 2^b - 1] unsigned affine:
//                 per_tensor  conv: the sample's whole input tensor, then im2col (padding = zp);
//                             linear: the sample's feature row
//                 per_row     conv: each output pixel's patch row (im2col first, padding 0.0);
//                             linear: the sample's feature row
//               then acc = sum (x - zp[row]) * w_q (int32 conv2d / depthwise kernels, or im2col + the
//               GEMM for per-row ranges and linear layers, when b <= 8 and weight_bits <= 8;
//               otherwise exact integer sums in int32 blocks added in int64), and
//               y = float(acc) * (x_scale[row] * w_scale[oc]) + bias[oc] in float. A guarded policy
//               with on_violation = use_float runs that sample (per_tensor) or patch row (per_row)
//               in float instead (counted in float_fallbacks and the policy's counters).
//
// Weights: signed symmetric, weight_bits wide (full range [-2^(b-1), 2^(b-1) - 1], as PyTorch's
// qint8), per output channel or per tensor, from their exact ranges (Quantizer).
//
// Calibration (prepare): the float model runs over the calibration samples (Model::forward_float)
// and each observer sees its tensor in batches of kCalibrationBatch samples: each quantizable
// layer's input (static range, guarded envelope), each static_u8 layer's output (after a fused
// ReLU) and each uint8 add's output.
//
// Counters (LayerRunStats::counters): the layer's RangePolicy counters (values quantized at its
// input, clipped, saturated, envelope violations, fallbacks), plus, in the static_u8 pipeline, its
// output requantization: `values` += outputs written, `saturated` and `clipped` += outputs clamped
// at the ends of the integer range (a fused ReLU's clamp at the zero point is not counted), and
// likewise for a uint8 add before the next quantizable layer. A static_u8 layer whose input arrives
// already quantized (the uint8 chain) quantizes nothing at its input, so it counts nothing there.
//
// Layouts: run() takes n samples NCHW (as PyTorch) and writes the last layer's output, flattened
// per sample in PyTorch's order. Host-side: allocates, never throws; errors are a ModelError from
// prepare() and a Status from run().
#ifndef QSAFE_NN_QUANTIZED_MODEL_HPP_
#define QSAFE_NN_QUANTIZED_MODEL_HPP_

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "qsafe/analysis/engine.hpp"
#include "qsafe/core/conv_geometry.hpp"
#include "qsafe/core/float_requant.hpp"
#include "qsafe/core/qparams.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/kernel/conv2d.hpp"
#include "qsafe/kernel/depthwise.hpp"
#include "qsafe/kernel/gemm.hpp"
#include "qsafe/nn/any_observer.hpp"
#include "qsafe/nn/float_im2col.hpp"
#include "qsafe/nn/layer.hpp"
#include "qsafe/nn/model.hpp"
#include "qsafe/nn/model_kernels.hpp"
#include "qsafe/nn/quantized_reference.hpp"
#include "qsafe/policy/dynamic_range.hpp"
#include "qsafe/policy/guarded_range.hpp"
#include "qsafe/policy/range_policy.hpp"
#include "qsafe/policy/static_range.hpp"
#include "qsafe/quantizer/quantizer.hpp"

namespace qsafe {
namespace nn {

// How a quantizable layer runs under a prepared configuration (see the header comment).
enum class QuantMode : std::uint8_t { keep_float, static_u8, float_out };

inline const char* to_string(QuantMode m) noexcept {
  switch (m) {
    case QuantMode::keep_float: return "keep_float";
    case QuantMode::static_u8: return "static_u8";
    case QuantMode::float_out: return "float_out";
  }
  return "?";
}

// One layer's output as the quantized run produced it (for tests and tools): uint8 NHWC with its
// qparams and bit width, or float NHWC. A fused relu shows the same tensor as its conv / linear.
struct LayerOutput {
  bool quantized = false;
  QParams qparams;
  int bits = 8;
  std::vector<std::uint8_t> q;
  std::vector<float> f;
};

namespace detail {

inline QRange act_qrange(int bits) noexcept { return QRange{0, (std::int32_t{1} << bits) - 1}; }
inline QuantTarget act_target(int bits) noexcept { return QuantTarget{act_qrange(bits), SchemeKind::affine}; }

inline void add_counters(RangeCounters& a, const RangeCounters& b) noexcept {
  a.runs += b.runs;
  a.groups += b.groups;
  a.values += b.values;
  a.non_finite += b.non_finite;
  a.clipped += b.clipped;
  a.saturated += b.saturated;
  a.envelope_violations += b.envelope_violations;
  a.fallbacks += b.fallbacks;
}

// Signed symmetric weights of `bits` (2..16) into int16 storage, per channel (axis 0) or per tensor.
template <int B, class Gran>
Status quantize_weights_as(const Layer& l, Gran gran, std::vector<std::int16_t>& q, std::vector<float>& scales) {
  Shape shape;
  if (l.weight_shape.size() == 4)
    shape = Shape{l.weight_shape[0], l.weight_shape[1], l.weight_shape[2], l.weight_shape[3]};
  else
    shape = Shape{l.weight_shape[0], l.weight_shape[1]};
  const Quantizer<std::int16_t, B, Symmetric, Gran> wq(gran);
  const Result<std::int64_t> count = wq.param_count(shape);
  if (!count.ok()) return count.status();
  std::vector<Range> ranges(static_cast<std::size_t>(count.value()));
  std::vector<QParams> params(ranges.size());
  const TensorView<const float> w(l.weight.data(), shape);
  QSAFE_RETURN_IF_ERROR(wq.params_from_data(w, Span<Range>(ranges), Span<QParams>(params)));
  q.resize(l.weight.size());
  QSAFE_RETURN_IF_ERROR(wq.quantize(w, Span<const QParams>(params), TensorView<std::int16_t>(q.data(), shape)));
  scales.resize(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) scales[i] = params[i].scale;
  return Status::ok;
}

template <int B = 2>
Status quantize_weights(const Layer& l, int bits, bool per_channel, std::vector<std::int16_t>& q,
                        std::vector<float>& scales) {
  if constexpr (B > 16) {
    return Status::invalid_argument;
  } else {
    if (bits != B) return quantize_weights<B + 1>(l, bits, per_channel, q, scales);
    return per_channel ? quantize_weights_as<B>(l, PerChannel{0}, q, scales)
                       : quantize_weights_as<B>(l, PerTensor{}, q, scales);
  }
}

// One sample's NHWC input -> [out_h * out_w, groups * kh * kw * icg] patch rows, column order
// (group, kh, kw, ic); padded taps hold `pad`.
template <class T>
void im2col(const Conv2dGeometry& g, const T* x, T pad, T* a) noexcept {
  const std::int64_t oh_n = g.out_h(), ow_n = g.out_w(), icg = g.in_channels_per_group(), c = g.in_channels;
  const std::int64_t kg = g.kernel_h * g.kernel_w * icg, ktot = g.groups * kg;
  for (std::int64_t oh = 0; oh < oh_n; ++oh)
    for (std::int64_t ow = 0; ow < ow_n; ++ow) {
      T* row = a + (oh * ow_n + ow) * ktot;
      for (std::int64_t grp = 0; grp < g.groups; ++grp)
        for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
          const std::int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
          for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
            const std::int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
            T* d = row + grp * kg + (kh * g.kernel_w + kw) * icg;
            if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) {
              for (std::int64_t i = 0; i < icg; ++i) d[i] = pad;
            } else {
              const T* s = x + (ih * g.in_w + iw) * c + grp * icg;
              for (std::int64_t i = 0; i < icg; ++i) d[i] = s[i];
            }
          }
        }
    }
}

// Exact integer dot products for operands wider than the int8 GEMM takes:
//   c[m][ooff + o] = float(sum_k (a[m][koff + k] - zp[m]) * w[o][k]) * (sa[m] * sw[o]) + bias[o]
// summed in int32 blocks that cannot overflow (|a - zp| <= amax, |w| <= wmax), added in int64.
template <class AT>
void wide_gemm_group(const AT* a, std::int64_t lda, std::int64_t koff, const std::int32_t* zp, const float* sa,
                     std::int64_t m_rows, std::int64_t kg, const std::int16_t* w, const float* sw, const float* bias,
                     std::int64_t ocg, std::int64_t ooff, float* c, std::int64_t ldc, std::int64_t amax,
                     std::int64_t wmax, std::vector<std::int32_t>& tmp) {
  const std::int64_t prod = std::max<std::int64_t>(1, amax * wmax);
  const std::int64_t block = std::max<std::int64_t>(1, std::numeric_limits<std::int32_t>::max() / prod);
  tmp.resize(static_cast<std::size_t>(kg));
  for (std::int64_t m = 0; m < m_rows; ++m) {
    const AT* row = a + m * lda + koff;
    for (std::int64_t k = 0; k < kg; ++k) tmp[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(row[k]) - zp[m];
    for (std::int64_t o = 0; o < ocg; ++o) {
      const std::int16_t* wr = w + o * kg;
      std::int64_t total = 0;
      for (std::int64_t k0 = 0; k0 < kg; k0 += block) {
        const std::int64_t k1 = std::min(kg, k0 + block);
        std::int32_t s = 0;
        for (std::int64_t k = k0; k < k1; ++k) s += tmp[static_cast<std::size_t>(k)] * static_cast<std::int32_t>(wr[k]);
        total += s;
      }
      const float y = static_cast<float>(total) * (sa[m] * sw[o]);
      c[m * ldc + ooff + o] = bias != nullptr ? y + bias[o] : y;
    }
  }
}

// The per-input statistic of a BitWidthRule, and the width it picks.
inline float input_statistic(analysis::InputStatistic s, const float* x, std::int64_t n) noexcept {
  float lo = x[0], hi = x[0], amax = 0.f;
  double asum = 0.;
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    const float a = v < 0.f ? -v : v;
    amax = a > amax ? a : amax;
    asum += a;
  }
  switch (s) {
    case analysis::InputStatistic::range: return hi - lo;
    case analysis::InputStatistic::max_abs: return amax;
    case analysis::InputStatistic::peak_to_mean: {
      const double mean = asum / static_cast<double>(n);
      return mean > 0. ? static_cast<float>(static_cast<double>(amax) / mean) : 0.f;
    }
  }
  return 0.f;
}

inline int pick_bits(const analysis::BitWidthRule& r, float stat) noexcept {
  for (std::size_t i = 0; i < r.thresholds.size(); ++i)
    if (stat <= r.thresholds[i]) return r.bits[i];
  return r.bits.back();
}

}  // namespace detail

class QuantizedModel {
 public:
  // Samples per observe() call during calibration (matters for the moving-average observer only).
  static constexpr std::int64_t kCalibrationBatch = 32;

  // `model` must be finalized and must outlive this object (it is held by reference).
  explicit QuantizedModel(const Model& model) : model_(&model) {
    for (std::size_t i = 0; i < model.layers.size(); ++i)
      if (has_weights(model.layers[i].kind)) qlayer_index_.push_back(static_cast<int>(i));
  }

  const Model& model() const noexcept { return *model_; }
  std::size_t num_quantizable() const noexcept { return qlayer_index_.size(); }
  // Model layer index of quantizable layer i.
  int layer_index(std::size_t i) const noexcept { return qlayer_index_[i]; }
  bool prepared() const noexcept { return prepared_; }
  // After a successful prepare(): how quantizable layer i runs.
  QuantMode mode(std::size_t i) const noexcept { return q_[i].mode; }

  // Calibrates on n NCHW samples, quantizes weights and plans the run (see the header comment).
  // Errors name the layer: invalid_argument (model not finalized, bad config), shape_mismatch
  // (calibration size, per_layer size), empty_input (no calibration samples where a static or
  // guarded layer needs them), non_finite_input, or an observer's / quantizer's status.
  ModelError prepare(const analysis::QuantConfig& config, Span<const float> calib_nchw, std::int64_t n) {
    prepared_ = false;
    const Model& m = *model_;
    if (!m.finalized()) return {Status::invalid_argument, -1, "model is not finalized"};
    const std::size_t nq = qlayer_index_.size();
    {
      const Status s = analysis::check_config(config, nq);
      if (s != Status::ok) return {s, -1, "invalid quantization config '" + config.name + "'"};
    }
    const std::size_t nl = m.layers.size();
    q_.assign(nq, QLayer{});
    steps_.assign(nl, Step{});
    bool need_calib = false;
    for (std::size_t j = 0; j < nq; ++j) {
      QLayer& ql = q_[j];
      ql.layer = qlayer_index_[j];
      ql.cfg = config.layer(j);
      const Layer& l = m.layers[static_cast<std::size_t>(ql.layer)];
      const analysis::LayerConfig& c = ql.cfg;
      if (c.keep_float)
        ql.mode = QuantMode::keep_float;
      else if (c.policy == analysis::ActPolicy::static_range && !c.bit_width.enabled && c.activation_bits <= 8 &&
               c.weight_bits <= 8)
        ql.mode = QuantMode::static_u8;
      else
        ql.mode = QuantMode::float_out;
      if (ql.mode != QuantMode::keep_float &&
          (c.policy == analysis::ActPolicy::static_range || c.policy == analysis::ActPolicy::guarded_per_tensor ||
           c.policy == analysis::ActPolicy::guarded_per_row))
        need_calib = true;
      // Geometry as a convolution; linear = one 1x1 "pixel" per sample.
      ql.conv = l.kind == LayerKind::conv2d;
      if (ql.conv) {
        ql.g = Model::geometry(l, l.in_shape, l.weight_shape[0]);
        ql.g.batch = 1;
      } else {
        ql.g = Conv2dGeometry{};
        ql.g.in_channels = l.weight_shape[1];
        ql.g.out_channels = l.weight_shape[0];
      }
      ql.oc = ql.g.out_channels;
      ql.groups = ql.g.groups;
      ql.ocg = ql.g.out_channels_per_group();
      ql.kg = ql.g.kernel_h * ql.g.kernel_w * ql.g.in_channels_per_group();
      ql.ktot = ql.groups * ql.kg;
      ql.p = ql.conv ? ql.g.out_h() * ql.g.out_w() : 1;
      ql.in_numel = l.in_shape.numel();
      ql.out_numel = l.out_shape.numel();
      // Fuse a directly following ReLU / ReLU6 into a static_u8 layer unless an add reads the
      // pre-activation tensor.
      const std::size_t li = static_cast<std::size_t>(ql.layer);
      if (ql.mode == QuantMode::static_u8 && li + 1 < nl &&
          (m.layers[li + 1].kind == LayerKind::relu || m.layers[li + 1].kind == LayerKind::relu6)) {
        bool read = false;
        for (const Layer& o : m.layers)
          if (o.kind == LayerKind::add && o.from == ql.layer) read = true;
        ql.fused = !read;
      }
    }
    if (need_calib && n < 1) return {Status::empty_input, -1, "calibration needs at least one sample"};
    if (n < 0 || calib_nchw.size() != static_cast<std::size_t>(n * m.input_shape.numel()))
      return {Status::shape_mismatch, -1, "calibration data size does not match n samples of the input shape"};

    // Phase 1: which tensors stay uint8 (structure only), and the owner of each add.
    std::vector<char> rep_q(nl, 0);
    std::vector<int> owner(nl, -1);  // quantizable index of the last quantizable layer before it
    {
      int last_q = -1;
      std::size_t next_q = 0;
      for (std::size_t i = 0; i < nl; ++i) {
        const Layer& l = m.layers[i];
        const bool in_q = i > 0 && rep_q[i - 1];
        owner[i] = last_q;
        if (has_weights(l.kind)) {
          const QLayer& ql = q_[next_q];
          rep_q[i] = ql.mode == QuantMode::static_u8;
          last_q = static_cast<int>(next_q++);
          if (ql.fused) {
            rep_q[i + 1] = rep_q[i];
            owner[i + 1] = last_q;
            ++i;
          }
          continue;
        }
        switch (l.kind) {
          case LayerKind::relu:
          case LayerKind::relu6:
          case LayerKind::maxpool2d:
          case LayerKind::flatten: rep_q[i] = in_q; break;
          case LayerKind::add: {
            const bool other_q = l.from >= 0 && rep_q[static_cast<std::size_t>(l.from)];
            rep_q[i] =
                in_q && other_q && last_q >= 0 && q_[static_cast<std::size_t>(last_q)].mode == QuantMode::static_u8;
            break;
          }
          default: rep_q[i] = 0; break;
        }
      }
    }

    // Calibration: the float model over the calibration samples, observers on the planned tensors.
    Activations acts;
    if (n > 0) {
      for (float v : calib_nchw)
        if (!std::isfinite(v)) return {Status::non_finite_input, -1, "calibration data contains NaN or Inf"};
      const Status s = forward_float_all(calib_nchw, n, acts);
      if (s != Status::ok) return {s, -1, "float forward over the calibration data failed"};
    }
    const auto observe = [&](const std::vector<float>& t, analysis::ObserverKind kind, int bits, int layer,
                             const char* what, Range& out) -> ModelError {
      AnyObserver obs(kind, detail::act_qrange(bits));
      const std::size_t per = t.size() / static_cast<std::size_t>(n);
      for (std::int64_t s0 = 0; s0 < n; s0 += kCalibrationBatch) {
        const std::int64_t cnt = std::min(kCalibrationBatch, n - s0);
        const Status st = obs.observe(
            Span<const float>(t.data() + static_cast<std::size_t>(s0) * per, static_cast<std::size_t>(cnt) * per));
        if (st != Status::ok)
          return {st, layer, m.layers[static_cast<std::size_t>(layer)].name + ": observing its " + what + " failed"};
      }
      const Result<Range> r = obs.range();
      if (!r.ok())
        return {r.status(), layer,
                m.layers[static_cast<std::size_t>(layer)].name + ": " + what + " observer has no range"};
      out = r.value();
      return {};
    };
    std::vector<Range> add_range(nl);
    if (n > 0) {
      for (QLayer& ql : q_) {
        if (ql.mode == QuantMode::keep_float) continue;
        const std::size_t li = static_cast<std::size_t>(ql.layer);
        const std::vector<float>& in = li == 0 ? acts.input : acts.outputs[li - 1];
        ModelError e = observe(in, ql.cfg.observer, ql.cfg.activation_bits, ql.layer, "input", ql.in_range);
        if (!e.ok()) return e;
        ql.has_in_range = true;
        if (ql.mode == QuantMode::static_u8) {
          e = observe(acts.outputs[ql.fused ? li + 1 : li], ql.cfg.observer, ql.cfg.activation_bits, ql.layer, "output",
                      ql.out_range);
          if (!e.ok()) return e;
        }
      }
      for (std::size_t i = 0; i < nl; ++i)
        if (m.layers[i].kind == LayerKind::add && rep_q[i]) {
          const QLayer& ow = q_[static_cast<std::size_t>(owner[i])];
          ModelError e = observe(acts.outputs[i], ow.cfg.observer, ow.cfg.activation_bits, static_cast<int>(i),
                                 "output", add_range[i]);
          if (!e.ok()) return e;
        }
    }

    // Weights.
    for (QLayer& ql : q_) {
      if (ql.mode == QuantMode::keep_float) continue;
      ModelError e = quantize_layer_weights(ql);
      if (!e.ok()) return e;
    }

    // Phase 2: walk the graph, fixing every uint8 tensor's qparams and every layer's parameters.
    std::vector<Rep> rep(nl);
    std::size_t next_q = 0;
    for (std::size_t i = 0; i < nl; ++i) {
      const Layer& l = m.layers[i];
      Step& st = steps_[i];
      const Rep in = i == 0 ? Rep{} : rep[i - 1];
      if (has_weights(l.kind)) {
        QLayer& ql = q_[next_q];
        st.q = static_cast<int>(next_q++);
        ModelError e = plan_layer(ql, in);
        if (!e.ok()) return e;
        st.kind = ql.mode == QuantMode::keep_float  ? StepKind::float_op
                  : ql.mode == QuantMode::static_u8 ? StepKind::quant_static_u8
                                                    : StepKind::quant_float_out;
        rep[i] = ql.mode == QuantMode::static_u8 ? Rep{true, ql.out_qp, ql.cfg.activation_bits} : Rep{};
        if (ql.fused) {
          steps_[i + 1].kind = StepKind::fused;
          rep[i + 1] = rep[i];
          ++i;
        }
        continue;
      }
      switch (l.kind) {
        case LayerKind::relu:
        case LayerKind::relu6:
          if (in.quantized) {
            st.kind = StepKind::u8_relu;
            st.lo = in.qp.zero_point;
            st.hi = detail::act_qrange(in.bits).qmax;
            if (l.kind == LayerKind::relu6) {
              const double q6 = std::nearbyint(6.0 / static_cast<double>(in.qp.scale)) + in.qp.zero_point;
              if (q6 < st.hi) st.hi = static_cast<std::int32_t>(q6);
            }
          }
          break;
        case LayerKind::maxpool2d:
          if (in.quantized) st.kind = StepKind::u8_maxpool;
          break;
        case LayerKind::flatten:
          if (in.quantized) st.kind = StepKind::u8_flatten;
          break;
        case LayerKind::add: {
          const Rep other = l.from < 0 ? Rep{} : rep[static_cast<std::size_t>(l.from)];
          if (rep_q[i] && in.quantized && other.quantized) {
            const QLayer& ow = q_[static_cast<std::size_t>(owner[i])];
            const int bits = ow.cfg.activation_bits;
            const Result<QParams> yq = qparams_from_range(add_range[i], detail::act_qrange(bits), SchemeKind::affine);
            if (!yq.ok()) return {yq.status(), static_cast<int>(i), l.name + ": no qparams for the add's output"};
            const Result<reference::AddParams> ap = reference::qnnpack_add_params(
                in.qp.scale, in.qp.zero_point, other.qp.scale, other.qp.zero_point, yq->scale, yq->zero_point);
            if (ap.ok()) {
              st.kind = StepKind::u8_add;
              st.add = ap.value();
              st.add.hi = detail::act_qrange(bits).qmax;
              st.q = owner[i];
              rep[i] = Rep{true, yq.value(), bits};
              continue;
            }
          }
          break;
        }
        default: break;
      }
      if (st.kind == StepKind::float_op) {
        rep[i] = Rep{};
      } else {
        rep[i] = in;
      }
    }
    reps_ = rep;
    reset_stats();
    prepared_ = true;
    return {};
  }

  // Runs n NCHW samples quantized; out gets n x (last layer's numel) floats in PyTorch order.
  // trace (optional) receives every layer's output. Status: invalid_argument (not prepared),
  // empty_input (n < 1), shape_mismatch, non_finite_input (NaN/Inf input), or a kernel's status.
  Status run(Span<const float> x_nchw, std::int64_t n, Span<float> out, std::vector<LayerOutput>* trace = nullptr) {
    if (!prepared_) return Status::invalid_argument;
    const Model& m = *model_;
    if (n < 1) return Status::empty_input;
    if (x_nchw.size() != static_cast<std::size_t>(n * m.input_shape.numel())) return Status::shape_mismatch;
    const ActShape os = m.output_shape();
    if (out.size() != static_cast<std::size_t>(n * os.numel())) return Status::shape_mismatch;
    for (float v : x_nchw)
      if (!std::isfinite(v)) return Status::non_finite_input;
    const std::size_t nl = m.layers.size();
    vals_.resize(nl);
    input_.quantized = false;
    m.nchw_to_nhwc(x_nchw, n, input_.f);
    for (std::size_t i = 0; i < nl; ++i) {
      const Step& st = steps_[i];
      const Value& in = i == 0 ? input_ : value_of(i - 1);
      Value& y = vals_[i];
      const Layer& l = m.layers[i];
      switch (st.kind) {
        case StepKind::float_op: {
          const float* xf = as_float(in, n, scratch_a_);
          Span<const float> other;
          if (l.kind == LayerKind::add) {
            const Value& ov = l.from < 0 ? input_ : value_of(static_cast<std::size_t>(l.from));
            other = Span<const float>(as_float(ov, n, scratch_b_), static_cast<std::size_t>(n * l.in_shape.numel()));
          }
          y.quantized = false;
          QSAFE_RETURN_IF_ERROR(
              float_layer(i, n, Span<const float>(xf, static_cast<std::size_t>(n * l.in_shape.numel())), other, y.f));
          break;
        }
        case StepKind::quant_static_u8:
          QSAFE_RETURN_IF_ERROR(run_static_u8(q_[static_cast<std::size_t>(st.q)], n, in, y));
          break;
        case StepKind::quant_float_out:
          QSAFE_RETURN_IF_ERROR(run_float_out(q_[static_cast<std::size_t>(st.q)], n, in, y));
          break;
        case StepKind::fused: break;  // its value is the previous layer's (value_of)
        case StepKind::u8_relu:
          copy_rep(in, y);
          y.q.resize(in.q.size());
          for (std::size_t k = 0; k < in.q.size(); ++k) {
            const std::int32_t v = in.q[k];
            y.q[k] = static_cast<std::uint8_t>(v < st.lo ? st.lo : (v > st.hi ? st.hi : v));
          }
          break;
        case StepKind::u8_maxpool: {
          copy_rep(in, y);
          Conv2dGeometry g = Model::geometry(l, l.in_shape, l.in_shape.c);
          g.batch = n;
          y.q.resize(static_cast<std::size_t>(g.output_numel()));
          QSAFE_RETURN_IF_ERROR(
              reference::max_pool2d_nhwc_u8(g, Span<const std::uint8_t>(in.q), Span<std::uint8_t>(y.q)));
          break;
        }
        case StepKind::u8_flatten: {
          copy_rep(in, y);
          const ActShape is = l.in_shape;
          const std::int64_t hw = is.h * is.w;
          y.q.resize(in.q.size());
          for (std::int64_t b = 0; b < n; ++b)
            for (std::int64_t c = 0; c < is.c; ++c)
              for (std::int64_t p = 0; p < hw; ++p)
                y.q[static_cast<std::size_t>(b * is.numel() + c * hw + p)] =
                    in.q[static_cast<std::size_t>((b * hw + p) * is.c + c)];
          break;
        }
        case StepKind::u8_add: {
          const Value& ov = l.from < 0 ? input_ : value_of(static_cast<std::size_t>(l.from));
          const Rep& r = reps_[i];
          y.quantized = true;
          y.qp = r.qp;
          y.bits = r.bits;
          y.q.resize(in.q.size());
          const reference::AddParams& p = st.add;
          const std::int32_t half = std::int32_t{1} << (p.shift - 1);
          std::uint64_t sat = 0;
          for (std::size_t k = 0; k < in.q.size(); ++k) {
            // reference::qnnpack_add before its clamp, so the clamp can be counted.
            const std::int32_t acc = p.a_multiplier * (static_cast<std::int32_t>(in.q[k]) - p.a_zero_point) +
                                     p.b_multiplier * (static_cast<std::int32_t>(ov.q[k]) - p.b_zero_point);
            const std::int32_t mag = ((acc < 0 ? -acc : acc) + half) >> p.shift;
            const std::int32_t v = (acc < 0 ? -mag : mag) + p.y_zero_point;
            sat += (v < p.lo || v > p.hi) ? 1u : 0u;
            y.q[k] = static_cast<std::uint8_t>(v < p.lo ? p.lo : (v > p.hi ? p.hi : v));
          }
          if (st.q >= 0) {
            RangeCounters& c = q_[static_cast<std::size_t>(st.q)].stats.counters;
            c.values += in.q.size();
            c.saturated += sat;
            c.clipped += sat;
          }
          break;
        }
      }
      if (trace != nullptr) {
        trace->resize(nl);
        const Value& yv = value_of(i);
        LayerOutput& t = (*trace)[i];
        t.quantized = yv.quantized;
        t.qparams = yv.qp;
        t.bits = yv.bits;
        t.q = yv.quantized ? yv.q : std::vector<std::uint8_t>();
        t.f = yv.quantized ? std::vector<float>() : yv.f;
      }
    }
    write_output(as_float(value_of(nl - 1), n, scratch_a_), n, out);
    return Status::ok;
  }

  // The float model: Model::forward_float's results bit for bit (conv2d and linear through
  // float_im2col.hpp), out as run() writes it. acts (optional) keeps every layer's output.
  // Status: invalid_argument (model not finalized), empty_input, shape_mismatch, non_finite_input.
  Status forward_float(Span<const float> x_nchw, std::int64_t n, Span<float> out, Activations* acts = nullptr) {
    const Model& m = *model_;
    if (!m.finalized()) return Status::invalid_argument;
    if (n < 1) return Status::empty_input;
    if (out.size() != static_cast<std::size_t>(n * m.output_shape().numel())) return Status::shape_mismatch;
    Activations& a = acts != nullptr ? *acts : float_acts_;
    QSAFE_RETURN_IF_ERROR(forward_float_all(x_nchw, n, a));
    write_output(a.outputs.back().data(), n, out);
    return Status::ok;
  }

  // Stats of quantizable layer i since prepare() (or reset_stats()); only after a successful prepare().
  const analysis::LayerRunStats& stats(std::size_t i) const noexcept { return q_[i].stats; }
  // Clears counters, bits_chosen and fallbacks (keeps the parameters).
  void reset_stats() {
    for (QLayer& ql : q_) {
      ql.stats.counters = RangeCounters{};
      ql.stats.bits_chosen.fill(0);
      ql.stats.float_fallbacks = 0;
    }
  }

  // The representation of model layer i's output under the prepared plan: uint8 (with these
  // qparams) or float. Only after a successful prepare().
  bool output_quantized(std::size_t i) const noexcept { return reps_[i].quantized; }
  QParams output_qparams(std::size_t i) const noexcept { return reps_[i].qp; }

 private:
  enum class StepKind : std::uint8_t {
    float_op,
    quant_static_u8,
    quant_float_out,
    fused,
    u8_relu,
    u8_maxpool,
    u8_flatten,
    u8_add
  };
  struct Step {
    StepKind kind = StepKind::float_op;
    int q = -1;  // quantizable index (conv / linear; an add's owner)
    std::int32_t lo = 0, hi = 255;
    reference::AddParams add;
  };
  struct Rep {
    bool quantized = false;
    QParams qp;
    int bits = 8;
  };
  struct Value {
    bool quantized = false;
    QParams qp;
    int bits = 8;
    std::vector<float> f;
    std::vector<std::uint8_t> q;
  };
  struct QLayer {
    int layer = -1;
    analysis::LayerConfig cfg;
    QuantMode mode = QuantMode::keep_float;
    bool fused = false, conv = false;
    Conv2dGeometry g;
    std::int64_t oc = 0, groups = 1, ocg = 0, kg = 0, ktot = 0, p = 1, in_numel = 0, out_numel = 0;
    // Weights, reordered to [oc][kh][kw][icg] (= [oc][k] for linear).
    std::vector<std::int16_t> w16;
    std::vector<float> wf;
    std::vector<float> w_scale;  // per output channel (replicated for per-tensor weights)
    std::int64_t wmax = 128;
    std::vector<std::vector<std::byte>> packed_storage;
    std::vector<PackedWeights> packed;  // per group; empty when weight_bits > 8
    // Convolutions with <= 8-bit weights also run through kernel/conv2d.hpp or kernel/depthwise.hpp
    // (per-tensor input parameters); per-row inputs and wider operands use im2col + the GEMM above.
    enum class ConvKernel : std::uint8_t { none, conv2d, depthwise } kernel = ConvKernel::none;
    std::vector<std::byte> conv_storage;
    PackedConv2dWeights conv_w;
    DepthwiseWeights dw_w;
    // Calibration.
    Range in_range, out_range;
    bool has_in_range = false;
    // static_u8.
    bool chained = false;
    QParams in_qp, out_qp;
    std::vector<std::int32_t> bias_q;
    std::vector<float> mult;
    std::int32_t lo = 0, hi = 255;
    // float_out policies (one object each; targets are per call).
    std::array<StaticRange, 17> st;
    DynamicRange<PerTensor> dyn_t;
    DynamicRange<PerRow> dyn_r;
    GuardedRange<PerTensor> grd_t;
    GuardedRange<PerRow> grd_r;
    analysis::LayerRunStats stats;
  };

  static void copy_rep(const Value& in, Value& y) {
    y.quantized = in.quantized;
    y.qp = in.qp;
    y.bits = in.bits;
  }

  // The last layer's output, flattened per sample in PyTorch's (NCHW) order.
  void write_output(const float* yf, std::int64_t n, Span<float> out) const {
    const ActShape os = model_->output_shape();
    if (os.spatial) {
      const std::int64_t hw = os.h * os.w;
      for (std::int64_t b = 0; b < n; ++b)
        for (std::int64_t c = 0; c < os.c; ++c)
          for (std::int64_t p = 0; p < hw; ++p)
            out[static_cast<std::size_t>(b * os.numel() + c * hw + p)] = yf[(b * hw + p) * os.c + c];
    } else {
      std::copy(yf, yf + n * os.numel(), out.data());
    }
  }

  // Float weights for float_im2col.hpp, built once per model (after finalize).
  void ensure_float_weights() {
    if (!float_w_.empty() || qlayer_index_.empty()) return;
    float_w_.resize(model_->layers.size());
    for (int li : qlayer_index_)
      float_w_[static_cast<std::size_t>(li)] = make_float_im2col_weights(model_->layers[static_cast<std::size_t>(li)]);
  }

  // Layer i in float: Model::run_layer_float's result (conv2d / linear through float_im2col.hpp).
  Status float_layer(std::size_t i, std::int64_t n, Span<const float> in, Span<const float> other,
                     std::vector<float>& out) {
    const Layer& l = model_->layers[i];
    if (!has_weights(l.kind)) return model_->run_layer_float(i, n, in, other, out);
    if (in.size() != static_cast<std::size_t>(n * l.in_shape.numel())) return Status::shape_mismatch;
    ensure_float_weights();
    out.resize(static_cast<std::size_t>(n * l.out_shape.numel()));
    float_layer_im2col(float_w_[i], n, in.data(), out.data(), fcol_float_);
    return Status::ok;
  }

  // Model::forward_float with float_layer.
  Status forward_float_all(Span<const float> x_nchw, std::int64_t n, Activations& acts) {
    const Model& m = *model_;
    if (!m.finalized()) return Status::invalid_argument;
    if (n < 1) return Status::empty_input;
    if (x_nchw.size() != static_cast<std::size_t>(n * m.input_shape.numel())) return Status::shape_mismatch;
    for (float v : x_nchw)
      if (!std::isfinite(v)) return Status::non_finite_input;
    acts.batch = n;
    m.nchw_to_nhwc(x_nchw, n, acts.input);
    acts.outputs.resize(m.layers.size());
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
      const std::vector<float>& in = i == 0 ? acts.input : acts.outputs[i - 1];
      Span<const float> other;
      if (m.layers[i].kind == LayerKind::add)
        other = m.layers[i].from < 0 ? Span<const float>(acts.input)
                                     : Span<const float>(acts.outputs[static_cast<std::size_t>(m.layers[i].from)]);
      QSAFE_RETURN_IF_ERROR(float_layer(i, n, Span<const float>(in), other, acts.outputs[i]));
    }
    return Status::ok;
  }

  // Layer i's output value (a fused activation's is its conv / linear's).
  const Value& value_of(std::size_t i) const noexcept {
    return steps_[i].kind == StepKind::fused ? vals_[i - 1] : vals_[i];
  }

  // Float view of a value (dequantizing into scratch if it is uint8).
  static const float* as_float(const Value& v, std::int64_t, std::vector<float>& scratch) {
    if (!v.quantized) return v.f.data();
    scratch.resize(v.q.size());
    for (std::size_t k = 0; k < v.q.size(); ++k)
      scratch[k] = static_cast<float>(static_cast<std::int32_t>(v.q[k]) - v.qp.zero_point) * v.qp.scale;
    return scratch.data();
  }

  ModelError quantize_layer_weights(QLayer& ql) {
    const Layer& l = model_->layers[static_cast<std::size_t>(ql.layer)];
    std::vector<std::int16_t> wq;
    std::vector<float> scales;
    const Status s = detail::quantize_weights(l, ql.cfg.weight_bits, ql.cfg.per_channel_weights, wq, scales);
    if (s != Status::ok) return {s, ql.layer, l.name + ": weight quantization failed"};
    ql.stats.weight_scales = scales;
    ql.w_scale.assign(static_cast<std::size_t>(ql.oc), scales[0]);
    if (scales.size() == static_cast<std::size_t>(ql.oc)) ql.w_scale = scales;
    ql.wmax = std::int64_t{1} << (ql.cfg.weight_bits - 1);
    // Reorder OIHW -> [oc][kh][kw][icg] (im2col's column order inside a group).
    ql.w16.resize(wq.size());
    ql.wf.resize(wq.size());
    const std::int64_t icg = ql.g.in_channels_per_group(), kh_n = ql.g.kernel_h, kw_n = ql.g.kernel_w;
    for (std::int64_t o = 0; o < ql.oc; ++o)
      for (std::int64_t ic = 0; ic < icg; ++ic)
        for (std::int64_t kh = 0; kh < kh_n; ++kh)
          for (std::int64_t kw = 0; kw < kw_n; ++kw) {
            const std::size_t src = static_cast<std::size_t>(((o * icg + ic) * kh_n + kh) * kw_n + kw);
            const std::size_t dst = static_cast<std::size_t>(o * ql.kg + (kh * kw_n + kw) * icg + ic);
            ql.w16[dst] = wq[src];
            ql.wf[dst] = l.weight[src];
          }
    ql.packed.clear();
    ql.packed_storage.clear();
    if (ql.cfg.weight_bits <= 8) {
      std::vector<std::int8_t> w8(ql.w16.size());
      for (std::size_t k = 0; k < w8.size(); ++k) w8[k] = static_cast<std::int8_t>(ql.w16[k]);
      ql.packed_storage.resize(static_cast<std::size_t>(ql.groups));
      for (std::int64_t grp = 0; grp < ql.groups; ++grp) {
        std::vector<std::byte>& storage = ql.packed_storage[static_cast<std::size_t>(grp)];
        storage.resize(packed_weights_size(ql.ocg, ql.kg));
        const Result<PackedWeights> pw =
            pack_weights(MatrixView<const std::int8_t>(w8.data() + grp * ql.ocg * ql.kg, ql.ocg, ql.kg),
                         WeightLayout::nk, Span<std::byte>(storage));
        if (!pw.ok()) return {pw.status(), ql.layer, l.name + ": packing weights for the GEMM failed"};
        ql.packed.push_back(pw.value());
      }
      ql.kernel = QLayer::ConvKernel::none;
      if (ql.conv) {
        std::vector<std::int8_t> oihw(wq.size());
        for (std::size_t k = 0; k < oihw.size(); ++k) oihw[k] = static_cast<std::int8_t>(wq[k]);
        const bool dw = ql.g.groups == ql.g.in_channels && ql.g.groups == ql.g.out_channels;
        if (dw) {
          ql.conv_storage.resize(depthwise_packed_weights_size(ql.g));
          const Result<DepthwiseWeights> d =
              pack_depthwise_weights(ql.g, Span<const std::int8_t>(oihw), Span<std::byte>(ql.conv_storage));
          if (!d.ok()) return {d.status(), ql.layer, l.name + ": packing depthwise weights failed"};
          ql.dw_w = d.value();
          ql.kernel = QLayer::ConvKernel::depthwise;
        } else {
          ql.conv_storage.resize(conv2d_packed_weights_size(ql.g));
          const Result<PackedConv2dWeights> c =
              pack_conv2d_weights(ql.g, Span<const std::int8_t>(oihw), Span<std::byte>(ql.conv_storage));
          if (!c.ok()) return {c.status(), ql.layer, l.name + ": packing conv2d weights failed"};
          ql.conv_w = c.value();
          ql.kernel = QLayer::ConvKernel::conv2d;
        }
      }
    }
    return {};
  }

  // A convolution through kernel/conv2d.hpp or kernel/depthwise.hpp: `batch` samples of uint8
  // input with one zero point, any output pipeline.
  template <class Pipeline, class Out>
  Status run_conv_kernel(QLayer& ql, std::int64_t batch, const std::uint8_t* x, std::int32_t zp, const Pipeline& pl,
                         Out* y) {
    Conv2dGeometry g = ql.g;
    g.batch = batch;
    const Span<const std::uint8_t> xs(x, static_cast<std::size_t>(g.input_numel()));
    const Span<Out> ys(y, static_cast<std::size_t>(g.output_numel()));
    if (ql.kernel == QLayer::ConvKernel::depthwise) return depthwise_conv2d(g, xs, zp, ql.dw_w, pl, ys);
    ws_.resize(std::max<std::size_t>(ws_.size(), conv2d_workspace_size(g, ql.conv_w)));
    return conv2d(g, xs, zp, ql.conv_w, pl, ys, Span<std::byte>(ws_));
  }

  // Input / output parameters of a quantized layer, given how its input arrives.
  ModelError plan_layer(QLayer& ql, const Rep& in) {
    const Layer& l = model_->layers[static_cast<std::size_t>(ql.layer)];
    analysis::LayerRunStats& s = ql.stats;
    std::vector<float> weight_scales = std::move(s.weight_scales);
    s = analysis::LayerRunStats{};
    s.quantized = ql.mode != QuantMode::keep_float;
    if (ql.mode == QuantMode::keep_float) return {};
    s.weight_scales = std::move(weight_scales);
    s.input_range = ql.in_range;
    const analysis::LayerConfig& c = ql.cfg;
    const auto fail = [&](Status st, const std::string& what) {
      return ModelError{st, ql.layer, l.name + ": " + what};
    };
    if (ql.mode == QuantMode::static_u8) {
      ql.chained = in.quantized && in.bits == c.activation_bits;
      if (ql.chained) {
        ql.in_qp = in.qp;
      } else {
        const Result<QParams> p =
            qparams_from_range(ql.in_range, detail::act_qrange(c.activation_bits), SchemeKind::affine);
        if (!p.ok()) return fail(p.status(), "no qparams for the calibrated input range");
        ql.in_qp = p.value();
      }
      const Result<QParams> o =
          qparams_from_range(ql.out_range, detail::act_qrange(c.activation_bits), SchemeKind::affine);
      if (!o.ok()) return fail(o.status(), "no qparams for the calibrated output range");
      ql.out_qp = o.value();
      ql.bias_q.assign(static_cast<std::size_t>(ql.oc), 0);
      ql.mult.resize(static_cast<std::size_t>(ql.oc));
      for (std::int64_t oc = 0; oc < ql.oc; ++oc) {
        const std::size_t k = static_cast<std::size_t>(oc);
        if (!l.bias.empty()) ql.bias_q[k] = pytorch_quantize_bias(l.bias[k], ql.in_qp.scale, ql.w_scale[k]);
        ql.mult[k] = pytorch_requant_scale(ql.in_qp.scale, ql.w_scale[k], ql.out_qp.scale);
        if (!std::isfinite(ql.mult[k])) return fail(Status::out_of_range, "requantization scale is not finite");
      }
      ql.lo = ql.fused ? ql.out_qp.zero_point : 0;
      ql.hi = detail::act_qrange(c.activation_bits).qmax;
      s.input = ql.in_qp;
      s.output = ql.out_qp;
      return {};
    }
    // float_out: the policies.
    std::vector<int> widths{c.activation_bits};
    if (c.bit_width.enabled) widths = c.bit_width.bits;
    if (c.policy == analysis::ActPolicy::static_range) {
      for (int b : widths) {
        const Result<StaticRange> sr = StaticRange::from_range(ql.in_range, detail::act_target(b));
        if (!sr.ok()) return fail(sr.status(), "no qparams for the calibrated input range");
        ql.st[static_cast<std::size_t>(b)] = sr.value();
      }
      s.input = ql.st[static_cast<std::size_t>(widths[0])].params();
    } else if (c.policy == analysis::ActPolicy::guarded_per_tensor ||
               c.policy == analysis::ActPolicy::guarded_per_row) {
      GuardOptions o;
      o.calibrated = ql.in_range;
      o.k = c.guard_k;
      o.percentile = c.guard_percentile;
      o.on_violation = c.on_violation;
      const Status gs = check_guard_options(o);
      if (gs != Status::ok) return fail(gs, "invalid guard options");
      ql.grd_t = GuardedRange<PerTensor>(o);
      ql.grd_r = GuardedRange<PerRow>(o);
      const Result<QParams> e =
          qparams_from_range(ql.grd_t.envelope(), detail::act_qrange(widths[0]), SchemeKind::affine);
      if (e.ok()) s.input = e.value();
    }
    return {};
  }

  // static_u8: uint8 in (chained or quantized here), int32 GEMM, requantized uint8 out.
  Status run_static_u8(QLayer& ql, std::int64_t n, const Value& in, Value& y) {
    const analysis::LayerConfig& c = ql.cfg;
    const std::uint8_t* xq = nullptr;
    if (ql.chained) {
      if (!in.quantized) return Status::invalid_argument;  // the plan says otherwise: a bug
      xq = in.q.data();
    } else {
      const float* xf = as_float(in, n, scratch_a_);
      qin8_.resize(static_cast<std::size_t>(n * ql.in_numel));
      StaticRange policy(ql.in_qp);
      const MatrixView<const float> a(xf, 1, n * ql.in_numel);
      QSAFE_RETURN_IF_ERROR(policy.begin(a, detail::act_target(c.activation_bits)));
      const Result<RowParams> rp = policy.row_params(Span<const float>(xf, static_cast<std::size_t>(n * ql.in_numel)));
      if (!rp.ok()) return rp.status();
      QSAFE_RETURN_IF_ERROR(policy.quantize_row(Span<const float>(xf, static_cast<std::size_t>(n * ql.in_numel)),
                                                rp.value(), qin8_.data()));
      detail::add_counters(ql.stats.counters, policy.counters());
      xq = qin8_.data();
    }
    ql.stats.bits_chosen[static_cast<std::size_t>(c.activation_bits)] += static_cast<std::uint64_t>(n);
    const std::int64_t rows = n * ql.p;
    const std::uint8_t* a = xq;
    acc_.resize(static_cast<std::size_t>(rows * ql.oc));
    if (ql.kernel != QLayer::ConvKernel::none) {
      const StaticOutPipeline pl = pipeline(AddBias{Span<const std::int32_t>(ql.bias_q)},
                                            RequantizeFloat{Span<const float>(ql.mult), ql.out_qp.zero_point});
      QSAFE_RETURN_IF_ERROR(run_conv_kernel(ql, n, xq, ql.in_qp.zero_point, pl, acc_.data()));
    } else if (ql.conv) {
      a8_.resize(static_cast<std::size_t>(rows * ql.ktot));
      const std::uint8_t pad = static_cast<std::uint8_t>(ql.in_qp.zero_point);
      for (std::int64_t b = 0; b < n; ++b)
        detail::im2col(ql.g, xq + b * ql.in_numel, pad, a8_.data() + b * ql.p * ql.ktot);
      a = a8_.data();
    }
    const std::int32_t zp[1] = {ql.in_qp.zero_point};
    for (std::int64_t grp = 0; ql.kernel == QLayer::ConvKernel::none && grp < ql.groups; ++grp) {
      const PackedWeights& pw = ql.packed[static_cast<std::size_t>(grp)];
      ws_.resize(std::max<std::size_t>(ws_.size(), gemm_workspace_size(rows, pw)));
      const StaticOutPipeline pl =
          pipeline(AddBias{Span<const std::int32_t>(ql.bias_q.data() + grp * ql.ocg, static_cast<std::size_t>(ql.ocg))},
                   RequantizeFloat{Span<const float>(ql.mult.data() + grp * ql.ocg, static_cast<std::size_t>(ql.ocg)),
                                   ql.out_qp.zero_point});
      QSAFE_RETURN_IF_ERROR(gemm(
          MatrixView<const std::uint8_t>(a + grp * ql.kg, rows, ql.kg, ql.ktot), Span<const std::int32_t>(zp, 1), pw,
          pl, MatrixView<std::int32_t>(acc_.data() + grp * ql.ocg, rows, ql.ocg, ql.oc), Span<std::byte>(ws_)));
    }
    y.quantized = true;
    y.qp = ql.out_qp;
    y.bits = c.activation_bits;
    y.q.resize(acc_.size());
    // Clamp and count the clamped values (below: only without a fused ReLU, whose clamp is the ReLU).
    std::uint64_t sat = 0;
    const std::int32_t lo = ql.lo, hi = ql.hi, count_below = ql.fused ? std::numeric_limits<std::int32_t>::min() : 0;
    const std::int32_t* acc = acc_.data();
    std::uint8_t* yq = y.q.data();
    for (std::size_t k0 = 0; k0 < acc_.size(); k0 += 4096) {
      const std::size_t k1 = std::min(acc_.size(), k0 + 4096);
      std::uint32_t block = 0;
      for (std::size_t k = k0; k < k1; ++k) {
        const std::int32_t v = acc[k];
        block += static_cast<std::uint32_t>(v > hi) + static_cast<std::uint32_t>(v < count_below);
        yq[k] = static_cast<std::uint8_t>(std::min(std::max(v, lo), hi));
      }
      sat += block;
    }
    RangeCounters& cnt = ql.stats.counters;
    cnt.values += acc_.size();
    cnt.saturated += sat;
    cnt.clipped += sat;
    return Status::ok;
  }

  // float_out: per sample, pick the width, quantize by the policy, integer dot products, float out.
  Status run_float_out(QLayer& ql, std::int64_t n, const Value& in, Value& y) {
    const analysis::LayerConfig& c = ql.cfg;
    const Model& m = *model_;
    const float* xf = as_float(in, n, scratch_a_);
    const std::int64_t rows = n * ql.p, K = ql.ktot;
    // 1. Widths.
    bits_.resize(static_cast<std::size_t>(n));
    int max_bits = 2;
    for (std::int64_t b = 0; b < n; ++b) {
      int bits = c.activation_bits;
      if (c.bit_width.enabled)
        bits = detail::pick_bits(c.bit_width,
                                 detail::input_statistic(c.bit_width.statistic, xf + b * ql.in_numel, ql.in_numel));
      bits_[static_cast<std::size_t>(b)] = bits;
      max_bits = std::max(max_bits, bits);
    }
    const bool wide = max_bits > 8 || c.weight_bits > 8;
    const bool per_row =
        c.policy == analysis::ActPolicy::dynamic_per_row || c.policy == analysis::ActPolicy::guarded_per_row;
    // Per-tensor convolutions with <= 8-bit operands run the convolution kernels, one sample at a time.
    const bool use_kernel = ql.conv && !per_row && !wide && ql.kernel != QLayer::ConvKernel::none;
    if (use_kernel) {
      qin8_.resize(static_cast<std::size_t>(n * ql.in_numel));
      sample_qp_.resize(static_cast<std::size_t>(n));
    } else if (wide) {
      a16_.resize(static_cast<std::size_t>(rows * K));
    } else {
      a8_.resize(static_cast<std::size_t>(rows * K));
      qin8_.resize(static_cast<std::size_t>(ql.in_numel));
    }
    row_zp_.assign(static_cast<std::size_t>(rows), 0);
    row_scale_.assign(static_cast<std::size_t>(rows), 1.f);
    sample_fb_.assign(static_cast<std::size_t>(n), 0);
    fb_rows_.clear();
    fb_vals_.clear();
    // 2. Quantize every sample's rows.
    Status result = Status::ok;
    // policy_for(bits) gives the policy object a sample of that width goes through.
    const auto quantize_with = [&](auto&& policy_for) -> Status {
      for (std::int64_t b = 0; b < n; ++b) {
        const int bits = bits_[static_cast<std::size_t>(b)];
        auto& policy = policy_for(bits);
        const QuantTarget t = detail::act_target(bits);
        const float* xs = xf + b * ql.in_numel;
        const std::int64_t r0 = b * ql.p;
        if (ql.conv && !per_row) {
          // Per tensor: quantize the sample's input, then im2col with the zero point as padding.
          const Status s = policy.begin(MatrixView<const float>(xs, 1, ql.in_numel), t);
          if (s == Status::out_of_range) {
            sample_fb_[static_cast<std::size_t>(b)] = 1;
            continue;
          }
          QSAFE_RETURN_IF_ERROR(s);
          const Result<RowParams> rp = policy.row_params(Span<const float>());
          if (!rp.ok()) return rp.status();
          const QParams qp = rp.value().params;
          const Span<const float> xspan(xs, static_cast<std::size_t>(ql.in_numel));
          ql.stats.input = qp;
          ql.stats.bits_chosen[static_cast<std::size_t>(bits)] += 1;
          if (use_kernel) {  // quantized input kept whole for the convolution kernel
            QSAFE_RETURN_IF_ERROR(policy.quantize_row(xspan, rp.value(), qin8_.data() + b * ql.in_numel));
            sample_qp_[static_cast<std::size_t>(b)] = qp;
            continue;
          }
          if (wide) {
            qin16_.resize(static_cast<std::size_t>(ql.in_numel));
            QSAFE_RETURN_IF_ERROR(policy.quantize_row(xspan, rp.value(), qin16_.data()));
            detail::im2col(ql.g, qin16_.data(), static_cast<std::uint16_t>(qp.zero_point), a16_.data() + r0 * K);
          } else {
            QSAFE_RETURN_IF_ERROR(policy.quantize_row(xspan, rp.value(), qin8_.data()));
            detail::im2col(ql.g, qin8_.data(), static_cast<std::uint8_t>(qp.zero_point), a8_.data() + r0 * K);
          }
          for (std::int64_t r = r0; r < r0 + ql.p; ++r) {
            row_zp_[static_cast<std::size_t>(r)] = qp.zero_point;
            row_scale_[static_cast<std::size_t>(r)] = qp.scale;
          }
          continue;
        }
        // Rows: conv patch rows (im2col first) or the linear sample's feature row.
        const float* fr = xs;
        if (ql.conv) {
          fcol_.resize(static_cast<std::size_t>(ql.p * K));
          detail::im2col(ql.g, xs, 0.f, fcol_.data());
          fr = fcol_.data();
        }
        const Status s = policy.begin(MatrixView<const float>(fr, ql.p, K), t);
        if (s == Status::out_of_range) {  // a per-tensor guard rejected the whole sample
          sample_fb_[static_cast<std::size_t>(b)] = 1;
          continue;
        }
        QSAFE_RETURN_IF_ERROR(s);
        bool any = false;
        for (std::int64_t r = 0; r < ql.p; ++r) {
          const Span<const float> row(fr + r * K, static_cast<std::size_t>(K));
          const Result<RowParams> rp = policy.row_params(row);
          if (rp.status() == Status::out_of_range) {  // this row in float
            fb_rows_.push_back(r0 + r);
            for (std::int64_t o = 0; o < ql.oc; ++o) {
              const std::int64_t grp = o / ql.ocg;
              const float* w = ql.wf.data() + o * ql.kg;
              const float* xr = row.data() + grp * ql.kg;
              const Layer& l = m.layers[static_cast<std::size_t>(ql.layer)];
              double acc = l.bias.empty() ? 0.0 : static_cast<double>(l.bias[static_cast<std::size_t>(o)]);
              for (std::int64_t k = 0; k < ql.kg; ++k) acc += static_cast<double>(xr[k]) * static_cast<double>(w[k]);
              fb_vals_.push_back(static_cast<float>(acc));
            }
            if (wide)
              std::fill(a16_.begin() + (r0 + r) * K, a16_.begin() + (r0 + r + 1) * K, std::uint16_t{0});
            else
              std::fill(a8_.begin() + (r0 + r) * K, a8_.begin() + (r0 + r + 1) * K, std::uint8_t{0});
            continue;
          }
          if (!rp.ok()) return rp.status();
          if (wide)
            QSAFE_RETURN_IF_ERROR(policy.quantize_row(row, rp.value(), a16_.data() + (r0 + r) * K));
          else
            QSAFE_RETURN_IF_ERROR(policy.quantize_row(row, rp.value(), a8_.data() + (r0 + r) * K));
          row_zp_[static_cast<std::size_t>(r0 + r)] = rp.value().params.zero_point;
          row_scale_[static_cast<std::size_t>(r0 + r)] = rp.value().params.scale;
          ql.stats.input = rp.value().params;
          any = true;
        }
        if (any) ql.stats.bits_chosen[static_cast<std::size_t>(bits)] += 1;
      }
      return Status::ok;
    };
    switch (c.policy) {
      case analysis::ActPolicy::static_range:
        result = quantize_with([&](int bits) -> StaticRange& { return ql.st[static_cast<std::size_t>(bits)]; });
        break;
      case analysis::ActPolicy::dynamic_per_tensor:
        result = quantize_with([&](int) -> DynamicRange<PerTensor>& { return ql.dyn_t; });
        break;
      case analysis::ActPolicy::dynamic_per_row:
        result = quantize_with([&](int) -> DynamicRange<PerRow>& { return ql.dyn_r; });
        break;
      case analysis::ActPolicy::guarded_per_tensor:
        result = quantize_with([&](int) -> GuardedRange<PerTensor>& { return ql.grd_t; });
        break;
      case analysis::ActPolicy::guarded_per_row:
        result = quantize_with([&](int) -> GuardedRange<PerRow>& { return ql.grd_r; });
        break;
    }
    collect_counters(ql);
    QSAFE_RETURN_IF_ERROR(result);
    // 3. Integer dot products, dequantized with bias.
    const Layer& l = m.layers[static_cast<std::size_t>(ql.layer)];
    y.quantized = false;
    y.f.resize(static_cast<std::size_t>(rows * ql.oc));
    if (use_kernel) {
      const Span<const float> bias = l.bias.empty() ? Span<const float>() : Span<const float>(l.bias);
      for (std::int64_t b = 0; b < n; ++b) {
        if (sample_fb_[static_cast<std::size_t>(b)]) continue;
        const QParams qp = sample_qp_[static_cast<std::size_t>(b)];
        const FloatOutPipeline pl =
            pipeline(Dequantize{Span<const float>(&qp.scale, 1), Span<const float>(ql.w_scale), bias});
        QSAFE_RETURN_IF_ERROR(
            run_conv_kernel(ql, 1, qin8_.data() + b * ql.in_numel, qp.zero_point, pl, y.f.data() + b * ql.out_numel));
      }
    }
    for (std::int64_t grp = 0; !use_kernel && grp < ql.groups; ++grp) {
      const float* bias = l.bias.empty() ? nullptr : l.bias.data() + grp * ql.ocg;
      if (!wide) {
        const PackedWeights& pw = ql.packed[static_cast<std::size_t>(grp)];
        ws_.resize(std::max<std::size_t>(ws_.size(), gemm_workspace_size(rows, pw)));
        const FloatOutPipeline pl = pipeline(
            Dequantize{Span<const float>(row_scale_),
                       Span<const float>(ql.w_scale.data() + grp * ql.ocg, static_cast<std::size_t>(ql.ocg)),
                       bias ? Span<const float>(bias, static_cast<std::size_t>(ql.ocg)) : Span<const float>()});
        QSAFE_RETURN_IF_ERROR(gemm(
            MatrixView<const std::uint8_t>(a8_.data() + grp * ql.kg, rows, ql.kg, K), Span<const std::int32_t>(row_zp_),
            pw, pl, MatrixView<float>(y.f.data() + grp * ql.ocg, rows, ql.ocg, ql.oc), Span<std::byte>(ws_)));
      } else {
        detail::wide_gemm_group(a16_.data(), K, grp * ql.kg, row_zp_.data(), row_scale_.data(), rows, ql.kg,
                                ql.w16.data() + grp * ql.ocg * ql.kg, ql.w_scale.data() + grp * ql.ocg, bias, ql.ocg,
                                grp * ql.ocg, y.f.data(), ql.oc, detail::act_qrange(max_bits).qmax, ql.wmax, tmp32_);
      }
    }
    // 4. Float fallbacks.
    for (std::size_t r = 0; r < fb_rows_.size(); ++r)
      std::copy(fb_vals_.begin() + static_cast<std::ptrdiff_t>(r * static_cast<std::size_t>(ql.oc)),
                fb_vals_.begin() + static_cast<std::ptrdiff_t>((r + 1) * static_cast<std::size_t>(ql.oc)),
                y.f.begin() + fb_rows_[r] * ql.oc);
    ql.stats.float_fallbacks += fb_rows_.size();
    for (std::int64_t b = 0; b < n; ++b) {
      if (!sample_fb_[static_cast<std::size_t>(b)]) continue;
      QSAFE_RETURN_IF_ERROR(m.run_layer_float(
          static_cast<std::size_t>(ql.layer), 1,
          Span<const float>(xf + b * ql.in_numel, static_cast<std::size_t>(ql.in_numel)), {}, fb_sample_));
      std::copy(fb_sample_.begin(), fb_sample_.end(), y.f.begin() + b * ql.out_numel);
      ql.stats.float_fallbacks += 1;
    }
    return Status::ok;
  }

  void collect_counters(QLayer& ql) {
    detail::add_counters(ql.stats.counters, ql.dyn_t.counters());
    detail::add_counters(ql.stats.counters, ql.dyn_r.counters());
    detail::add_counters(ql.stats.counters, ql.grd_t.counters());
    detail::add_counters(ql.stats.counters, ql.grd_r.counters());
    ql.dyn_t.reset_counters();
    ql.dyn_r.reset_counters();
    ql.grd_t.reset_counters();
    ql.grd_r.reset_counters();
    for (StaticRange& s : ql.st) {
      detail::add_counters(ql.stats.counters, s.counters());
      s.reset_counters();
    }
  }

  const Model* model_;
  std::vector<int> qlayer_index_;
  std::vector<QLayer> q_;
  std::vector<Step> steps_;
  std::vector<Rep> reps_;
  bool prepared_ = false;
  // Run-time buffers, reused across calls.
  Value input_;
  std::vector<Value> vals_;
  std::vector<float> scratch_a_, scratch_b_, fcol_, fcol_float_, fb_vals_, fb_sample_;
  std::vector<FloatIm2colWeights> float_w_;  // by model layer index (conv2d / linear only)
  Activations float_acts_;
  std::vector<std::uint8_t> a8_, qin8_;
  std::vector<std::uint16_t> a16_, qin16_;
  std::vector<std::int32_t> acc_, row_zp_, tmp32_;
  std::vector<float> row_scale_;
  std::vector<QParams> sample_qp_;
  std::vector<std::int64_t> fb_rows_;
  std::vector<char> sample_fb_;
  std::vector<int> bits_;
  std::vector<std::byte> ws_;
};

}  // namespace nn
}  // namespace qsafe

#endif  // QSAFE_NN_QUANTIZED_MODEL_HPP_
