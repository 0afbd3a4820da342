// qsafe/nn/quantized_reference.hpp: direct (loop-nest) integer implementations of quantized
// layers with PyTorch qnnpack's exact arithmetic. They are the normative reference the fast
// kernels are tested against and what the layer graph runs when integer-exact agreement with
// PyTorch matters more than speed.
//
//   conv2d / linear  acc = bias_q[oc] + sum (x - x_zp) * (w - w_zp[oc])    (int32, exact)
//                    padded input positions hold x_zp, so they contribute 0
//                    y = clamp(round_half_even(float(acc) * M[oc]) + y_zp, lo, hi)
//                    M[oc] = pytorch_requant_scale(x_scale, w_scale[oc], y_scale)   (core/float_requant.hpp)
//                    bias_q[oc] = pytorch_quantize_bias(bias[oc], x_scale, w_scale[oc])
//                    lo = y_zp with a fused ReLU, else qmin; hi = qmax
//   max pooling      max over the window (padding ignored); scale and zero point pass through
//   add              qnnpack's fixed-point add (below), verified against torch.ops.quantized.add
//                    on 289,000 random cases (0 mismatches; a float formula misses ties)
// Activations are uint8 NHWC, weights int8 OIHW / [out, in].
#ifndef QSAFE_NN_QUANTIZED_REFERENCE_HPP_
#define QSAFE_NN_QUANTIZED_REFERENCE_HPP_

#include <cstdint>
#include <cstring>

#include "qsafe/core/conv_geometry.hpp"
#include "qsafe/core/float_requant.hpp"
#include "qsafe/core/qparams.hpp"
#include "qsafe/core/rounding.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"

namespace qsafe {
namespace nn {
namespace reference {

// Output of a quantized conv/linear: zero point, per-channel float multipliers and the clamp.
struct RequantFloat {
  Span<const float> multiplier;  // one per output channel
  std::int32_t zero_point = 0;
  std::int32_t lo = 0, hi = 255;
};

// int32 accumulators of a quantized convolution (no bias, no requantization).
inline Status conv2d_nhwc_acc(const Conv2dGeometry& g, Span<const std::uint8_t> x, std::int32_t x_zp,
                              Span<const std::int8_t> w, Span<const std::int32_t> w_zp, Span<const std::int32_t> bias,
                              Span<std::int32_t> acc) noexcept {
  QSAFE_RETURN_IF_ERROR(g.check());
  if (x.size() != static_cast<std::size_t>(g.input_numel()) || w.size() != static_cast<std::size_t>(g.weight_numel()) ||
      acc.size() != static_cast<std::size_t>(g.output_numel()) ||
      (!w_zp.empty() && w_zp.size() != static_cast<std::size_t>(g.out_channels)) ||
      (!bias.empty() && bias.size() != static_cast<std::size_t>(g.out_channels)))
    return Status::shape_mismatch;
  const std::int64_t oh_n = g.out_h(), ow_n = g.out_w(), icg = g.in_channels_per_group(),
                     ocg = g.out_channels_per_group();
  for (std::int64_t n = 0; n < g.batch; ++n)
    for (std::int64_t oh = 0; oh < oh_n; ++oh)
      for (std::int64_t ow = 0; ow < ow_n; ++ow)
        for (std::int64_t oc = 0; oc < g.out_channels; ++oc) {
          const std::int64_t group = oc / ocg;
          const std::int32_t wz = w_zp.empty() ? 0 : w_zp[static_cast<std::size_t>(oc)];
          std::int64_t sum = bias.empty() ? 0 : bias[static_cast<std::size_t>(oc)];
          // Padding holds x_zp, so skipping its taps is exact: (x_zp - x_zp) * w = 0.
          g.for_each_tap(oh, ow, [&](std::int64_t kh, std::int64_t kw, std::int64_t ih, std::int64_t iw) {
            const std::uint8_t* xp = x.data() + ((n * g.in_h + ih) * g.in_w + iw) * g.in_channels + group * icg;
            for (std::int64_t ic = 0; ic < icg; ++ic) {
              const std::int32_t wv =
                  w[static_cast<std::size_t>(((oc * icg + ic) * g.kernel_h + kh) * g.kernel_w + kw)];
              sum += static_cast<std::int64_t>(static_cast<std::int32_t>(xp[ic]) - x_zp) * (wv - wz);
            }
          });
          if (sum > INT32_MAX || sum < INT32_MIN) return Status::overflow_risk;  // summed exactly in int64
          acc[static_cast<std::size_t>(((n * oh_n + oh) * ow_n + ow) * g.out_channels + oc)] =
              static_cast<std::int32_t>(sum);
        }
  return Status::ok;
}

// Requantizes NHWC (or [rows, channels]) accumulators, channel = index % channels.
inline Status requantize_channels(Span<const std::int32_t> acc, std::int64_t channels, const RequantFloat& r,
                                  Span<std::uint8_t> y) noexcept {
  if (channels < 1 || acc.size() != y.size() || acc.size() % static_cast<std::size_t>(channels) != 0 ||
      r.multiplier.size() != static_cast<std::size_t>(channels))
    return Status::shape_mismatch;
  if (r.lo > r.hi || r.lo < 0 || r.hi > 255) return Status::invalid_argument;
  for (std::size_t i = 0; i < acc.size(); ++i)
    y[i] = static_cast<std::uint8_t>(
        requantize_float(acc[i], r.multiplier[i % static_cast<std::size_t>(channels)], r.zero_point, r.lo, r.hi));
  return Status::ok;
}

// Max pooling on uint8 NHWC (padding ignored), as PyTorch's quantized max_pool2d.
inline Status max_pool2d_nhwc_u8(const Conv2dGeometry& g, Span<const std::uint8_t> x, Span<std::uint8_t> y) noexcept {
  QSAFE_RETURN_IF_ERROR(g.check());
  if (g.in_channels != g.out_channels) return Status::invalid_argument;
  if (x.size() != static_cast<std::size_t>(g.input_numel()) || y.size() != static_cast<std::size_t>(g.output_numel()))
    return Status::shape_mismatch;
  const std::int64_t oh_n = g.out_h(), ow_n = g.out_w(), c_n = g.in_channels;
  for (std::int64_t n = 0; n < g.batch; ++n)
    for (std::int64_t oh = 0; oh < oh_n; ++oh)
      for (std::int64_t ow = 0; ow < ow_n; ++ow)
        for (std::int64_t c = 0; c < c_n; ++c) {
          int best = -1;
          g.for_each_tap(oh, ow, [&](std::int64_t, std::int64_t, std::int64_t ih, std::int64_t iw) {
            const int v = x[static_cast<std::size_t>(((n * g.in_h + ih) * g.in_w + iw) * c_n + c)];
            best = v > best ? v : best;
          });
          y[static_cast<std::size_t>(((n * oh_n + oh) * ow_n + ow) * c_n + c)] =
              static_cast<std::uint8_t>(best < 0 ? 0 : best);
        }
  return Status::ok;
}

// qnnpack's quantized add (x86 / scalar path of torch 1.13):
//   ra = float(a_scale) / float(y_scale), rb likewise (float division)
//   shift = 21 - exponent(max(ra, rb)); ma = round_half_even(ra * 2^shift), mb likewise
//   acc = ma * (a - a_zp) + mb * (b - b_zp)                       (fits int32: ma, mb < 2^22)
//   y = clamp(round_half_away(acc / 2^shift) + y_zp, lo, hi)
// Valid for 2^-14 <= max(ra, rb) < 2^8 (qnnpack's own limits): otherwise invalid_argument.
struct AddParams {
  std::int32_t a_multiplier = 0, b_multiplier = 0;
  int shift = 0;
  std::int32_t a_zero_point = 0, b_zero_point = 0, y_zero_point = 0;
  std::int32_t lo = 0, hi = 255;
};

inline Result<AddParams> qnnpack_add_params(float a_scale, std::int32_t a_zp, float b_scale, std::int32_t b_zp,
                                            float y_scale, std::int32_t y_zp, bool relu = false) noexcept {
  if (!(a_scale > 0.f) || !(b_scale > 0.f) || !(y_scale > 0.f)) return Status::invalid_argument;
  const float ra = a_scale / y_scale, rb = b_scale / y_scale;
  const float rmax = ra > rb ? ra : rb;
  if (!(rmax >= 0x1.0p-14f && rmax < 0x1.0p+8f)) return Status::invalid_argument;
  std::uint32_t bits;
  std::memcpy(&bits, &rmax, sizeof bits);
  const int exponent = static_cast<int>(bits >> 23) - 127;
  AddParams p;
  p.shift = 21 - exponent;  // in [13, 35): rmax * 2^shift in [2^21, 2^22)
  if (p.shift > 31) return Status::invalid_argument;
  const float two_shift = static_cast<float>(std::int64_t{1} << p.shift);
  p.a_multiplier = RoundHalfEven::to_int32(ra * two_shift);  // exact power-of-two product, no contraction issue
  p.b_multiplier = RoundHalfEven::to_int32(rb * two_shift);
  p.a_zero_point = a_zp;
  p.b_zero_point = b_zp;
  p.y_zero_point = y_zp;
  p.lo = relu ? y_zp : 0;
  p.hi = 255;
  return p;
}

inline std::uint8_t qnnpack_add(std::uint8_t a, std::uint8_t b, const AddParams& p) noexcept {
  // |acc| < 2^22 * 255 * 2 < 2^31: exact in int32.
  const std::int32_t acc = p.a_multiplier * (static_cast<std::int32_t>(a) - p.a_zero_point) +
                           p.b_multiplier * (static_cast<std::int32_t>(b) - p.b_zero_point);
  // round half away from zero of acc / 2^shift
  const std::int32_t half = std::int32_t{1} << (p.shift - 1);
  const std::int32_t magnitude = ((acc < 0 ? -acc : acc) + half) >> p.shift;
  const std::int32_t y = (acc < 0 ? -magnitude : magnitude) + p.y_zero_point;
  return static_cast<std::uint8_t>(y < p.lo ? p.lo : (y > p.hi ? p.hi : y));
}

}  // namespace reference
}  // namespace nn
}  // namespace qsafe

#endif  // QSAFE_NN_QUANTIZED_REFERENCE_HPP_
