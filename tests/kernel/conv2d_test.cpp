// conv2d on every compiled path against the direct scalar reference (nn/quantized_reference.hpp):
// awkward geometries (1x1 images, kernels larger than the input, stride 2 on odd sizes, dilation,
// groups, asymmetric padding, odd channel counts), int32 / uint8 / float outputs, both x types,
// bad input as statuses, and PyTorch's quantized::conv2d (qnnpack) integer for integer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "kernel/gemm_support.hpp"
#include "qsafe/core/float_requant.hpp"
#include "qsafe/kernel/conv2d.hpp"
#include "qsafe/nn/quantized_reference.hpp"

using qsafe::Conv2dGeometry;
using qsafe::Span;
using qsafe::Status;
using qsafe_test::for_each_arch;
using qsafe_test::geom;
using qsafe_test::pad;

namespace {

struct PackedConv {
  std::vector<std::byte> storage;
  qsafe::PackedConv2dWeights w;
  Status status = Status::ok;
};

template <class Isa>
PackedConv pack_conv(const Conv2dGeometry& g, const std::vector<std::int8_t>& w_oihw) {
  PackedConv p;
  p.storage.resize(qsafe::conv2d_packed_weights_size<Isa>(g) + 5);
  auto r = qsafe::pack_conv2d_weights<Isa>(g, Span<const std::int8_t>(w_oihw),
                                           Span<std::byte>(p.storage.data() + 5, p.storage.size() - 5));
  p.status = r.status();
  if (r.ok()) p.w = r.value();
  return p;
}

// conv2d<Isa> with a workspace of exactly the size it asks for (misaligned by one byte).
template <class Isa, class AType, class Pipeline, class Out>
Status run_conv(const Conv2dGeometry& g, const std::vector<AType>& x, std::int32_t zp,
                const qsafe::PackedConv2dWeights& w, const Pipeline& p, std::vector<Out>& y) {
  std::vector<std::byte> ws(qsafe::conv2d_workspace_size<Isa>(g, w) + 1);
  return qsafe::conv2d<Isa>(g, Span<const AType>(x), zp, w, p, Span<Out>(y),
                            Span<std::byte>(ws.data() + 1, ws.size() - 1));
}

struct Case {
  std::string name;
  Conv2dGeometry g;
};

std::vector<Case> cases() {
  std::vector<Case> v;
  {
    Conv2dGeometry g = geom(1, 1, 1, 5, 7, 3, 3);
    v.push_back({"1x1 image, 3x3 kernel, pad 1", pad(g, 1, 1, 1, 1)});
  }
  v.push_back({"1x1 image, 1x1 kernel", geom(2, 1, 1, 3, 2, 1, 1)});
  {
    Conv2dGeometry g = geom(1, 2, 3, 4, 6, 5, 4);
    v.push_back({"kernel larger than the input, asymmetric pad", pad(g, 2, 1, 1, 2)});
  }
  {
    Conv2dGeometry g = geom(2, 7, 9, 3, 9, 3, 3);
    g.stride_h = g.stride_w = 2;
    v.push_back({"stride 2 on odd sizes", pad(g, 1, 1, 1, 1)});
  }
  {
    Conv2dGeometry g = geom(1, 9, 8, 6, 5, 3, 3);
    g.dilation_h = g.dilation_w = 2;
    v.push_back({"dilation 2", pad(g, 2, 2, 2, 2)});
  }
  {
    Conv2dGeometry g = geom(1, 6, 5, 6, 10, 3, 3);
    g.groups = 2;
    v.push_back({"groups 2", pad(g, 1, 1, 1, 1)});
  }
  {
    Conv2dGeometry g = geom(1, 5, 6, 5, 10, 3, 3);
    g.groups = 5;
    v.push_back({"groups = C (depthwise, multiplier 2)", pad(g, 1, 1, 1, 1)});
  }
  {
    Conv2dGeometry g = geom(1, 6, 5, 67, 65, 3, 3);
    v.push_back({"channels 67 -> 65", pad(g, 1, 1, 1, 1)});
  }
  {
    Conv2dGeometry g = geom(1, 8, 7, 13, 70, 3, 2);
    g.stride_h = 2;
    g.stride_w = 1;
    g.dilation_h = 1;
    g.dilation_w = 3;
    v.push_back({"asymmetric pad, stride (2, 1), dilation (1, 3)", pad(g, 0, 3, 2, 0)});
  }
  v.push_back({"1x1 pointwise (A in place)", geom(2, 5, 7, 37, 70, 1, 1)});
  {
    Conv2dGeometry g = geom(1, 4, 6, 12, 18, 1, 1);
    g.groups = 3;
    v.push_back({"1x1 pointwise, groups 3", g});
  }
  {
    Conv2dGeometry g = geom(1, 7, 6, 9, 17, 1, 1);
    g.stride_h = g.stride_w = 2;
    v.push_back({"1x1 stride 2", g});
  }
  {
    Conv2dGeometry g = geom(1, 3, 5, 8, 4, 1, 3);
    v.push_back({"1x3 kernel, right pad only", pad(g, 0, 0, 0, 2)});
  }
  {
    // Output rows >= kConv2dRowBufferMinWidth and kernel_w * C % 4 == 0: the row path (A in
    // pieces of input rows, consecutive pixels' pieces overlapping).
    Conv2dGeometry g = geom(1, 9, 37, 20, 20, 3, 3);
    g.stride_h = g.stride_w = 2;
    v.push_back({"row buffer: stride 2, asymmetric pad", pad(g, 1, 2, 0, 1)});
  }
  {
    Conv2dGeometry g = geom(2, 5, 40, 12, 17, 1, 1);
    g.stride_h = g.stride_w = 2;
    v.push_back({"row buffer: 1x1 stride 2 (x rows in place)", g});
  }
  {
    Conv2dGeometry g = geom(1, 4, 21, 4, 6, 1, 3);
    v.push_back({"row buffer: 1x3, top/bottom pad only (x rows in place, padded rows left out)", pad(g, 1, 0, 1, 0)});
  }
  {
    Conv2dGeometry g = geom(2, 6, 20, 8, 5, 3, 3);
    v.push_back(
        {"row buffer: 3x3, top/bottom pad only (x rows in place, padded kernel rows left out)", pad(g, 1, 0, 1, 0)});
  }
  {
    Conv2dGeometry g = geom(1, 7, 23, 16, 9, 5, 5);
    g.stride_h = 2;
    v.push_back({"row buffer: 5x5 stride_h 2, bottom pad 3 (x in place)", pad(g, 0, 0, 3, 0)});
  }
  {
    Conv2dGeometry g = geom(2, 6, 20, 64, 9, 5, 3);
    g.dilation_h = 2;
    v.push_back({"row buffer: 5x3, dilation_h 2, 64 channels", pad(g, 2, 1, 2, 1)});
  }
  {
    // Stride 1: each row buffer keeps kernel_h - 1 rows of the previous one (shift 1); batch 2
    // restarts the shifting at each image; 64 channels: one ZMM per pixel on AVX-512.
    Conv2dGeometry g = geom(2, 5, 18, 64, 7, 3, 3);
    v.push_back({"row buffer: 3x3 stride 1, 64 channels, batch 2 (rows shifted)", pad(g, 1, 1, 1, 1)});
  }
  {
    Conv2dGeometry g = geom(1, 4, 16, 68, 5, 3, 3);
    v.push_back({"row buffer: 3x3 stride 1, 68 channels (masked tails)", pad(g, 1, 1, 1, 1)});
  }
  {
    Conv2dGeometry g = geom(1, 3, 16, 128, 9, 3, 3);
    v.push_back({"row buffer: 3x3 stride 1, 128 channels", pad(g, 2, 1, 0, 1)});
  }
  {
    // Padding rows larger than the image: whole padded buffers shifted into and out of.
    Conv2dGeometry g = geom(1, 2, 16, 4, 5, 3, 3);
    v.push_back({"row buffer: padding larger than the image, 4 channels", pad(g, 4, 1, 4, 1)});
  }
  {
    Conv2dGeometry g = geom(1, 5, 17, 4, 3, 2, 3);
    v.push_back({"row buffer: 2x3 stride 1, 4 channels", pad(g, 0, 1, 1, 1)});
  }
  {
    // stride_h 2 = dilation_h 2: shift 1 slot of 5.
    Conv2dGeometry g = geom(1, 11, 36, 8, 6, 5, 5);
    g.stride_h = g.stride_w = 2;
    g.dilation_h = 2;
    v.push_back({"row buffer: 5x5 stride 2 dilation_h 2 (rows shifted by 1)", pad(g, 2, 2, 2, 2)});
  }
  {
    // stride_h 3 = kernel_h: nothing shared, every buffer refilled.
    Conv2dGeometry g = geom(1, 10, 50, 4, 4, 3, 3);
    g.stride_h = g.stride_w = 3;
    v.push_back({"row buffer: 3x3 stride 3 (no rows shared)", pad(g, 1, 1, 1, 1)});
  }
  // The fills' channel tails (1 and 3 above; 63, 65 here: one masked piece, a full piece and a
  // masked one) with each row-buffer shift, and padding wider or taller than the image.
  {
    Conv2dGeometry g = geom(2, 4, 17, 63, 5, 3, 4);
    v.push_back({"row buffer: 3x4 stride 1, 63 channels, batch 2 (rows reused)", pad(g, 1, 1, 1, 2)});
  }
  {
    Conv2dGeometry g = geom(2, 7, 33, 65, 6, 3, 4);
    g.stride_h = g.stride_w = 2;
    v.push_back({"row buffer: 3x4 stride 2, 65 channels, batch 2 (one row reused)", pad(g, 1, 1, 1, 2)});
  }
  {
    // stride_h 4 = 2 * dilation_h 2: shift 2 slots of 5.
    Conv2dGeometry g = geom(1, 13, 18, 4, 4, 5, 3);
    g.stride_h = 4;
    g.dilation_h = 2;
    v.push_back({"row buffer: 5x3 stride_h 4 dilation_h 2, 4 channels (rows reused 2 slots on)", pad(g, 3, 1, 2, 1)});
  }
  {
    Conv2dGeometry g = geom(1, 2, 3, 4, 4, 3, 3);
    v.push_back({"row buffer: padding wider and taller than the image, 4 channels", pad(g, 4, 10, 4, 10)});
  }
  {
    Conv2dGeometry g = geom(1, 2, 3, 68, 3, 3, 3);
    g.stride_h = g.stride_w = 2;
    v.push_back({"row buffer: padding wider and taller than the image, 68 channels, stride 2", pad(g, 5, 30, 5, 4)});
  }
  {
    // stride_w 4 from 60 columns of left padding: the windows end before x's last two columns.
    Conv2dGeometry g = geom(1, 3, 9, 68, 4, 3, 3);
    g.stride_w = 4;
    v.push_back({"row buffer: stride_w 4, left padding wider than the image", pad(g, 1, 60, 1, 0)});
  }
  {
    // The windows end before x's first column: every column of the buffer is padding.
    Conv2dGeometry g = geom(1, 4, 1, 60, 3, 3, 1);
    g.stride_w = 3;
    v.push_back({"row buffer: 3x1 stride_w 3, no window reaches x", pad(g, 1, 50, 1, 0)});
  }
  {
    Conv2dGeometry g = geom(1, 5, 6, 130, 4, 3, 3);
    g.groups = 2;
    v.push_back({"im2col: groups 2 of 65 channels", pad(g, 1, 1, 1, 1)});
  }
  {
    Conv2dGeometry g = geom(2, 2, 3, 63, 5, 3, 3);
    g.dilation_h = g.dilation_w = 2;
    v.push_back({"im2col: 63 channels, dilation 2, padding larger than the image, batch 2", pad(g, 3, 3, 3, 3)});
  }
  {
    Conv2dGeometry g = geom(2, 9, 7, 70, 5, 3, 3);
    g.stride_h = g.stride_w = 2;
    v.push_back({"im2col: 70 channels, stride 2, batch 2", pad(g, 1, 1, 1, 1)});
  }
  {
    // 2 * 24 * 24 = 1152 pixels x 576 bytes: several im2col chunks (groups 2: not the row buffer).
    Conv2dGeometry g = geom(2, 24, 24, 64, 18, 3, 3);
    g.groups = 2;
    v.push_back({"several im2col chunks", pad(g, 1, 1, 1, 1)});
  }
  return v;
}

// acc through the reference, for uint8 or int8 x (int8 x is shifted by 128 with its zero point:
// the differences, and so the accumulators, are the same).
template <class AType>
std::vector<std::int32_t> reference(const Conv2dGeometry& g, const std::vector<AType>& x, std::int32_t zp,
                                    const std::vector<std::int8_t>& w) {
  std::vector<std::uint8_t> xu(x.size());
  const int shift = std::is_same<AType, std::int8_t>::value ? 128 : 0;
  for (std::size_t i = 0; i < x.size(); ++i) xu[i] = static_cast<std::uint8_t>(x[i] + shift);
  std::vector<std::int32_t> acc(static_cast<std::size_t>(g.output_numel()));
  const Status s = qsafe::nn::reference::conv2d_nhwc_acc(g, Span<const std::uint8_t>(xu), zp + shift,
                                                         Span<const std::int8_t>(w), {}, {}, Span<std::int32_t>(acc));
  REQUIRE(s == Status::ok);
  return acc;
}

// The pipeline applied by the normative scalar stages to the reference accumulators.
template <class Out, class Pipeline>
std::vector<Out> reference_out(const std::vector<std::int32_t>& acc, std::int64_t channels, const Pipeline& p) {
  std::vector<Out> out(acc.size());
  for (std::size_t i = 0; i < acc.size(); ++i) {
    const std::int64_t oc = static_cast<std::int64_t>(i) % channels;
    qsafe::detail::store_scalar(&out[i],
                                qsafe::detail::apply_stages_scalar<0>(p, acc[i], qsafe::detail::ElementPos{0, oc}));
  }
  return out;
}

template <class Isa>
void stage_outputs(const Conv2dGeometry& g, const std::vector<std::uint8_t>& x, std::int32_t zp,
                   const qsafe::PackedConv2dWeights& w, const std::vector<std::int32_t>& acc);

template <class Isa, class AType>
void check_case(const Case& c, std::mt19937& rng, int variant) {
  constexpr bool kSigned = std::is_same<AType, std::int8_t>::value;
  const Conv2dGeometry& g = c.g;
  const auto x = qsafe_test::random_vector<AType>(rng, static_cast<std::size_t>(g.input_numel()), kSigned ? -128 : 0,
                                                  kSigned ? 127 : 255);
  const auto w = qsafe_test::random_vector<std::int8_t>(rng, static_cast<std::size_t>(g.weight_numel()), -128, 127);
  const std::int32_t zp = variant % 3 == 0 ? (kSigned ? -128 : 0) : (variant % 3 == 1 ? (kSigned ? 127 : 255) : 37);
  const std::vector<std::int32_t> acc = reference(g, x, zp, w);
  const PackedConv p = pack_conv<Isa>(g, w);
  REQUIRE(p.status == Status::ok);
  INFO(Isa::name << (kSigned ? " s8 " : " u8 ") << c.name << " zp " << zp);

  std::vector<std::int32_t> raw(acc.size(), 0x5a5a5a5a);
  REQUIRE(run_conv<Isa>(g, x, zp, p.w, qsafe::pipeline(), raw) == Status::ok);
  CHECK(raw == acc);
  if constexpr (!kSigned) stage_outputs<Isa>(g, x, zp, p.w, acc);  // the stages do not depend on x's type
}

// Per-channel bias, float requantization to uint8 with ReLU; and dequantization to float.
template <class Isa>
void stage_outputs(const Conv2dGeometry& g, const std::vector<std::uint8_t>& x, std::int32_t zp,
                   const qsafe::PackedConv2dWeights& w, const std::vector<std::int32_t>& acc) {
  const std::size_t oc = static_cast<std::size_t>(g.out_channels);
  std::vector<std::int32_t> bias(oc);
  std::vector<float> mult(oc), wscale(oc), fbias(oc);
  for (std::size_t i = 0; i < oc; ++i) {
    bias[i] = static_cast<std::int32_t>(i * 977 % 2001) - 1000;
    mult[i] = 1.f / static_cast<float>(700 + 37 * i);
    wscale[i] = 0.001f * static_cast<float>(i + 1);
    fbias[i] = 0.25f * static_cast<float>(i) - 1.f;
  }
  const auto requant = qsafe::pipeline(qsafe::AddBias{Span<const std::int32_t>(bias)},
                                       qsafe::RequantizeFloat{Span<const float>(mult), 100}, qsafe::relu(100, 255));
  std::vector<std::uint8_t> yq(acc.size(), 7);
  REQUIRE(run_conv<Isa>(g, x, zp, w, requant, yq) == Status::ok);
  CHECK(yq == reference_out<std::uint8_t>(acc, g.out_channels, requant));

  const float ascale = 0.02f;
  const auto deq = qsafe::pipeline(
      qsafe::Dequantize{Span<const float>(&ascale, 1), Span<const float>(wscale), Span<const float>(fbias)},
      qsafe::ClampFloat{-5.f, 50.f});
  std::vector<float> yf(acc.size(), -1.f);
  REQUIRE(run_conv<Isa>(g, x, zp, w, deq, yf) == Status::ok);
  const std::vector<float> ref_f = reference_out<float>(acc, g.out_channels, deq);
  bool same = true;
  for (std::size_t i = 0; i < yf.size(); ++i) same = same && std::memcmp(&yf[i], &ref_f[i], 4) == 0;
  CHECK(same);
}

// A pool of real threads: [0, count) in uneven pieces, one thread each.
void thread_pool_run(void* pool, std::int64_t count, qsafe::ParallelFor::Body body, void* context) {
  const int threads = *static_cast<int*>(pool);
  std::vector<std::thread> workers;
  const std::int64_t chunk = count / threads + 1;
  for (int t = 0; t < threads; ++t) {
    const std::int64_t b = std::min<std::int64_t>(count, t * chunk),
                       e = std::min<std::int64_t>(count, t * chunk + chunk);
    if (b < e) workers.emplace_back([=] { body(context, b, e); });
  }
  for (auto& w : workers) w.join();
}

}  // namespace

TEST_CASE("conv2d: every compiled path equals the direct reference on awkward geometries", "[kernel][conv2d]") {
  const std::vector<Case> all = cases();
  // The cases reach every strategy: x in place, the row buffer, and im2col in several chunks.
  int pointwise = 0, row_buffer = 0, chunked = 0;
  for (const Case& c : all) {
    const Conv2dGeometry& g = c.g;
    pointwise += qsafe::detail::conv2d_is_pointwise(g) ? 1 : 0;
    row_buffer += qsafe::detail::conv2d_uses_row_buffer(g) ? 1 : 0;
    chunked += !qsafe::detail::conv2d_is_pointwise(g) && !qsafe::detail::conv2d_uses_row_buffer(g) &&
                       qsafe::detail::conv2d_chunk_rows(g, 1) < g.batch * g.out_h() * g.out_w()
                   ? 1
                   : 0;
  }
  CHECK(pointwise >= 2);
  CHECK(row_buffer >= 12);
  // The row path reads x in place and from padded slots, leaves padded kernel rows out of K, and
  // meets output rows whose every kernel row is padding.
  int in_place = 0, slots = 0, rows_left_out = 0, all_padding = 0;
  for (const Case& c : all) {
    const Conv2dGeometry& g = c.g;
    if (!qsafe::detail::conv2d_uses_row_buffer(g)) continue;
    (qsafe::detail::conv2d_rows_in_place(g) ? in_place : slots) += 1;
    for (std::int64_t oh = 0; oh < g.out_h(); ++oh) {
      std::int64_t inside = 0;
      for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
        const std::int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
        inside += ih >= 0 && ih < g.in_h ? 1 : 0;
      }
      rows_left_out += inside < g.kernel_h && inside > 0 ? 1 : 0;
      all_padding += inside == 0 ? 1 : 0;
    }
  }
  CHECK(in_place >= 3);
  CHECK(slots >= 8);
  CHECK(rows_left_out >= 10);
  CHECK(all_padding >= 2);
  CHECK(chunked >= 1);
  for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) {
      WARN("path " << Isa::name << " not available on this CPU: skipped (see the expected-paths test)");
      return;
    }
    std::mt19937 rng(11);
    int i = 0;
    for (const Case& c : all) {
      REQUIRE(c.g.check() == Status::ok);
      check_case<Isa, std::uint8_t>(c, rng, i);
      if (i % 3 == 0) check_case<Isa, std::int8_t>(c, rng, i + 1);
      ++i;
    }
  });
}

TEST_CASE("conv2d: automatic dispatch runs the packed path; weights serve any image size", "[kernel][conv2d]") {
  std::mt19937 rng(5);
  Conv2dGeometry g = geom(1, 5, 4, 6, 8, 3, 3);
  pad(g, 1, 1, 1, 1);
  const auto w = qsafe_test::random_vector<std::int8_t>(rng, static_cast<std::size_t>(g.weight_numel()), -128, 127);
  const PackedConv p = pack_conv<qsafe::arch::automatic>(g, w);
  REQUIRE(p.status == Status::ok);
  CHECK(p.w.arch() == qsafe::arch::best_available());
  for (std::int64_t h : {1, 5, 11}) {
    Conv2dGeometry gi = g;
    gi.in_h = h;
    gi.in_w = h + 2;
    const auto x = qsafe_test::random_vector<std::uint8_t>(rng, static_cast<std::size_t>(gi.input_numel()), 0, 255);
    std::vector<std::int32_t> y(static_cast<std::size_t>(gi.output_numel()));
    REQUIRE(run_conv<qsafe::arch::automatic>(gi, x, 128, p.w, qsafe::pipeline(), y) == Status::ok);
    CHECK(y == reference(gi, x, 128, w));
  }
}

TEST_CASE("conv2d: extreme values at the largest depth are exact", "[kernel][conv2d]") {
  // depth = 7303 * 3 * 3 = 65727 <= kGemmMaxK, x - x_zp = -255 and weights -128 / -127: the
  // accumulator reaches 2.14e9, just under 2^31.
  Conv2dGeometry g = geom(1, 1, 1, 7303, 2, 3, 3);
  pad(g, 1, 1, 1, 1);
  Conv2dGeometry small = g;
  small.in_h = small.in_w = 3;
  std::vector<std::uint8_t> x(static_cast<std::size_t>(small.input_numel()), 0);
  std::vector<std::int8_t> w(static_cast<std::size_t>(g.weight_numel()));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = i % 2 == 0 ? std::int8_t{-128} : std::int8_t{-127};
  const std::vector<std::int32_t> acc = reference(small, x, 255, w);
  for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) return;
    const PackedConv p = pack_conv<Isa>(g, w);
    REQUIRE(p.status == Status::ok);
    std::vector<std::int32_t> y(acc.size());
    REQUIRE(run_conv<Isa>(small, x, 255, p.w, qsafe::pipeline(), y) == Status::ok);
    INFO(Isa::name);
    CHECK(y == acc);
  });
  Conv2dGeometry too_deep = geom(1, 1, 1, 65794, 1, 1, 1);
  CHECK(qsafe::conv2d_packed_weights_size(too_deep) == 0);
  std::vector<std::byte> tiny(8);
  CHECK(qsafe::pack_conv2d_weights(too_deep, Span<const std::int8_t>(w), Span<std::byte>(tiny)).status() ==
        Status::overflow_risk);
}

TEST_CASE("conv2d: bad input is a status and leaves y untouched", "[kernel][conv2d]") {
  using Isa = qsafe::arch::scalar;
  Conv2dGeometry g = geom(1, 4, 4, 4, 6, 3, 3);
  pad(g, 1, 1, 1, 1);
  const std::vector<std::uint8_t> x(static_cast<std::size_t>(g.input_numel()), 3);
  const std::vector<std::int8_t> w(static_cast<std::size_t>(g.weight_numel()), 1);
  const PackedConv p = pack_conv<Isa>(g, w);
  REQUIRE(p.status == Status::ok);
  std::vector<std::int32_t> y(static_cast<std::size_t>(g.output_numel()), -1);
  const std::vector<std::int32_t> untouched = y;
  const auto none = qsafe::pipeline();
  std::vector<std::byte> ws(qsafe::conv2d_workspace_size<Isa>(g, p.w));
  REQUIRE(!ws.empty());
  auto conv = [&](const Conv2dGeometry& gg, Span<const std::uint8_t> xs, std::int32_t zp, Span<std::int32_t> ys,
                  Span<std::byte> wss) { return qsafe::conv2d<Isa>(gg, xs, zp, p.w, none, ys, wss); };
  const Span<const std::uint8_t> xs(x);
  const Span<std::int32_t> ys(y);
  const Span<std::byte> wss(ws);
  // geometry
  Conv2dGeometry bad = g;
  bad.stride_h = 0;
  CHECK(conv(bad, xs, 0, ys, wss) == Status::invalid_argument);
  bad = g;
  bad.pad_top = bad.pad_bottom = 0;
  bad.in_h = 2;  // 3x3 window does not fit 2 rows
  CHECK(conv(bad, xs, 0, ys, wss) == Status::invalid_argument);
  bad = g;
  bad.groups = 4;  // 6 output channels not divisible by 4
  CHECK(conv(bad, xs, 0, ys, wss) == Status::invalid_argument);
  // shapes
  CHECK(conv(g, xs.subspan(0, xs.size() - 1), 0, ys, wss) == Status::shape_mismatch);
  CHECK(conv(g, xs, 0, ys.subspan(0, ys.size() - 1), wss) == Status::shape_mismatch);
  bad = g;
  bad.out_channels = 3;  // weights were packed for 6
  CHECK(conv(bad, xs, 0, ys.subspan(0, ys.size() / 2), wss) == Status::shape_mismatch);
  bad = g;
  bad.kernel_w = 1;
  CHECK(conv(bad, xs, 0, ys, wss) == Status::shape_mismatch);
  // null data, zero point, workspace
  CHECK(conv(g, Span<const std::uint8_t>(nullptr, x.size()), 0, ys, wss) == Status::null_pointer);
  CHECK(conv(g, xs, 256, ys, wss) == Status::invalid_argument);
  CHECK(conv(g, xs, -1, ys, wss) == Status::invalid_argument);
  CHECK(conv(g, xs, 0, ys, wss.subspan(0, wss.size() - 1)) == Status::workspace_too_small);
  CHECK(conv(g, xs, 0, ys, Span<std::byte>(nullptr, ws.size())) == Status::null_pointer);
  // weights: empty, packed for another path
  CHECK(qsafe::conv2d<Isa>(g, xs, 0, qsafe::PackedConv2dWeights{}, none, ys, wss) == Status::invalid_argument);
  CHECK(qsafe::conv2d(g, xs, 0, qsafe::PackedConv2dWeights{}, none, ys, wss) == Status::invalid_argument);
  for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
    using Other = decltype(isa);
    if (std::is_same<Other, Isa>::value || !Other::available()) return;
    const PackedConv q = pack_conv<Other>(g, w);
    std::vector<std::byte> wo(qsafe::conv2d_workspace_size(g, q.w));
    CHECK(qsafe::conv2d<Isa>(g, xs, 0, q.w, none, ys, Span<std::byte>(wo)) == Status::invalid_argument);
    CHECK(qsafe::conv2d<Other>(g, xs, 0, p.w, none, ys, Span<std::byte>(wo)) == Status::invalid_argument);
  });
  // stages: NaN scale, a per-pixel activation scale, bias of the wrong size
  std::vector<float> scales(6, 1.f), pixels(16, 1.f);
  scales[4] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> yf(y.size(), -1.f);
  const float one = 1.f;
  CHECK(
      qsafe::conv2d<Isa>(g, xs, 0, p.w,
                         qsafe::pipeline(qsafe::Dequantize{Span<const float>(&one, 1), Span<const float>(scales), {}}),
                         Span<float>(yf), wss) == Status::non_finite_input);
  scales[4] = 1.f;
  CHECK(qsafe::conv2d<Isa>(g, xs, 0, p.w,
                           qsafe::pipeline(qsafe::Dequantize{Span<const float>(pixels), Span<const float>(scales), {}}),
                           Span<float>(yf), wss) == Status::shape_mismatch);
  std::vector<std::int32_t> bias5(5, 0);
  CHECK(qsafe::conv2d<Isa>(g, xs, 0, p.w, qsafe::pipeline(qsafe::AddBias{Span<const std::int32_t>(bias5)}), ys, wss) ==
        Status::shape_mismatch);
  CHECK(y == untouched);
  for (float v : yf) CHECK(v == -1.f);
  // packing
  std::vector<std::byte> tiny(16);
  CHECK(qsafe::pack_conv2d_weights<Isa>(g, Span<const std::int8_t>(w), Span<std::byte>(tiny)).status() ==
        Status::workspace_too_small);
  CHECK(qsafe::pack_conv2d_weights<Isa>(g, Span<const std::int8_t>(w.data(), w.size() - 1), Span<std::byte>(tiny))
            .status() == Status::shape_mismatch);
  bad = g;
  bad.kernel_h = 0;
  CHECK(qsafe::pack_conv2d_weights<Isa>(bad, Span<const std::int8_t>(w), Span<std::byte>(tiny)).status() ==
        Status::invalid_argument);
  CHECK(qsafe::conv2d_packed_weights_size<Isa>(bad) == 0);
  CHECK(qsafe::conv2d_workspace_size<Isa>(bad, p.w) == 0);
  // 1x1, stride 1, no padding: x is read in place, no workspace on paths that read A in place
  const Conv2dGeometry pw = geom(1, 3, 3, 4, 6, 1, 1);
  const PackedConv pp = pack_conv<Isa>(pw, std::vector<std::int8_t>(24, 1));
  CHECK(qsafe::conv2d_workspace_size<Isa>(pw, pp.w) == 0);
  std::vector<std::uint8_t> x9(36, 2);
  std::vector<std::int32_t> y9(54, 0);
  CHECK(qsafe::conv2d<Isa>(pw, Span<const std::uint8_t>(x9), 1, pp.w, none, Span<std::int32_t>(y9)) == Status::ok);
  CHECK(y9 == std::vector<std::int32_t>(54, 4));
}

namespace {
#include "fixtures/conv2d_torch.inc"
}  // namespace

TEST_CASE("conv2d: PyTorch quantized::conv2d (qnnpack) integer for integer on every path", "[kernel][conv2d]") {
  for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) return;
    for (const auto& c : conv2d_torch_fixtures::kCases) {
      INFO(Isa::name << ": " << c.name);
      Conv2dGeometry g = geom(c.geom[0], c.geom[1], c.geom[2], c.geom[3], c.geom[4], c.geom[5], c.geom[6]);
      g.stride_h = c.geom[7];
      g.stride_w = c.geom[8];
      pad(g, c.geom[9], c.geom[10], c.geom[9], c.geom[10]);
      g.dilation_h = c.geom[11];
      g.dilation_w = c.geom[12];
      g.groups = c.geom[13];
      REQUIRE(g.output_numel() == c.y_size);
      const std::vector<std::int8_t> w(c.w, c.w + g.weight_numel());
      const std::vector<std::uint8_t> x(c.x, c.x + g.input_numel());
      const std::size_t oc = static_cast<std::size_t>(g.out_channels);
      std::vector<std::int32_t> bias(oc);
      std::vector<float> mult(oc);
      for (std::size_t i = 0; i < oc; ++i) {
        const double ws = c.weight_scales[c.num_weight_scales == 1 ? 0 : i];
        bias[i] = qsafe::pytorch_quantize_bias(c.bias[i], c.input_scale, ws);
        mult[i] = qsafe::pytorch_requant_scale(c.input_scale, ws, c.output_scale);
      }
      const auto out = qsafe::pipeline(qsafe::AddBias{Span<const std::int32_t>(bias)},
                                       qsafe::RequantizeFloat{Span<const float>(mult), c.output_zero_point},
                                       qsafe::Clamp{c.relu ? c.output_zero_point : 0, 255});
      const PackedConv p = pack_conv<Isa>(g, w);
      REQUIRE(p.status == Status::ok);
      std::vector<std::uint8_t> y(static_cast<std::size_t>(c.y_size), 0);
      REQUIRE(run_conv<Isa>(g, x, c.input_zero_point, p.w, out, y) == Status::ok);
      CHECK(y == std::vector<std::uint8_t>(c.y, c.y + c.y_size));
    }
  });
}

TEST_CASE("conv2d: a thread pool gives the same results; its workspace is asked for with it", "[kernel][conv2d]") {
  std::mt19937 rng(9);
  Conv2dGeometry g = geom(1, 12, 40, 24, 70, 3, 3);  // row-buffer geometry single-threaded
  pad(g, 1, 1, 1, 1);
  const auto x = qsafe_test::random_vector<std::uint8_t>(rng, static_cast<std::size_t>(g.input_numel()), 0, 255);
  const auto w = qsafe_test::random_vector<std::int8_t>(rng, static_cast<std::size_t>(g.weight_numel()), -128, 127);
  const std::vector<std::int32_t> acc = reference(g, x, 99, w);
  int threads = 3;
  qsafe::ParallelFor par;
  par.run = thread_pool_run;
  par.pool = &threads;
  for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) return;
    INFO(Isa::name);
    const PackedConv p = pack_conv<Isa>(g, w);
    const std::size_t single = qsafe::conv2d_workspace_size<Isa>(g, p.w);
    const std::size_t pooled = qsafe::conv2d_workspace_size<Isa>(g, p.w, par);
    CHECK(pooled > single);
    std::vector<std::byte> ws(pooled);
    std::vector<std::int32_t> y(acc.size(), 0);
    CHECK(qsafe::conv2d<Isa>(g, Span<const std::uint8_t>(x), 99, p.w, qsafe::pipeline(), Span<std::int32_t>(y),
                             Span<std::byte>(ws.data(), single), par) == Status::workspace_too_small);
    REQUIRE(qsafe::conv2d<Isa>(g, Span<const std::uint8_t>(x), 99, p.w, qsafe::pipeline(), Span<std::int32_t>(y),
                               Span<std::byte>(ws), par) == Status::ok);
    CHECK(y == acc);
  });
}
