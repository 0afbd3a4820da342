// qsafe/kernel/conv2d.hpp: quantized 2-D convolution on NHWC activations, built on the GEMM.
//
//   x  uint8 or int8 NHWC [batch, in_h, in_w, in_channels], affine with one zero point x_zp (in
//      the type's range). Padded positions hold x_zp, so they dequantize to 0 and add nothing.
//   w  int8 symmetric, PyTorch's OIHW [out_channels, in_channels / groups, kernel_h, kernel_w],
//      packed once by pack_conv2d_weights for one path (per-channel scales belong to the output
//      stage, as for the GEMM).
//   acc[n][oh][ow][oc] = sum over the window taps inside the input and ic of group(oc):
//                        (x[n][ih][iw][ic] - x_zp) * w[oc][ic - group_base][kh][kw]
//      ih = oh * stride_h - pad_top + kh * dilation_h, iw likewise; exact in int32 for
//      depth() = (in_channels / groups) * kernel_h * kernel_w <= kGemmMaxK (65793).
//   y  NHWC [batch, out_h, out_w, out_channels] of int32, int8, uint8 or float: pipeline(acc)
//      with the GEMM's output stages (output_stage.hpp). Per-channel stage parameters are spans of
//      out_channels (or 1); the Dequantize activation scale must be per tensor (a span of 1).
//
// The geometry (core/conv_geometry.hpp) gives stride, padding (symmetric or not), dilation and
// groups. Three steps, as for the GEMM:
//   check_conv2d(...)            every precondition, no side effects;
//   conv2d_workspace_size(...)   bytes of caller scratch conv2d() needs;
//   conv2d(...)                  calls check_conv2d itself, then runs with no error branches.
//
// How it runs (docs/kernels.md, "Convolution (conv2d)"): the GEMM's micro-kernels and output
// stages, once per group, with M = output pixels, N = out_channels / groups and
// K = kernel_h * kernel_w * (in_channels / groups) in (kh, kw, ic) order (the packed weights'
// order). Where A comes from:
//   1x1, stride 1, no padding     x itself (row stride in_channels; a group is a column offset);
//   groups 1, dilation_w 1,       the row path, one GEMM per output row: pixel ow's A row is, per
//   kernel_w * C % 4 == 0,        kernel row kh, the kernel_w * C values of input row ih(kh) from
//   kernel_h <= 16, output rows   column ow * stride_w on (a piece, PiecewiseA in
//   >= 7 wide (16 on AVX2),       detail/ukernel.hpp). Input rows are read from x in place when
//   single-threaded               the window needs no column padding, else from slots holding one
//                                 padded input row each, filled once and reused by every output
//                                 row that needs them (stride 1: one new input row per output
//                                 row). Kernel rows that lie wholly in the top or bottom padding
//                                 are left out of K (the packed weights keep per-kernel-row
//                                 column sums for the zero-point correction of what is left);
//   anything else                 im2col rows in chunks of at most kConv2dIm2colBudget bytes
//                                 (the workspace does not grow with the image; the GEMM splits
//                                 each chunk's rows and panels into tasks).
// Padding is written as x_zp. The fills are in detail/conv_fill.hpp (ZMM copies on the AVX-512
// path). The micro-kernels only read A, so overlapping rows are safe; this header calls the GEMM
// driver (detail::run_gemm) directly after its own checks, since the public gemm() rejects a row
// stride shorter than a row.
//
// Paths: conv2d<arch::avx2>(...) forces one path (unsupported_arch if not compiled or not on this
// CPU; invalid_argument for weights packed for another path); conv2d(...) runs the path the
// weights were packed for; pack_conv2d_weights(...) packs for the best path this CPU runs.
//
// Status codes: ok; invalid_argument (geometry (Conv2dGeometry::check), zero point out of x's
// range, stage parameters, weights packed for another path or empty); shape_mismatch (x or y not
// the geometry's size, weights packed for other channels / kernel / groups, stage span sizes,
// a per-pixel activation scale); null_pointer; overflow_risk (depth() > kGemmMaxK);
// workspace_too_small; unsupported_arch; non_finite_input (NaN or Inf scale or bias in a stage).
#ifndef QSAFE_KERNEL_CONV2D_HPP_
#define QSAFE_KERNEL_CONV2D_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#include "qsafe/core/conv_geometry.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/core/tensor_view.hpp"
#include "qsafe/kernel/detail/conv_fill.hpp"
#include "qsafe/kernel/gemm.hpp"

namespace qsafe {

// Largest im2col chunk conv2d copies at a time (bytes). Sized to stay in a 1 MB L2 next to the
// weight panels; the chunk is at least one register tile of rows whatever K is.
inline constexpr std::int64_t kConv2dIm2colBudget = 256 * 1024;
// Narrowest output row the row path takes (narrower rows leave register tiles part empty, so
// im2col over many rows is faster there): 7 on paths that read A in place (a 7 x 7 or 14 x 14
// output is whole 7-row AVX-512 tiles, and the row path leaves the padded kernel rows out: 14 x 14
// x 256 3x3 1.01x -> 1.07x oneDNN, 7 x 7 x 512 1.12x -> 1.20x); 16 on paths that pack A (AVX2
// widens every GEMM call's A: 5 % slower per 14-pixel row than im2col's few large calls).
inline constexpr std::int64_t kConv2dRowBufferMinWidth = 16;
inline constexpr std::int64_t kConv2dRowBufferMinWidthInPlace = 7;
// Most kernel rows the row path takes (its pieces' pointers live on the stack).
inline constexpr std::int64_t kConv2dRowPathMaxKernelH = 16;

// Convolution weights packed for one path: one PackedWeights per group (N = out_channels /
// groups, K = depth()), back to back in the caller's storage. A non-owning view.
class PackedConv2dWeights {
 public:
  constexpr PackedConv2dWeights() noexcept = default;

  constexpr arch::Id arch() const noexcept { return layout_.arch; }
  constexpr bool empty() const noexcept { return layout_.arch == arch::Id::none; }
  constexpr std::int64_t out_channels() const noexcept { return out_channels_; }
  constexpr std::int64_t in_channels() const noexcept { return in_channels_; }
  constexpr std::int64_t kernel_h() const noexcept { return kernel_h_; }
  constexpr std::int64_t kernel_w() const noexcept { return kernel_w_; }
  constexpr std::int64_t groups() const noexcept { return groups_; }
  // Whether these weights fit a geometry (channels, kernel size and groups; not the image size).
  constexpr bool matches(const Conv2dGeometry& g) const noexcept {
    return g.out_channels == out_channels_ && g.in_channels == in_channels_ && g.kernel_h == kernel_h_ &&
           g.kernel_w == kernel_w_ && g.groups == groups_;
  }
  // The GEMM weights of group g (0 <= g < groups()).
  PackedWeights group(std::int64_t g) const noexcept {
    return PackedWeights::over(layout_, base_ + static_cast<std::size_t>(g) * group_bytes_);
  }
  // Column sums of group g over kernel row kh alone (n_padded of them, for each kh in turn): the
  // row path's zero-point correction when it leaves padded kernel rows out of K.
  const std::int32_t* kernel_row_sums(std::int64_t g) const noexcept {
    return row_sums_ + g * kernel_h_ * PackedWeights::round_up(layout_.n, layout_.nr);
  }

  // Bytes of storage for geometry g's weights packed as l (groups x the GEMM layout, then the
  // kernel-row sums; alignment slack included).
  static constexpr std::size_t storage_bytes(const Conv2dGeometry& g, const PackedWeights::Layout& l) noexcept {
    return PackedWeights::storage_bytes(l) * static_cast<std::size_t>(g.groups) + 3 +
           static_cast<std::size_t>(g.groups * g.kernel_h * PackedWeights::round_up(l.n, l.nr)) * 4;
  }
  // Used by pack_conv2d_weights only.
  static PackedConv2dWeights over(const Conv2dGeometry& g, const PackedWeights::Layout& l, std::byte* base) noexcept {
    PackedConv2dWeights w;
    w.layout_ = l;
    w.base_ = base;
    w.group_bytes_ = PackedWeights::storage_bytes(l);
    w.out_channels_ = g.out_channels;
    w.in_channels_ = g.in_channels;
    w.kernel_h_ = g.kernel_h;
    w.kernel_w_ = g.kernel_w;
    w.groups_ = g.groups;
    std::byte* sums = base + w.group_bytes_ * static_cast<std::size_t>(g.groups);
    sums += (4 - reinterpret_cast<std::uintptr_t>(sums) % 4) % 4;
    w.row_sums_ = reinterpret_cast<std::int32_t*>(sums);
    return w;
  }
  std::int32_t* mutable_kernel_row_sums(std::int64_t g) const noexcept {
    return const_cast<std::int32_t*>(kernel_row_sums(g));
  }

 private:
  PackedWeights::Layout layout_{arch::Id::none, 0, 0, 0, 0, 0, 0};
  std::byte* base_ = nullptr;
  const std::int32_t* row_sums_ = nullptr;
  std::size_t group_bytes_ = 0;
  std::int64_t out_channels_ = 0, in_channels_ = 0, kernel_h_ = 0, kernel_w_ = 0, groups_ = 0;
};

namespace detail {

// Whether conv2d reads x in place as the GEMM's A (1x1, stride 1, no padding).
constexpr bool conv2d_is_pointwise(const Conv2dGeometry& g) noexcept {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 &&
         g.pad_left == 0 && g.pad_bottom == 0 && g.pad_right == 0;
}

// Whether conv2d runs the row path (one GEMM per output row, A in pieces of input rows; see the
// top of this file): groups 1, dilation_w 1, pieces (kernel_w * C values) a multiple of 4 long,
// output rows wide enough to fill register tiles, single-threaded; the rest use im2col chunks.
// min_width: kConv2dRowBufferMinWidth (the default: every path takes these) or, for a path
// whose micro-kernel reads A in place, kConv2dRowBufferMinWidthInPlace (conv2d_row_min_width).
constexpr bool conv2d_uses_row_buffer(const Conv2dGeometry& g, bool threaded = false,
                                      std::int64_t min_width = kConv2dRowBufferMinWidth) noexcept {
  return !threaded && !conv2d_is_pointwise(g) && g.groups == 1 && g.dilation_w == 1 && g.out_w() >= min_width &&
         g.kernel_h <= kConv2dRowPathMaxKernelH && (g.kernel_w * g.in_channels) % 4 == 0;
}
template <class Isa>
constexpr std::int64_t conv2d_row_min_width() noexcept {
  return packs_a<GemmUkernel<Isa>>::value ? kConv2dRowBufferMinWidth : kConv2dRowBufferMinWidthInPlace;
}

// Whether the row path reads x's rows in place (the window needs no column padding).
constexpr bool conv2d_rows_in_place(const Conv2dGeometry& g) noexcept {
  return g.pad_left == 0 && conv2d_row_buffer_columns(g) <= g.in_w;
}

// The row path's slots: kernel_h padded input rows (none when x is read in place), then one
// all-padding row for output rows whose every kernel row lies in the padding. Bytes per slot.
constexpr std::int64_t conv2d_row_slots(const Conv2dGeometry& g) noexcept {
  return (conv2d_rows_in_place(g) ? 0 : g.kernel_h) + 1;
}
constexpr std::int64_t conv2d_row_slot_bytes(const Conv2dGeometry& g) noexcept {
  return (conv2d_row_buffer_columns(g) * g.in_channels + 63) / 64 * 64;
}

// Output pixels per im2col chunk: as few chunks as keep each under kConv2dIm2colBudget (at least
// 24 rows whatever K is), balanced so the last chunk is not a sliver (each chunk streams all the
// weights once), and a multiple of tile_rows (the path's register tile height, GemmUkernel::kMr)
// where rounding up does not add a chunk: a chunk ending in a short rest tile runs that tile's
// rows at a fraction of the full tile's rate (14x14x256 3x3 on AVX-512: 196 rows in chunks of 120
// and 76 ended in 1-, 4- and 2-row tiles; in 98 + 98 = 2 x 14 x 7 rows, none).
constexpr std::int64_t conv2d_chunk_rows(const Conv2dGeometry& g, std::int64_t tile_rows) noexcept {
  const std::int64_t m = g.batch * g.out_h() * g.out_w();
  const std::int64_t row_bytes = g.depth() * g.groups;
  std::int64_t max_rows = kConv2dIm2colBudget / row_bytes;
  max_rows = max_rows < 24 ? 24 : max_rows;
  if (m <= max_rows) return m;
  const std::int64_t chunks = (m + max_rows - 1) / max_rows;
  const std::int64_t rows = (m + chunks - 1) / chunks;
  const std::int64_t rounded = (rows + tile_rows - 1) / tile_rows * tile_rows;
  return (m + rounded - 1) / rounded == chunks ? rounded : rows;
}
template <class Isa>
constexpr std::int64_t conv2d_chunk_rows(const Conv2dGeometry& g) noexcept {
  return conv2d_chunk_rows(g, GemmUkernel<Isa>::kMr);
}

template <class Isa>
constexpr PackedWeights::Layout conv2d_group_layout(const Conv2dGeometry& g) noexcept {
  return packed_layout<Isa>(g.out_channels_per_group(), g.depth());
}

// Pre-checks shared by the size queries (sizes only; conv2d runs check_conv2d).
constexpr bool conv2d_sizes_ok(const Conv2dGeometry& g) noexcept {
  return g.check() == Status::ok && g.depth() <= kGemmMaxK;
}

// A stage with its per-channel parameters narrowed to output channels [offset, offset + count)
// (the columns of one group). Spans of 1 are per tensor and stay as they are.
template <class T>
constexpr Span<const T> channel_slice(Span<const T> s, std::int64_t offset, std::int64_t count) noexcept {
  return s.size() == 1 || s.empty() ? s : s.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(count));
}
inline AddBias slice_stage(AddBias s, std::int64_t o, std::int64_t c) noexcept {
  s.bias = channel_slice(s.bias, o, c);
  return s;
}
inline RequantizeQ31 slice_stage(RequantizeQ31 s, std::int64_t o, std::int64_t c) noexcept {
  s.multiplier = channel_slice(s.multiplier, o, c);
  return s;
}
inline RequantizeQ31SingleRound slice_stage(RequantizeQ31SingleRound s, std::int64_t o, std::int64_t c) noexcept {
  s.multiplier = channel_slice(s.multiplier, o, c);
  return s;
}
inline RequantizeFloat slice_stage(RequantizeFloat s, std::int64_t o, std::int64_t c) noexcept {
  s.multiplier = channel_slice(s.multiplier, o, c);
  return s;
}
inline Dequantize slice_stage(Dequantize s, std::int64_t o, std::int64_t c) noexcept {
  s.weight_scale = channel_slice(s.weight_scale, o, c);
  s.bias = channel_slice(s.bias, o, c);
  return s;
}
inline Clamp slice_stage(Clamp s, std::int64_t, std::int64_t) noexcept { return s; }
inline ClampFloat slice_stage(ClampFloat s, std::int64_t, std::int64_t) noexcept { return s; }

template <class... S, std::size_t... I>
OutputPipeline<S...> slice_pipeline(const OutputPipeline<S...>& p, std::int64_t offset, std::int64_t count,
                                    std::index_sequence<I...>) noexcept {
  (void)offset;  // unused by an empty pipeline
  (void)count;
  return OutputPipeline<S...>{std::tuple<S...>(slice_stage(std::get<I>(p.stages), offset, count)...)};
}
template <class... S>
OutputPipeline<S...> slice_pipeline(const OutputPipeline<S...>& p, std::int64_t offset, std::int64_t count) noexcept {
  return slice_pipeline(p, offset, count, std::index_sequence_for<S...>{});
}

// Byte offset that aligns p to 64.
inline std::size_t align64_offset(const void* p) noexcept {
  const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p);
  return static_cast<std::size_t>((64 - a % 64) % 64);
}

template <class Isa>
std::size_t conv2d_workspace_bytes(const Conv2dGeometry& g, bool threaded) noexcept {
  using U = GemmUkernel<Isa>;
  const std::int64_t m = g.batch * g.out_h() * g.out_w();
  const std::int64_t k_padded = PackedWeights::round_up(g.depth(), U::kKPad);
  if (conv2d_is_pointwise(g)) return workspace_bytes<U>(m, k_padded);
  if (conv2d_uses_row_buffer(g, threaded,
                             conv2d_row_min_width<Isa>()))  // slots, the column sums of a partial K, the GEMM's
    return static_cast<std::size_t>(conv2d_row_slots(g) * conv2d_row_slot_bytes(g) +
                                    PackedWeights::round_up(g.out_channels, U::kNr) * 4) +
           64 + workspace_bytes<U>(g.out_w(), k_padded);
  const std::int64_t rows = conv2d_chunk_rows<Isa>(g);
  return static_cast<std::size_t>(rows * g.depth() * g.groups) + 64 + workspace_bytes<U>(rows, k_padded);
}

// The row path (see the top of this file): one GEMM per output row over pieces of input rows.
template <class Isa, class AType, class Pipeline, class Out>
void run_conv2d_rows(const Conv2dGeometry& g, const AType* x, std::int32_t x_zp, const PackedConv2dWeights& w,
                     const Pipeline& pipeline, Out* y, Span<std::byte> workspace) noexcept {
  // K left out in front (kh_lo * piece_len, a multiple of 4) must start a panel k group.
  static_assert(4 % GemmUkernel<Isa>::kKr == 0, "a piece must hold whole k groups");
  const std::int32_t zp = x_zp;
  const Span<const std::int32_t> zp_span(&zp, 1);
  const PackedWeights pw = w.group(0);
  const std::int64_t kh_n = g.kernel_h, ow_n = g.out_w(), oh_n = g.out_h(), c = g.in_channels;
  const std::int64_t n_padded = pw.n_padded();
  const std::int64_t piece_len = g.kernel_w * c, row_len = g.in_w * c;
  const bool in_place = conv2d_rows_in_place(g);
  // Workspace: the slots, then the column sums of a partial K, then the GEMM's own.
  AType* slots = reinterpret_cast<AType*>(workspace.data() + align64_offset(workspace.data()));
  const std::int64_t slot_bytes = conv2d_row_slot_bytes(g), n_slots = conv2d_row_slots(g);
  std::int32_t* partial_sums = reinterpret_cast<std::int32_t*>(slots + n_slots * slot_bytes);
  const std::size_t used =
      static_cast<std::size_t>(reinterpret_cast<std::byte*>(partial_sums + n_padded) - workspace.data());
  const Span<std::byte> gemm_ws(workspace.data() + used, workspace.size() - used);
  AType* const padding_row = slots + (n_slots - 1) * slot_bytes;
  bool padding_row_filled = false;
  // Which input row (n * in_h + ih) each slot holds, -1 for none.
  std::int64_t held[kConv2dRowPathMaxKernelH];
  for (std::int64_t i = 0; i < kConv2dRowPathMaxKernelH; ++i) held[i] = -1;
  const AType* piece[kConv2dRowPathMaxKernelH];
  const std::int32_t* row_sums = w.kernel_row_sums(0);
  std::int64_t sums_lo = -1, sums_hi = -1;  // the kernel rows partial_sums holds
  for (std::int64_t n = 0; n < g.batch; ++n)
    for (std::int64_t oh = 0; oh < oh_n; ++oh) {
      const std::int64_t ih0 = oh * g.stride_h - g.pad_top, dh = g.dilation_h;
      // Kernel rows [kh_lo, kh_hi) lie inside the input; the others meet only padding (x_zp,
      // contributing nothing) and are left out of K.
      std::int64_t kh_lo = 0, kh_hi = kh_n;
      while (kh_lo < kh_n && ih0 + kh_lo * dh < 0) ++kh_lo;
      while (kh_hi > kh_lo && ih0 + (kh_hi - 1) * dh >= g.in_h) --kh_hi;
      int pieces = 0;
      if (kh_lo == kh_hi) {
        // Every kernel row in the padding: one all-padding piece against kernel row 0 (its
        // products cancel in the correction, so the accumulators are 0).
        if (!padding_row_filled) fill_padded_row(Isa{}, g, x, static_cast<AType>(x_zp), n, -1, padding_row);
        padding_row_filled = true;
        kh_lo = 0;
        kh_hi = 1;
        piece[pieces++] = padding_row;
      } else if (in_place) {
        for (std::int64_t kh = kh_lo; kh < kh_hi; ++kh) piece[pieces++] = x + (n * g.in_h + ih0 + kh * dh) * row_len;
      } else {
        // Slots holding a row this output row needs stay; the rest take its other rows.
        bool keep[kConv2dRowPathMaxKernelH] = {};
        std::int64_t slot_of[kConv2dRowPathMaxKernelH];
        for (std::int64_t kh = kh_lo; kh < kh_hi; ++kh) {
          slot_of[kh] = -1;
          for (std::int64_t i = 0; i < kh_n; ++i)
            if (held[i] == n * g.in_h + ih0 + kh * dh) {
              slot_of[kh] = i;
              keep[i] = true;
            }
        }
        std::int64_t free_slot = 0;
        for (std::int64_t kh = kh_lo; kh < kh_hi; ++kh) {
          if (slot_of[kh] < 0) {
            while (keep[free_slot]) ++free_slot;
            keep[free_slot] = true;
            slot_of[kh] = free_slot;
            held[free_slot] = n * g.in_h + ih0 + kh * dh;
            fill_padded_row(Isa{}, g, x, static_cast<AType>(x_zp), n, ih0 + kh * dh, slots + free_slot * slot_bytes);
          }
          piece[pieces++] = slots + slot_of[kh] * slot_bytes;
        }
      }
      const std::int32_t* sums = pw.col_sums();
      if (kh_hi - kh_lo != kh_n) {
        if (kh_lo != sums_lo || kh_hi != sums_hi) {  // else still there from the previous row
          for (std::int64_t j = 0; j < n_padded; ++j) partial_sums[j] = 0;
          for (std::int64_t kh = kh_lo; kh < kh_hi; ++kh)
            for (std::int64_t j = 0; j < n_padded; ++j) partial_sums[j] += row_sums[kh * n_padded + j];
          sums_lo = kh_lo;
          sums_hi = kh_hi;
        }
        sums = partial_sums;
      }
      const PiecewiseA<AType> a{piece, pieces, piece_len, g.stride_w * c, ow_n, pieces * piece_len};
      const MatrixView<Out> cv(y + (n * oh_n + oh) * ow_n * g.out_channels, ow_n, g.out_channels, g.out_channels);
      run_gemm_pieces<Isa>(a, zp_span, pw, kh_lo * piece_len, sums, pipeline, cv, gemm_ws, ParallelFor{});
    }
}

template <class Isa, class AType, class Pipeline, class Out>
void run_conv2d(const Conv2dGeometry& g, const AType* x, std::int32_t x_zp, const PackedConv2dWeights& w,
                const Pipeline& pipeline, Out* y, Span<std::byte> workspace, const ParallelFor& parallel) noexcept {
  const std::int64_t m = g.batch * g.out_h() * g.out_w();
  const std::int64_t icg = g.in_channels_per_group(), ocg = g.out_channels_per_group(), depth = g.depth();
  const std::int32_t zp = x_zp;
  const Span<const std::int32_t> zp_span(&zp, 1);
  auto run_groups = [&](const AType* a, std::int64_t lda, std::int64_t row0, std::int64_t rows,
                        std::int64_t group_stride, Span<std::byte> gemm_ws) noexcept {
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const PackedWeights pw = w.group(grp);
      const MatrixView<const AType> av(a + grp * group_stride, rows, depth, lda);
      const MatrixView<Out> cv(y + row0 * g.out_channels + grp * ocg, rows, ocg, g.out_channels);
      if (g.groups == 1) {
        run_gemm<Isa>(av, zp_span, pw, pipeline, cv, gemm_ws, parallel);
      } else {
        const Pipeline sliced = slice_pipeline(pipeline, grp * ocg, ocg);
        run_gemm<Isa>(av, zp_span, pw, sliced, cv, gemm_ws, parallel);
      }
    }
  };
  if (conv2d_is_pointwise(g)) {
    run_groups(x, g.in_channels, 0, m, icg, workspace);
    return;
  }
  if (conv2d_uses_row_buffer(g, parallel.run != nullptr, conv2d_row_min_width<Isa>())) {
    run_conv2d_rows<Isa>(g, x, x_zp, w, pipeline, y, workspace);
    return;
  }
  const std::int64_t chunk = conv2d_chunk_rows<Isa>(g);
  const std::int64_t ld = depth * g.groups;
  AType* col = reinterpret_cast<AType*>(workspace.data() + align64_offset(workspace.data()));
  const std::size_t col_bytes = static_cast<std::size_t>(chunk * ld) + 64;
  const Span<std::byte> gemm_ws(workspace.data() + col_bytes, workspace.size() - col_bytes);
  for (std::int64_t row0 = 0; row0 < m; row0 += chunk) {
    const std::int64_t rows = m - row0 < chunk ? m - row0 : chunk;
    im2col_rows(Isa{}, g, x, static_cast<AType>(x_zp), row0, rows, col);
    run_groups(col, ld, row0, rows, depth, gemm_ws);
  }
}

}  // namespace detail

// Bytes of storage pack_conv2d_weights<Isa> needs (64 bytes of alignment slack per group
// included); 0 if the geometry is invalid or depth() > kGemmMaxK. Only the channels, kernel size
// and groups of the geometry matter.
template <class Isa = arch::automatic>
std::size_t conv2d_packed_weights_size(const Conv2dGeometry& g) noexcept {
  if (!detail::conv2d_sizes_ok(g)) return 0;
  return detail::with_isa<Isa>([&](auto isa) noexcept {
    return PackedConv2dWeights::storage_bytes(g, detail::conv2d_group_layout<decltype(isa)>(g));
  });
}

// Packs OIHW int8 weights (g.weight_numel() values) for path Isa into `storage` (kept alive by the
// caller as long as the result is used). Status: invalid_argument (geometry), overflow_risk
// (depth() > kGemmMaxK), shape_mismatch (w not weight_numel() values), null_pointer,
// workspace_too_small (storage smaller than conv2d_packed_weights_size).
template <class Isa = arch::automatic>
Result<PackedConv2dWeights> pack_conv2d_weights(const Conv2dGeometry& g, Span<const std::int8_t> w,
                                                Span<std::byte> storage) noexcept {
  QSAFE_RETURN_IF_ERROR(g.check());
  if (g.depth() > kGemmMaxK) return Status::overflow_risk;
  if (w.size() != static_cast<std::size_t>(g.weight_numel())) return Status::shape_mismatch;
  if (w.data() == nullptr) return Status::null_pointer;
  return detail::with_isa<Isa>([&](auto isa) noexcept -> Result<PackedConv2dWeights> {
    using I = decltype(isa);
    using BElem = typename detail::GemmUkernel<I>::BElem;
    const PackedWeights::Layout l = detail::conv2d_group_layout<I>(g);
    if (storage.size() < PackedConv2dWeights::storage_bytes(g, l)) return Status::workspace_too_small;
    if (storage.data() == nullptr) return Status::null_pointer;
    const PackedConv2dWeights packed = PackedConv2dWeights::over(g, l, storage.data());
    const std::int64_t icg = g.in_channels_per_group(), ocg = g.out_channels_per_group();
    const std::int64_t kh_n = g.kernel_h, kw_n = g.kernel_w;
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const PackedWeights pw = packed.group(grp);
      const std::int64_t kp = pw.k_padded();
      const int nr = pw.nr(), kr = pw.kr();
      std::int32_t* sums = pw.mutable_col_sums();
      std::int32_t* row_sums = packed.mutable_kernel_row_sums(grp);  // [kh][n_padded]
      for (std::int64_t j = 0; j < pw.n_padded(); ++j) sums[j] = 0;
      for (std::int64_t j = 0; j < kh_n * pw.n_padded(); ++j) row_sums[j] = 0;
      for (std::int64_t p = 0; p < pw.panels(); ++p) {
        BElem* panel = reinterpret_cast<BElem*>(pw.mutable_panels()) + p * kp * nr;
        for (std::int64_t i = 0; i < kp * nr; ++i) panel[i] = 0;
        for (int jn = 0; jn < nr; ++jn) {
          const std::int64_t col = p * nr + jn;
          if (col >= ocg) break;
          const std::int8_t* wo = w.data() + (grp * ocg + col) * icg * kh_n * kw_n;  // OIHW row of oc
          std::int32_t sum = 0;
          std::int64_t kk = 0;  // (kh, kw, ic) order, as the fills write A
          for (std::int64_t kh = 0; kh < kh_n; ++kh) {
            std::int32_t row_sum = 0;
            for (std::int64_t kw = 0; kw < kw_n; ++kw)
              for (std::int64_t ic = 0; ic < icg; ++ic, ++kk) {
                const std::int8_t v = wo[(ic * kh_n + kh) * kw_n + kw];
                panel[((kk / kr) * nr + jn) * kr + kk % kr] = static_cast<BElem>(v);
                row_sum += v;  // |sum| <= 128 * kGemmMaxK < 2^31
              }
            row_sums[kh * pw.n_padded() + col] = row_sum;
            sum += row_sum;
          }
          sums[col] = sum;
        }
      }
    }
    return packed;
  });
}

// Scratch bytes conv2d<Isa>() needs for geometry g with these weights (arch::automatic: the path
// the weights were packed for) and the same `parallel` argument conv2d() will get (a pool switches
// the row path to im2col chunks, whose rows the GEMM splits into tasks). Single-threaded: 0 for a
// 1x1 stride-1 unpadded convolution (x read in place) on paths that read A in place; for the row
// path (see the top of this file) up to kernel_h + 1 padded input rows and out_channels column
// sums; else an im2col chunk (at most about kConv2dIm2colBudget).
// Plus what the GEMM path needs for those rows (AVX2 widens A). 0 for an invalid geometry.
template <class Isa = arch::automatic>
std::size_t conv2d_workspace_size(const Conv2dGeometry& g, const PackedConv2dWeights& w,
                                  const ParallelFor& parallel = {}) noexcept {
  if (!detail::conv2d_sizes_ok(g)) return 0;
  const bool threaded = parallel.run != nullptr;
  if constexpr (std::is_same<Isa, arch::automatic>::value) {
    return arch::visit(arch::compiled{}, w.arch(), std::size_t{0},
                       [&](auto isa) noexcept { return detail::conv2d_workspace_bytes<decltype(isa)>(g, threaded); });
  } else {
    return detail::conv2d_workspace_bytes<Isa>(g, threaded);
  }
}

// Every precondition of conv2d<Isa>(...) (see the status list at the top of this file).
template <class Isa = arch::automatic, class AType, class Pipeline, class Out>
Status check_conv2d(const Conv2dGeometry& g, Span<const AType> x, std::int32_t x_zero_point,
                    const PackedConv2dWeights& w, const Pipeline& pipeline, Span<Out> y) noexcept {
  static_assert(std::is_same<AType, std::uint8_t>::value || std::is_same<AType, std::int8_t>::value,
                "x must be uint8_t or int8_t");
  static_assert(detail::storable<detail::pipeline_output_t<Pipeline>, Out>::value,
                "y's element type does not match the pipeline's output (int32 -> int32_t/int8_t/uint8_t, "
                "float -> float)");
  QSAFE_RETURN_IF_ERROR(arch::check_packed_for<Isa>(w.arch()));
  QSAFE_RETURN_IF_ERROR(g.check());
  if (g.depth() > kGemmMaxK) return Status::overflow_risk;
  if (!w.matches(g)) return Status::shape_mismatch;
  if (x.size() != static_cast<std::size_t>(g.input_numel()) || y.size() != static_cast<std::size_t>(g.output_numel()))
    return Status::shape_mismatch;
  if (x.data() == nullptr || y.data() == nullptr) return Status::null_pointer;
  if (!detail::zero_point_in_range<AType>(x_zero_point)) return Status::invalid_argument;
  // Rows are pixels: only per-tensor row parameters (m = 1) are accepted.
  return check_pipeline(pipeline, 1, g.out_channels);
}

// y = pipeline(conv2d(x - x_zero_point, w)). workspace: at least conv2d_workspace_size(g, w,
// parallel) bytes. parallel: optional pool hook (parallel.hpp), passed to the GEMM; results are
// identical with and without it.
template <class Isa = arch::automatic, class AType, class Pipeline, class Out>
[[nodiscard]] Status conv2d(const Conv2dGeometry& g, Span<const AType> x, std::int32_t x_zero_point,
                            const PackedConv2dWeights& w, const Pipeline& pipeline, Span<Out> y,
                            Span<std::byte> workspace = {}, const ParallelFor& parallel = {}) noexcept {
  QSAFE_RETURN_IF_ERROR(check_conv2d<Isa>(g, x, x_zero_point, w, pipeline, y));
  const std::size_t needed = conv2d_workspace_size<Isa>(g, w, parallel);
  if (workspace.size() < needed) return Status::workspace_too_small;
  if (needed != 0 && workspace.data() == nullptr) return Status::null_pointer;
  if constexpr (std::is_same<Isa, arch::automatic>::value) {
    return arch::visit(arch::compiled{}, w.arch(), Status::unsupported_arch, [&](auto isa) noexcept {
      detail::run_conv2d<decltype(isa)>(g, x.data(), x_zero_point, w, pipeline, y.data(), workspace, parallel);
      return Status::ok;
    });
  } else {
    detail::run_conv2d<Isa>(g, x.data(), x_zero_point, w, pipeline, y.data(), workspace, parallel);
    return Status::ok;
  }
}

}  // namespace qsafe

#endif  // QSAFE_KERNEL_CONV2D_HPP_
