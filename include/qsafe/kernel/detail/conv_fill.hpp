// qsafe/kernel/detail/conv_fill.hpp: the copies conv2d makes to build its GEMM's A (padded input
// rows and im2col rows, see conv2d.hpp), at the ISA of the path that runs the convolution.
//
// Each fill's loop nest is written once, as a walk over the runs of channels it writes (copy a
// run from x, or pad it with the zero point), generic over a copier that does those runs:
//   ConvFillPortable  fixed-size memcpy pieces the compiler inlines (16 bytes on a baseline x86-64
//                     build), memset for the padding;
//   ConvFillAvx512    64-byte ZMM loads and stores, masked for a tail of channels (a masked load
//                     or store never touches the bytes outside its mask), the zero point broadcast
//                     once into a register for the padding. It carries the VNNI path's target
//                     attribute, so a baseline-compiled binary runs it only on that path.
// fill_padded_row / im2col_rows are overloads on the path's tag (conv2d's run_conv2d<Isa> passes
// Isa{}; a tag converts to its nearest ancestor's overload): arch::scalar runs the walks with the
// portable copier, arch::avx512_vnni with the AVX-512 one. Both write the same bytes: the fills
// are plain copies of x and x_zp.
#ifndef QSAFE_KERNEL_DETAIL_CONV_FILL_HPP_
#define QSAFE_KERNEL_DETAIL_CONV_FILL_HPP_

#include <cstdint>
#include <cstring>

#include "qsafe/config.hpp"
#include "qsafe/core/conv_geometry.hpp"
#include "qsafe/kernel/arch/scalar/arch.hpp"

#if QSAFE_X86_64 && QSAFE_COMPILE_AVX512_VNNI
#include <immintrin.h>

#include "qsafe/kernel/arch/avx512_vnni/arch.hpp"
#define QSAFE_CONV_FILL_AVX512 1
#if defined(__GNUC__) || defined(__clang__)
#define QSAFE_CONV_FILL_FLATTEN __attribute__((flatten))
#else
#define QSAFE_CONV_FILL_FLATTEN
#endif
#else
#define QSAFE_CONV_FILL_AVX512 0
#endif

namespace qsafe {
namespace detail {

// Input pixel columns one output row's window covers: (out_w - 1) * stride_w + kernel_w.
constexpr std::int64_t conv2d_row_buffer_columns(const Conv2dGeometry& g) noexcept {
  return (g.out_w() - 1) * g.stride_w + g.kernel_w;
}

// How the fills below copy: each walks its loop nest once (conv_fill_padded_row_walk,
// conv_fill_im2col_walk) and hands every run of channels to a copier, the one thing that differs
// between ISAs. A copier C has
//   C::Run C::run(n)             a run of n bytes, with whatever C wants computed once per length;
//   copy(dst, src, run)          dst[0:n] = src[0:n] (not overlapping);
//   pad(dst, run)                dst[0:n] = the zero point.
// The walks are always-inline templates without a target attribute: the portable copier inlines
// into them; the AVX-512 copier's functions carry the VNNI path's target attribute, so they cannot
// be always-inline into a walk (GCC and Clang refuse: target mismatch) and are plain inline, and
// the AVX-512 fills, which carry the attribute, are flattened: the walk and every copier call in it
// are inlined into them.

// The portable copier: fixed-size memcpy pieces the compiler inlines (64 and 16 bytes; on a
// baseline x86-64 build, 16-byte SSE loads and stores), memset for the padding.
struct ConvFillPortable {
  struct Run {
    std::int64_t n;
  };
  unsigned char zp;

  template <class AType>
  explicit ConvFillPortable(AType x_zp) noexcept : zp(0) {
    static_assert(sizeof(AType) == 1, "the fills copy bytes");
    std::memcpy(&zp, &x_zp, 1);
  }
  QSAFE_ALWAYS_INLINE static Run run(std::int64_t n) noexcept { return {n}; }
  QSAFE_ALWAYS_INLINE static void copy(void* dst, const void* src, Run r) noexcept {
    unsigned char* d = static_cast<unsigned char*>(dst);
    const unsigned char* s = static_cast<const unsigned char*>(src);
    std::int64_t i = 0;
    for (; i + 64 <= r.n; i += 64) std::memcpy(d + i, s + i, 64);
    for (; i + 16 <= r.n; i += 16) std::memcpy(d + i, s + i, 16);
    if (i < r.n) std::memcpy(d + i, s + i, static_cast<std::size_t>(r.n - i));
  }
  QSAFE_ALWAYS_INLINE void pad(void* dst, Run r) const noexcept { std::memset(dst, zp, static_cast<std::size_t>(r.n)); }
};

// One padded input row of the row path (conv2d.hpp): columns [0, cols) of the window's span,
//   slot[wp][c] = x[n][ih][wp - pad_left][c]   (x_zp where wp - pad_left is off the input, and
//                                               everywhere if ih is off the input)
// cols = conv2d_row_buffer_columns(g). Output pixel ow's piece of this kernel row is then
// slot + ow * stride_w * C: kernel_w * C consecutive values in (kw, c) order.
template <class Copier, class AType>
QSAFE_ALWAYS_INLINE void conv_fill_padded_row_walk(const Copier& cp, const Conv2dGeometry& g, const AType* x,
                                                   std::int64_t n, std::int64_t ih, AType* slot) noexcept {
  const std::int64_t cols = conv2d_row_buffer_columns(g), c = g.in_channels;
  if (ih < 0 || ih >= g.in_h) {
    cp.pad(slot, cp.run(cols * c));
    return;
  }
  // Columns [0, lo) and [hi, cols) are padding; [lo, hi) lie inside the input (lo = pad_left
  // when that range is not empty: its first column is x's first).
  const std::int64_t lo = g.pad_left < cols ? g.pad_left : cols;
  const std::int64_t hi_in = g.pad_left + g.in_w;
  const std::int64_t hi = hi_in < cols ? hi_in : cols;
  if (lo > 0) cp.pad(slot, cp.run(lo * c));
  if (hi > lo) cp.copy(slot + lo * c, x + (n * g.in_h + ih) * g.in_w * c, cp.run((hi - lo) * c));
  if (cols > hi) cp.pad(slot + hi * c, cp.run((cols - hi) * c));
}

// Rows [row_begin, row_begin + rows) of the im2col matrix: row r is output pixel r (NHWC order),
// laid out group by group, each group K = depth() values in (kh, kw, ic) order:
//   col[r][g * depth + (kh * kernel_w + kw) * icg + ic] = x[n][ih][iw][g * icg + ic]  (x_zp off the input)
template <class Copier, class AType>
QSAFE_ALWAYS_INLINE void conv_fill_im2col_walk(const Copier& cp, const Conv2dGeometry& g, const AType* x,
                                               std::int64_t row_begin, std::int64_t rows, AType* col) noexcept {
  const std::int64_t oh_n = g.out_h(), ow_n = g.out_w(), icg = g.in_channels_per_group(), depth = g.depth();
  // The geometry in locals: the copies store through pointers that may alias g, so its fields
  // would be reloaded after every run.
  const std::int64_t kw_n = g.kernel_w, kh_n = g.kernel_h, groups = g.groups, c = g.in_channels;
  const std::int64_t in_h = g.in_h, in_w = g.in_w, dil_w = g.dilation_w, dil_h = g.dilation_h;
  const std::int64_t ld = depth * groups;
  const typename Copier::Run run_icg = cp.run(icg);
  std::int64_t ow = row_begin % ow_n, oh = (row_begin / ow_n) % oh_n, n = row_begin / (ow_n * oh_n);
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t iw0 = ow * g.stride_w - g.pad_left, ih0 = oh * g.stride_h - g.pad_top;
    AType* d = col + r * ld;  // the taps in (kh, kw) order, icg apart
    for (std::int64_t kh = 0; kh < kh_n; ++kh) {
      const std::int64_t ih = ih0 + kh * dil_h;
      const bool h_in = ih >= 0 && ih < in_h;
      for (std::int64_t kw = 0; kw < kw_n; ++kw, d += icg) {
        const std::int64_t iw = iw0 + kw * dil_w;
        if (h_in && iw >= 0 && iw < in_w) {
          const AType* src = x + ((n * in_h + ih) * in_w + iw) * c;
          for (std::int64_t grp = 0; grp < groups; ++grp) cp.copy(d + grp * depth, src + grp * icg, run_icg);
        } else {
          for (std::int64_t grp = 0; grp < groups; ++grp) cp.pad(d + grp * depth, run_icg);
        }
      }
    }
    if (++ow == ow_n) {
      ow = 0;
      if (++oh == oh_n) {
        oh = 0;
        ++n;
      }
    }
  }
}

// The fills conv2d calls: the walks with the path's copier (see the top of this file).
template <class AType>
void fill_padded_row(arch::scalar, const Conv2dGeometry& g, const AType* x, AType x_zp, std::int64_t n, std::int64_t ih,
                     AType* slot) noexcept {
  conv_fill_padded_row_walk(ConvFillPortable(x_zp), g, x, n, ih, slot);
}

template <class AType>
void im2col_rows(arch::scalar, const Conv2dGeometry& g, const AType* x, AType x_zp, std::int64_t row_begin,
                 std::int64_t rows, AType* col) noexcept {
  conv_fill_im2col_walk(ConvFillPortable(x_zp), g, x, row_begin, rows, col);
}

#if QSAFE_CONV_FILL_AVX512

// GCC 12 PR105593: see config.hpp.
QSAFE_AVX512_CODE_BEGIN

// The AVX-512 copier: 64-byte ZMM loads and stores, then one masked piece for a run's tail (a
// masked load or store never touches the bytes outside its mask; the mask is computed once per
// run length), the zero point broadcast once into a register for the padding.
struct ConvFillAvx512 {
  struct Run {
    std::int64_t n;
    __mmask64 tail;  // the lanes of the last n % 64 bytes (all 64 if n is a multiple of 64)
  };
  __m512i zp;

  template <class AType>
  QSAFE_TARGET_AVX512_VNNI explicit ConvFillAvx512(AType x_zp) noexcept {
    static_assert(sizeof(AType) == 1, "the fills copy bytes");
    char b;
    std::memcpy(&b, &x_zp, 1);
    zp = _mm512_set1_epi8(b);
  }
  QSAFE_TARGET_AVX512_VNNI static Run run(std::int64_t n) noexcept {
    const unsigned r = static_cast<unsigned>(n % 64);
    return {n, r == 0 ? ~__mmask64{0} : (~__mmask64{0}) >> (64 - r)};
  }
  QSAFE_TARGET_AVX512_VNNI static void copy(void* dst, const void* src, Run r) noexcept {
    char* d = static_cast<char*>(dst);
    const char* s = static_cast<const char*>(src);
    std::int64_t i = 0;
    for (; i + 64 <= r.n; i += 64) _mm512_storeu_si512(d + i, _mm512_loadu_si512(s + i));
    if (i < r.n) _mm512_mask_storeu_epi8(d + i, r.tail, _mm512_maskz_loadu_epi8(r.tail, s + i));
  }
  QSAFE_TARGET_AVX512_VNNI void pad(void* dst, Run r) const noexcept {
    char* d = static_cast<char*>(dst);
    std::int64_t i = 0;
    for (; i + 64 <= r.n; i += 64) _mm512_storeu_si512(d + i, zp);
    if (i < r.n) _mm512_mask_storeu_epi8(d + i, r.tail, zp);
  }
};

// flatten: the walk (always-inline) and every copier call it makes are inlined here, where the
// target attribute lets them inline.
template <class AType>
QSAFE_TARGET_AVX512_VNNI QSAFE_CONV_FILL_FLATTEN void fill_padded_row(arch::avx512_vnni, const Conv2dGeometry& g,
                                                                      const AType* x, AType x_zp, std::int64_t n,
                                                                      std::int64_t ih, AType* slot) noexcept {
  conv_fill_padded_row_walk(ConvFillAvx512(x_zp), g, x, n, ih, slot);
}

template <class AType>
QSAFE_TARGET_AVX512_VNNI QSAFE_CONV_FILL_FLATTEN void im2col_rows(arch::avx512_vnni, const Conv2dGeometry& g,
                                                                  const AType* x, AType x_zp, std::int64_t row_begin,
                                                                  std::int64_t rows, AType* col) noexcept {
  conv_fill_im2col_walk(ConvFillAvx512(x_zp), g, x, row_begin, rows, col);
}

QSAFE_AVX512_CODE_END

#endif  // QSAFE_CONV_FILL_AVX512

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_DETAIL_CONV_FILL_HPP_
