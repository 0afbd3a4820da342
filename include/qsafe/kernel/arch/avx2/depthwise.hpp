// qsafe/kernel/arch/avx2/depthwise.hpp: depthwise convolution on YMM with vpmaddwd,
// u8s8_dwconv_4x8__avx2.
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
// Register tile: 4 output pixels x 8 channels (4 accumulators); one weight load per tap feeds the
// 4 pixels. 3x3 and 5x5 windows are unrolled; other shapes loop over the taps. The channel tail
// (C % 8) runs the scalar reference loop (AVX2 has no masked byte loads), so nothing outside the
// caller's channels is read.
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
  static constexpr int kPixels = 4;
  static constexpr const char* name = "u8s8_dwconv_4x8__avx2";
  static constexpr std::int32_t pack(std::int8_t w) noexcept { return w; }

  template <class AType, class Out, class Pipeline>
  QSAFE_TARGET_AVX2 static void run(const DepthwiseRun<AType, Out, Pipeline>& r) noexcept {
    const std::int64_t vector_channels = r.channels & ~std::int64_t{7};
    if (vector_channels > 0) {
      if (r.full && r.kernel_h == 3 && r.kernel_w == 3) {
        pixels<3, 3, true>(r, vector_channels);
      } else if (r.full && r.kernel_h == 5 && r.kernel_w == 5) {
        pixels<5, 5, true>(r, vector_channels);
      } else if (r.full) {
        pixels<0, 0, true>(r, vector_channels);
      } else {
        pixels<0, 0, false>(r, vector_channels);
      }
    }
    if (vector_channels < r.channels) depthwise_scalar_channels<Weight>(r, 0, r.count, vector_channels, r.channels);
  }

 private:
  using Isa = arch::avx2;

  template <int KH, int KW, bool kFull, class AType, class Out, class Pipeline>
  QSAFE_AVX2_INLINE static void pixels(const DepthwiseRun<AType, Out, Pipeline>& r, std::int64_t channels) noexcept {
    std::int64_t p = 0;
    for (; p + kPixels <= r.count; p += kPixels)
      for (std::int64_t c = 0; c < channels; c += 8) block<kPixels, KH, KW, kFull>(r, p, c);
    for (; p < r.count; ++p)
      for (std::int64_t c = 0; c < channels; c += 8) block<1, KH, KW, kFull>(r, p, c);
  }

  // 8 activations of one tap as int32 lanes, u(x) (int8 flipped to uint8 by XOR 0x80).
  template <class AType>
  QSAFE_AVX2_INLINE static __m256i load_x(const AType* p) noexcept {
    __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    if (std::is_same<AType, std::int8_t>::value) b = _mm_xor_si128(b, _mm_set1_epi8(static_cast<char>(0x80)));
    return _mm256_cvtepu8_epi32(b);
  }

  // acc[q] += x(pixel q) * w for q < P, walked by recursion so every acc index is a constant.
  template <int q, int P, class AType>
  QSAFE_AVX2_INLINE static void mac(__m256i (&acc)[P], const AType* x, std::int64_t step, __m256i w) noexcept {
    if constexpr (q < P) {
      acc[q] = _mm256_add_epi32(acc[q], _mm256_madd_epi16(load_x(x + q * step), w));
      mac<q + 1, P>(acc, x, step, w);
    }
  }

  template <int q, int P, class AType, class Out, class Pipeline>
  QSAFE_AVX2_INLINE static void finish(const __m256i (&acc)[P], __m256i correction,
                                       const DepthwiseRun<AType, Out, Pipeline>& r, std::int64_t p0,
                                       std::int64_t c) noexcept {
    if constexpr (q < P) {
      const Lanes8 l{0, c, 8, _mm256_set1_epi32(-1)};
      const __m256i v = _mm256_sub_epi32(acc[q], correction);
      store(Isa{}, r.y + (p0 + q) * r.channels + c, apply_stages<0>(Isa{}, *r.pipeline, v, l), l);
      finish<q + 1, P>(acc, correction, r, p0, c);
    }
  }

  template <int P, int KH, int KW, bool kFull, class AType, class Out, class Pipeline>
  QSAFE_AVX2_INLINE static void block(const DepthwiseRun<AType, Out, Pipeline>& r, std::int64_t p0,
                                      std::int64_t c) noexcept {
    const int kh0 = kFull ? 0 : r.kh_lo, kw0 = kFull ? 0 : r.kw_lo;
    const int kh1 = kFull ? (KH > 0 ? KH : r.kernel_h) : r.kh_hi;
    const int kw1 = kFull ? (KW > 0 ? KW : r.kernel_w) : r.kw_hi;
    const std::int64_t row_taps = KW > 0 ? KW : r.kernel_w, cp = r.channels_padded;
    const std::int32_t* wc = static_cast<const std::int32_t*>(r.weights) + c;
    const AType* xc = r.x + p0 * r.x_step + c;
    __m256i acc[P];
    QSAFE_UNROLL
    for (int q = 0; q < P; ++q) acc[q] = _mm256_setzero_si256();
    __m256i wsum = _mm256_setzero_si256();
    QSAFE_UNROLL
    for (int kh = kh0; kh < kh1; ++kh) {
      const AType* xr = xc + (kh - kh0) * r.tap_h;
      const std::int32_t* wr = wc + kh * row_taps * cp;
      QSAFE_UNROLL
      for (int kw = kw0; kw < kw1; ++kw) {
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + kw * cp));
        if (!kFull) wsum = _mm256_add_epi32(wsum, w);
        mac<0, P>(acc, xr + (kw - kw0) * r.tap_w, r.x_step, w);
      }
    }
    if (kFull) wsum = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.weight_sums + c));
    const std::int32_t zp_u = r.zero_point + (std::is_same<AType, std::int8_t>::value ? 128 : 0);
    const __m256i correction = _mm256_mullo_epi32(_mm256_set1_epi32(zp_u), wsum);
    finish<0, P>(acc, correction, r, p0, c);
  }
};

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_AVX2_DEPTHWISE_HPP_
