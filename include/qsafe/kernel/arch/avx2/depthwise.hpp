// qsafe/kernel/arch/avx2/depthwise.hpp: depthwise convolution on YMM with vpmaddwd,
// u8s8_dwconv_8x8__avx2.
//
// One YMM lane per channel, int32. Per tap and block of 8 channels:
//
//   x   = vpmovzxbd(8 bytes of the tap's pixel)           lane c: [ x_c (16 bits) | 0 (16 bits) ]
//   w   = packed weights, int32 sign-extended             lane c: [ w_c (16 bits) | 0 or -1     ]
//   acc = vpaddd(acc, vpmaddwd(x, w))                     lane c: += x_c * w_c + 0 * (0 or -1)
//
// Why vpmaddwd and not vpmulld: with the activation's upper half zero, vpmaddwd is an exact
// 16 x 16 -> 32 multiply (it cannot saturate: one product is 0), at a fraction of vpmulld's cost.
// Padding taps are left out; the zero point is subtracted once at the end:
//
//   acc = sum_taps u(x) * w - zp_u * sum_taps w        (mod 2^32; exact, the true value fits int32)
//
// with u(x) = x for uint8 and x ^ 0x80 = x + 128 for int8 activations (zp_u = zp + 128); the weight
// sum is precomputed for full windows and accumulated on the fly for border pixels.
//
// Register tile: P output pixels x 8 channels (P accumulators). 3x3 and 5x5 windows with
// dilation_w 1 and stride_w 1 or 2 are unrolled with column reuse, as the AVX-512 kernel (see
// there): each input column of a window row is widened once and feeds every pixel whose window
// covers it (3x3 stride 1: P = 8, 10 widening loads for 24 multiply-adds per window row; live:
// 8 acc + 3 w + a column of the 16 YMM). Other windows, dilations and border pixels loop over the
// taps with P = 4. The channel tail (C % 8) runs the scalar reference loop (AVX2 has no masked
// byte loads), so nothing outside the caller's channels is read.
#ifndef QSAFE_KERNEL_ARCH_AVX2_DEPTHWISE_HPP_
#define QSAFE_KERNEL_ARCH_AVX2_DEPTHWISE_HPP_

#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/avx2/arch.hpp"
#include "qsafe/kernel/arch/avx2/output.hpp"
#include "qsafe/kernel/arch/scalar/depthwise.hpp"

namespace qsafe {
namespace detail {

template <>
struct DepthwiseUkernel<arch::avx2> {
  using Weight = std::int32_t;
  static constexpr int kChannelPad = 8;
  static constexpr const char* name = "u8s8_dwconv_8x8__avx2";
  static constexpr std::int32_t pack(std::int8_t w) noexcept { return w; }

  template <class AType, class Out, class Pipeline>
  QSAFE_TARGET_AVX2 static void run(const DepthwiseRun<AType, Out, Pipeline>& r) noexcept {
    const Pipeline& pipe = *r.pipeline;
    const std::int64_t vector_channels = r.channels & ~std::int64_t{7};
    if (vector_channels > 0) {
      // Unrolled windows with column reuse need dilation_w = 1 and stride_w 1 or 2.
      const bool dense = r.full && r.tap_w == r.channels;
      const std::int64_t stride = dense ? r.x_step / r.channels : 0;
      if (dense && r.kernel_h == 3 && r.kernel_w == 3 && stride == 1) {
        pixels<8, 3, 3, 1, true>(r, pipe, vector_channels);
      } else if (dense && r.kernel_h == 3 && r.kernel_w == 3 && stride == 2) {
        pixels<4, 3, 3, 2, true>(r, pipe, vector_channels);
      } else if (dense && r.kernel_h == 5 && r.kernel_w == 5 && stride == 1) {
        pixels<4, 5, 5, 1, true>(r, pipe, vector_channels);
      } else if (dense && r.kernel_h == 5 && r.kernel_w == 5 && stride == 2) {
        pixels<4, 5, 5, 2, true>(r, pipe, vector_channels);
      } else if (r.full) {
        pixels<4, 0, 0, 0, true>(r, pipe, vector_channels);
      } else {
        pixels<4, 0, 0, 0, false>(r, pipe, vector_channels);
      }
    }
    if (vector_channels < r.channels) depthwise_scalar_channels<Weight>(r, 0, r.count, vector_channels, r.channels);
  }

 private:
  using Isa = arch::avx2;

  // Pixels of the run in groups of P (then 4, then one at a time); S > 0: KH x KW window, stride
  // S, dilation 1 (columns shared between neighbouring pixels are loaded once).
  // A function of its own per window variant (not inlined into run()): smaller functions for the
  // register allocator, and a much shorter compile, sanitizer builds especially. The run and the
  // pipeline are copied into locals: stores through y (uint8_t may alias anything) then cannot
  // force them to be reloaded for every pixel. Tiles of P pixels, then of 4; the last partial
  // tile overlaps the previous one (as the AVX-512 kernel); runs shorter than 4 take the tap loop.
  template <int P, int KH, int KW, int S, bool kFull, class AType, class Out, class Pipeline>
  QSAFE_TARGET_AVX2 static void pixels(const DepthwiseRun<AType, Out, Pipeline>& run, const Pipeline& pipeline,
                                       std::int64_t channels) noexcept {
    const DepthwiseRun<AType, Out, Pipeline> r = run;
    const Pipeline pipe = pipeline;
    if (r.count < 4) {
      for (std::int64_t p = 0; p < r.count; ++p)
        for (std::int64_t c = 0; c < channels; c += 8) block<1, 0, 0, 0, kFull>(r, pipe, p, c);
      return;
    }
    std::int64_t p = 0;
    for (; p + P <= r.count; p += P)
      for (std::int64_t c = 0; c < channels; c += 8) block<P, KH, KW, S, kFull>(r, pipe, p, c);
    if constexpr (P > 4) {
      for (; p + 4 <= r.count; p += 4)
        for (std::int64_t c = 0; c < channels; c += 8) block<4, KH, KW, S, kFull>(r, pipe, p, c);
    }
    if (p < r.count)
      for (std::int64_t c = 0; c < channels; c += 8) block<4, KH, KW, S, kFull>(r, pipe, r.count - 4, c);
  }

  // 8 activations of one tap as int32 lanes, u(x) (int8 flipped to uint8 by XOR 0x80).
  template <class AType>
  QSAFE_AVX2_INLINE static __m256i load_x(const AType* p) noexcept {
    __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    if (std::is_same<AType, std::int8_t>::value) b = _mm_xor_si128(b, _mm_set1_epi8(static_cast<char>(0x80)));
    return _mm256_cvtepu8_epi32(b);
  }

  QSAFE_AVX2_INLINE static __m256i mac1(__m256i acc, __m256i x, __m256i w) noexcept {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(x, w));
  }

  // acc[q] += x(pixel q) * w for q < P, walked by recursion so every acc index is a constant.
  template <int q, int P, class AType>
  QSAFE_AVX2_INLINE static void mac(__m256i (&acc)[P], const AType* x, std::int64_t step, __m256i w) noexcept {
    if constexpr (q < P) {
      acc[q] = mac1(acc[q], load_x(x + q * step), w);
      mac<q + 1, P>(acc, x, step, w);
    }
  }

  // acc[q] += col * w[kw] for every tap kw that meets input column j in pixel q = (j - kw) / S.
  template <int kw, int KW, int j, int P, int S>
  QSAFE_AVX2_INLINE static void mac_taps(__m256i (&acc)[P], __m256i col, const __m256i (&w)[KW]) noexcept {
    if constexpr (kw < KW) {
      constexpr int q = (j - kw) / S;
      if constexpr (j >= kw && (j - kw) % S == 0 && q < P) acc[q] = mac1(acc[q], col, w[kw]);
      mac_taps<kw + 1, KW, j, P, S>(acc, col, w);
    }
  }

  // One window row: input columns j < N, each loaded (and widened) once.
  template <int j, int N, int P, int S, int KW, class AType>
  QSAFE_AVX2_INLINE static void mac_columns(__m256i (&acc)[P], const AType* x, std::int64_t step,
                                            const __m256i (&w)[KW]) noexcept {
    if constexpr (j < N) {
      mac_taps<0, KW, j, P, S>(acc, load_x(x + j * step), w);
      mac_columns<j + 1, N, P, S, KW>(acc, x, step, w);
    }
  }

  // out[q] = pipeline(acc[q] - correction): every result first, then every store.
  template <int q, int P, class V, class Pipeline>
  QSAFE_AVX2_INLINE static void outputs(const __m256i (&acc)[P], __m256i correction, const Pipeline& pipe,
                                        const Lanes8& l, V (&out)[P]) noexcept {
    if constexpr (q < P) {
      out[q] = apply_stages<0>(Isa{}, pipe, _mm256_sub_epi32(acc[q], correction), l);
      outputs<q + 1, P>(acc, correction, pipe, l, out);
    }
  }

  template <int q, int P, class V, class Out>
  QSAFE_AVX2_INLINE static void stores(const V (&out)[P], Out* y, std::int64_t step, const Lanes8& l) noexcept {
    if constexpr (q < P) {
      store(Isa{}, y + q * step, out[q], l);
      stores<q + 1, P>(out, y, step, l);
    }
  }

  template <int P, int KH, int KW, int S, bool kFull, class AType, class Out, class Pipeline>
  QSAFE_AVX2_INLINE static void block(const DepthwiseRun<AType, Out, Pipeline>& r, const Pipeline& pipe,
                                      std::int64_t p0, std::int64_t c) noexcept {
    const std::int64_t cp = r.channels_padded;
    const std::int32_t* wc = static_cast<const std::int32_t*>(r.weights) + c;
    const AType* xc = r.x + p0 * r.x_step + c;
    __m256i acc[P];
    QSAFE_UNROLL
    for (int q = 0; q < P; ++q) acc[q] = _mm256_setzero_si256();
    __m256i wsum = _mm256_setzero_si256();
    if constexpr (S > 0) {
      constexpr int kColumns = (P - 1) * S + KW;
      QSAFE_DEPTHWISE_NO_UNROLL
      for (int kh = 0; kh < KH; ++kh) {
        __m256i w[KW];
        QSAFE_UNROLL
        for (int kw = 0; kw < KW; ++kw)
          w[kw] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wc + (kh * KW + kw) * cp));
        mac_columns<0, kColumns, P, S, KW>(acc, xc + kh * r.tap_h, r.channels, w);
      }
    } else {
      const int kh0 = kFull ? 0 : r.kh_lo, kw0 = kFull ? 0 : r.kw_lo;
      const int kh1 = kFull ? r.kernel_h : r.kh_hi, kw1 = kFull ? r.kernel_w : r.kw_hi;
      for (int kh = kh0; kh < kh1; ++kh) {
        const AType* xr = xc + (kh - kh0) * r.tap_h;
        const std::int32_t* wr = wc + kh * static_cast<std::int64_t>(r.kernel_w) * cp;
        for (int kw = kw0; kw < kw1; ++kw) {
          const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + kw * cp));
          if (!kFull) wsum = _mm256_add_epi32(wsum, w);
          mac<0, P>(acc, xr + (kw - kw0) * r.tap_w, r.x_step, w);
        }
      }
    }
    if (kFull) wsum = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.weight_sums + c));
    const std::int32_t zp_u = r.zero_point + (std::is_same<AType, std::int8_t>::value ? 128 : 0);
    const __m256i correction = _mm256_mullo_epi32(_mm256_set1_epi32(zp_u), wsum);
    const Lanes8 l{0, c, 8, _mm256_set1_epi32(-1)};
    using V = decltype(apply_stages<0>(Isa{}, pipe, correction, l));
    V out[P];
    outputs<0, P>(acc, correction, pipe, l, out);
    stores<0, P>(out, r.y + p0 * r.channels + c, r.channels, l);
  }
};

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_AVX2_DEPTHWISE_HPP_
