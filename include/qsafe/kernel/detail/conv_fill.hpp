// qsafe/kernel/detail/conv_fill.hpp: the copies conv2d makes to build its GEMM's A (the row
// buffer and im2col rows, see conv2d.hpp), at the ISA of the path that runs the convolution.
//
// Two versions of each fill, chosen by overload on the path's tag (conv2d's run_conv2d<Isa>
// passes Isa{}; a tag converts to its nearest ancestor's overload):
//   arch::scalar       portable: fixed-size memcpy pieces the compiler inlines (16 bytes on a
//                      baseline x86-64 build), memset for the padding;
//   arch::avx512_vnni  64-byte ZMM loads and stores, masked for a tail of channels (a masked
//                      load or store never touches the bytes outside its mask), the zero point
//                      broadcast once into a register for the padding. It carries the VNNI path's
//                      target attribute, so a baseline-compiled binary runs it only on that path.
// Both write the same bytes: the fills are plain copies of x and x_zp.
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
#else
#define QSAFE_CONV_FILL_AVX512 0
#endif

namespace qsafe {
namespace detail {

// Input pixel columns one output row's window covers: (out_w - 1) * stride_w + kernel_w.
constexpr std::int64_t conv2d_row_buffer_columns(const Conv2dGeometry& g) noexcept {
  return (g.out_w() - 1) * g.stride_w + g.kernel_w;
}

// dst[0:c] = src[0:c] in 16-byte pieces (each a fixed-size copy the compiler inlines).
template <class AType>
QSAFE_ALWAYS_INLINE void copy_channels(AType* dst, const AType* src, std::int64_t c) noexcept {
  std::int64_t i = 0;
  for (; i + 16 <= c; i += 16) std::memcpy(dst + i, src + i, 16);
  if (i < c) std::memcpy(dst + i, src + i, static_cast<std::size_t>(c - i));
}

// The row buffer of output row (n, oh): for each input column wp of the window's span and each
// kernel row kh, the in_channels values of that pixel (x_zp off the input):
//   buf[wp][kh][c] = x[n][oh * stride_h - pad_top + kh * dilation_h][wp - pad_left][c]
// Output pixel ow's GEMM row is then buf + ow * stride_w * kernel_h * C: kernel_w * kernel_h * C
// consecutive values in (kw, kh, c) order, the packed weights' K order. Consecutive rows overlap
// (row stride < K), which the micro-kernels allow: they only read A.
template <class AType>
void fill_row_buffer(arch::scalar, const Conv2dGeometry& g, const AType* x, AType x_zp, std::int64_t n, std::int64_t oh,
                     AType* buf, std::int64_t shift = 0) noexcept {
  const std::int64_t cols = conv2d_row_buffer_columns(g), c = g.in_channels, kh_n = g.kernel_h;
  const std::int64_t pitch = kh_n * c;  // buffer elements per input column
  unsigned char zp_byte;
  std::memcpy(&zp_byte, &x_zp, 1);
  // Columns [0, lo) and [hi, cols) are padding; [lo, hi) lie inside the input.
  const std::int64_t lo = g.pad_left < cols ? g.pad_left : cols;
  const std::int64_t hi_in = g.pad_left + g.in_w;
  const std::int64_t hi = hi_in < cols ? hi_in : cols;
  if (shift > 0) {
    for (std::int64_t wp = 0; wp < cols; ++wp)
      for (std::int64_t kh = 0; kh + shift < kh_n; ++kh)
        copy_channels(buf + wp * pitch + kh * c, buf + wp * pitch + (kh + shift) * c, c);
  }
  for (std::int64_t kh = shift > 0 ? kh_n - shift : 0; kh < kh_n; ++kh) {
    const std::int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
    AType* dst = buf + kh * c;
    if (ih < 0 || ih >= g.in_h) {
      for (std::int64_t wp = 0; wp < cols; ++wp) std::memset(dst + wp * pitch, zp_byte, static_cast<std::size_t>(c));
      continue;
    }
    for (std::int64_t wp = 0; wp < lo; ++wp) std::memset(dst + wp * pitch, zp_byte, static_cast<std::size_t>(c));
    const AType* src = x + ((n * g.in_h + ih) * g.in_w + (lo - g.pad_left)) * c;
    AType* d = dst + lo * pitch;
    if (c % 64 == 0) {
      for (std::int64_t wp = lo; wp < hi; ++wp, src += c, d += pitch)
        for (std::int64_t i = 0; i < c; i += 64) std::memcpy(d + i, src + i, 64);
    } else {
      for (std::int64_t wp = lo; wp < hi; ++wp, src += c, d += pitch) copy_channels(d, src, c);
    }
    for (std::int64_t wp = hi; wp < cols; ++wp) std::memset(dst + wp * pitch, zp_byte, static_cast<std::size_t>(c));
  }
}

// Fills rows [row_begin, row_begin + rows) of the im2col matrix: row r is output pixel r (NHWC
// order), laid out group by group, each group K = depth() values in (kw, kh, ic) order:
//   col[r][g * depth + (kw * kernel_h + kh) * icg + ic] = x[n][ih][iw][g * icg + ic]  (x_zp off the input)
template <class AType>
void im2col_rows(arch::scalar, const Conv2dGeometry& g, const AType* x, AType x_zp, std::int64_t row_begin,
                 std::int64_t rows, AType* col) noexcept {
  const std::int64_t oh_n = g.out_h(), ow_n = g.out_w(), icg = g.in_channels_per_group(), depth = g.depth();
  const std::int64_t ld = depth * g.groups;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t pix = row_begin + r;
    const std::int64_t ow = pix % ow_n, oh = (pix / ow_n) % oh_n, n = pix / (ow_n * oh_n);
    AType* dst = col + r * ld;
    for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
      const std::int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
      const bool w_in = iw >= 0 && iw < g.in_w;
      for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
        const std::int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
        const std::int64_t tap = kw * g.kernel_h + kh;
        if (w_in && ih >= 0 && ih < g.in_h) {
          const AType* src = x + ((n * g.in_h + ih) * g.in_w + iw) * g.in_channels;
          for (std::int64_t grp = 0; grp < g.groups; ++grp)
            copy_channels(dst + grp * depth + tap * icg, src + grp * icg, icg);
        } else {
          for (std::int64_t grp = 0; grp < g.groups; ++grp)
            for (std::int64_t ic = 0; ic < icg; ++ic) dst[grp * depth + tap * icg + ic] = x_zp;
        }
      }
    }
  }
}

#if QSAFE_CONV_FILL_AVX512

// GCC 12 PR105593: see config.hpp.
QSAFE_AVX512_CODE_BEGIN

// The lanes of the last c % 64 bytes of a run of c (all 64 if c is a multiple of 64).
inline __mmask64 conv_fill_tail_mask(std::int64_t c) noexcept {
  const unsigned r = static_cast<unsigned>(c % 64);
  return r == 0 ? ~__mmask64{0} : (~__mmask64{0}) >> (64 - r);
}

// dst[0:c] = src[0:c]: full ZMM pieces, then one masked piece for the tail.
QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI void conv_copy_run_avx512(void* dst, const void* src, std::int64_t c,
                                                                       __mmask64 tail) noexcept {
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  std::int64_t i = 0;
  for (; i + 64 <= c; i += 64) _mm512_storeu_si512(d + i, _mm512_loadu_si512(s + i));
  if (i < c) _mm512_mask_storeu_epi8(d + i, tail, _mm512_maskz_loadu_epi8(tail, s + i));
}

// dst[0:c] = the byte in every lane of v.
QSAFE_ALWAYS_INLINE QSAFE_TARGET_AVX512_VNNI void conv_set_run_avx512(void* dst, __m512i v, std::int64_t c,
                                                                      __mmask64 tail) noexcept {
  char* d = static_cast<char*>(dst);
  std::int64_t i = 0;
  for (; i + 64 <= c; i += 64) _mm512_storeu_si512(d + i, v);
  if (i < c) _mm512_mask_storeu_epi8(d + i, tail, v);
}

// As fill_row_buffer(arch::scalar, ...), with ZMM copies.
template <class AType>
QSAFE_TARGET_AVX512_VNNI void fill_row_buffer(arch::avx512_vnni, const Conv2dGeometry& g, const AType* x, AType x_zp,
                                              std::int64_t n, std::int64_t oh, AType* buf,
                                              std::int64_t shift = 0) noexcept {
  const std::int64_t cols = conv2d_row_buffer_columns(g), c = g.in_channels, kh_n = g.kernel_h;
  const std::int64_t pitch = kh_n * c;
  char zp_byte;
  std::memcpy(&zp_byte, &x_zp, 1);
  const __m512i zp = _mm512_set1_epi8(zp_byte);
  const __mmask64 tail = conv_fill_tail_mask(c);
  const std::int64_t lo = g.pad_left < cols ? g.pad_left : cols;
  const std::int64_t hi_in = g.pad_left + g.in_w;
  const std::int64_t hi = hi_in < cols ? hi_in : cols;
  if (shift > 0) {
    // Slots [shift, kh_n) of each column move down to [0, kh_n - shift) as one run: ascending
    // pieces, each loaded before it is stored, so the forward overlap is safe.
    const std::int64_t run = (kh_n - shift) * c;
    const __mmask64 run_tail = conv_fill_tail_mask(run);
    if (shift == 1) {
      // One new slot: move and fill column by column, in one pass over the buffer.
      const std::int64_t ih = oh * g.stride_h - g.pad_top + (kh_n - 1) * g.dilation_h;
      const bool row_in = ih >= 0 && ih < g.in_h;
      const AType* src = x + (n * g.in_h + (row_in ? ih : 0)) * g.in_w * c;  // column wp: src + (wp - pad_left) * c
      AType* d = buf;
      for (std::int64_t wp = 0; wp < cols; ++wp, d += pitch) {
        conv_copy_run_avx512(d, d + c, run, run_tail);
        if (row_in && wp >= lo && wp < hi) {
          conv_copy_run_avx512(d + run, src + (wp - g.pad_left) * c, c, tail);
        } else {
          conv_set_run_avx512(d + run, zp, c, tail);
        }
      }
      return;
    }
    for (std::int64_t wp = 0; wp < cols; ++wp)
      conv_copy_run_avx512(buf + wp * pitch, buf + wp * pitch + shift * c, run, run_tail);
  }
  for (std::int64_t kh = shift > 0 ? kh_n - shift : 0; kh < kh_n; ++kh) {
    const std::int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
    AType* dst = buf + kh * c;
    if (ih < 0 || ih >= g.in_h) {
      for (std::int64_t wp = 0; wp < cols; ++wp) conv_set_run_avx512(dst + wp * pitch, zp, c, tail);
      continue;
    }
    for (std::int64_t wp = 0; wp < lo; ++wp) conv_set_run_avx512(dst + wp * pitch, zp, c, tail);
    const AType* src = x + ((n * g.in_h + ih) * g.in_w + (lo - g.pad_left)) * c;
    AType* d = dst + lo * pitch;
    if (c == 64) {
      for (std::int64_t wp = lo; wp < hi; ++wp, src += c, d += pitch) _mm512_storeu_si512(d, _mm512_loadu_si512(src));
    } else {
      for (std::int64_t wp = lo; wp < hi; ++wp, src += c, d += pitch) conv_copy_run_avx512(d, src, c, tail);
    }
    for (std::int64_t wp = hi; wp < cols; ++wp) conv_set_run_avx512(dst + wp * pitch, zp, c, tail);
  }
}

// As im2col_rows(arch::scalar, ...), with ZMM copies.
template <class AType>
QSAFE_TARGET_AVX512_VNNI void im2col_rows(arch::avx512_vnni, const Conv2dGeometry& g, const AType* x, AType x_zp,
                                          std::int64_t row_begin, std::int64_t rows, AType* col) noexcept {
  const std::int64_t oh_n = g.out_h(), ow_n = g.out_w(), icg = g.in_channels_per_group(), depth = g.depth();
  const std::int64_t ld = depth * g.groups;
  char zp_byte;
  std::memcpy(&zp_byte, &x_zp, 1);
  const __m512i zp = _mm512_set1_epi8(zp_byte);
  const __mmask64 tail = conv_fill_tail_mask(icg);
  std::int64_t ow = row_begin % ow_n, oh = (row_begin / ow_n) % oh_n, n = row_begin / (ow_n * oh_n);
  for (std::int64_t r = 0; r < rows; ++r) {
    AType* dst = col + r * ld;
    for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
      const std::int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
      const bool w_in = iw >= 0 && iw < g.in_w;
      for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
        const std::int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
        AType* d = dst + (kw * g.kernel_h + kh) * icg;
        if (w_in && ih >= 0 && ih < g.in_h) {
          const AType* src = x + ((n * g.in_h + ih) * g.in_w + iw) * g.in_channels;
          for (std::int64_t grp = 0; grp < g.groups; ++grp)
            conv_copy_run_avx512(d + grp * depth, src + grp * icg, icg, tail);
        } else {
          for (std::int64_t grp = 0; grp < g.groups; ++grp) conv_set_run_avx512(d + grp * depth, zp, icg, tail);
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

QSAFE_AVX512_CODE_END

#endif  // QSAFE_CONV_FILL_AVX512

}  // namespace detail
}  // namespace qsafe

#endif  // QSAFE_KERNEL_DETAIL_CONV_FILL_HPP_
