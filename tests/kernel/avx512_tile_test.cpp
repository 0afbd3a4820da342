// The AVX-512 VNNI kernel on the shapes its register tile makes risky: every row tail of the
// 7-row tile (M = 1..8, 13..15, 21, 56, 57, and around the driver's 112-row task blocks), the
// tile whose fourth B vector is read from memory by every row, the K tail (k % 4 != 0), partial
// panels, and conv2d with ResNet-like output widths (7, 14: im2col; 28, 56, 57: the row buffer,
// one GEMM call per output row), raw int32 and requantized uint8, against the int64 reference.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include "kernel/gemm_support.hpp"
#include "qsafe/kernel/conv2d.hpp"
#include "qsafe/kernel/gemm.hpp"
#include "qsafe/nn/quantized_reference.hpp"

using qsafe::MatrixView;
using qsafe::Span;
using qsafe::Status;

// Not in the sanitizer build (QSAFE_TEST_SANITIZED): there gemm_test.cpp's shape sweep and
// conv2d_test.cpp run the same tiles on this path under ASan + UBSan, and this file's own copies of
// those instantiations cost ~40 s of compile (kernel/pipeline_check.hpp).
#if QSAFE_COMPILE_AVX512_VNNI && !defined(QSAFE_TEST_SANITIZED)
namespace {

using Avx512 = qsafe::arch::avx512_vnni;

// The raw int32 check (qsafe_test::check_extreme_gemm), and for uint8 A bias + per-channel float
// requantization to uint8 (the conv layers' pipeline) on the same inputs.
template <class AType>
void check_gemm(std::mt19937& rng, std::int64_t m, std::int64_t n, std::int64_t k, int a_mode, int w_mode,
                int zp_mode) {
  qsafe_test::check_extreme_gemm<Avx512, AType>(
      rng, m, n, k, a_mode, w_mode, zp_mode,
      [&](const qsafe_test::ExtremeCase<AType>& c, const qsafe::PackedWeights& pw,
          const std::vector<std::int64_t>& ref) {
        if constexpr (std::is_same<AType, std::uint8_t>::value) {
          std::vector<std::int32_t> bias(static_cast<std::size_t>(n));
          std::vector<float> mult(static_cast<std::size_t>(n));
          for (std::size_t j = 0; j < bias.size(); ++j) {
            bias[j] = static_cast<std::int32_t>(j * 977 % 4001) - 2000;
            mult[j] = 1.f / static_cast<float>(300 + 53 * j);
          }
          const auto requant = qsafe::pipeline(qsafe::AddBias{Span<const std::int32_t>(bias)},
                                               qsafe::RequantizeFloat{Span<const float>(mult), 120});
          std::vector<std::uint8_t> q(static_cast<std::size_t>(m * n), 7);
          REQUIRE(qsafe_test::gemm<Avx512>(MatrixView<const AType>(c.a.data(), m, k), Span<const std::int32_t>(c.zp),
                                           pw, requant, MatrixView<std::uint8_t>(q.data(), m, n)) == Status::ok);
          bool same = true;
          for (std::size_t i = 0; i < ref.size() && same; ++i) {
            std::uint8_t expect = 0;
            qsafe::detail::store_scalar(&expect, qsafe::detail::apply_stages_scalar<0>(
                                                     requant, static_cast<std::int32_t>(ref[i]),
                                                     qsafe::detail::ElementPos{0, static_cast<std::int64_t>(i) % n}));
            same = q[i] == expect;
          }
          CHECK(same);
        }
      });
}

// A square kernel with the same padding on every side (qsafe_test::geom / pad).
qsafe::Conv2dGeometry conv_geom(std::int64_t h, std::int64_t w, std::int64_t c, std::int64_t oc, std::int64_t kernel,
                                std::int64_t p) {
  qsafe::Conv2dGeometry g = qsafe_test::geom(1, h, w, c, oc, kernel, kernel);
  return qsafe_test::pad(g, p, p, p, p);
}

void check_conv(std::mt19937& rng, const qsafe::Conv2dGeometry& g, std::int32_t zp) {
  REQUIRE(g.check() == Status::ok);
  const auto x = qsafe_test::random_vector<std::uint8_t>(rng, static_cast<std::size_t>(g.input_numel()), 0, 255);
  const auto w = qsafe_test::random_vector<std::int8_t>(rng, static_cast<std::size_t>(g.weight_numel()), -128, 127);
  std::vector<std::int32_t> ref(static_cast<std::size_t>(g.output_numel()));
  REQUIRE(qsafe::nn::reference::conv2d_nhwc_acc(g, Span<const std::uint8_t>(x), zp, Span<const std::int8_t>(w), {}, {},
                                                Span<std::int32_t>(ref)) == Status::ok);
  std::vector<std::byte> storage(qsafe::conv2d_packed_weights_size<Avx512>(g));
  auto packed = qsafe::pack_conv2d_weights<Avx512>(g, Span<const std::int8_t>(w), Span<std::byte>(storage));
  REQUIRE(packed.ok());
  std::vector<std::byte> ws(qsafe::conv2d_workspace_size<Avx512>(g, packed.value()));
  std::vector<std::int32_t> y(ref.size(), 0x5a5a5a5a);
  INFO("conv " << g.in_h << "x" << g.in_w << "x" << g.in_channels << "->" << g.out_channels << " k" << g.kernel_h
               << " out_w " << g.out_w() << (qsafe::detail::conv2d_uses_row_buffer(g) ? " row buffer" : " im2col")
               << " zp " << zp);
  REQUIRE(qsafe::conv2d<Avx512>(g, Span<const std::uint8_t>(x), zp, packed.value(), qsafe::pipeline(),
                                Span<std::int32_t>(y), Span<std::byte>(ws)) == Status::ok);
  CHECK(y == ref);
}

}  // namespace

TEST_CASE("avx512_vnni gemm: every row tail of the register tile, K tails, partial panels", "[kernel][gemm][avx512]") {
  if (!Avx512::available()) {
    WARN("AVX-512 VNNI not available on this CPU: skipped");
    return;
  }
  // Every M below two tiles, the tails after one, two and three tiles, a ResNet row (56) and one
  // past it, and the driver's 112-row task blocks (one block, one more row, one more tile).
  const std::int64_t ms[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 20, 21, 22, 56, 57, 112, 113, 119, 120};
  const std::int64_t ks[] = {1, 3, 4, 5, 64, 67, 576};
  const std::int64_t ns[] = {5, 64, 70};
  std::mt19937 rng(77);
  int i = 0;
  for (std::int64_t m : ms)
    for (std::int64_t k : ks)
      for (std::int64_t n : ns) {
        if (m * n * k > (1 << 20)) continue;
        const int a_mode = i % 3, w_mode = (i / 3) % 2 * 4, zp_mode = (i / 6) % 4;  // w: random or {-128, 127}
        if (i % 2 == 0)
          check_gemm<std::uint8_t>(rng, m, n, k, a_mode, w_mode, zp_mode);
        else
          check_gemm<std::int8_t>(rng, m, n, k, a_mode, w_mode, zp_mode);
        ++i;
      }
}

TEST_CASE("avx512_vnni gemm: extreme values on full tiles and tails", "[kernel][gemm][avx512]") {
  if (!Avx512::available()) return;
  std::mt19937 rng(13);
  for (std::int64_t m : {std::int64_t{7}, std::int64_t{13}, std::int64_t{21}})
    for (int zp_mode = 0; zp_mode <= 2; ++zp_mode) {
      check_gemm<std::uint8_t>(rng, m, 70, 1027, 1, 4, zp_mode);
      check_gemm<std::int8_t>(rng, m, 70, 1027, 2, 4, zp_mode);
      check_gemm<std::int8_t>(rng, m, 64, 259, 1, 4, zp_mode);
    }
}

TEST_CASE("avx512_vnni conv2d: ResNet-like output widths", "[kernel][conv2d][avx512]") {
  if (!Avx512::available()) return;
  std::mt19937 rng(3);
  // 3x3, padding 1: out_w = in_w. 7 and 14 run im2col, 28, 56 and 57 the row buffer.
  for (std::int64_t w : {std::int64_t{7}, std::int64_t{14}, std::int64_t{28}, std::int64_t{56}, std::int64_t{57}})
    check_conv(rng, conv_geom(3, w, 16, 70, 3, 1), w % 2 ? 0 : 131);
  check_conv(rng, conv_geom(4, 56, 64, 64, 3, 1), 255);
  check_conv(rng, conv_geom(2, 56, 5, 3, 3, 1), 17);
}
#endif
