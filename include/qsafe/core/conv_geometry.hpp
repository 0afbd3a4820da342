// qsafe/core/conv_geometry.hpp: the shape arithmetic of a 2-D convolution or pooling window,
// shared by the float reference, the quantized kernels and the layer graph.
//
// Activations are NHWC; convolution weights arrive in PyTorch's OIHW layout
// [out_channels, in_channels / groups, kernel_h, kernel_w].
//   out_h = (in_h + pad_top + pad_bottom - dilation_h * (kernel_h - 1) - 1) / stride_h + 1
// (and the same for w), as PyTorch's floor mode.
#ifndef QSAFE_CORE_CONV_GEOMETRY_HPP_
#define QSAFE_CORE_CONV_GEOMETRY_HPP_

#include <cstdint>

#include "qsafe/core/status.hpp"

namespace qsafe {

struct Conv2dGeometry {
  std::int64_t batch = 1;
  std::int64_t in_h = 1, in_w = 1, in_channels = 1;
  std::int64_t out_channels = 1;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;

  constexpr std::int64_t out_h() const noexcept {
    return (in_h + pad_top + pad_bottom - dilation_h * (kernel_h - 1) - 1) / stride_h + 1;
  }
  constexpr std::int64_t out_w() const noexcept {
    return (in_w + pad_left + pad_right - dilation_w * (kernel_w - 1) - 1) / stride_w + 1;
  }
  constexpr std::int64_t in_channels_per_group() const noexcept { return in_channels / groups; }
  constexpr std::int64_t out_channels_per_group() const noexcept { return out_channels / groups; }
  constexpr std::int64_t input_numel() const noexcept { return batch * in_h * in_w * in_channels; }
  constexpr std::int64_t output_numel() const noexcept { return batch * out_h() * out_w() * out_channels; }
  constexpr std::int64_t weight_numel() const noexcept {
    return out_channels * in_channels_per_group() * kernel_h * kernel_w;
  }
  // Reduction length of one output value (the GEMM K).
  constexpr std::int64_t depth() const noexcept { return in_channels_per_group() * kernel_h * kernel_w; }

  // Calls f(kh, kw, ih, iw) for every tap of output position (oh, ow)'s window that lands inside
  // the input; taps on padding are skipped (they contribute nothing to a convolution, and max
  // pooling ignores them).
  template <class F>
  constexpr void for_each_tap(std::int64_t oh, std::int64_t ow, F&& f) const {
    for (std::int64_t kh = 0; kh < kernel_h; ++kh) {
      const std::int64_t ih = oh * stride_h - pad_top + kh * dilation_h;
      if (ih < 0 || ih >= in_h) continue;
      for (std::int64_t kw = 0; kw < kernel_w; ++kw) {
        const std::int64_t iw = ow * stride_w - pad_left + kw * dilation_w;
        if (iw < 0 || iw >= in_w) continue;
        f(kh, kw, ih, iw);
      }
    }
  }

  // invalid_argument unless every size is positive, padding non-negative, channels divisible by
  // groups, the window fits the padded input (out_h, out_w >= 1) and sizes stay below 2^31.
  constexpr Status check() const noexcept {
    if (batch < 1 || in_h < 1 || in_w < 1 || in_channels < 1 || out_channels < 1 || kernel_h < 1 || kernel_w < 1 ||
        stride_h < 1 || stride_w < 1 || dilation_h < 1 || dilation_w < 1 || groups < 1)
      return Status::invalid_argument;
    if (pad_top < 0 || pad_left < 0 || pad_bottom < 0 || pad_right < 0) return Status::invalid_argument;
    constexpr std::int64_t kLimit = std::int64_t{1} << 31;
    if (batch >= kLimit || in_h >= kLimit || in_w >= kLimit || in_channels >= kLimit || out_channels >= kLimit ||
        kernel_h >= kLimit || kernel_w >= kLimit || pad_top >= kLimit || pad_left >= kLimit || pad_bottom >= kLimit ||
        pad_right >= kLimit || stride_h >= kLimit || stride_w >= kLimit || dilation_h >= kLimit || dilation_w >= kLimit)
      return Status::invalid_argument;
    if (in_channels % groups != 0 || out_channels % groups != 0) return Status::invalid_argument;
    if (in_h + pad_top + pad_bottom < dilation_h * (kernel_h - 1) + 1) return Status::invalid_argument;
    if (in_w + pad_left + pad_right < dilation_w * (kernel_w - 1) + 1) return Status::invalid_argument;
    // Element counts must fit comfortably in int64 and in size_t arithmetic on 32-bit targets.
    const std::int64_t oh = out_h(), ow = out_w();
    if (batch * in_h > kLimit || batch * in_h * in_w > kLimit * 64 || batch * oh * ow > kLimit * 64)
      return Status::invalid_argument;
    return Status::ok;
  }
};

}  // namespace qsafe

#endif  // QSAFE_CORE_CONV_GEOMETRY_HPP_
