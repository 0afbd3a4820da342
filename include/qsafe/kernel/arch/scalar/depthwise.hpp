// qsafe/kernel/arch/scalar/depthwise.hpp: the depthwise-convolution micro-kernel contract and the
// portable kernel, normative for every path.
//
// The driver (kernel/depthwise.hpp) cuts each output row into runs of consecutive output pixels
// that share one rectangle of valid taps [kh_lo, kh_hi) x [kw_lo, kw_hi) (taps on padding are
// left out; the interior of a row is one run, each border pixel its own). A path provides
//
//   template <> struct DepthwiseUkernel<arch::my_isa> {
//     using Weight = ...;                      // packed weight element (int8, int16 or int32)
//     static constexpr int kChannelPad = ...;  // channels padded to a multiple of this
//     static constexpr std::int32_t pack(std::int8_t w) noexcept;  // the packed bits of one weight
//     template <class AType, class Out, class Pipeline>
//     static void run(const DepthwiseRun<AType, Out, Pipeline>& r) noexcept;
//   };
//
// run() computes, for every pixel p < r.count and channel c < r.channels,
//
//   acc = sum over valid taps (kh, kw) of (x(p, kh, kw)[c] - zero_point) * w[kh][kw][c]   (int32)
//   y(p)[c] = store(pipeline(acc))          pipeline position: row 0, column c
//
// with x(p, kh, kw) = r.x + p * r.x_step + (kh - kh_lo) * r.tap_h + (kw - kw_lo) * r.tap_w. Any
// equal integer formulation is allowed: the SIMD paths form sum x * w and subtract
// zero_point * (sum of the valid taps' weights) modulo 2^32, which is exact because the true value
// fits in int32 (taps <= kGemmMaxK). A kernel must not read x outside the taps' C channels (the
// channel tail is masked or done here, by scalar_channels) and must write exactly
// y[p * r.channels + c] for c < r.channels. The packed weights (r.weights, r.weight_sums, padded to
// r.channels_padded) are qsafe's own and may be read in full.
//
// Packed weights: tap-major, weights[(kh * kernel_w + kw) * channels_padded + c] = pack(w[c][kh][kw])
// (zero in padding channels); weight_sums[c] = sum over all taps of w[c][kh][kw].
//
// A path without its own specialization inherits its parent's (the primary template below).
#ifndef QSAFE_KERNEL_ARCH_SCALAR_DEPTHWISE_HPP_
#define QSAFE_KERNEL_ARCH_SCALAR_DEPTHWISE_HPP_

#include <cstdint>

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/scalar/arch.hpp"
#include "qsafe/kernel/arch/scalar/output.hpp"
#include "qsafe/kernel/output_stage.hpp"

// Keeps a loop rolled (the window-row loops of the SIMD kernels: unrolled, Clang schedules every
// row's loads together and spills the register tile).
#if defined(__clang__)
#define QSAFE_DEPTHWISE_NO_UNROLL _Pragma("clang loop unroll(disable)")
#elif defined(__GNUC__)
#define QSAFE_DEPTHWISE_NO_UNROLL _Pragma("GCC unroll 1")
#else
#define QSAFE_DEPTHWISE_NO_UNROLL
#endif

namespace qsafe {
namespace detail {

// One run of output pixels along a row (see above). Element offsets, not bytes.
template <class AType, class Out, class Pipeline>
struct DepthwiseRun {
  const AType* x = nullptr;  // channel 0 of tap (kh_lo, kw_lo) of the first pixel
  std::int64_t count = 0;    // pixels in the run
  std::int64_t x_step = 0;   // from one pixel's window to the next one's (stride_w * C)
  std::int64_t tap_h = 0;    // from tap (kh, kw) to (kh + 1, kw) (dilation_h * in_w * C)
  std::int64_t tap_w = 0;    // from tap (kh, kw) to (kh, kw + 1) (dilation_w * C)
  int kh_lo = 0, kh_hi = 0, kw_lo = 0, kw_hi = 0;
  int kernel_h = 0, kernel_w = 0;
  bool full = false;  // the rectangle is the whole kernel (weight_sums may be used as is)
  std::int32_t zero_point = 0;
  std::int64_t channels = 0;
  std::int64_t channels_padded = 0;
  const void* weights = nullptr;              // [kernel_h * kernel_w][channels_padded] of Weight
  const std::int32_t* weight_sums = nullptr;  // [channels_padded]
  Out* y = nullptr;                           // the first pixel's channel 0; pixels are C apart
  const Pipeline* pipeline = nullptr;
};

template <class Isa>
struct DepthwiseUkernel : DepthwiseUkernel<typename Isa::parent> {};

// Channels [c_begin, c_end) of pixels [p_begin, p_end), one element at a time, exactly as the
// reference: the portable kernel, and the channel tail of SIMD kernels without masked loads.
template <class Weight, class AType, class Out, class Pipeline>
void depthwise_scalar_channels(const DepthwiseRun<AType, Out, Pipeline>& r, std::int64_t p_begin, std::int64_t p_end,
                               std::int64_t c_begin, std::int64_t c_end) noexcept {
  const Weight* w = static_cast<const Weight*>(r.weights);
  for (std::int64_t p = p_begin; p < p_end; ++p) {
    const AType* xp = r.x + p * r.x_step;
    for (std::int64_t c = c_begin; c < c_end; ++c) {
      std::uint32_t acc = 0;  // wraps like the SIMD paths; exact, as the true sum fits in int32
      for (int kh = r.kh_lo; kh < r.kh_hi; ++kh) {
        const AType* row = xp + (kh - r.kh_lo) * r.tap_h;
        const Weight* wrow = w + static_cast<std::int64_t>(kh) * r.kernel_w * r.channels_padded;
        for (int kw = r.kw_lo; kw < r.kw_hi; ++kw) {
          const std::int32_t xv = static_cast<std::int32_t>(row[(kw - r.kw_lo) * r.tap_w + c]) - r.zero_point;
          // Packed weights hold the int8 value in their low bits (x86: high half zero).
          const auto wv = static_cast<std::int32_t>(static_cast<std::int8_t>(wrow[kw * r.channels_padded + c]));
          acc += static_cast<std::uint32_t>(xv * wv);
        }
      }
      store_scalar(r.y + p * r.channels + c,
                   apply_stages_scalar<0>(*r.pipeline, static_cast<std::int32_t>(acc), ElementPos{0, c}));
    }
  }
}

template <>
struct DepthwiseUkernel<arch::scalar> {
  using Weight = std::int8_t;
  static constexpr int kChannelPad = 1;
  static constexpr const char* name = "u8s8_dwconv__scalar";
  static constexpr std::int32_t pack(std::int8_t w) noexcept { return w; }

  template <class AType, class Out, class Pipeline>
  static void run(const DepthwiseRun<AType, Out, Pipeline>& r) noexcept {
    depthwise_scalar_channels<Weight>(r, 0, r.count, 0, r.channels);
  }
};

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_SCALAR_DEPTHWISE_HPP_
