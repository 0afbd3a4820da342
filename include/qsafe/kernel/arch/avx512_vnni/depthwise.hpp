// qsafe/kernel/arch/avx512_vnni/depthwise.hpp: depthwise convolution on ZMM with vpdpwssd,
// u8s8_dwconv_16x16__avx512vnni.
//
// One ZMM lane per channel, int32. Per tap and block of 16 channels:
//
//   x   = vpmovzxbd(16 bytes of the tap's pixel)          lane c: [ x_c (16 bits) | 0 (16 bits) ]
//   w   = packed weights, int32 sign-extended             lane c: [ w_c (16 bits) | 0 or -1     ]
//   acc = vpdpwssd(acc, x, w)                             lane c: += x_c * w_c + 0 * (0 or -1)
//
// vpdpwssd multiplies 16-bit halves pairwise and adds both products into the int32 lane: with the
// activation's upper half zero it is an exact 16 x 16 -> 32 multiply-add, one instruction per 16
// MACs, never saturating. Padding taps are left out; the zero point is subtracted once at the end:
//
//   acc = sum_taps u(x) * w - zp_u * sum_taps w        (mod 2^32; exact, the true value fits int32)
//
// with u(x) = x for uint8 and x ^ 0x80 = x + 128 for int8 activations (zp_u = zp + 128), and the
// weight sum precomputed at packing time for full windows (accumulated on the fly for border
// pixels, whose windows lose taps).
//
// Register tile: P output pixels x 16 channels (P accumulators). 3x3 and 5x5 windows with
// dilation_w 1 and stride_w 1 or 2 are unrolled with column reuse: each input column of a window
// row is loaded and widened once and feeds every pixel whose window covers it,
//
//   3x3, stride 1, P = 16:  window row kh, input columns j = 0 .. 17
//     col j --vpdpwssd w[kh][0]--> acc[j]      (pixel j, tap 0)
//           --vpdpwssd w[kh][1]--> acc[j - 1]  (pixel j - 1, tap 1)
//           --vpdpwssd w[kh][2]--> acc[j - 2]  (pixel j - 2, tap 2)
//   18 widening loads for 48 vpdpwssd (instead of 48); live: 16 acc + 3 w + 1-2 col of 32 ZMM.
//
// (3x3 stride 2: P = 8; 5x5: P = 4; a run's last partial tile overlaps the one before it, see
// pixels().) Other windows, dilations and border pixels loop over the taps with P = 4. The channel
// tail (C % 16) uses masked loads and stores: nothing is read or written outside the caller's
// channels.
#ifndef QSAFE_KERNEL_ARCH_AVX512_VNNI_DEPTHWISE_HPP_
#define QSAFE_KERNEL_ARCH_AVX512_VNNI_DEPTHWISE_HPP_

#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/avx512_vnni/arch.hpp"
#include "qsafe/kernel/arch/avx512_vnni/output.hpp"
#include "qsafe/kernel/arch/scalar/depthwise.hpp"

// GCC 12 PR105593: see config.hpp.
QSAFE_AVX512_CODE_BEGIN

// Pixels per tile for 3x3 windows at stride 1 and 2. 16 and 8 measured best on Zen 5 (GCC 12 and
// Clang 14) against 8 and 4 (docs/benchmarks.md); overridable only to repeat that experiment.
#ifndef QSAFE_DEPTHWISE_AVX512_P1
#define QSAFE_DEPTHWISE_AVX512_P1 16
#define QSAFE_DEPTHWISE_AVX512_P2 8
#endif

namespace qsafe {
namespace detail {

template <>
struct DepthwiseUkernel<arch::avx512_vnni> {
  using Weight = std::int32_t;
  static constexpr int kChannelPad = 16;
  static constexpr int kPixels3x3s1 = QSAFE_DEPTHWISE_AVX512_P1;
  static constexpr int kPixels3x3s2 = QSAFE_DEPTHWISE_AVX512_P2;
  static constexpr const char* name = "u8s8_dwconv_16x16__avx512vnni";
  static constexpr std::int32_t pack(std::int8_t w) noexcept { return w; }

  template <class AType, class Out, class Pipeline>
  QSAFE_TARGET_AVX512_VNNI static void run(const DepthwiseRun<AType, Out, Pipeline>& r) noexcept {
    const Pipeline& pipe = *r.pipeline;
    // Unrolled windows with column reuse need dilation_w = 1 and stride_w 1 or 2.
    const bool dense = r.full && r.tap_w == r.channels;
    const std::int64_t stride = dense ? r.x_step / r.channels : 0;
    if (dense && r.kernel_h == 3 && r.kernel_w == 3 && stride == 1) {
      pixels<kPixels3x3s1, 3, 3, 1, true>(r, pipe);
    } else if (dense && r.kernel_h == 3 && r.kernel_w == 3 && stride == 2) {
      pixels<kPixels3x3s2, 3, 3, 2, true>(r, pipe);
    } else if (dense && r.kernel_h == 5 && r.kernel_w == 5 && stride == 1) {
      pixels<4, 5, 5, 1, true>(r, pipe);
    } else if (dense && r.kernel_h == 5 && r.kernel_w == 5 && stride == 2) {
      pixels<4, 5, 5, 2, true>(r, pipe);
    } else if (r.full) {
      pixels<4, 0, 0, 0, true>(r, pipe);
    } else {
      pixels<4, 0, 0, 0, false>(r, pipe);
    }
  }

 private:
  using Isa = arch::avx512_vnni;

  // Pixels of the run in groups of P (then one at a time); S > 0: KH x KW window, stride S,
  // dilation 1 (columns shared between neighbouring pixels are loaded once).
  // A function of its own per window variant (not inlined into run()): smaller functions for the
  // register allocator, and a much shorter compile, sanitizer builds especially. The run and the
  // pipeline are copied into locals: stores through y (uint8_t may alias anything) then cannot
  // force them to be reloaded for every pixel.
  //
  // Tiles of P pixels, then of 4; the last partial tile is a whole 4-pixel tile ending at the
  // run's end, overlapping the previous one (at most 3 pixels computed twice, to identical values),
  // so no tail tiles need instantiating. Runs shorter than 4 pixels take the tap loop.
  template <int P, int KH, int KW, int S, bool kFull, class AType, class Out, class Pipeline>
  QSAFE_TARGET_AVX512_VNNI static void pixels(const DepthwiseRun<AType, Out, Pipeline>& run,
                                              const Pipeline& pipeline) noexcept {
    const DepthwiseRun<AType, Out, Pipeline> r = run;
    const Pipeline pipe = pipeline;
    if (r.count < 4) {
      for (std::int64_t p = 0; p < r.count; ++p) channel_blocks<1, 0, 0, 0, kFull>(r, pipe, p);
      return;
    }
    std::int64_t p = 0;
    for (; p + P <= r.count; p += P) channel_blocks<P, KH, KW, S, kFull>(r, pipe, p);
    if constexpr (P > 4) {
      for (; p + 4 <= r.count; p += 4) channel_blocks<4, KH, KW, S, kFull>(r, pipe, p);
    }
    if (p < r.count) channel_blocks<4, KH, KW, S, kFull>(r, pipe, r.count - 4);
  }

  template <int P, int KH, int KW, int S, bool kFull, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void channel_blocks(const DepthwiseRun<AType, Out, Pipeline>& r,
                                                                          const Pipeline& pipe,
                                                                          std::int64_t p0) noexcept {
    std::int64_t c = 0;
    for (; c + 16 <= r.channels; c += 16) block<P, KH, KW, S, kFull, false>(r, pipe, p0, c, 0xffff);
    if (c < r.channels) {
      // The channel tail (C % 16, masked) one pixel at a time with the tap loop: one masked
      // instantiation instead of one per tile.
      const auto mask = static_cast<__mmask16>((1u << (r.channels - c)) - 1);
      for (int q = 0; q < P; ++q) block<1, 0, 0, 0, kFull, true>(r, pipe, p0 + q, c, mask);
    }
  }

  // 16 activations of one tap as int32 lanes, u(x) (int8 flipped to uint8 by XOR 0x80).
  template <bool kMasked, class AType>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static __m512i load_x(const AType* p, __mmask16 mask) noexcept {
    if constexpr (std::is_same<AType, std::int8_t>::value) {
      const __m128i b = kMasked ? _mm_maskz_loadu_epi8(mask, p) : _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      return _mm512_cvtepu8_epi32(_mm_xor_si128(b, _mm_set1_epi8(static_cast<char>(0x80))));
    } else if constexpr (kMasked) {
      return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, p));
    } else {
      return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
  }

  // acc[q] += x(pixel q) * w for q < P, walked by recursion so every acc index is a constant.
  template <int q, int P, bool kMasked, class AType>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void mac(__m512i (&acc)[P], const AType* x, std::int64_t step,
                                                               __m512i w, __mmask16 mask) noexcept {
    if constexpr (q < P) {
      acc[q] = _mm512_dpwssd_epi32(acc[q], load_x<kMasked>(x + q * step, mask), w);
      mac<q + 1, P, kMasked>(acc, x, step, w, mask);
    }
  }

  // acc[q] += col * w[kw] for every tap kw that meets input column j in pixel q = (j - kw) / S.
  template <int kw, int KW, int j, int P, int S>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void mac_taps(__m512i (&acc)[P], __m512i col,
                                                                    const __m512i (&w)[KW]) noexcept {
    if constexpr (kw < KW) {
      constexpr int q = (j - kw) / S;
      if constexpr (j >= kw && (j - kw) % S == 0 && q < P) acc[q] = _mm512_dpwssd_epi32(acc[q], col, w[kw]);
      mac_taps<kw + 1, KW, j, P, S>(acc, col, w);
    }
  }

  // One window row: input columns j < N, each loaded (and widened) once and used by every pixel
  // whose window covers it; a column is dead after its taps, so only P accumulators, KW weights
  // and a column or two are live.
  template <int j, int N, int P, int S, int KW, bool kMasked, class AType>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void mac_columns(__m512i (&acc)[P], const AType* x,
                                                                       std::int64_t step, const __m512i (&w)[KW],
                                                                       __mmask16 mask) noexcept {
    if constexpr (j < N) {
      mac_taps<0, KW, j, P, S>(acc, load_x<kMasked>(x + j * step, mask), w);
      mac_columns<j + 1, N, P, S, KW, kMasked>(acc, x, step, w, mask);
    }
  }

  // out[q] = pipeline(acc[q] - correction) for q < P: every result first, then every store, so the
  // stage parameters are loaded once for the P pixels.
  template <int q, int P, class V, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void outputs(const __m512i (&acc)[P], __m512i correction,
                                                                   const Pipeline& pipe, const Lanes16& l,
                                                                   V (&out)[P]) noexcept {
    if constexpr (q < P) {
      out[q] = apply_stages<0>(Isa{}, pipe, _mm512_sub_epi32(acc[q], correction), l);
      outputs<q + 1, P>(acc, correction, pipe, l, out);
    }
  }

  template <int q, int P, class V, class Out>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void stores(const V (&out)[P], Out* y, std::int64_t step,
                                                                  __mmask16 mask) noexcept {
    if constexpr (q < P) {
      store(Isa{}, y + q * step, out[q], mask);
      stores<q + 1, P>(out, y, step, mask);
    }
  }

  template <int P, int KH, int KW, int S, bool kFull, bool kMasked, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI static void block(const DepthwiseRun<AType, Out, Pipeline>& r,
                                                                 const Pipeline& pipe, std::int64_t p0, std::int64_t c,
                                                                 __mmask16 mask) noexcept {
    const int kh0 = kFull ? 0 : r.kh_lo, kw0 = kFull ? 0 : r.kw_lo;
    const int kh1 = kFull ? (KH > 0 ? KH : r.kernel_h) : r.kh_hi;
    const int kw1 = kFull ? (KW > 0 ? KW : r.kernel_w) : r.kw_hi;
    const std::int64_t row_taps = KW > 0 ? KW : r.kernel_w, cp = r.channels_padded;
    const std::int32_t* wc = static_cast<const std::int32_t*>(r.weights) + c;
    const AType* xc = r.x + p0 * r.x_step + c;
    __m512i acc[P];
    QSAFE_UNROLL
    for (int q = 0; q < P; ++q) acc[q] = _mm512_setzero_si512();
    __m512i wsum = _mm512_setzero_si512();
    if constexpr (S > 0) {
      constexpr int kColumns = (P - 1) * S + KW;
      // One window row per iteration, not unrolled: Clang would otherwise schedule every row's
      // column loads together and spill the tile.
      QSAFE_DEPTHWISE_NO_UNROLL
      for (int kh = 0; kh < KH; ++kh) {
        __m512i w[KW];
        QSAFE_UNROLL
        for (int kw = 0; kw < KW; ++kw) w[kw] = _mm512_loadu_si512(wc + (kh * KW + kw) * cp);
        mac_columns<0, kColumns, P, S, KW, kMasked>(acc, xc + kh * r.tap_h, r.channels, w, mask);
      }
    } else {
      for (int kh = kh0; kh < kh1; ++kh) {
        const AType* xr = xc + (kh - kh0) * r.tap_h;
        const std::int32_t* wr = wc + kh * row_taps * cp;
        for (int kw = kw0; kw < kw1; ++kw) {
          const __m512i w = _mm512_loadu_si512(wr + kw * cp);
          if (!kFull) wsum = _mm512_add_epi32(wsum, w);
          mac<0, P, kMasked>(acc, xr + (kw - kw0) * r.tap_w, r.x_step, w, mask);
        }
      }
    }
    if (kFull) wsum = _mm512_loadu_si512(r.weight_sums + c);
    const std::int32_t zp_u = r.zero_point + (std::is_same<AType, std::int8_t>::value ? 128 : 0);
    const __m512i correction = _mm512_mullo_epi32(_mm512_set1_epi32(zp_u), wsum);
    const Lanes16 l{0, c, mask};
    using V = decltype(apply_stages<0>(Isa{}, pipe, correction, l));
    V out[P];
    outputs<0, P>(acc, correction, pipe, l, out);
    stores<0, P>(out, r.y + p0 * r.channels + c, r.channels, mask);
  }
};

}  // namespace detail
}  // namespace qsafe

QSAFE_AVX512_CODE_END

#endif  // QSAFE_KERNEL_ARCH_AVX512_VNNI_DEPTHWISE_HPP_
