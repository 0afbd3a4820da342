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
// K = kernel_w * kernel_h * (in_channels / groups) in (kw, kh, ic) order (the packed weights'
// order). Where A comes from:
//   1x1, stride 1, no padding     x itself (row stride in_channels; a group is a column offset);
//   groups 1, dilation_w 1,       a row buffer per output row: buf[wp][kh][c] for the window's
//   output rows >= 16 wide        input columns; pixel ow's A row starts at ow * stride_w *
//                                 kernel_h * C and rows overlap (row stride < K), so the buffer
//                                 holds kernel_h input rows, not kernel_h * kernel_w copies
//                                 (kernel_h 1 without column padding: x's row itself, no copy);
//   anything else, or any         im2col rows in chunks of at most kConv2dIm2colBudget bytes
//   convolution given a pool      (the workspace does not grow with the image; the GEMM splits
//                                 each chunk's rows and panels into tasks).
// Padding is written as x_zp. The fills are in detail/conv_fill.hpp (ZMM copies on the AVX-512
// path). When dilation_h divides stride_h, the row buffer of the next output row moves the kernel
// rows it shares with the current one down in place (L1 to L1) and reads only the new rows from x
// (stride 1, 3x3: one input row per output row instead of three). The micro-kernels only read
// A, so overlapping rows are safe; this header calls the GEMM driver (detail::run_gemm) directly
// after its own checks, since the public gemm() rejects a row stride shorter than a row.
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
// Narrowest output row the row-buffer path takes (narrower rows leave register tiles part empty,
// so im2col over many rows is faster there).
inline constexpr std::int64_t kConv2dRowBufferMinWidth = 16;

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
    return w;
  }

 private:
  PackedWeights::Layout layout_{arch::Id::none, 0, 0, 0, 0, 0, 0};
  std::byte* base_ = nullptr;
  std::size_t group_bytes_ = 0;
  std::int64_t out_channels_ = 0, in_channels_ = 0, kernel_h_ = 0, kernel_w_ = 0, groups_ = 0;
};

namespace detail {

// Whether conv2d reads x in place as the GEMM's A (1x1, stride 1, no padding).
constexpr bool conv2d_is_pointwise(const Conv2dGeometry& g) noexcept {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 &&
         g.pad_left == 0 && g.pad_bottom == 0 && g.pad_right == 0;
}

// Whether conv2d reads A from a row buffer (one output row at a time, overlapping A rows): every
// convolution with groups == 1 and dilation_w == 1 whose output rows are wide enough to fill
// register tiles; the rest use im2col chunks.
constexpr bool conv2d_uses_row_buffer(const Conv2dGeometry& g, bool threaded = false) noexcept {
  return !threaded && !conv2d_is_pointwise(g) && g.groups == 1 && g.dilation_w == 1 &&
         g.out_w() >= kConv2dRowBufferMinWidth;
}

// Kernel rows the row buffer of output row oh + 1 shares with that of row oh, shifted down by
// this many slots: row oh + 1's slot kh holds input row (oh + 1) * stride_h - pad_top + kh *
// dilation_h, which is row oh's slot kh + stride_h / dilation_h when dilation_h divides stride_h.
// 0 (refill every slot) when nothing is shared.
constexpr std::int64_t conv2d_row_buffer_shift(const Conv2dGeometry& g) noexcept {
  return g.stride_h % g.dilation_h == 0 && g.stride_h / g.dilation_h < g.kernel_h ? g.stride_h / g.dilation_h : 0;
}

// Output pixels per im2col chunk: as few chunks as keep each under kConv2dIm2colBudget (at least
// 24 rows whatever K is), balanced so the last chunk is not a sliver (each chunk streams all the
// weights once), and a multiple of 24 rows (whole register tiles on every path) where rounding up
// does not add a chunk.
constexpr std::int64_t conv2d_chunk_rows(const Conv2dGeometry& g) noexcept {
  const std::int64_t m = g.batch * g.out_h() * g.out_w();
  const std::int64_t row_bytes = g.depth() * g.groups;
  std::int64_t max_rows = kConv2dIm2colBudget / row_bytes;
  max_rows = max_rows < 24 ? 24 : max_rows;
  if (m <= max_rows) return m;
  const std::int64_t chunks = (m + max_rows - 1) / max_rows;
  const std::int64_t rows = (m + chunks - 1) / chunks;
  const std::int64_t rounded = (rows + 23) / 24 * 24;
  return (m + rounded - 1) / rounded == chunks ? rounded : rows;
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
  if (conv2d_uses_row_buffer(g, threaded))
    return static_cast<std::size_t>(conv2d_row_buffer_columns(g) * g.kernel_h * g.in_channels) + 64 +
           workspace_bytes<U>(g.out_w(), k_padded);
  const std::int64_t rows = conv2d_chunk_rows(g);
  return static_cast<std::size_t>(rows * g.depth() * g.groups) + 64 + workspace_bytes<U>(rows, k_padded);
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
  if (conv2d_uses_row_buffer(g, parallel.run != nullptr)) {
    AType* buf = reinterpret_cast<AType*>(workspace.data() + align64_offset(workspace.data()));
    const std::size_t buf_bytes =
        static_cast<std::size_t>(conv2d_row_buffer_columns(g) * g.kernel_h * g.in_channels) + 64;
    const Span<std::byte> gemm_ws(workspace.data() + buf_bytes, workspace.size() - buf_bytes);
    const std::int64_t ow_n = g.out_w(), oh_n = g.out_h();
    const bool in_place = g.kernel_h == 1 && g.pad_left == 0 && conv2d_row_buffer_columns(g) <= g.in_w;
    const std::int64_t shift = conv2d_row_buffer_shift(g);
    for (std::int64_t n = 0; n < g.batch; ++n)
      for (std::int64_t oh = 0; oh < oh_n; ++oh) {
        // kernel_h 1 and no column padding: the buffer would be a copy of one input row segment.
        const std::int64_t ih = oh * g.stride_h - g.pad_top;
        const AType* a = buf;
        if (in_place && ih >= 0 && ih < g.in_h) {
          a = x + (n * g.in_h + ih) * g.in_w * g.in_channels;
        } else {
          fill_row_buffer(Isa{}, g, x, static_cast<AType>(x_zp), n, oh, buf, oh > 0 ? shift : 0);
        }
        run_groups(a, g.stride_w * g.kernel_h * g.in_channels, (n * oh_n + oh) * ow_n, ow_n, 0, gemm_ws);
      }
    return;
  }
  const std::int64_t chunk = conv2d_chunk_rows(g);
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
    return PackedWeights::storage_bytes(detail::conv2d_group_layout<decltype(isa)>(g)) *
           static_cast<std::size_t>(g.groups);
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
    if (storage.size() < PackedWeights::storage_bytes(l) * static_cast<std::size_t>(g.groups))
      return Status::workspace_too_small;
    if (storage.data() == nullptr) return Status::null_pointer;
    const PackedConv2dWeights packed = PackedConv2dWeights::over(g, l, storage.data());
    const std::int64_t icg = g.in_channels_per_group(), ocg = g.out_channels_per_group();
    const std::int64_t kh_n = g.kernel_h, kw_n = g.kernel_w;
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const PackedWeights pw = packed.group(grp);
      const std::int64_t kp = pw.k_padded();
      const int nr = pw.nr(), kr = pw.kr();
      std::int32_t* sums = pw.mutable_col_sums();
      for (std::int64_t j = 0; j < pw.n_padded(); ++j) sums[j] = 0;
      for (std::int64_t p = 0; p < pw.panels(); ++p) {
        BElem* panel = reinterpret_cast<BElem*>(pw.mutable_panels()) + p * kp * nr;
        for (std::int64_t i = 0; i < kp * nr; ++i) panel[i] = 0;
        for (int jn = 0; jn < nr; ++jn) {
          const std::int64_t col = p * nr + jn;
          if (col >= ocg) break;
          const std::int8_t* wo = w.data() + (grp * ocg + col) * icg * kh_n * kw_n;  // OIHW row of oc
          std::int32_t sum = 0;
          std::int64_t kk = 0;  // (kw, kh, ic) order, as im2col_rows writes A
          for (std::int64_t kw = 0; kw < kw_n; ++kw)
            for (std::int64_t kh = 0; kh < kh_n; ++kh)
              for (std::int64_t ic = 0; ic < icg; ++ic, ++kk) {
                const std::int8_t v = wo[(ic * kh_n + kh) * kw_n + kw];
                panel[((kk / kr) * nr + jn) * kr + kk % kr] = static_cast<BElem>(v);
                sum += v;  // |sum| <= 128 * kGemmMaxK < 2^31
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
// the row-buffer strategy to im2col chunks, whose rows the GEMM splits into tasks). Single-threaded:
// 0 for a 1x1 stride-1 unpadded convolution (x read in place) on paths that read A in place; one
// row buffer (columns x kernel_h x in_channels bytes) for groups 1 / dilation_w 1 with output
// rows >= kConv2dRowBufferMinWidth wide; else an im2col chunk (at most about kConv2dIm2colBudget).
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
