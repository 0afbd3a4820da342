// tests/kernel/gemm_support.hpp: owning helpers and an independent reference for the GEMM tests.
#ifndef QSAFE_TESTS_KERNEL_GEMM_SUPPORT_HPP_
#define QSAFE_TESTS_KERNEL_GEMM_SUPPORT_HPP_

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "qsafe/core/conv_geometry.hpp"
#include "qsafe/kernel/gemm.hpp"

namespace qsafe_test {

// Bitwise equality (float outputs: NaN payloads and signed zeros count).
template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Calls f(Isa{}) for every path in the list.
template <class F, class... I>
void for_each_arch(qsafe::arch::list<I...>, F&& f) {
  (f(I{}), ...);
}

namespace detail {
// The list without AVX-VNNI, built with the registry's own filter (arch::detail::concat / maybe).
template <class List>
struct without_avx_vnni;
template <class... I>
struct without_avx_vnni<qsafe::arch::list<I...>> {
  using type =
      typename qsafe::arch::detail::concat<qsafe::arch::detail::maybe<I::id != qsafe::arch::Id::avx_vnni, I>...>::type;
};
}  // namespace detail

// The paths the kernel tests built on the GEMM (pipelines through it, conv2d, depthwise, dynamic
// quantization) run: every compiled one, except that the sanitizer build (QSAFE_TEST_SANITIZED,
// CI stage 30) leaves out AVX-VNNI there. Its epilogue, fills and depthwise kernels are AVX2's
// source, which those tests instantiate under the sanitizers as avx2; its own code, the VEX
// vpdpbusd K loop reading A in place, runs under them in gemm_test.cpp's shape sweep (which
// iterates arch::compiled). The unsanitized builds run every path everywhere. Each pipeline type
// instantiated on one more SIMD path cost 5-10 s of compile under ASan + UBSan.
#if defined(QSAFE_TEST_SANITIZED)
using kernel_paths = typename detail::without_avx_vnni<qsafe::arch::compiled>::type;
#else
using kernel_paths = qsafe::arch::compiled;
#endif

// Weights packed for Isa, with their storage.
struct Packed {
  std::vector<std::byte> storage;
  qsafe::PackedWeights w;
  qsafe::Status status = qsafe::Status::ok;
};

template <class Isa>
Packed pack(const std::vector<std::int8_t>& w_nk, std::int64_t n, std::int64_t k) {
  Packed p;
  p.storage.resize(qsafe::packed_weights_size<Isa>(n, k) + 3);
  // Deliberately misaligned storage: pack_weights aligns inside it.
  qsafe::Span<std::byte> s(p.storage.data() + 3, p.storage.size() - 3);
  auto r =
      qsafe::pack_weights<Isa>(qsafe::MatrixView<const std::int8_t>(w_nk.data(), n, k), qsafe::WeightLayout::nk, s);
  p.status = r.status();
  if (r.ok()) p.w = r.value();
  return p;
}

// gemm<Isa> with a workspace of exactly the size it asks for (plus a misalignment).
template <class Isa, class AType, class Pipeline, class Out>
qsafe::Status gemm(qsafe::MatrixView<const AType> a, qsafe::Span<const std::int32_t> zp, const qsafe::PackedWeights& w,
                   const Pipeline& p, qsafe::MatrixView<Out> c, const qsafe::ParallelFor& par = {}) {
  std::vector<std::byte> ws(qsafe::gemm_workspace_size<Isa>(a.rows(), w) + 1);
  return qsafe::gemm<Isa>(a, zp, w, p, c, qsafe::Span<std::byte>(ws.data() + 1, ws.size() - 1), par);
}

// acc[m][n] = sum_k (A[m][k] - zp[m]) * W[n][k] in int64 (W in [N, K] layout).
template <class AType>
std::vector<std::int64_t> reference_acc(const std::vector<AType>& a, const std::vector<std::int32_t>& zp,
                                        const std::vector<std::int8_t>& w_nk, std::int64_t m, std::int64_t n,
                                        std::int64_t k) {
  std::vector<std::int64_t> c(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int64_t z = zp.size() == 1 ? zp[0] : zp[static_cast<std::size_t>(i)];
    for (std::int64_t j = 0; j < n; ++j) {
      std::int64_t s = 0;
      for (std::int64_t kk = 0; kk < k; ++kk)
        s += (static_cast<std::int64_t>(a[static_cast<std::size_t>(i * k + kk)]) - z) *
             w_nk[static_cast<std::size_t>(j * k + kk)];
      c[static_cast<std::size_t>(i * n + j)] = s;
    }
  }
  return c;
}

template <class T>
std::vector<T> random_vector(std::mt19937& rng, std::size_t size, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(size);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

// The inputs of an extreme-value GEMM case (the per-path kernel tests): A by a_mode (0 random, 1 all
// at the type's top, 2 all at its bottom); W [N, K] by w_mode (0 random, 1 all +127, 2 all -128,
// 3 alternating -128 / +127 along k, 4 random in {-128, 127}); zero points by zp_mode (0 per tensor
// at the type's bottom, 1 at its top, 2 per row alternating both ends, 3 per tensor in the middle).
template <class AType>
struct ExtremeCase {
  std::vector<AType> a;
  std::vector<std::int8_t> w;
  std::vector<std::int32_t> zp;
};

template <class AType>
ExtremeCase<AType> extreme_case(std::mt19937& rng, std::int64_t m, std::int64_t n, std::int64_t k, int a_mode,
                                int w_mode, int zp_mode) {
  constexpr bool kSigned = std::is_same<AType, std::int8_t>::value;
  const int lo = kSigned ? -128 : 0, hi = kSigned ? 127 : 255;
  ExtremeCase<AType> c;
  c.a.resize(static_cast<std::size_t>(m * k));
  std::uniform_int_distribution<int> any(lo, hi), any_w(-128, 127), bit(0, 1);
  for (auto& x : c.a) x = static_cast<AType>(a_mode == 0 ? any(rng) : a_mode == 1 ? hi : lo);
  c.w.resize(static_cast<std::size_t>(n * k));
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t kk = 0; kk < k; ++kk) {
      int v = 0;
      switch (w_mode) {
        case 0: v = any_w(rng); break;
        case 1: v = 127; break;
        case 2: v = -128; break;
        case 3: v = kk % 2 ? 127 : -128; break;
        default: v = bit(rng) ? 127 : -128; break;
      }
      c.w[static_cast<std::size_t>(j * k + kk)] = static_cast<std::int8_t>(v);
    }
  c.zp.resize(zp_mode == 2 ? static_cast<std::size_t>(m) : 1);
  for (std::size_t i = 0; i < c.zp.size(); ++i)
    c.zp[i] = zp_mode == 0 ? lo : zp_mode == 1 ? hi : zp_mode == 2 ? (i % 2 ? hi : lo) : (lo + hi) / 2;
  return c;
}

// One extreme_case on path Isa: raw int32 output against reference_acc (every element), then
// more(case, packed weights, reference) for the test's own pipelines on the same inputs. The case's
// modes are in the failure context of both.
template <class Isa, class AType, class More>
void check_extreme_gemm(std::mt19937& rng, std::int64_t m, std::int64_t n, std::int64_t k, int a_mode, int w_mode,
                        int zp_mode, More&& more) {
  const ExtremeCase<AType> c = extreme_case<AType>(rng, m, n, k, a_mode, w_mode, zp_mode);
  const Packed p = pack<Isa>(c.w, n, k);
  REQUIRE(p.status == qsafe::Status::ok);
  INFO((std::is_same<AType, std::int8_t>::value ? "s8" : "u8")
       << " M=" << m << " N=" << n << " K=" << k << " a_mode=" << a_mode << " w_mode=" << w_mode
       << " zp_mode=" << zp_mode);
  std::vector<std::int32_t> out(static_cast<std::size_t>(m * n), 0x5a5a5a5a);
  REQUIRE(qsafe_test::gemm<Isa>(qsafe::MatrixView<const AType>(c.a.data(), m, k), qsafe::Span<const std::int32_t>(c.zp),
                                p.w, qsafe::pipeline(),
                                qsafe::MatrixView<std::int32_t>(out.data(), m, n)) == qsafe::Status::ok);
  const std::vector<std::int64_t> ref = reference_acc(c.a, c.zp, c.w, m, n, k);
  std::size_t bad = 0;
  while (bad < ref.size() && out[bad] == ref[bad]) ++bad;
  if (bad < ref.size()) {
    FAIL_CHECK("index " << bad << ": " << out[bad] << " != " << ref[bad]);
  } else {
    SUCCEED();
  }
  more(c, p.w, ref);
}
template <class Isa, class AType>
void check_extreme_gemm(std::mt19937& rng, std::int64_t m, std::int64_t n, std::int64_t k, int a_mode, int w_mode,
                        int zp_mode) {
  check_extreme_gemm<Isa, AType>(
      rng, m, n, k, a_mode, w_mode, zp_mode,
      [](const ExtremeCase<AType>&, const qsafe::PackedWeights&, const std::vector<std::int64_t>&) {});
}

// A convolution geometry (stride and dilation 1, no padding, one group) and its padding.
inline qsafe::Conv2dGeometry geom(std::int64_t batch, std::int64_t h, std::int64_t w, std::int64_t c, std::int64_t oc,
                                  std::int64_t kh, std::int64_t kw) {
  qsafe::Conv2dGeometry g;
  g.batch = batch;
  g.in_h = h;
  g.in_w = w;
  g.in_channels = c;
  g.out_channels = oc;
  g.kernel_h = kh;
  g.kernel_w = kw;
  return g;
}
inline qsafe::Conv2dGeometry& pad(qsafe::Conv2dGeometry& g, std::int64_t t, std::int64_t l, std::int64_t b,
                                  std::int64_t r) {
  g.pad_top = t;
  g.pad_left = l;
  g.pad_bottom = b;
  g.pad_right = r;
  return g;
}

}  // namespace qsafe_test

#endif  // QSAFE_TESTS_KERNEL_GEMM_SUPPORT_HPP_
