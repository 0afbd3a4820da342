// qsafe/quantizer/fake_quant.hpp: gradients of fake quantization for quantization-aware training.
//
// Forward: Quantizer::fake_quantize (y = (clamp(round(x/s) + z, qmin, qmax) - z) * s, optionally
// with the pass-through mask; x/s is computed exactly as the Quantizer's quantize computes it for
// its Rounding: fl(x * fl(1/s)) for RoundHalfEven, fl(x / s) for RoundHalfAway). Backward, two
// estimators (LSQ reproduces PyTorch, so it always uses the reciprocal and half-even):
//
// 1. Straight-through (STE) with the clipping mask, as torch.fake_quantize_per_tensor_affine:
//      grad_x = grad_y * mask,   mask = [qmin <= round(x/s) + z <= qmax]
//    computed as a float product, so grad_y = -3 gives -0.0 where the mask is 0, as PyTorch does.
//
// 2. LSQ (Esser et al., "Learned Step Size Quantization"): scale (and zero point) learnable, the
//    rounding's derivative taken as 1 (so the gradient is that of a function with the rounding
//    offsets held fixed - "away from the rounding discontinuities"). Matches PyTorch 1.13's
//    _fake_quantize_learnable_per_tensor_affine / _per_channel_affine backward element by
//    element, including its conventions:
//      xq = round_half_even(zb + x * (1/s))          zb: the zero point as the backward sees it
//      inside [qmin, qmax]:  grad_x = grad_y,  grad_s = grad_y * (xfq - x) * (1/s) * g,  grad_z = 0
//                            with xfq = (xq - zb) * s
//      below qmin:           grad_x = 0,       grad_s = grad_y * (qmin - zb) * g,   grad_z = -grad_y * s * g
//      above qmax:           grad_x = 0,       grad_s = grad_y * (qmax - zb) * g,   grad_z = -grad_y * s * g
//    g = grad_factor (LSQ suggests 1 / sqrt(numel * qmax)). grad_s and grad_z are summed over the
//    tensor (per channel: over the channel) in double and rounded to float once; PyTorch sums in
//    float, so totals agree to float rounding, not bit for bit.
//    PyTorch's zero-point conventions, reproduced (the learnable zero point is a float z):
//      forward (lsq_forward_qparams):        round_half_even(z), clamped to [qmin, qmax]
//      per-tensor backward:                  int(clamp(z + 0.5, qmin, qmax)) (truncation)
//      per-channel backward:                 clamp(round_half_even(z), qmin, qmax)
//    and the backward rounds zb + x/s where the forward rounds x/s then adds z: at exact ties
//    with an odd zero point the two disagree by one level (PyTorch's behaviour, kept).
//    Evaluation follows PyTorch's x86 kernel, operation by operation: zb + x/s rounds the product
//    first (computed through double, so no FMA can form), while xfq - x is rounded once, as the
//    fused multiply-subtract PyTorch's AVX2/AVX-512 kernels compile to (exact in double, see
//    lsq_backward_run). Element-wise results are bit-identical to those kernels.
//
// Errors: shape_mismatch (sizes differ), invalid_argument (scale not finite and > 0, zero point
// or grad_factor not finite, bad qrange, bad axis), null_pointer.
#ifndef QSAFE_QUANTIZER_FAKE_QUANT_HPP_
#define QSAFE_QUANTIZER_FAKE_QUANT_HPP_

#include <cstddef>
#include <cstdint>

#include "qsafe/core/qparams.hpp"
#include "qsafe/core/rounding.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/quantizer/qparams_from_range.hpp"

namespace qsafe {

// grad_x = grad_y * mask (mask from Quantizer::fake_quantize). grad_x may alias grad_y.
[[nodiscard]] inline Status fake_quantize_backward_ste(Span<const float> grad_y, Span<const std::uint8_t> mask,
                                                       Span<float> grad_x) noexcept {
  if (grad_y.size() != mask.size() || grad_y.size() != grad_x.size()) return Status::shape_mismatch;
  if (!grad_y.empty() && (grad_y.data() == nullptr || mask.data() == nullptr || grad_x.data() == nullptr))
    return Status::null_pointer;
  for (std::size_t i = 0; i < grad_y.size(); ++i) grad_x[i] = grad_y[i] * (mask[i] != 0 ? 1.f : 0.f);
  return Status::ok;
}

// Gradients of one learnable (scale, zero point) pair.
struct LsqGrad {
  float scale = 0.f;
  float zero_point = 0.f;
};

// The QParams the LSQ forward uses for a learnable (scale, zero point): zero point
// round_half_even(z) clamped to [qmin, qmax]. Feed them to Quantizer::fake_quantize.
[[nodiscard]] inline Result<QParams> lsq_forward_qparams(float scale, float zero_point, QRange r) noexcept {
  if (!detail::is_finite(zero_point)) return Status::invalid_argument;
  std::int32_t z = RoundHalfEven::to_int32(zero_point);
  z = z < r.qmin ? r.qmin : (z > r.qmax ? r.qmax : z);
  const QParams p{scale, z};
  QSAFE_RETURN_IF_ERROR(check_qparams(p, r));
  return p;
}

namespace detail {

// PyTorch's per-tensor backward zero point: int64(clamp(z + 0.5f, qmin, qmax)).
inline std::int32_t lsq_backward_zero_point_per_tensor(float z, QRange r) noexcept {
  float f = z + 0.5f;
  f = f < static_cast<float>(r.qmin) ? static_cast<float>(r.qmin) : f;
  f = f > static_cast<float>(r.qmax) ? static_cast<float>(r.qmax) : f;
  return static_cast<std::int32_t>(f);  // truncation toward zero, as the C++ cast in PyTorch
}

// PyTorch's per-channel backward zero point: clamp(round_half_even(z), qmin, qmax).
inline std::int32_t lsq_backward_zero_point_per_channel(float z, QRange r) noexcept {
  const std::int32_t q = RoundHalfEven::to_int32(z);
  return q < r.qmin ? r.qmin : (q > r.qmax ? r.qmax : q);
}

inline Status check_lsq_args(float scale, float zero_point, float grad_factor, QRange r) noexcept {
  QSAFE_RETURN_IF_ERROR(check_qrange(r));
  if (!is_finite(scale) || !(scale > 0.f) || !is_finite(1.f / scale)) return Status::invalid_argument;
  if (!is_finite(zero_point) || !is_finite(grad_factor)) return Status::invalid_argument;
  return Status::ok;
}

// One contiguous run sharing (scale, zb): writes grad_x, accumulates the sums.
inline void lsq_backward_run(const float* x, const float* grad_y, std::size_t n, float scale, std::int32_t zb, QRange r,
                             float grad_factor, float* grad_x, double* sum_scale, double* sum_zero_point,
                             float* each_scale, float* each_zero_point) noexcept {
  const float inv_scale = 1.f / scale;
  const float ds_small = static_cast<float>(r.qmin - zb);
  const float ds_big = static_cast<float>(r.qmax - zb);
  for (std::size_t i = 0; i < n; ++i) {
    const float dy = grad_y[i];
    const float prod = x[i] * inv_scale;
    // zb + prod rounded to float: exact in double first (|zb| < 2^17, prod has 24 bits), so the
    // one float rounding is the same as PyTorch's float addition - and cannot become an FMA.
    const float t = static_cast<float>(static_cast<double>(zb) + static_cast<double>(prod));
    const std::int64_t xq = RoundHalfEven::to_int32(t);
    const bool inside = xq >= r.qmin && xq <= r.qmax;
    grad_x[i] = dy * (inside ? 1.f : 0.f);
    float ds, dz;
    if (inside) {
      // xfq = float((xq - zb) * scale): the product rounded once (exact in double, then float).
      // xfq - x with xfq = (xq - zb) * s, rounded once: (xq - zb) * s is exact in double and
      // within s/2 of x, so the double difference is exact too. PyTorch's x86 kernels compute
      // the same single rounding (the compiler fuses the product and the subtraction).
      const float diff =
          static_cast<float>(static_cast<double>(xq - zb) * static_cast<double>(scale) - static_cast<double>(x[i]));
      ds = dy * diff * inv_scale * grad_factor;
      dz = 0.f;
    } else {
      dz = dy * -1.f * scale * grad_factor;
      ds = (xq < r.qmin ? dy * ds_small : dy * ds_big) * grad_factor;
    }
    *sum_scale += ds;
    *sum_zero_point += dz;
    if (each_scale != nullptr) each_scale[i] = ds;
    if (each_zero_point != nullptr) each_zero_point[i] = dz;
  }
}

}  // namespace detail

// Per-tensor LSQ backward (see the header comment). Optional per-element gradients of the scale
// and zero point (before summation) go to each_scale / each_zero_point when those are non-empty.
[[nodiscard]] inline Status lsq_backward_per_tensor(Span<const float> x, Span<const float> grad_y, float scale,
                                                    float zero_point, QRange r, float grad_factor, Span<float> grad_x,
                                                    LsqGrad* grad, Span<float> each_scale = {},
                                                    Span<float> each_zero_point = {}) noexcept {
  if (grad == nullptr) return Status::null_pointer;
  if (x.size() != grad_y.size() || x.size() != grad_x.size()) return Status::shape_mismatch;
  if ((!each_scale.empty() && each_scale.size() != x.size()) ||
      (!each_zero_point.empty() && each_zero_point.size() != x.size()))
    return Status::shape_mismatch;
  if (!x.empty() && (x.data() == nullptr || grad_y.data() == nullptr || grad_x.data() == nullptr))
    return Status::null_pointer;
  QSAFE_RETURN_IF_ERROR(detail::check_lsq_args(scale, zero_point, grad_factor, r));
  double ds = 0, dz = 0;
  detail::lsq_backward_run(x.data(), grad_y.data(), x.size(), scale,
                           detail::lsq_backward_zero_point_per_tensor(zero_point, r), r, grad_factor, grad_x.data(),
                           &ds, &dz, each_scale.empty() ? nullptr : each_scale.data(),
                           each_zero_point.empty() ? nullptr : each_zero_point.data());
  grad->scale = static_cast<float>(ds);
  grad->zero_point = static_cast<float>(dz);
  return Status::ok;
}

// Per-channel LSQ backward: x is a C-order tensor, channel `axis` (negative counts from the back);
// scale, zero_point and grads hold one entry per channel.
[[nodiscard]] inline Status lsq_backward_per_channel(TensorView<const float> x, int axis, Span<const float> grad_y,
                                                     Span<const float> scale, Span<const float> zero_point, QRange r,
                                                     float grad_factor, Span<float> grad_x,
                                                     Span<LsqGrad> grads) noexcept {
  QSAFE_RETURN_IF_ERROR(x.check());
  const Result<AxisSplit> split = split_at_axis(x.shape, axis);
  if (!split.ok()) return split.status();
  const AxisSplit s = split.value();
  const std::size_t n = static_cast<std::size_t>(x.numel());
  if (grad_y.size() != n || grad_x.size() != n) return Status::shape_mismatch;
  const std::size_t channels = static_cast<std::size_t>(s.extent);
  if (scale.size() != channels || zero_point.size() != channels || grads.size() != channels)
    return Status::shape_mismatch;
  if (n != 0 && (grad_y.data() == nullptr || grad_x.data() == nullptr)) return Status::null_pointer;
  for (std::size_t c = 0; c < channels; ++c)
    QSAFE_RETURN_IF_ERROR(detail::check_lsq_args(scale[c], zero_point[c], grad_factor, r));
  for (std::size_t c = 0; c < channels; ++c) {
    double ds = 0, dz = 0;
    const std::int32_t zb = detail::lsq_backward_zero_point_per_channel(zero_point[c], r);
    for (std::int64_t o = 0; o < s.outer; ++o) {
      const std::size_t off = static_cast<std::size_t>((o * s.extent + static_cast<std::int64_t>(c)) * s.inner);
      detail::lsq_backward_run(x.data + off, grad_y.data() + off, static_cast<std::size_t>(s.inner), scale[c], zb, r,
                               grad_factor, grad_x.data() + off, &ds, &dz, nullptr, nullptr);
    }
    grads[c].scale = static_cast<float>(ds);
    grads[c].zero_point = static_cast<float>(dz);
  }
  return Status::ok;
}

}  // namespace qsafe

#endif  // QSAFE_QUANTIZER_FAKE_QUANT_HPP_
