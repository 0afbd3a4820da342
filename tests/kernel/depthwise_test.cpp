// Depthwise convolution on every compiled path against the direct reference
// nn::reference::conv2d_nhwc_acc (groups = C): awkward geometries (1x1 images, windows larger
// than the input, stride 2 on odd sizes, dilation, asymmetric padding, rows of pure padding),
// channel counts that are no multiple of any vector width, extreme values; every output stage
// bit-identical to the scalar path; PyTorch (qnnpack) golden outputs; bad input as a Status.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "kernel/gemm_support.hpp"
#include "qsafe/core/fixed_point.hpp"
#include "qsafe/core/float_requant.hpp"
#include "qsafe/kernel/depthwise.hpp"
#include "qsafe/nn/quantized_reference.hpp"

#include "fixtures/depthwise_torch.inc"

using qsafe::Conv2dGeometry;
using qsafe::Span;
using qsafe::Status;
using qsafe_test::for_each_arch;

namespace {

Conv2dGeometry dw(std::int64_t h, std::int64_t w, std::int64_t c, std::int64_t kh, std::int64_t kw, std::int64_t s,
                  std::int64_t pad, std::int64_t dil = 1, std::int64_t batch = 1) {
  Conv2dGeometry g;
  g.batch = batch;
  g.in_h = h;
  g.in_w = w;
  g.in_channels = g.out_channels = g.groups = c;
  g.kernel_h = kh;
  g.kernel_w = kw;
  g.stride_h = g.stride_w = s;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = pad;
  g.dilation_h = g.dilation_w = dil;
  return g;
}

Conv2dGeometry with_channels(Conv2dGeometry g, std::int64_t c) {
  g.in_channels = g.out_channels = g.groups = c;
  return g;
}

// The geometries every path runs (channel count set per case).
std::vector<Conv2dGeometry> shapes() {
  std::vector<Conv2dGeometry> v = {
      dw(1, 1, 1, 3, 3, 1, 1),        // 1x1 image, 3x3 window: only the centre tap
      dw(1, 1, 1, 1, 1, 1, 0),        // 1x1 everything
      dw(1, 1, 1, 1, 1, 1, 1),        // 3x3 output, 8 of 9 pixels pure padding
      dw(2, 2, 1, 5, 5, 1, 2),        // window larger than the input
      dw(3, 2, 1, 5, 5, 2, 2),        // larger window, stride 2
      dw(7, 9, 1, 3, 3, 2, 1),        // stride 2 on odd sizes
      dw(9, 8, 1, 3, 3, 1, 2, 2),     // dilation 2
      dw(11, 13, 1, 3, 3, 1, 1),      // 3x3 s1: interior runs of 4 plus tails
      dw(12, 11, 1, 5, 5, 1, 2),      // 5x5 s1
      dw(9, 12, 1, 5, 5, 2, 2),       // 5x5 s2
      dw(6, 10, 1, 3, 3, 1, 0),       // no padding
      dw(8, 9, 1, 7, 7, 1, 3),        // general window, unrolled nowhere
      dw(5, 17, 1, 1, 3, 1, 1),       // 1x3
      dw(6, 7, 1, 3, 3, 1, 1, 1, 2),  // batch 2
      dw(10, 10, 1, 3, 3, 3, 1, 2),   // stride 3, dilation 2
      dw(3, 40, 1, 3, 3, 1, 1),       // long rows: pixel groups of 16, 4 and 1
      dw(4, 37, 1, 3, 3, 2, 1),       // long rows at stride 2
      dw(5, 30, 1, 5, 5, 1, 2),       // long rows, 5x5
      dw(6, 29, 1, 5, 5, 2, 1),       // long rows, 5x5 stride 2, asymmetric interior
  };
  Conv2dGeometry a = dw(7, 8, 1, 3, 3, 1, 0);  // asymmetric padding
  a.pad_top = 0;
  a.pad_left = 2;
  a.pad_bottom = 1;
  a.pad_right = 0;
  v.push_back(a);
  Conv2dGeometry b = dw(9, 6, 1, 3, 5, 2, 0);  // rectangular window, different strides and dilations
  b.stride_h = 1;
  b.stride_w = 2;
  b.dilation_h = 2;
  b.dilation_w = 1;
  b.pad_top = 3;
  b.pad_left = 1;
  b.pad_bottom = 0;
  b.pad_right = 4;
  v.push_back(b);
  return v;
}

const std::int64_t kChannels[] = {1, 3, 8, 16, 17, 33, 67};

template <class T>
std::vector<T> random_vector(std::mt19937& rng, std::int64_t n, int lo, int hi) {
  return qsafe_test::random_vector<T>(rng, static_cast<std::size_t>(n), lo, hi);
}

// Weights packed for Isa, with their (deliberately misaligned) storage.
struct PackedDw {
  std::vector<std::byte> storage;
  qsafe::DepthwiseWeights w;
  Status status = Status::ok;
};

template <class Isa>
PackedDw pack(const Conv2dGeometry& g, const std::vector<std::int8_t>& oihw) {
  PackedDw p;
  p.storage.resize(qsafe::depthwise_packed_weights_size<Isa>(g) + 5);
  auto r = qsafe::pack_depthwise_weights<Isa>(g, Span<const std::int8_t>(oihw),
                                              Span<std::byte>(p.storage.data() + 5, p.storage.size() - 5));
  p.status = r.status();
  if (r.ok()) p.w = r.value();
  return p;
}

template <class Isa, class AType, class Pipeline, class Out>
Status run(const Conv2dGeometry& g, const std::vector<AType>& x, std::int32_t zp, const std::vector<std::int8_t>& w,
           const Pipeline& pipe, std::vector<Out>& y, const qsafe::ParallelFor& par = {}) {
  const PackedDw p = pack<Isa>(g, w);
  if (p.status != Status::ok) return p.status;
  y.assign(static_cast<std::size_t>(g.output_numel()), Out(77));
  return qsafe::depthwise_conv2d<Isa>(g, Span<const AType>(x), zp, p.w, pipe, Span<Out>(y), par);
}

// The reference accumulators. int8 activations: x - zp = (x + 128) - (zp + 128), as uint8.
std::vector<std::int32_t> reference(const Conv2dGeometry& g, const std::vector<std::uint8_t>& x, std::int32_t zp,
                                    const std::vector<std::int8_t>& w) {
  std::vector<std::int32_t> acc(static_cast<std::size_t>(g.output_numel()));
  REQUIRE(qsafe::nn::reference::conv2d_nhwc_acc(g, Span<const std::uint8_t>(x), zp, Span<const std::int8_t>(w), {}, {},
                                                Span<std::int32_t>(acc)) == Status::ok);
  return acc;
}
std::vector<std::int32_t> reference(const Conv2dGeometry& g, const std::vector<std::int8_t>& x, std::int32_t zp,
                                    const std::vector<std::int8_t>& w) {
  std::vector<std::uint8_t> u(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) u[i] = static_cast<std::uint8_t>(x[i] + 128);
  return reference(g, u, zp + 128, w);
}

std::string describe(const Conv2dGeometry& g) {
  std::ostringstream s;
  s << g.batch << "x" << g.in_h << "x" << g.in_w << "x" << g.in_channels << " k" << g.kernel_h << "x" << g.kernel_w
    << " s" << g.stride_h << "," << g.stride_w << " d" << g.dilation_h << "," << g.dilation_w << " pad " << g.pad_top
    << "," << g.pad_left << "," << g.pad_bottom << "," << g.pad_right;
  return s.str();
}

// data_mode 0: random; 1: x at its maximum; 2: x at its minimum (weights -128 / 127 in both).
template <class Isa, class AType>
void check_raw(const Conv2dGeometry& g, std::mt19937& rng, int zp_mode, int data_mode) {
  constexpr bool kSigned = std::is_same<AType, std::int8_t>::value;
  const int lo = kSigned ? -128 : 0, hi = kSigned ? 127 : 255;
  std::vector<AType> x;
  std::vector<std::int8_t> w;
  if (data_mode == 0) {
    x = random_vector<AType>(rng, g.input_numel(), lo, hi);
    w = random_vector<std::int8_t>(rng, g.weight_numel(), -128, 127);
  } else {
    x.assign(static_cast<std::size_t>(g.input_numel()), static_cast<AType>(data_mode == 1 ? hi : lo));
    w = random_vector<std::int8_t>(rng, g.weight_numel(), 0, 1);
    for (auto& v : w) v = static_cast<std::int8_t>(v ? 127 : -128);
  }
  const std::int32_t zp = zp_mode == 0 ? lo : (zp_mode == 1 ? hi : std::uniform_int_distribution<int>(lo, hi)(rng));
  std::vector<std::int32_t> y;
  REQUIRE(run<Isa>(g, x, zp, w, qsafe::pipeline(), y) == Status::ok);
  const std::vector<std::int32_t> ref = reference(g, x, zp, w);
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (y[i] != ref[i]) {
      FAIL_CHECK(Isa::name << (kSigned ? " s8 " : " u8 ") << describe(g) << " zp " << zp << " data_mode " << data_mode
                           << " index " << i << ": " << y[i] << " != " << ref[i]);
      return;
    }
  }
}

}  // namespace

TEST_CASE("depthwise: every compiled path equals the direct reference on awkward geometries", "[kernel][depthwise]") {
  for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) {
      WARN("path " << Isa::name << " not available on this CPU: skipped");
      return;
    }
    std::mt19937 rng(5);
    int i = 0;
    for (const Conv2dGeometry& shape : shapes())
      for (std::int64_t c : kChannels) {
        const Conv2dGeometry g = with_channels(shape, c);
        const int data_mode = i % 5 == 4 ? 1 + (i / 5) % 2 : 0;
        if (i % 4 == 3)
          check_raw<Isa, std::int8_t>(g, rng, i % 3, data_mode);
        else
          check_raw<Isa, std::uint8_t>(g, rng, i % 3, data_mode);
        ++i;
      }
  });
}

TEST_CASE("depthwise: extreme values over a large window are exact", "[kernel][depthwise]") {
  // |x - zp| = 255 against weights of -128 in every tap of a 31x31 window (961 taps).
  for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) return;
    const Conv2dGeometry g = dw(31, 33, 19, 31, 31, 1, 15);
    for (int sign : {1, -1}) {
      std::vector<std::uint8_t> x(static_cast<std::size_t>(g.input_numel()), sign > 0 ? 255 : 0);
      std::vector<std::int8_t> w(static_cast<std::size_t>(g.weight_numel()), -128);
      for (std::size_t i = 0; i < w.size(); i += 3) w[i] = 127;
      const std::int32_t zp = sign > 0 ? 0 : 255;
      std::vector<std::int32_t> y;
      REQUIRE(run<Isa>(g, x, zp, w, qsafe::pipeline(), y) == Status::ok);
      CHECK(y == reference(g, x, zp, w));
    }
  });
}

namespace {

// Every output stage on path Isa must equal the scalar path bit for bit (RequantizeQ31SingleRound
// shares its vector code with the GEMM and is tested there; one pipeline type per output keeps the
// number of kernel instantiations, and the sanitizer build's compile time, down).
template <class Isa>
void check_stages(const Conv2dGeometry& g, std::mt19937& rng) {
  using Scalar = qsafe::arch::scalar;
  const std::int64_t c = g.in_channels;
  const auto x = random_vector<std::uint8_t>(rng, g.input_numel(), 0, 255);
  const auto w = random_vector<std::int8_t>(rng, g.weight_numel(), -128, 127);
  const std::int32_t zp = std::uniform_int_distribution<int>(0, 255)(rng);
  const auto bias = random_vector<std::int32_t>(rng, c, -30000, 30000);
  std::vector<qsafe::QuantizedMultiplier> mult(static_cast<std::size_t>(c));
  std::vector<float> fmult(static_cast<std::size_t>(c)), wscale(static_cast<std::size_t>(c)),
      fbias(static_cast<std::size_t>(c));
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (std::size_t i = 0; i < mult.size(); ++i) {
    mult[i] = qsafe::QuantizedMultiplier{static_cast<std::int32_t>(1073741824 + (rng() % 1073741823)),
                                         static_cast<int>(rng() % 12) - 14};
    fmult[i] = 1e-4f + 4e-3f * u(rng);
    wscale[i] = 1e-3f * (0.5f + u(rng));
    fbias[i] = u(rng) - 0.5f;
  }
  const float ascale[] = {0.02f};
  const std::int32_t out_zp = std::uniform_int_distribution<int>(-20, 20)(rng);
  {  // TFLite-exact requantization to int8 with ReLU
    const auto p = qsafe::pipeline(qsafe::AddBias{Span<const std::int32_t>(bias)},
                                   qsafe::RequantizeQ31{Span<const qsafe::QuantizedMultiplier>(mult), out_zp},
                                   qsafe::relu(out_zp, 127));
    std::vector<std::int8_t> a, b;
    REQUIRE(run<Isa>(g, x, zp, w, p, a) == Status::ok);
    REQUIRE(run<Scalar>(g, x, zp, w, p, b) == Status::ok);
    CHECK(a == b);
  }
  {  // float requantization to uint8 (PyTorch's epilogue), per tensor multiplier
    const auto p =
        qsafe::pipeline(qsafe::AddBias{Span<const std::int32_t>(bias)},
                        qsafe::RequantizeFloat{Span<const float>(fmult.data(), 1), 128}, qsafe::Clamp{0, 255});
    std::vector<std::uint8_t> a, b;
    REQUIRE(run<Isa>(g, x, zp, w, p, a) == Status::ok);
    REQUIRE(run<Scalar>(g, x, zp, w, p, b) == Status::ok);
    CHECK(a == b);
  }
  {  // dequantize to float with a float bias, then a float clamp
    const auto p = qsafe::pipeline(
        qsafe::Dequantize{Span<const float>(ascale), Span<const float>(wscale), Span<const float>(fbias)},
        qsafe::ClampFloat{-1.5f, 2.5f});
    std::vector<float> a, b;
    REQUIRE(run<Isa>(g, x, zp, w, p, a) == Status::ok);
    REQUIRE(run<Scalar>(g, x, zp, w, p, b) == Status::ok);
    REQUIRE(a.size() == b.size());
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  }
}

}  // namespace

TEST_CASE("depthwise: every output stage is bit-identical to the scalar path", "[kernel][depthwise]") {
  for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available() || std::is_same<Isa, qsafe::arch::scalar>::value) return;
    std::mt19937 rng(9);
    for (std::int64_t c : {std::int64_t{3}, std::int64_t{17}, std::int64_t{67}}) {
      check_stages<Isa>(dw(9, 11, c, 3, 3, 1, 1), rng);
      check_stages<Isa>(dw(7, 9, c, 3, 3, 2, 1), rng);
      check_stages<Isa>(dw(8, 8, c, 5, 5, 1, 2), rng);
    }
  });
}

TEST_CASE("depthwise: the scalar path with float requantization equals the reference layer", "[kernel][depthwise]") {
  // AddBias + RequantizeFloat + Clamp is PyTorch's quantized conv epilogue (reference::requantize_channels).
  std::mt19937 rng(13);
  const Conv2dGeometry g = dw(7, 6, 17, 3, 3, 1, 1);
  const auto x = random_vector<std::uint8_t>(rng, g.input_numel(), 0, 255);
  const auto w = random_vector<std::int8_t>(rng, g.weight_numel(), -128, 127);
  const auto bias = random_vector<std::int32_t>(rng, 17, -2000, 2000);
  std::vector<float> m(17);
  for (auto& v : m) v = 1e-3f * static_cast<float>(1 + rng() % 1000);
  std::vector<std::int32_t> acc(static_cast<std::size_t>(g.output_numel()));
  REQUIRE(qsafe::nn::reference::conv2d_nhwc_acc(g, Span<const std::uint8_t>(x), 100, Span<const std::int8_t>(w), {},
                                                Span<const std::int32_t>(bias), Span<std::int32_t>(acc)) == Status::ok);
  std::vector<std::uint8_t> want(acc.size());
  const qsafe::nn::reference::RequantFloat rq{Span<const float>(m), 90, 90, 255};
  REQUIRE(qsafe::nn::reference::requantize_channels(Span<const std::int32_t>(acc), 17, rq, Span<std::uint8_t>(want)) ==
          Status::ok);
  const auto p = qsafe::pipeline(qsafe::AddBias{Span<const std::int32_t>(bias)},
                                 qsafe::RequantizeFloat{Span<const float>(m), 90}, qsafe::Clamp{90, 255});
  for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) return;
    std::vector<std::uint8_t> y;
    REQUIRE(run<Isa>(g, x, 100, w, p, y) == Status::ok);
    INFO(Isa::name);
    CHECK(y == want);
  });
}

TEST_CASE("depthwise: PyTorch qnnpack golden outputs, integer for integer", "[kernel][depthwise][golden]") {
  // The PyTorch epilogue: int32 bias and per-channel float multipliers (core/float_requant.hpp),
  // AddBias + RequantizeFloat + Clamp.
  for (const auto& tc : depthwise_fixtures::kCases) {
    const Conv2dGeometry g = dw(tc.h, tc.w, tc.c, tc.k, tc.k, tc.stride, tc.pad, tc.dilation);
    const std::size_t c = static_cast<std::size_t>(tc.c);
    const std::vector<std::uint8_t> x(tc.x, tc.x + g.input_numel());
    const std::vector<std::int8_t> w(tc.weights, tc.weights + g.weight_numel());
    std::vector<float> mult(c);
    std::vector<std::int32_t> bias(c, 0);
    for (std::size_t i = 0; i < c; ++i) {
      const double ws = tc.weight_scales[tc.num_weight_scales == 1 ? 0 : i];
      mult[i] = qsafe::pytorch_requant_scale(tc.input_scale, ws, tc.output_scale);
      if (tc.bias != nullptr) bias[i] = qsafe::pytorch_quantize_bias(tc.bias[i], tc.input_scale, ws);
    }
    const auto p = qsafe::pipeline(qsafe::AddBias{Span<const std::int32_t>(bias)},
                                   qsafe::RequantizeFloat{Span<const float>(mult), tc.output_zero_point},
                                   qsafe::Clamp{tc.relu ? tc.output_zero_point : 0, 255});
    const std::vector<std::uint8_t> want(tc.y, tc.y + g.output_numel());
    for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
      using Isa = decltype(isa);
      if (!Isa::available()) return;
      std::vector<std::uint8_t> y;
      REQUIRE(run<Isa>(g, x, tc.input_zero_point, w, p, y) == Status::ok);
      INFO(tc.name << " on " << Isa::name);
      CHECK(y == want);
    });
  }
}

namespace {

void split_pool(void* pool, std::int64_t count, qsafe::ParallelFor::Body body, void* context) {
  // Uneven chunks in reverse order, on the calling thread: the split must not matter.
  const std::int64_t chunk = *static_cast<int*>(pool);
  for (std::int64_t end = count; end > 0; end -= chunk) body(context, end - chunk < 0 ? 0 : end - chunk, end);
}

}  // namespace

TEST_CASE("depthwise: results do not depend on how rows are split", "[kernel][depthwise]") {
  std::mt19937 rng(17);
  const Conv2dGeometry g = dw(13, 10, 33, 3, 3, 2, 1, 1, 2);
  const auto x = random_vector<std::uint8_t>(rng, g.input_numel(), 0, 255);
  const auto w = random_vector<std::int8_t>(rng, g.weight_numel(), -128, 127);
  std::vector<std::int32_t> a, b;
  REQUIRE(run<qsafe::arch::automatic>(g, x, 7, w, qsafe::pipeline(), a) == Status::ok);
  int chunk = 3;
  REQUIRE(run<qsafe::arch::automatic>(g, x, 7, w, qsafe::pipeline(), b, qsafe::ParallelFor{split_pool, &chunk}) ==
          Status::ok);
  CHECK(a == b);
  CHECK(a == reference(g, x, 7, w));
}

TEST_CASE("depthwise: bad input is a status, never a crash", "[kernel][depthwise]") {
  using Isa = qsafe::arch::scalar;
  const Conv2dGeometry g = dw(5, 6, 4, 3, 3, 1, 1);
  std::vector<std::uint8_t> x(static_cast<std::size_t>(g.input_numel()), 3);
  std::vector<std::int8_t> w(static_cast<std::size_t>(g.weight_numel()), 1);
  std::vector<std::int32_t> y(static_cast<std::size_t>(g.output_numel()));
  const PackedDw p = pack<Isa>(g, w);
  REQUIRE(p.status == Status::ok);
  const Span<const std::uint8_t> xv(x);
  const Span<std::int32_t> yv(y);
  const auto none = qsafe::pipeline();
  CHECK(qsafe::depthwise_conv2d<Isa>(g, xv, 0, p.w, none, yv) == Status::ok);
  CHECK(qsafe::depthwise_conv2d(g, xv, 0, p.w, none, yv) == Status::ok);
  // sizes of x and y
  CHECK(qsafe::depthwise_conv2d<Isa>(g, xv.subspan(0, x.size() - 1), 0, p.w, none, yv) == Status::shape_mismatch);
  CHECK(qsafe::depthwise_conv2d<Isa>(g, xv, 0, p.w, none, yv.subspan(1, y.size() - 1)) == Status::shape_mismatch);
  // null data
  CHECK(qsafe::depthwise_conv2d<Isa>(g, Span<const std::uint8_t>(nullptr, x.size()), 0, p.w, none, yv) ==
        Status::null_pointer);
  CHECK(qsafe::depthwise_conv2d<Isa>(g, xv, 0, p.w, none, Span<std::int32_t>(nullptr, y.size())) ==
        Status::null_pointer);
  // zero point outside x's range
  CHECK(qsafe::depthwise_conv2d<Isa>(g, xv, 256, p.w, none, yv) == Status::invalid_argument);
  CHECK(qsafe::depthwise_conv2d<Isa>(g, xv, -1, p.w, none, yv) == Status::invalid_argument);
  std::vector<std::int8_t> xs(x.size());
  CHECK(qsafe::depthwise_conv2d<Isa>(g, Span<const std::int8_t>(xs), 128, p.w, none, yv) == Status::invalid_argument);
  CHECK(qsafe::depthwise_conv2d<Isa>(g, Span<const std::int8_t>(xs), -128, p.w, none, yv) == Status::ok);
  // not a depthwise geometry
  Conv2dGeometry bad = g;
  bad.groups = 2;
  CHECK(qsafe::depthwise_conv2d<Isa>(bad, xv, 0, p.w, none, yv) == Status::invalid_argument);
  bad = g;
  bad.out_channels = 8;
  bad.groups = 4;
  CHECK(qsafe::depthwise_conv2d<Isa>(bad, xv, 0, p.w, none, yv) == Status::invalid_argument);
  CHECK(qsafe::depthwise_packed_weights_size<Isa>(bad) == 0);
  bad = g;
  bad.stride_h = 0;
  CHECK(qsafe::depthwise_conv2d<Isa>(bad, xv, 0, p.w, none, yv) == Status::invalid_argument);
  bad = g;
  bad.pad_left = -1;
  CHECK(qsafe::depthwise_conv2d<Isa>(bad, xv, 0, p.w, none, yv) == Status::invalid_argument);
  bad = dw(2, 2, 4, 5, 5, 1, 1);  // window larger than the padded input
  CHECK(qsafe::pack_depthwise_weights<Isa>(bad, Span<const std::int8_t>(w), {}).status() == Status::invalid_argument);
  // weights for another geometry (same size in bytes: 3x3 vs 9x1)
  bad = g;
  bad.kernel_h = 9;
  bad.kernel_w = 1;
  bad.pad_top = bad.pad_bottom = 4;
  bad.pad_left = bad.pad_right = 0;
  CHECK(qsafe::depthwise_conv2d<Isa>(bad, xv, 0, p.w, none, yv) == Status::shape_mismatch);
  // empty weights; weights packed for another path
  CHECK(qsafe::depthwise_conv2d<Isa>(g, xv, 0, qsafe::DepthwiseWeights{}, none, yv) == Status::invalid_argument);
  CHECK(qsafe::depthwise_conv2d(g, xv, 0, qsafe::DepthwiseWeights{}, none, yv) == Status::invalid_argument);
  for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
    using Other = decltype(isa);
    if (std::is_same<Other, Isa>::value || !Other::available()) return;
    const PackedDw q = pack<Other>(g, w);
    REQUIRE(q.status == Status::ok);
    CHECK(qsafe::depthwise_conv2d<Isa>(g, xv, 0, q.w, none, yv) == Status::invalid_argument);
    CHECK(qsafe::depthwise_conv2d<Other>(g, xv, 0, p.w, none, yv) == Status::invalid_argument);
    CHECK(qsafe::depthwise_conv2d(g, xv, 0, q.w, none, yv) == Status::ok);
  });
  // stage parameters: span sizes, NaN scale, per-pixel activation scales
  std::vector<std::int32_t> bias3(3);
  CHECK(qsafe::depthwise_conv2d<Isa>(g, xv, 0, p.w, qsafe::pipeline(qsafe::AddBias{Span<const std::int32_t>(bias3)}),
                                     yv) == Status::shape_mismatch);
  const float nan[] = {std::numeric_limits<float>::quiet_NaN()};
  const float one[] = {1.f};
  std::vector<float> yf(y.size());
  CHECK(qsafe::depthwise_conv2d<Isa>(
            g, xv, 0, p.w, qsafe::pipeline(qsafe::Dequantize{Span<const float>(nan), Span<const float>(one), {}}),
            Span<float>(yf)) == Status::non_finite_input);
  std::vector<float> per_pixel(static_cast<std::size_t>(g.out_h() * g.out_w()), 1.f);
  CHECK(qsafe::depthwise_conv2d<Isa>(
            g, xv, 0, p.w, qsafe::pipeline(qsafe::Dequantize{Span<const float>(per_pixel), Span<const float>(one), {}}),
            Span<float>(yf)) == Status::shape_mismatch);
  // packing: weight count, storage, null storage, too many taps
  std::vector<std::byte> tiny(16);
  CHECK(qsafe::pack_depthwise_weights<Isa>(g, Span<const std::int8_t>(w.data(), w.size() - 1), Span<std::byte>(tiny))
            .status() == Status::shape_mismatch);
  CHECK(qsafe::pack_depthwise_weights<Isa>(g, Span<const std::int8_t>(w), Span<std::byte>(tiny)).status() ==
        Status::workspace_too_small);
  CHECK(qsafe::pack_depthwise_weights<Isa>(g, Span<const std::int8_t>(nullptr, w.size()), Span<std::byte>(tiny))
            .status() == Status::null_pointer);
  CHECK(qsafe::pack_depthwise_weights<Isa>(g, Span<const std::int8_t>(w),
                                           Span<std::byte>(nullptr, qsafe::depthwise_packed_weights_size<Isa>(g)))
            .status() == Status::null_pointer);
  Conv2dGeometry huge = dw(300, 300, 1, 257, 257, 1, 0);  // 66049 taps > kGemmMaxK
  CHECK(qsafe::depthwise_packed_weights_size<Isa>(huge) == 0);
  CHECK(qsafe::pack_depthwise_weights<Isa>(huge, Span<const std::int8_t>(w), Span<std::byte>(tiny)).status() ==
        Status::overflow_risk);
  // forcing a path this CPU or build cannot run
  for_each_arch(qsafe_test::kernel_paths{}, [&](auto isa) {
    using Other = decltype(isa);
    if (Other::available()) return;
    CHECK(qsafe::depthwise_conv2d<Other>(g, xv, 0, p.w, none, yv) == Status::unsupported_arch);
  });
}
