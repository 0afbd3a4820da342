// qsafe/kernel/depthwise.hpp: quantized depthwise 2-D convolution (groups = in_channels =
// out_channels), NHWC.
//
//   x  uint8 or int8 NHWC [batch, in_h, in_w, C], affine with one zero point (in the type's range);
//      padded positions hold the zero point, so they contribute exactly 0.
//   w  int8 symmetric, PyTorch OIHW [C, 1, kernel_h, kernel_w], packed once by
//      pack_depthwise_weights for one path. Per-channel scales belong to the output stage.
//   acc[n][oh][ow][c] = sum_{kh, kw} (x[n][ih][iw][c] - x_zero_point) * w[c][0][kh][kw]
//      ih = oh * stride_h - pad_top + kh * dilation_h, iw likewise (taps outside the input skipped);
//      exact in int32 for kernel_h * kernel_w <= kGemmMaxK (65793).
//   y  NHWC [batch, out_h, out_w, C], not overlapping x, of int32, int8, uint8 or float: pipeline(acc)
//      with the GEMM's output stages (output_stage.hpp), channel c as the stage column, row 0 (so
//      Dequantize's activation scale is one value). An empty pipeline() stores the raw accumulators.
//
// Geometry: core/conv_geometry.hpp (any kernel size, stride, dilation, asymmetric padding) with
// groups == in_channels == out_channels (depth multiplier 1). 3x3 and 5x5 have unrolled kernels on
// the SIMD paths; every other shape runs the same paths with loops over the taps.
//
// Steps, as the GEMM:
//   depthwise_packed_weights_size(geom)          bytes pack_depthwise_weights needs;
//   pack_depthwise_weights(geom, oihw, storage)  once per layer (PyTorch layout in, path layout out);
//   check_depthwise_conv2d(...)                  every precondition, no side effects;
//   depthwise_conv2d(...)                        checks, then runs with no error branches.
// No workspace: padding is handled by leaving taps out, not by a zero-point buffer.
//
// Paths: depthwise_conv2d<arch::avx2>(...) forces one; forcing a path that is not compiled or that
// the CPU lacks returns Status::unsupported_arch; weights packed for another path return
// Status::invalid_argument. The default (arch::automatic) packs for the best path this CPU runs and
// runs the path the weights were packed for.
//
// Status codes: ok; invalid_argument (geometry: non-positive sizes, negative padding, a window
// larger than the padded input, groups != C or out_channels != C; zero point outside x's range;
// stage parameters; weights packed for another path or empty); shape_mismatch (x, y or weight
// sizes against the geometry, weights packed for another geometry, stage span sizes);
// null_pointer; overflow_risk (kernel_h * kernel_w > kGemmMaxK); workspace_too_small (weight
// storage); unsupported_arch; non_finite_input (NaN or Inf scale or bias in a stage).
#ifndef QSAFE_KERNEL_DEPTHWISE_HPP_
#define QSAFE_KERNEL_DEPTHWISE_HPP_

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qsafe/config.hpp"
#include "qsafe/core/conv_geometry.hpp"
#include "qsafe/core/span.hpp"
#include "qsafe/core/status.hpp"
#include "qsafe/kernel/arch/dispatch.hpp"
#include "qsafe/kernel/arch/registry.hpp"
#include "qsafe/kernel/arch/scalar/depthwise.hpp"
#include "qsafe/kernel/output_stage.hpp"
#include "qsafe/kernel/packed_weights.hpp"
#include "qsafe/kernel/parallel.hpp"

#if QSAFE_COMPILE_AVX2
#include "qsafe/kernel/arch/avx2/depthwise.hpp"
#endif
#if QSAFE_COMPILE_AVX512_VNNI
#include "qsafe/kernel/arch/avx512_vnni/depthwise.hpp"
#endif
#if QSAFE_COMPILE_NEON
#include "qsafe/kernel/arch/neon/depthwise.hpp"
#endif

namespace qsafe {

// Depthwise weights packed for one path: a non-owning view over caller storage.
//
//   storage (64-byte aligned inside the caller's bytes):
//   [ weight_sums: channels_padded x int32 ][ pad to 64 ][ taps x channels_padded x Weight ]
//   tap t = kh * kernel_w + kw; weight (t, c) at t * channels_padded + c; padding channels are 0.
class DepthwiseWeights {
 public:
  constexpr DepthwiseWeights() noexcept = default;

  constexpr arch::Id arch() const noexcept { return arch_; }
  constexpr std::int64_t channels() const noexcept { return channels_; }
  constexpr std::int64_t channels_padded() const noexcept { return channels_padded_; }
  constexpr std::int64_t kernel_h() const noexcept { return kernel_h_; }
  constexpr std::int64_t kernel_w() const noexcept { return kernel_w_; }
  constexpr bool empty() const noexcept { return arch_ == arch::Id::none; }
  constexpr const std::int32_t* weight_sums() const noexcept { return sums_; }
  constexpr const void* weights() const noexcept { return weights_; }

  // Used by pack_depthwise_weights only.
  struct Layout {
    arch::Id arch;
    std::int64_t channels, kernel_h, kernel_w;
    int channel_pad, elem_size;
    constexpr std::int64_t channels_padded() const noexcept { return PackedWeights::round_up(channels, channel_pad); }
    constexpr std::size_t sums_bytes() const noexcept {
      return static_cast<std::size_t>(PackedWeights::round_up(channels_padded() * 4, 64));
    }
    constexpr std::size_t storage_bytes() const noexcept {
      return 63 + sums_bytes() + static_cast<std::size_t>(kernel_h * kernel_w * channels_padded() * elem_size);
    }
  };
  static DepthwiseWeights over(const Layout& l, std::byte* storage) noexcept {
    const std::uintptr_t p = reinterpret_cast<std::uintptr_t>(storage);
    std::byte* base = storage + ((64 - p % 64) % 64);
    DepthwiseWeights w;
    w.arch_ = l.arch;
    w.channels_ = l.channels;
    w.channels_padded_ = l.channels_padded();
    w.kernel_h_ = l.kernel_h;
    w.kernel_w_ = l.kernel_w;
    w.sums_ = reinterpret_cast<std::int32_t*>(base);
    w.weights_ = base + l.sums_bytes();
    return w;
  }

 private:
  arch::Id arch_ = arch::Id::none;
  std::int64_t channels_ = 0, channels_padded_ = 0, kernel_h_ = 0, kernel_w_ = 0;
  const std::int32_t* sums_ = nullptr;
  const void* weights_ = nullptr;
};

namespace detail {

template <class Isa>
constexpr DepthwiseWeights::Layout depthwise_layout(const Conv2dGeometry& g) noexcept {
  using U = DepthwiseUkernel<Isa>;
  return DepthwiseWeights::Layout{Isa::id,    g.in_channels,  g.kernel_h,
                                  g.kernel_w, U::kChannelPad, static_cast<int>(sizeof(typename U::Weight))};
}

template <class Isa, class F>
decltype(auto) depthwise_with_isa(F&& f) noexcept {
  if constexpr (std::is_same<Isa, arch::automatic>::value) {
    return arch::dispatch(arch::compiled{}, std::forward<F>(f));
  } else {
    return std::forward<F>(f)(Isa{});
  }
}

// The geometry checks shared by packing and running.
inline Status check_depthwise_geometry(const Conv2dGeometry& g) noexcept {
  QSAFE_RETURN_IF_ERROR(g.check());
  if (g.groups != g.in_channels || g.out_channels != g.in_channels) return Status::invalid_argument;
  if (g.kernel_h * g.kernel_w > kGemmMaxK) return Status::overflow_risk;
  return Status::ok;
}

template <class AType>
constexpr bool depthwise_zero_point_in_range(std::int32_t zp) noexcept {
  return std::is_same<AType, std::uint8_t>::value ? (zp >= 0 && zp <= 255) : (zp >= -128 && zp <= 127);
}

template <class Isa>
void pack_depthwise(Span<const std::int8_t> oihw, const DepthwiseWeights& out) noexcept {
  using U = DepthwiseUkernel<Isa>;
  using W = typename U::Weight;
  const std::int64_t c_n = out.channels(), cp = out.channels_padded(), taps = out.kernel_h() * out.kernel_w();
  auto* sums = const_cast<std::int32_t*>(out.weight_sums());
  auto* w = static_cast<W*>(const_cast<void*>(out.weights()));
  for (std::int64_t c = 0; c < cp; ++c) {
    std::int32_t sum = 0;  // |sum| <= 128 * kGemmMaxK < 2^31
    for (std::int64_t t = 0; t < taps; ++t) {
      const std::int8_t v = c < c_n ? oihw[static_cast<std::size_t>(c * taps + t)] : std::int8_t{0};
      w[t * cp + c] = static_cast<W>(U::pack(v));
      sum += v;
    }
    sums[c] = sum;
  }
}

// Runs the rows [row_begin, row_end) of the output (row = n * out_h + oh).
template <class Isa, class AType, class Out, class Pipeline>
struct DepthwiseDriver {
  const Conv2dGeometry* g;
  const AType* x;
  std::int32_t zero_point;
  const DepthwiseWeights* w;
  const Pipeline* pipeline;
  Out* y;

  void run_rows(std::int64_t row_begin, std::int64_t row_end) const noexcept {
    const Conv2dGeometry& s = *g;
    const std::int64_t c = s.in_channels, oh_n = s.out_h(), ow_n = s.out_w();
    const int kh_n = static_cast<int>(s.kernel_h), kw_n = static_cast<int>(s.kernel_w);
    DepthwiseRun<AType, Out, Pipeline> r;
    r.tap_h = s.dilation_h * s.in_w * c;
    r.tap_w = s.dilation_w * c;
    r.kernel_h = kh_n;
    r.kernel_w = kw_n;
    r.zero_point = zero_point;
    r.channels = c;
    r.channels_padded = w->channels_padded();
    r.weights = w->weights();
    r.weight_sums = w->weight_sums();
    r.pipeline = pipeline;
    // Output columns whose whole window is inside the input: [ow_a, ow_b).
    const std::int64_t ow_a = (s.pad_left + s.stride_w - 1) / s.stride_w;
    const std::int64_t last = s.in_w - 1 + s.pad_left - (s.kernel_w - 1) * s.dilation_w;  // ow * stride_w <= last
    std::int64_t ow_b = last < 0 ? 0 : last / s.stride_w + 1;
    if (ow_b > ow_n) ow_b = ow_n;
    if (ow_b < ow_a) ow_b = ow_a;
    for (std::int64_t row = row_begin; row < row_end; ++row) {
      const std::int64_t n = row / oh_n, oh = row % oh_n;
      const std::int64_t ih0 = oh * s.stride_h - s.pad_top;
      int kh_lo = 0, kh_hi = kh_n;
      while (kh_lo < kh_n && ih0 + kh_lo * s.dilation_h < 0) ++kh_lo;
      while (kh_hi > kh_lo && ih0 + (kh_hi - 1) * s.dilation_h >= s.in_h) --kh_hi;
      r.kh_lo = kh_lo;
      r.kh_hi = kh_hi;
      const AType* x_row = x + (n * s.in_h + (kh_lo < kh_hi ? ih0 + kh_lo * s.dilation_h : 0)) * s.in_w * c;
      Out* y_row = y + row * ow_n * c;
      std::int64_t ow = 0;
      while (ow < ow_n) {
        const std::int64_t iw0 = ow * s.stride_w - s.pad_left;
        if (ow >= ow_a && ow < ow_b) {  // the interior: every kw tap valid
          r.kw_lo = 0;
          r.kw_hi = kw_n;
          r.count = ow_b - ow;
        } else {
          int kw_lo = 0, kw_hi = kw_n;
          while (kw_lo < kw_n && iw0 + kw_lo * s.dilation_w < 0) ++kw_lo;
          while (kw_hi > kw_lo && iw0 + (kw_hi - 1) * s.dilation_w >= s.in_w) --kw_hi;
          r.kw_lo = kw_lo;
          r.kw_hi = kw_hi;
          r.count = 1;
        }
        const bool empty = r.kh_lo >= r.kh_hi || r.kw_lo >= r.kw_hi;
        r.full = r.kh_lo == 0 && r.kh_hi == kh_n && r.kw_lo == 0 && r.kw_hi == kw_n;
        r.x = empty ? x : x_row + (iw0 + r.kw_lo * s.dilation_w) * c;
        r.x_step = s.stride_w * c;
        r.y = y_row + ow * c;
        DepthwiseUkernel<Isa>::run(r);
        ow += r.count;
      }
    }
  }

  static void task_body(void* self, std::int64_t begin, std::int64_t end) noexcept {
    static_cast<const DepthwiseDriver*>(self)->run_rows(begin, end);
  }
};

}  // namespace detail

// Bytes of storage pack_depthwise_weights<Isa> needs for this geometry (64 bytes of alignment
// slack included); 0 if the geometry is not a valid depthwise convolution.
template <class Isa = arch::automatic>
std::size_t depthwise_packed_weights_size(const Conv2dGeometry& g) noexcept {
  if (detail::check_depthwise_geometry(g) != Status::ok) return 0;
  return detail::depthwise_with_isa<Isa>(
      [&](auto isa) noexcept { return detail::depthwise_layout<decltype(isa)>(g).storage_bytes(); });
}

// Packs PyTorch OIHW weights [C, 1, kernel_h, kernel_w] for path Isa into `storage` (kept alive by
// the caller as long as the DepthwiseWeights is used).
template <class Isa = arch::automatic>
Result<DepthwiseWeights> pack_depthwise_weights(const Conv2dGeometry& g, Span<const std::int8_t> oihw,
                                                Span<std::byte> storage) noexcept {
  QSAFE_RETURN_IF_ERROR(detail::check_depthwise_geometry(g));
  if (static_cast<std::int64_t>(oihw.size()) != g.weight_numel()) return Status::shape_mismatch;
  if (oihw.data() == nullptr) return Status::null_pointer;
  return detail::depthwise_with_isa<Isa>([&](auto isa) noexcept -> Result<DepthwiseWeights> {
    using I = decltype(isa);
    const DepthwiseWeights::Layout l = detail::depthwise_layout<I>(g);
    if (storage.size() < l.storage_bytes()) return Status::workspace_too_small;
    if (storage.data() == nullptr) return Status::null_pointer;
    const DepthwiseWeights packed = DepthwiseWeights::over(l, storage.data());
    detail::pack_depthwise<I>(oihw, packed);
    return packed;
  });
}

// Every precondition of depthwise_conv2d<Isa>(...) (see the status list at the top of this file).
template <class Isa = arch::automatic, class AType, class Pipeline, class Out>
Status check_depthwise_conv2d(const Conv2dGeometry& g, Span<const AType> x, std::int32_t x_zero_point,
                              const DepthwiseWeights& w, const Pipeline& pipeline, Span<Out> y) noexcept {
  static_assert(std::is_same<AType, std::uint8_t>::value || std::is_same<AType, std::int8_t>::value,
                "x must be uint8_t or int8_t");
  static_assert(detail::storable<detail::pipeline_output_t<Pipeline>, Out>::value,
                "y's element type does not match the pipeline's output (int32 -> int32_t/int8_t/uint8_t, "
                "float -> float)");
  QSAFE_RETURN_IF_ERROR(arch::check_packed_for<Isa>(w.arch()));
  QSAFE_RETURN_IF_ERROR(detail::check_depthwise_geometry(g));
  if (w.channels() != g.in_channels || w.kernel_h() != g.kernel_h || w.kernel_w() != g.kernel_w)
    return Status::shape_mismatch;
  if (static_cast<std::int64_t>(x.size()) != g.input_numel() || static_cast<std::int64_t>(y.size()) != g.output_numel())
    return Status::shape_mismatch;
  if (x.data() == nullptr || y.data() == nullptr) return Status::null_pointer;
  if (!detail::depthwise_zero_point_in_range<AType>(x_zero_point)) return Status::invalid_argument;
  return check_pipeline(pipeline, 1, g.out_channels);
}

// y = pipeline(depthwise_conv(x - x_zero_point, w)). parallel: optional pool hook (parallel.hpp);
// tasks are output rows, and results do not depend on the split.
template <class Isa = arch::automatic, class AType, class Pipeline, class Out>
[[nodiscard]] Status depthwise_conv2d(const Conv2dGeometry& g, Span<const AType> x, std::int32_t x_zero_point,
                                      const DepthwiseWeights& w, const Pipeline& pipeline, Span<Out> y,
                                      const ParallelFor& parallel = {}) noexcept {
  QSAFE_RETURN_IF_ERROR(check_depthwise_conv2d<Isa>(g, x, x_zero_point, w, pipeline, y));
  auto run = [&](auto isa) noexcept {
    using Driver = detail::DepthwiseDriver<decltype(isa), AType, Out, Pipeline>;
    const Driver d{&g, x.data(), x_zero_point, &w, &pipeline, y.data()};
    const std::int64_t rows = g.batch * g.out_h();
    if (parallel.run != nullptr && rows > 1) {
      parallel.run(parallel.pool, rows, &Driver::task_body, const_cast<Driver*>(&d));
    } else {
      d.run_rows(0, rows);
    }
    return Status::ok;
  };
  if constexpr (std::is_same<Isa, arch::automatic>::value) {
    return arch::visit(arch::compiled{}, w.arch(), Status::unsupported_arch, run);
  } else {
    return run(Isa{});
  }
}

}  // namespace qsafe

#endif  // QSAFE_KERNEL_DEPTHWISE_HPP_
