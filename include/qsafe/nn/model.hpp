// qsafe/nn/model.hpp: a minimal sequential layer graph with residual adds, runnable in float.
//
// Layers run in order; each consumes the previous layer's output (the first one the model input);
// `add` also consumes an earlier layer's output (`from`). Activations are NHWC inside; the model
// input and `flatten` follow PyTorch's NCHW order (flatten index = c*H*W + h*W + w), so weights
// exported from PyTorch work unchanged. Host-side: allocates, never throws; errors are a
// ModelError naming the layer.
#ifndef QSAFE_NN_MODEL_HPP_
#define QSAFE_NN_MODEL_HPP_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "qsafe/core/conv_geometry.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/nn/float_reference.hpp"
#include "qsafe/nn/layer.hpp"

namespace qsafe {
namespace nn {

struct ModelError {
  Status status = Status::ok;
  int layer = -1;       // index of the offending layer, -1 for the model as a whole
  std::string message;  // "conv1: weight shape 8x1x3x3 does not fit input 3x8x8 ..." (no file/line)
  bool ok() const noexcept { return status == Status::ok; }
};

// Activations of every layer for one batch (NHWC per sample, or [n, features]).
struct Activations {
  std::int64_t batch = 0;
  std::vector<float> input;                 // the input converted to NHWC
  std::vector<std::vector<float>> outputs;  // outputs[i] = layer i's output
};

class Model {
 public:
  ActShape input_shape;
  std::vector<Layer> layers;

  // Infers every layer's shapes and checks weights, biases, windows and `from` links.
  ModelError finalize() {
    finalized_ = false;
    if (input_shape.c < 1 || input_shape.h < 1 || input_shape.w < 1)
      return {Status::invalid_argument, -1, "input shape must be positive"};
    if (layers.empty()) return {Status::empty_input, -1, "model has no layers"};
    ActShape cur = input_shape;
    for (std::size_t i = 0; i < layers.size(); ++i) {
      Layer& l = layers[i];
      const int idx = static_cast<int>(i);
      const auto fail = [&](Status s, const std::string& what) { return ModelError{s, idx, l.name + ": " + what}; };
      l.in_shape = cur;
      ActShape out = cur;
      switch (l.kind) {
        case LayerKind::input: return fail(Status::invalid_argument, "'input' is not a layer");
        case LayerKind::conv2d: {
          if (!cur.spatial) return fail(Status::shape_mismatch, "conv2d needs a spatial input, got " + to_string(cur));
          if (l.weight_shape.size() != 4)
            return fail(Status::shape_mismatch, "conv2d weight must be 4-D OIHW, got " + dims(l.weight_shape));
          l.kernel_h = l.weight_shape[2];  // a convolution's window is its weight's spatial shape
          l.kernel_w = l.weight_shape[3];
          const Conv2dGeometry g = geometry(l, cur, l.weight_shape[0]);
          if (l.groups < 1 || cur.c % l.groups != 0 || l.weight_shape[0] % l.groups != 0)
            return fail(Status::shape_mismatch, "groups=" + std::to_string(l.groups) + " must divide input channels " +
                                                    std::to_string(cur.c) + " and output channels " +
                                                    std::to_string(l.weight_shape[0]));
          if (l.weight_shape[1] != cur.c / l.groups)
            return fail(Status::shape_mismatch, "weight " + dims(l.weight_shape) + " does not fit input " +
                                                    to_string(cur) + " with groups=" + std::to_string(l.groups) +
                                                    " (expected [O, " + std::to_string(cur.c / l.groups) +
                                                    ", kh, kw])");
          if (g.check() != Status::ok)
            return fail(Status::shape_mismatch,
                        "window (kernel, stride, padding, dilation) does not fit input " + to_string(cur));
          out = ActShape{g.out_channels, g.out_h(), g.out_w(), true};
          break;
        }
        case LayerKind::linear: {
          if (l.weight_shape.size() != 2)
            return fail(Status::shape_mismatch, "linear weight must be 2-D [out, in], got " + dims(l.weight_shape));
          if (cur.spatial && !(cur.h == 1 && cur.w == 1))
            return fail(Status::shape_mismatch, "linear needs flat features, got " + to_string(cur) + " (add flatten)");
          if (l.weight_shape[1] != cur.numel())
            return fail(Status::shape_mismatch, "weight " + dims(l.weight_shape) + " expects " +
                                                    std::to_string(l.weight_shape[1]) + " input features, got " +
                                                    std::to_string(cur.numel()));
          out = ActShape{l.weight_shape[0], 1, 1, false};
          break;
        }
        case LayerKind::maxpool2d:
        case LayerKind::avgpool2d: {
          if (!cur.spatial) return fail(Status::shape_mismatch, "pooling needs a spatial input");
          const Conv2dGeometry g = geometry(l, cur, cur.c);
          if (g.check() != Status::ok)
            return fail(Status::shape_mismatch, "window does not fit input " + to_string(cur));
          out = ActShape{cur.c, g.out_h(), g.out_w(), true};
          break;
        }
        case LayerKind::globalavgpool:
          if (!cur.spatial) return fail(Status::shape_mismatch, "globalavgpool needs a spatial input");
          out = ActShape{cur.c, 1, 1, false};
          break;
        case LayerKind::flatten: out = ActShape{cur.numel(), 1, 1, false}; break;
        case LayerKind::add: {
          if (l.from < -1 || l.from >= idx)
            return fail(Status::invalid_argument, "add: 'from' must name an earlier layer");
          const ActShape other = l.from < 0 ? input_shape : layers[static_cast<std::size_t>(l.from)].out_shape;
          if (other != cur)
            return fail(Status::shape_mismatch,
                        "add: shapes " + to_string(cur) + " and " + to_string(other) + " differ");
          break;
        }
        case LayerKind::relu:
        case LayerKind::relu6:
        case LayerKind::softmax: break;
      }
      if (has_weights(l.kind)) {
        std::int64_t n = 1;
        for (std::int64_t d : l.weight_shape) n *= d;
        if (static_cast<std::int64_t>(l.weight.size()) != n)
          return fail(Status::shape_mismatch, "weight has " + std::to_string(l.weight.size()) + " values, shape " +
                                                  dims(l.weight_shape) + " needs " + std::to_string(n));
        if (!l.bias.empty() && static_cast<std::int64_t>(l.bias.size()) != l.weight_shape[0])
          return fail(Status::shape_mismatch, "bias has " + std::to_string(l.bias.size()) + " values, expected " +
                                                  std::to_string(l.weight_shape[0]));
        for (float v : l.weight)
          if (!std::isfinite(v)) return fail(Status::non_finite_input, "weight contains NaN or Inf");
        for (float v : l.bias)
          if (!std::isfinite(v)) return fail(Status::non_finite_input, "bias contains NaN or Inf");
      }
      l.out_shape = out;
      cur = out;
    }
    finalized_ = true;
    return {};
  }

  bool finalized() const noexcept { return finalized_; }
  ActShape output_shape() const noexcept { return layers.empty() ? input_shape : layers.back().out_shape; }

  // Converts n NCHW samples to qsafe's NHWC layout (identity for flat inputs).
  void nchw_to_nhwc(Span<const float> nchw, std::int64_t n, std::vector<float>& nhwc) const {
    const ActShape s = input_shape;
    nhwc.resize(static_cast<std::size_t>(n * s.numel()));
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t c = 0; c < s.c; ++c)
        for (std::int64_t y = 0; y < s.h; ++y)
          for (std::int64_t x = 0; x < s.w; ++x)
            nhwc[static_cast<std::size_t>(((b * s.h + y) * s.w + x) * s.c + c)] =
                nchw[static_cast<std::size_t>(((b * s.c + c) * s.h + y) * s.w + x)];
  }

  // Runs layer i in float on `in` (its NHWC input batch) into `out`; `other` is the second operand
  // of an add. This is the float twin every quantized layer is compared with.
  Status run_layer_float(std::size_t i, std::int64_t n, Span<const float> in, Span<const float> other,
                         std::vector<float>& out) const {
    const Layer& l = layers[i];
    const ActShape is = l.in_shape, os = l.out_shape;
    if (in.size() != static_cast<std::size_t>(n * is.numel())) return Status::shape_mismatch;
    out.resize(static_cast<std::size_t>(n * os.numel()));
    Span<float> y(out);
    switch (l.kind) {
      case LayerKind::conv2d: {
        Conv2dGeometry g = geometry(l, is, l.weight_shape[0]);
        g.batch = n;
        return reference::conv2d_nhwc(g, in, Span<const float>(l.weight), Span<const float>(l.bias), y);
      }
      case LayerKind::linear:
        return reference::linear(n, is.numel(), os.c, in, Span<const float>(l.weight), Span<const float>(l.bias), y);
      case LayerKind::maxpool2d:
      case LayerKind::avgpool2d: {
        Conv2dGeometry g = geometry(l, is, is.c);
        g.batch = n;
        return l.kind == LayerKind::maxpool2d ? reference::max_pool2d_nhwc(g, in, y)
                                              : reference::avg_pool2d_nhwc(g, in, y);
      }
      case LayerKind::globalavgpool: {
        const std::int64_t hw = is.h * is.w;
        for (std::int64_t b = 0; b < n; ++b)
          for (std::int64_t c = 0; c < is.c; ++c) {
            double acc = 0;
            for (std::int64_t p = 0; p < hw; ++p) acc += in[static_cast<std::size_t>((b * hw + p) * is.c + c)];
            y[static_cast<std::size_t>(b * is.c + c)] = static_cast<float>(acc / static_cast<double>(hw));
          }
        return Status::ok;
      }
      case LayerKind::flatten: {  // NHWC -> PyTorch's NCHW flatten order
        for (std::int64_t b = 0; b < n; ++b)
          for (std::int64_t c = 0; c < is.c; ++c)
            for (std::int64_t p = 0; p < is.h * is.w; ++p)
              y[static_cast<std::size_t>(b * is.numel() + c * is.h * is.w + p)] =
                  is.spatial ? in[static_cast<std::size_t>((b * is.h * is.w + p) * is.c + c)]
                             : in[static_cast<std::size_t>(b * is.numel() + c)];
        return Status::ok;
      }
      case LayerKind::add:
        if (other.size() != in.size()) return Status::shape_mismatch;
        for (std::size_t j = 0; j < out.size(); ++j) y[j] = in[j] + other[j];
        return Status::ok;
      case LayerKind::relu:
      case LayerKind::relu6:
        for (std::size_t j = 0; j < out.size(); ++j) y[j] = in[j];
        reference::clamp(y, 0.f, l.kind == LayerKind::relu6 ? 6.f : INFINITY);
        return Status::ok;
      case LayerKind::softmax: return reference::softmax(n, os.numel(), in, y);
      case LayerKind::input: break;
    }
    return Status::invalid_argument;
  }

  // Float forward of n NCHW samples; keeps every layer's output.
  Status forward_float(Span<const float> input_nchw, std::int64_t n, Activations& acts) const {
    if (!finalized_) return Status::invalid_argument;
    if (n < 1) return Status::empty_input;
    if (input_nchw.size() != static_cast<std::size_t>(n * input_shape.numel())) return Status::shape_mismatch;
    for (float v : input_nchw)
      if (!std::isfinite(v)) return Status::non_finite_input;
    acts.batch = n;
    nchw_to_nhwc(input_nchw, n, acts.input);
    acts.outputs.assign(layers.size(), {});
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const std::vector<float>& in = i == 0 ? acts.input : acts.outputs[i - 1];
      Span<const float> other;
      if (layers[i].kind == LayerKind::add)
        other = layers[i].from < 0 ? Span<const float>(acts.input)
                                   : Span<const float>(acts.outputs[static_cast<std::size_t>(layers[i].from)]);
      QSAFE_RETURN_IF_ERROR(run_layer_float(i, n, Span<const float>(in), other, acts.outputs[i]));
    }
    return Status::ok;
  }

  int find(const std::string& name) const noexcept {
    for (std::size_t i = 0; i < layers.size(); ++i)
      if (layers[i].name == name) return static_cast<int>(i);
    return -1;
  }

  static Conv2dGeometry geometry(const Layer& l, const ActShape& in, std::int64_t out_channels) noexcept {
    Conv2dGeometry g;
    g.in_h = in.h;
    g.in_w = in.w;
    g.in_channels = in.c;
    g.out_channels = out_channels;
    g.kernel_h = l.kernel_h;
    g.kernel_w = l.kernel_w;
    g.stride_h = l.stride_h;
    g.stride_w = l.stride_w;
    g.pad_top = l.pad_top;
    g.pad_left = l.pad_left;
    g.pad_bottom = l.pad_bottom;
    g.pad_right = l.pad_right;
    g.dilation_h = l.dilation_h;
    g.dilation_w = l.dilation_w;
    g.groups = l.kind == LayerKind::conv2d ? l.groups : 1;
    return g;
  }

 private:
  static std::string dims(const std::vector<std::int64_t>& d) {
    std::string s;
    for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "x" : "") + std::to_string(d[i]);
    return s.empty() ? "(scalar)" : s;
  }
  bool finalized_ = false;
};

}  // namespace nn
}  // namespace qsafe

#endif  // QSAFE_NN_MODEL_HPP_
