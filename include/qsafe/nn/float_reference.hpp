// qsafe/nn/float_reference.hpp: straightforward float implementations of the layers qsafe
// quantizes. They are the reference every quantized result is measured against, so they favour
// obviousness over speed: direct loops, double accumulation, no reassociation tricks.
//
// Layouts: activations NHWC, convolution weights OIHW (PyTorch), linear weights [out, in]
// (PyTorch). Pooling follows PyTorch (floor mode; max pooling ignores padding; average pooling
// here has no padding).
#ifndef QSAFE_NN_FLOAT_REFERENCE_HPP_
#define QSAFE_NN_FLOAT_REFERENCE_HPP_

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "qsafe/core/conv_geometry.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {
namespace nn {
namespace reference {

// y[n, oh, ow, oc] = bias[oc] + sum over (kh, kw, ic in oc's group) of
//                    x[n, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw, g*icg + ic] * w[oc, ic, kh, kw]
// Padded positions contribute 0. bias may be empty.
inline Status conv2d_nhwc(const Conv2dGeometry& g, Span<const float> x, Span<const float> w, Span<const float> bias,
                          Span<float> y) noexcept {
  QSAFE_RETURN_IF_ERROR(g.check());
  if (x.size() != static_cast<std::size_t>(g.input_numel()) || w.size() != static_cast<std::size_t>(g.weight_numel()) ||
      y.size() != static_cast<std::size_t>(g.output_numel()) ||
      (!bias.empty() && bias.size() != static_cast<std::size_t>(g.out_channels)))
    return Status::shape_mismatch;
  const std::int64_t oh_n = g.out_h(), ow_n = g.out_w(), icg = g.in_channels_per_group(),
                     ocg = g.out_channels_per_group();
  for (std::int64_t n = 0; n < g.batch; ++n)
    for (std::int64_t oh = 0; oh < oh_n; ++oh)
      for (std::int64_t ow = 0; ow < ow_n; ++ow)
        for (std::int64_t oc = 0; oc < g.out_channels; ++oc) {
          const std::int64_t group = oc / ocg;
          double acc = bias.empty() ? 0.0 : static_cast<double>(bias[static_cast<std::size_t>(oc)]);
          g.for_each_tap(oh, ow, [&](std::int64_t kh, std::int64_t kw, std::int64_t ih, std::int64_t iw) {
            const float* xp = x.data() + ((n * g.in_h + ih) * g.in_w + iw) * g.in_channels + group * icg;
            for (std::int64_t ic = 0; ic < icg; ++ic)
              acc += static_cast<double>(xp[ic]) *
                     static_cast<double>(
                         w[static_cast<std::size_t>(((oc * icg + ic) * g.kernel_h + kh) * g.kernel_w + kw)]);
          });
          y[static_cast<std::size_t>(((n * oh_n + oh) * ow_n + ow) * g.out_channels + oc)] = static_cast<float>(acc);
        }
  return Status::ok;
}

// y[m, o] = bias[o] + sum_k x[m, k] * w[o, k]; x is [rows, in], w is [out, in].
inline Status linear(std::int64_t rows, std::int64_t in, std::int64_t out, Span<const float> x, Span<const float> w,
                     Span<const float> bias, Span<float> y) noexcept {
  if (rows < 1 || in < 1 || out < 1) return Status::invalid_argument;
  if (x.size() != static_cast<std::size_t>(rows * in) || w.size() != static_cast<std::size_t>(out * in) ||
      y.size() != static_cast<std::size_t>(rows * out) ||
      (!bias.empty() && bias.size() != static_cast<std::size_t>(out)))
    return Status::shape_mismatch;
  for (std::int64_t m = 0; m < rows; ++m)
    for (std::int64_t o = 0; o < out; ++o) {
      double acc = bias.empty() ? 0.0 : static_cast<double>(bias[static_cast<std::size_t>(o)]);
      for (std::int64_t k = 0; k < in; ++k)
        acc += static_cast<double>(x[static_cast<std::size_t>(m * in + k)]) *
               static_cast<double>(w[static_cast<std::size_t>(o * in + k)]);
      y[static_cast<std::size_t>(m * out + o)] = static_cast<float>(acc);
    }
  return Status::ok;
}

// Clamp to [lo, hi] in place: ReLU is [0, +inf), ReLU6 is [0, 6].
inline void clamp(Span<float> x, float lo, float hi) noexcept {
  for (float& v : x) v = v < lo ? lo : (v > hi ? hi : v);
}

// Pooling windows use Conv2dGeometry with in_channels == out_channels and groups ignored.
// Max pooling: padded positions are skipped (as -inf in PyTorch).
inline Status max_pool2d_nhwc(const Conv2dGeometry& g, Span<const float> x, Span<float> y) noexcept {
  QSAFE_RETURN_IF_ERROR(g.check());
  if (g.in_channels != g.out_channels) return Status::invalid_argument;
  if (x.size() != static_cast<std::size_t>(g.input_numel()) || y.size() != static_cast<std::size_t>(g.output_numel()))
    return Status::shape_mismatch;
  const std::int64_t oh_n = g.out_h(), ow_n = g.out_w(), c_n = g.in_channels;
  for (std::int64_t n = 0; n < g.batch; ++n)
    for (std::int64_t oh = 0; oh < oh_n; ++oh)
      for (std::int64_t ow = 0; ow < ow_n; ++ow)
        for (std::int64_t c = 0; c < c_n; ++c) {
          float best = -INFINITY;
          g.for_each_tap(oh, ow, [&](std::int64_t, std::int64_t, std::int64_t ih, std::int64_t iw) {
            const float v = x[static_cast<std::size_t>(((n * g.in_h + ih) * g.in_w + iw) * c_n + c)];
            best = v > best ? v : best;
          });
          y[static_cast<std::size_t>(((n * oh_n + oh) * ow_n + ow) * c_n + c)] = best;
        }
  return Status::ok;
}

// Average pooling without padding (count = kernel_h * kernel_w).
inline Status avg_pool2d_nhwc(const Conv2dGeometry& g, Span<const float> x, Span<float> y) noexcept {
  QSAFE_RETURN_IF_ERROR(g.check());
  if (g.in_channels != g.out_channels || g.pad_top || g.pad_left || g.pad_bottom || g.pad_right || g.dilation_h != 1 ||
      g.dilation_w != 1)
    return Status::invalid_argument;
  if (x.size() != static_cast<std::size_t>(g.input_numel()) || y.size() != static_cast<std::size_t>(g.output_numel()))
    return Status::shape_mismatch;
  const std::int64_t oh_n = g.out_h(), ow_n = g.out_w(), c_n = g.in_channels;
  const double inv = 1.0 / static_cast<double>(g.kernel_h * g.kernel_w);
  for (std::int64_t n = 0; n < g.batch; ++n)
    for (std::int64_t oh = 0; oh < oh_n; ++oh)
      for (std::int64_t ow = 0; ow < ow_n; ++ow)
        for (std::int64_t c = 0; c < c_n; ++c) {
          double acc = 0;
          for (std::int64_t kh = 0; kh < g.kernel_h; ++kh)
            for (std::int64_t kw = 0; kw < g.kernel_w; ++kw)
              acc += x[static_cast<std::size_t>(
                  ((n * g.in_h + oh * g.stride_h + kh) * g.in_w + ow * g.stride_w + kw) * c_n + c)];
          y[static_cast<std::size_t>(((n * oh_n + oh) * ow_n + ow) * c_n + c)] = static_cast<float>(acc * inv);
        }
  return Status::ok;
}

// Softmax over the last axis of [rows, classes], stable for any finite input.
inline Status softmax(std::int64_t rows, std::int64_t classes, Span<const float> x, Span<float> y) noexcept {
  if (rows < 1 || classes < 1) return Status::invalid_argument;
  if (x.size() != static_cast<std::size_t>(rows * classes) || y.size() != x.size()) return Status::shape_mismatch;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = x.data() + r * classes;
    float* out = y.data() + r * classes;
    float m = in[0];
    for (std::int64_t c = 1; c < classes; ++c) m = in[c] > m ? in[c] : m;
    double sum = 0;
    for (std::int64_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(in[c] - m));
    for (std::int64_t c = 0; c < classes; ++c)
      out[c] = static_cast<float>(std::exp(static_cast<double>(in[c] - m)) / sum);
  }
  return Status::ok;
}

}  // namespace reference
}  // namespace nn
}  // namespace qsafe

#endif  // QSAFE_NN_FLOAT_REFERENCE_HPP_
