// Property tests of the quantized GEMM and of integer requantization:
//   linearity     with zero-point-free int8 A, C(A1 + A2) = C(A1) + C(A2), C(-A) = -C(A), and the
//                 same in B (raw int32 output, exact);
//   zero points   uint8 A with zero point z gives the same C as the int8 matrix A - z, per tensor
//                 and per row;
//   composition   a fused pipeline (requantize, clamp; dequantize) equals its stages applied one
//                 by one to the raw int32 GEMM output;
//   requantize    multiplier 1.0 is the identity (|x| < 2^30); a power of two 2^-s is a round-half-up shift
//                 (single rounding); both forms are monotone in x, single rounding is within 1/2 of
//                 x * r exactly and double rounding within 1 of single rounding.
// The GEMM runs on the path pack_weights picks for this CPU (arch::automatic) and on the scalar
// reference.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "qsafe/core/fixed_point.hpp"
#include "qsafe/kernel/gemm.hpp"

namespace {

using qsafe::MatrixView;
using qsafe::Span;
using qsafe::Status;

// Weights [N, K] packed for one path, owning their storage.
template <class Isa>
struct Packed {
  std::vector<std::byte> storage;
  qsafe::PackedWeights w;
  Packed(const std::vector<std::int8_t>& b, std::int64_t n, std::int64_t k)
      : storage(qsafe::packed_weights_size<Isa>(n, k)) {
    const qsafe::Result<qsafe::PackedWeights> r = qsafe::pack_weights<Isa>(
        MatrixView<const std::int8_t>(b.data(), n, k), qsafe::WeightLayout::nk, Span<std::byte>(storage));
    REQUIRE(r.ok());
    w = r.value();
  }
};

template <class Isa, class AType, class Pipeline, class Out = std::int32_t>
std::vector<Out> run(const std::vector<AType>& a, std::int64_t m, std::int64_t k, const std::vector<std::int32_t>& zp,
                     const Packed<Isa>& b, const Pipeline& pipeline) {
  const std::int64_t n = b.w.n();
  std::vector<Out> c(static_cast<std::size_t>(m * n));
  std::vector<std::byte> workspace(qsafe::gemm_workspace_size<Isa>(m, b.w) + 1);
  const Status s = qsafe::gemm<Isa>(MatrixView<const AType>(a.data(), m, k), Span<const std::int32_t>(zp), b.w,
                                    pipeline, MatrixView<Out>(c.data(), m, n), Span<std::byte>(workspace));
  REQUIRE(s == Status::ok);
  return c;
}

template <class T>
std::vector<T> random_matrix(std::mt19937& rng, std::size_t size, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(size);
  for (T& x : v) x = static_cast<T>(d(rng));
  return v;
}

struct Shape3 {
  std::int64_t m, n, k;
};
const Shape3 kShapes[] = {{1, 1, 1}, {3, 5, 7}, {4, 16, 64}, {7, 9, 33}, {13, 31, 130}, {2, 70, 3}};

}  // namespace

TEMPLATE_TEST_CASE("property: GEMM is linear in A and in B for zero-point-free int8 inputs", "[property][gemm]",
                   qsafe::arch::automatic, qsafe::arch::scalar) {
  using Isa = TestType;
  std::mt19937 rng(12345u);
  const std::vector<std::int32_t> zp0 = {0};
  for (const Shape3 s : kShapes) {
    INFO("M = " << s.m << " N = " << s.n << " K = " << s.k);
    const std::size_t sa = static_cast<std::size_t>(s.m * s.k), sb = static_cast<std::size_t>(s.n * s.k);
    const auto a1 = random_matrix<std::int8_t>(rng, sa, -64, 63);
    const auto a2 = random_matrix<std::int8_t>(rng, sa, -64, 63);
    const auto b1 = random_matrix<std::int8_t>(rng, sb, -64, 63);
    const auto b2 = random_matrix<std::int8_t>(rng, sb, -64, 63);
    std::vector<std::int8_t> a12(sa), neg_a1(sa), b12(sb);
    for (std::size_t i = 0; i < sa; ++i) {
      a12[i] = static_cast<std::int8_t>(a1[i] + a2[i]);
      neg_a1[i] = static_cast<std::int8_t>(-a1[i]);
    }
    for (std::size_t i = 0; i < sb; ++i) b12[i] = static_cast<std::int8_t>(b1[i] + b2[i]);
    const Packed<Isa> pb1(b1, s.n, s.k), pb2(b2, s.n, s.k), pb12(b12, s.n, s.k);
    const auto c1 = run<Isa>(a1, s.m, s.k, zp0, pb1, qsafe::pipeline());
    const auto c2 = run<Isa>(a2, s.m, s.k, zp0, pb1, qsafe::pipeline());
    const auto c12 = run<Isa>(a12, s.m, s.k, zp0, pb1, qsafe::pipeline());
    const auto cneg = run<Isa>(neg_a1, s.m, s.k, zp0, pb1, qsafe::pipeline());
    const auto d2 = run<Isa>(a1, s.m, s.k, zp0, pb2, qsafe::pipeline());
    const auto d12 = run<Isa>(a1, s.m, s.k, zp0, pb12, qsafe::pipeline());
    for (std::size_t i = 0; i < c1.size(); ++i) {
      REQUIRE(c12[i] == c1[i] + c2[i]);
      REQUIRE(cneg[i] == -c1[i]);
      REQUIRE(d12[i] == c1[i] + d2[i]);
    }
  }
}

TEMPLATE_TEST_CASE("property: uint8 A with zero point z equals the int8 matrix A - z", "[property][gemm]",
                   qsafe::arch::automatic, qsafe::arch::scalar) {
  using Isa = TestType;
  std::mt19937 rng(777u);
  for (const Shape3 s : kShapes) {
    INFO("M = " << s.m << " N = " << s.n << " K = " << s.k);
    const std::size_t sa = static_cast<std::size_t>(s.m * s.k);
    const auto b = random_matrix<std::int8_t>(rng, static_cast<std::size_t>(s.n * s.k), -128, 127);
    const Packed<Isa> pb(b, s.n, s.k);
    std::uniform_int_distribution<int> zd(0, 255);
    // Per tensor and per row zero points; A's values chosen so that A - z fits int8.
    std::vector<std::int32_t> zp_row(static_cast<std::size_t>(s.m));
    for (auto& z : zp_row) z = zd(rng);
    for (const bool per_row : {false, true}) {
      std::vector<std::int32_t> zp = per_row ? zp_row : std::vector<std::int32_t>{zp_row[0]};
      std::vector<std::uint8_t> a(sa);
      std::vector<std::int8_t> shifted(sa);
      for (std::int64_t r = 0; r < s.m; ++r) {
        const int z = zp[per_row ? static_cast<std::size_t>(r) : 0];
        std::uniform_int_distribution<int> ad(std::max(0, z - 128), std::min(255, z + 127));
        for (std::int64_t c = 0; c < s.k; ++c) {
          const std::size_t i = static_cast<std::size_t>(r * s.k + c);
          a[i] = static_cast<std::uint8_t>(ad(rng));
          shifted[i] = static_cast<std::int8_t>(a[i] - z);
        }
      }
      const auto cu = run<Isa>(a, s.m, s.k, zp, pb, qsafe::pipeline());
      const auto cs = run<Isa>(shifted, s.m, s.k, std::vector<std::int32_t>{0}, pb, qsafe::pipeline());
      REQUIRE(cu == cs);
    }
  }
}

TEMPLATE_TEST_CASE("property: a fused output pipeline equals its stages applied to the raw accumulators",
                   "[property][gemm]", qsafe::arch::automatic, qsafe::arch::scalar) {
  using Isa = TestType;
  std::mt19937 rng(31337u);
  std::uniform_real_distribution<double> mult(1e-4, 0.9);
  for (const Shape3 s : kShapes) {
    INFO("M = " << s.m << " N = " << s.n << " K = " << s.k);
    const auto a = random_matrix<std::uint8_t>(rng, static_cast<std::size_t>(s.m * s.k), 0, 255);
    const auto b = random_matrix<std::int8_t>(rng, static_cast<std::size_t>(s.n * s.k), -127, 127);
    const std::vector<std::int32_t> zp = {117};
    const Packed<Isa> pb(b, s.n, s.k);
    const auto raw = run<Isa>(a, s.m, s.k, zp, pb, qsafe::pipeline());
    std::vector<qsafe::QuantizedMultiplier> qm(static_cast<std::size_t>(s.n));
    std::vector<float> sw(static_cast<std::size_t>(s.n)), bias(static_cast<std::size_t>(s.n));
    for (std::size_t j = 0; j < qm.size(); ++j) {
      qm[j] = qsafe::quantize_multiplier(mult(rng)).value();
      sw[j] = static_cast<float>(mult(rng));
      bias[j] = static_cast<float>(mult(rng) - 0.5);
    }
    const std::vector<float> sa = {0.0173f};
    const auto q8 = run<Isa, std::uint8_t, decltype(qsafe::pipeline(qsafe::RequantizeQ31{}, qsafe::Clamp{})),
                        std::int8_t>(
        a, s.m, s.k, zp, pb,
        qsafe::pipeline(qsafe::RequantizeQ31{Span<const qsafe::QuantizedMultiplier>(qm), -5}, qsafe::Clamp{-100, 90}));
    const auto f = run<Isa, std::uint8_t, decltype(qsafe::pipeline(qsafe::Dequantize{})), float>(
        a, s.m, s.k, zp, pb,
        qsafe::pipeline(qsafe::Dequantize{Span<const float>(sa), Span<const float>(sw), Span<const float>(bias)}));
    for (std::int64_t r = 0; r < s.m; ++r)
      for (std::int64_t c = 0; c < s.n; ++c) {
        const std::size_t i = static_cast<std::size_t>(r * s.n + c);
        const std::size_t j = static_cast<std::size_t>(c);
        const std::int32_t want =
            std::min(90, std::max(-100, qsafe::multiply_by_quantized_multiplier(raw[i], qm[j]) - 5));
        REQUIRE(q8[i] == want);
        volatile float scale = sa[0] * sw[j];  // two roundings, as documented: no FMA
        volatile float prod = static_cast<float>(raw[i]) * scale;
        REQUIRE(f[i] == prod + bias[j]);
      }
  }
}

TEST_CASE("property: requantization identities", "[property][requantize]") {
  std::mt19937 rng(2718u);
  std::uniform_int_distribution<std::int32_t> any(std::numeric_limits<std::int32_t>::min(),
                                                  std::numeric_limits<std::int32_t>::max());
  std::uniform_int_distribution<std::int32_t> acc(-(1 << 24), 1 << 24);
  std::vector<std::int32_t> xs = {0, 1, -1, 2, -2, 3, -3, std::numeric_limits<std::int32_t>::max(),
                                  std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::min() + 1};
  for (int i = 0; i < 20000; ++i) xs.push_back(i % 2 ? any(rng) : acc(rng));

  SECTION("multiplier 1.0 is the identity (for |x| < 2^30)") {
    // 1.0 is held as 0.5 * 2^1: the left shift wraps for |x| >= 2^30, as documented (and as TFLite).
    const qsafe::QuantizedMultiplier one = qsafe::quantize_multiplier(1.0).value();
    for (std::int32_t x : xs) {
      if (x >= (1 << 30) || x < -(1 << 30)) continue;
      INFO("x = " << x);
      REQUIRE(qsafe::multiply_by_quantized_multiplier(x, one) == x);
      REQUIRE(qsafe::multiply_by_quantized_multiplier_single_round(x, one) == x);
    }
  }
  SECTION("a power of two 2^-s is a round-half-up shift (single rounding)") {
    for (int sh = 1; sh <= 31; ++sh) {
      const qsafe::QuantizedMultiplier m = qsafe::quantize_multiplier(std::ldexp(1.0, -sh)).value();
      for (std::int32_t x : xs) {
        INFO("x = " << x << " s = " << sh);
        const std::int64_t want = (static_cast<std::int64_t>(x) + (std::int64_t{1} << (sh - 1))) >> sh;
        REQUIRE(qsafe::multiply_by_quantized_multiplier_single_round(x, m) == want);
        const std::int64_t twice = qsafe::multiply_by_quantized_multiplier(x, m);
        REQUIRE(std::llabs(twice - want) <= 1);
      }
    }
  }
  SECTION("monotone in x; single rounding within 1/2 of x * r, double within 1 of single") {
    std::uniform_real_distribution<double> log_r(-20.0, 0.0);
    std::vector<std::int32_t> sorted(xs.begin(), xs.end());
    std::sort(sorted.begin(), sorted.end());
    for (int t = 0; t < 40; ++t) {
      const double real = std::pow(2.0, log_r(rng));
      const qsafe::QuantizedMultiplier m = qsafe::quantize_multiplier(real).value();
      const double r = std::ldexp(static_cast<double>(m.multiplier), m.shift - 31);  // the exact multiplier
      std::int32_t prev_single = std::numeric_limits<std::int32_t>::min();
      std::int32_t prev_double = std::numeric_limits<std::int32_t>::min();
      for (std::int32_t x : sorted) {
        INFO("x = " << x << " r = " << r);
        const std::int32_t single = qsafe::multiply_by_quantized_multiplier_single_round(x, m);
        const std::int32_t twice = qsafe::multiply_by_quantized_multiplier(x, m);
        REQUIRE(single >= prev_single);
        REQUIRE(twice >= prev_double);
        REQUIRE(std::fabs(static_cast<double>(single) - static_cast<double>(x) * r) <= 0.5);
        REQUIRE(std::llabs(static_cast<std::int64_t>(twice) - single) <= 1);
        prev_single = single;
        prev_double = twice;
      }
    }
  }
}
