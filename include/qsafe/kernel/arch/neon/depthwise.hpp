// qsafe/kernel/arch/neon/depthwise.hpp: depthwise convolution with NEON widening multiply-adds,
// u8s8_dwconv_4x8__neon. Also the neon_dotprod path's kernel (it has no specialization of its own:
// SDOT sums four products of one lane, while depthwise sums taps of one channel, spread over
// pixels; feeding SDOT would need a 4-way byte transpose of every window).
//
// Per tap and block of 8 channels (one int16x8 weight register, two int32x4 accumulators):
//
//   d   = USUBL(x[8 bytes], zp)   (uint8: x - zp in [-255, 255], exact as int16; int8: SSUBL)
//   acc.lo = SMLAL(acc.lo, d.lo, w.lo)     acc.hi = SMLAL2(acc.hi, d, w)
//
// The zero point is subtracted before the multiply, so taps on padding are simply left out and no
// correction is needed. |d * w| <= 255 * 128, and the int32 sum is exact (taps <= kGemmMaxK).
//
// Register tile: 4 output pixels x 8 channels (8 accumulators); one weight load per tap feeds the 4
// pixels; 3x3 and 5x5 windows are unrolled. The channel tail (C % 8) runs the scalar reference loop.
// Outputs go through the NEON output stages (arch/neon/output.hpp) two registers at a time.
#ifndef QSAFE_KERNEL_ARCH_NEON_DEPTHWISE_HPP_
#define QSAFE_KERNEL_ARCH_NEON_DEPTHWISE_HPP_

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/neon/arch.hpp"
#include "qsafe/kernel/arch/neon/output.hpp"
#include "qsafe/kernel/arch/scalar/depthwise.hpp"

#if QSAFE_AARCH64

#include <arm_neon.h>

#include <cstdint>
#include <type_traits>

namespace qsafe {
namespace detail {

template <>
struct DepthwiseUkernel<arch::neon> {
  using Weight = std::int16_t;
  static constexpr int kChannelPad = 8;
  static constexpr int kPixels = 4;
  static constexpr const char* name = "u8s8_dwconv_4x8__neon";
  static constexpr std::int32_t pack(std::int8_t w) noexcept { return w; }

  template <class AType, class Out, class Pipeline>
  static void run(const DepthwiseRun<AType, Out, Pipeline>& r) noexcept {
    const Pipeline pipe = *r.pipeline;  // local: stores through y cannot force reloads of its parameters
    const std::int64_t vector_channels = r.channels & ~std::int64_t{7};
    if (vector_channels > 0) {
      if (r.full && r.kernel_h == 3 && r.kernel_w == 3) {
        pixels<3, 3>(r, pipe, vector_channels);
      } else if (r.full && r.kernel_h == 5 && r.kernel_w == 5) {
        pixels<5, 5>(r, pipe, vector_channels);
      } else {
        pixels<0, 0>(r, pipe, vector_channels);
      }
    }
    if (vector_channels < r.channels) depthwise_scalar_channels<Weight>(r, 0, r.count, vector_channels, r.channels);
  }

 private:
  template <int KH, int KW, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE static void pixels(const DepthwiseRun<AType, Out, Pipeline>& r, const Pipeline& pipe,
                                         std::int64_t channels) noexcept {
    std::int64_t p = 0;
    for (; p + kPixels <= r.count; p += kPixels)
      for (std::int64_t c = 0; c < channels; c += 8) block<kPixels, KH, KW>(r, pipe, p, c);
    for (; p < r.count; ++p)
      for (std::int64_t c = 0; c < channels; c += 8) block<1, KH, KW>(r, pipe, p, c);
  }

  // x - zero_point for 8 channels, as int16.
  QSAFE_ALWAYS_INLINE static int16x8_t centred(const std::uint8_t* p, std::int32_t zp) noexcept {
    return vreinterpretq_s16_u16(vsubl_u8(vld1_u8(p), vdup_n_u8(static_cast<std::uint8_t>(zp))));
  }
  QSAFE_ALWAYS_INLINE static int16x8_t centred(const std::int8_t* p, std::int32_t zp) noexcept {
    return vsubl_s8(vld1_s8(p), vdup_n_s8(static_cast<std::int8_t>(zp)));
  }

  template <int q, int P, class AType>
  QSAFE_ALWAYS_INLINE static void mac(int32x4_t (&lo)[P], int32x4_t (&hi)[P], const AType* x, std::int64_t step,
                                      std::int32_t zp, int16x8_t w) noexcept {
    if constexpr (q < P) {
      const int16x8_t d = centred(x + q * step, zp);
      lo[q] = vmlal_s16(lo[q], vget_low_s16(d), vget_low_s16(w));
      hi[q] = vmlal_high_s16(hi[q], d, w);
      mac<q + 1, P>(lo, hi, x, step, zp, w);
    }
  }

  template <int q, int P, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE static void finish(const int32x4_t (&lo)[P], const int32x4_t (&hi)[P], const Pipeline& pipe,
                                         Out* y, std::int64_t step, std::int64_t c) noexcept {
    if constexpr (q < P) {
      store8(y + q * step, apply_stages<0>(arch::neon{}, pipe, lo[q], Lanes4{0, c}),
             apply_stages<0>(arch::neon{}, pipe, hi[q], Lanes4{0, c + 4}));
      finish<q + 1, P>(lo, hi, pipe, y, step, c);
    }
  }

  template <int P, int KH, int KW, class AType, class Out, class Pipeline>
  QSAFE_ALWAYS_INLINE static void block(const DepthwiseRun<AType, Out, Pipeline>& r, const Pipeline& pipe,
                                        std::int64_t p0, std::int64_t c) noexcept {
    const int kh0 = KH > 0 ? 0 : r.kh_lo, kw0 = KW > 0 ? 0 : r.kw_lo;
    const int kh1 = KH > 0 ? KH : r.kh_hi, kw1 = KW > 0 ? KW : r.kw_hi;
    const std::int64_t row_taps = KW > 0 ? KW : r.kernel_w, cp = r.channels_padded;
    const std::int16_t* wc = static_cast<const std::int16_t*>(r.weights) + c;
    const AType* xc = r.x + p0 * r.x_step + c;
    int32x4_t lo[P], hi[P];
    QSAFE_UNROLL
    for (int q = 0; q < P; ++q) lo[q] = hi[q] = vdupq_n_s32(0);
    // No unroll pragma on the window loops: their bounds are run-time values in the general
    // variant (Clang's -Wpass-failed then fails -Werror builds); the 3x3 / 5x5 variants have
    // constant bounds the optimizer unrolls by itself.
    for (int kh = kh0; kh < kh1; ++kh) {
      const AType* xr = xc + (kh - kh0) * r.tap_h;
      const std::int16_t* wr = wc + kh * row_taps * cp;
      for (int kw = kw0; kw < kw1; ++kw)
        mac<0, P>(lo, hi, xr + (kw - kw0) * r.tap_w, r.x_step, r.zero_point, vld1q_s16(wr + kw * cp));
    }
    finish<0, P>(lo, hi, pipe, r.y + p0 * r.channels + c, r.channels, c);
  }
};

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_AARCH64
#endif  // QSAFE_KERNEL_ARCH_NEON_DEPTHWISE_HPP_
