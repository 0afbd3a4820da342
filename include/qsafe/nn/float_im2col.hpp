// qsafe/nn/float_im2col.hpp: float conv2d and linear through patch rows (im2col) and weights
// transposed to [k][out channel], with the results of the float reference (float_reference.hpp)
// bit for bit.
//
// The reference computes, per output value, acc = bias (double), then acc += double(x) * double(w)
// over the window taps in (kh, kw) order and the group's input channels inside each tap, skipping
// padded taps, and stores float(acc). Here every output value runs through exactly the same
// sequence of double additions, in the same order, with padded taps holding x = 0.0: a product of
// two floats is exact in double, so a padded tap adds an exact zero, which changes nothing (except
// perhaps the sign of a zero result; -0.0 == 0.0). Fused multiply-add cannot change a result
// either (the product is exact). What differs is only the loop order: tiles of rows x output
// channels are accumulated side by side, in vector registers, with independent sums in flight.
//
// Host-side helpers of nn::QuantizedModel (allocation through the caller's vectors; never throws).
#ifndef QSAFE_NN_FLOAT_IM2COL_HPP_
#define QSAFE_NN_FLOAT_IM2COL_HPP_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "qsafe/config.hpp"
#include "qsafe/core/conv_geometry.hpp"
#include "qsafe/kernel/arch/cpu_features.hpp"
#include "qsafe/nn/layer.hpp"
#include "qsafe/nn/model.hpp"

namespace qsafe {
namespace nn {

// A conv2d or linear layer's float weights laid out for float_layer_im2col.
struct FloatIm2colWeights {
  Conv2dGeometry g;  // batch = 1; linear: 1x1 image with in_features channels
  bool conv = false;
  std::int64_t kg = 0, ocg = 0;
  std::vector<double> wt;    // per group: [kg][ocg], k in (kh, kw, ic) order
  std::vector<double> bias;  // out_channels (0.0 without bias)
};

inline FloatIm2colWeights make_float_im2col_weights(const Layer& l) {
  FloatIm2colWeights f;
  f.conv = l.kind == LayerKind::conv2d;
  if (f.conv) {
    f.g = Model::geometry(l, l.in_shape, l.weight_shape[0]);
  } else {
    f.g.in_channels = l.weight_shape[1];
    f.g.out_channels = l.weight_shape[0];
  }
  f.g.batch = 1;
  const std::int64_t icg = f.g.in_channels_per_group(), kh_n = f.g.kernel_h, kw_n = f.g.kernel_w;
  f.ocg = f.g.out_channels_per_group();
  f.kg = kh_n * kw_n * icg;
  f.wt.assign(static_cast<std::size_t>(f.g.out_channels * f.kg), 0.0);
  for (std::int64_t o = 0; o < f.g.out_channels; ++o) {
    const std::int64_t grp = o / f.ocg, ol = o % f.ocg;
    for (std::int64_t ic = 0; ic < icg; ++ic)
      for (std::int64_t kh = 0; kh < kh_n; ++kh)
        for (std::int64_t kw = 0; kw < kw_n; ++kw) {
          const std::int64_t k = (kh * kw_n + kw) * icg + ic;
          f.wt[static_cast<std::size_t>(grp * f.kg * f.ocg + k * f.ocg + ol)] =
              static_cast<double>(l.weight[static_cast<std::size_t>(((o * icg + ic) * kh_n + kh) * kw_n + kw)]);
        }
  }
  f.bias.assign(static_cast<std::size_t>(f.g.out_channels), 0.0);
  for (std::size_t o = 0; o < l.bias.size(); ++o) f.bias[o] = static_cast<double>(l.bias[o]);
  return f;
}

namespace detail {

// R rows x B output channels starting at (r0, o0): each accumulator sums in k order.
template <int R, int B>
QSAFE_ALWAYS_INLINE void float_tile_wt(const float* a, std::int64_t lda, std::int64_t kg, const double* wt,
                                       const double* bias, std::int64_t ocg, std::int64_t o0, float* y,
                                       std::int64_t ldy) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  if constexpr (B % 4 == 0) {
    // GCC / Clang vector extension: 4 doubles (one AVX register, or two SSE2 ones), element-wise
    // mul and add, so every lane is the scalar loop's accumulator.
    typedef double V4 __attribute__((vector_size(32)));
    typedef double V4Load __attribute__((vector_size(32), aligned(8), may_alias));  // unaligned loads
    constexpr int kV = B / 4;
    V4 acc[R][kV];
    for (int v = 0; v < kV; ++v) {
      const V4 b = *reinterpret_cast<const V4Load*>(bias + o0 + 4 * v);
      for (int r = 0; r < R; ++r) acc[r][v] = b;
    }
    for (std::int64_t k = 0; k < kg; ++k) {
      const double* wk = wt + k * ocg + o0;
      V4 w[kV];
      for (int v = 0; v < kV; ++v) w[v] = *reinterpret_cast<const V4Load*>(wk + 4 * v);
      for (int r = 0; r < R; ++r) {
        const V4 xk = V4{} + static_cast<double>(a[r * lda + k]);
        for (int v = 0; v < kV; ++v) acc[r][v] += xk * w[v];
      }
    }
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < kV; ++v)
        for (int j = 0; j < 4; ++j) y[r * ldy + o0 + 4 * v + j] = static_cast<float>(acc[r][v][j]);
    return;
  }
#endif
  double acc[R][B];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < B; ++j) acc[r][j] = bias[o0 + j];
  for (std::int64_t k = 0; k < kg; ++k) {
    const double* w = wt + k * ocg + o0;
    for (int r = 0; r < R; ++r) {
      const double xk = static_cast<double>(a[r * lda + k]);
      for (int j = 0; j < B; ++j) acc[r][j] += xk * w[j];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < B; ++j) y[r * ldy + o0 + j] = static_cast<float>(acc[r][j]);
}

// kRows4: 4 x 8 tiles (16 vector registers of 2 doubles would spill; 8 of 4 do not), else 2 x 8.
template <bool kRows4>
QSAFE_ALWAYS_INLINE void float_rows_wt_body(const float* a, std::int64_t lda, std::int64_t rows, std::int64_t kg,
                                            const double* wt, const double* bias, std::int64_t ocg, float* y,
                                            std::int64_t ldy) noexcept {
  std::int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    std::int64_t o = 0;
    for (; o + 8 <= ocg; o += 8) {
      if constexpr (kRows4) {
        float_tile_wt<4, 8>(a + r * lda, lda, kg, wt, bias, ocg, o, y + r * ldy, ldy);
      } else {
        float_tile_wt<2, 8>(a + r * lda, lda, kg, wt, bias, ocg, o, y + r * ldy, ldy);
        float_tile_wt<2, 8>(a + (r + 2) * lda, lda, kg, wt, bias, ocg, o, y + (r + 2) * ldy, ldy);
      }
    }
    for (; o < ocg; ++o) float_tile_wt<4, 1>(a + r * lda, lda, kg, wt, bias, ocg, o, y + r * ldy, ldy);
  }
  for (; r < rows; ++r) {
    std::int64_t o = 0;
    for (; o + 8 <= ocg; o += 8) float_tile_wt<1, 8>(a + r * lda, lda, kg, wt, bias, ocg, o, y + r * ldy, ldy);
    for (; o < ocg; ++o) float_tile_wt<1, 1>(a + r * lda, lda, kg, wt, bias, ocg, o, y + r * ldy, ldy);
  }
}

inline void float_rows_wt_baseline(const float* a, std::int64_t lda, std::int64_t rows, std::int64_t kg,
                                   const double* wt, const double* bias, std::int64_t ocg, float* y,
                                   std::int64_t ldy) noexcept {
  float_rows_wt_body<false>(a, lda, rows, kg, wt, bias, ocg, y, ldy);
}

#if QSAFE_RUNTIME_DISPATCH
// The same loops compiled for AVX2 + FMA (4 doubles per register). A contracted multiply-add gives
// the same sums: each product of two floats is exact in double.
QSAFE_TARGET_AVX2 inline void float_rows_wt_avx2(const float* a, std::int64_t lda, std::int64_t rows, std::int64_t kg,
                                                 const double* wt, const double* bias, std::int64_t ocg, float* y,
                                                 std::int64_t ldy) noexcept {
  float_rows_wt_body<true>(a, lda, rows, kg, wt, bias, ocg, y, ldy);
}
#endif

inline void float_rows_wt(const float* a, std::int64_t lda, std::int64_t rows, std::int64_t kg, const double* wt,
                          const double* bias, std::int64_t ocg, float* y, std::int64_t ldy) noexcept {
#if QSAFE_RUNTIME_DISPATCH
  if (arch::cpu_features().avx2_fma) {
    float_rows_wt_avx2(a, lda, rows, kg, wt, bias, ocg, y, ldy);
    return;
  }
#endif
  float_rows_wt_baseline(a, lda, rows, kg, wt, bias, ocg, y, ldy);
}

// One sample's NHWC input -> float patch rows [out_h * out_w][groups * kg], padding 0.0
// (the same column order as detail::im2col in quantized_model.hpp).
inline void float_patch_rows(const Conv2dGeometry& g, const float* x, float* a) noexcept {
  const std::int64_t oh_n = g.out_h(), ow_n = g.out_w(), icg = g.in_channels_per_group(), c = g.in_channels;
  const std::int64_t kg = g.kernel_h * g.kernel_w * icg, ktot = g.groups * kg;
  if (g.groups == 1 && g.dilation_w == 1) {  // the kw taps of one kh are one contiguous run of the input row
    const std::int64_t run = g.kernel_w * c;
    for (std::int64_t oh = 0; oh < oh_n; ++oh)
      for (std::int64_t ow = 0; ow < ow_n; ++ow) {
        float* row = a + (oh * ow_n + ow) * ktot;
        const std::int64_t iw0 = ow * g.stride_w - g.pad_left;
        const std::int64_t lo = iw0 < 0 ? -iw0 : 0, hi = iw0 + g.kernel_w > g.in_w ? g.in_w - iw0 : g.kernel_w;
        for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
          const std::int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
          float* d = row + kh * run;
          if (ih < 0 || ih >= g.in_h || hi <= lo) {
            for (std::int64_t i = 0; i < run; ++i) d[i] = 0.f;
            continue;
          }
          for (std::int64_t i = 0; i < lo * c; ++i) d[i] = 0.f;
          const float* src = x + (ih * g.in_w + iw0 + lo) * c;
          for (std::int64_t i = 0; i < (hi - lo) * c; ++i) d[lo * c + i] = src[i];
          for (std::int64_t i = hi * c; i < run; ++i) d[i] = 0.f;
        }
      }
    return;
  }
  for (std::int64_t oh = 0; oh < oh_n; ++oh)
    for (std::int64_t ow = 0; ow < ow_n; ++ow) {
      float* row = a + (oh * ow_n + ow) * ktot;
      for (std::int64_t grp = 0; grp < g.groups; ++grp)
        for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
          const std::int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
          for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
            const std::int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
            float* d = row + grp * kg + (kh * g.kernel_w + kw) * icg;
            if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) {
              for (std::int64_t i = 0; i < icg; ++i) d[i] = 0.f;
            } else {
              const float* s = x + (ih * g.in_w + iw) * c + grp * icg;
              for (std::int64_t i = 0; i < icg; ++i) d[i] = s[i];
            }
          }
        }
    }
}

}  // namespace detail

// n samples through the layer: x is [n][in numel] NHWC (linear: [n][in]), y [n][out numel].
// `col` is scratch (one sample's patch rows).
inline void float_layer_im2col(const FloatIm2colWeights& f, std::int64_t n, const float* x, float* y,
                               std::vector<float>& col) {
  const Conv2dGeometry& g = f.g;
  const std::int64_t oc = g.out_channels;
  if (!f.conv) {
    detail::float_rows_wt(x, g.in_channels, n, f.kg, f.wt.data(), f.bias.data(), oc, y, oc);
    return;
  }
  const std::int64_t p = g.out_h() * g.out_w(), ktot = g.groups * f.kg, in_numel = g.in_h * g.in_w * g.in_channels;
  col.resize(static_cast<std::size_t>(p * ktot));
  for (std::int64_t b = 0; b < n; ++b) {
    detail::float_patch_rows(g, x + b * in_numel, col.data());
    for (std::int64_t grp = 0; grp < g.groups; ++grp)
      detail::float_rows_wt(col.data() + grp * f.kg, ktot, p, f.kg, f.wt.data() + grp * f.kg * f.ocg,
                            f.bias.data() + grp * f.ocg, f.ocg, y + b * p * oc + grp * f.ocg, oc);
  }
}

}  // namespace nn
}  // namespace qsafe

#endif  // QSAFE_NN_FLOAT_IM2COL_HPP_
