// The GEMM on every compiled path against an independent int64 reference: edge shapes, both A
// types, per-tensor and per-row zero points at both ends of their range, extreme values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernel/gemm_support.hpp"
#include "qsafe/kernel/gemm.hpp"

using qsafe::MatrixView;
using qsafe::Span;
using qsafe::Status;
using qsafe_test::for_each_arch;

namespace {

const std::vector<std::int64_t> kEdgeSizes = {1, 2, 3, 7, 8, 15, 16, 17, 31, 63, 64, 65, 127, 128, 129, 255, 257};
const std::vector<std::int64_t> kPrimes = {5, 11, 37, 67, 101, 193};

struct Case {
  std::int64_t m, n, k;
};

// A few thousand shapes: every (M, N) pair from the small edge sizes with every K, plus random
// triples drawn from all edge sizes and primes (bounded work per shape).
std::vector<Case> shape_cases() {
  std::vector<Case> cases;
  const std::vector<std::int64_t> small = {1, 2, 3, 7, 8, 15, 16, 17, 31, 65};
  std::vector<std::int64_t> all = kEdgeSizes;
  all.insert(all.end(), kPrimes.begin(), kPrimes.end());
  for (std::int64_t m : small)
    for (std::int64_t n : small)
      for (std::int64_t k : all)
        if (m * n * k <= (1 << 18)) cases.push_back({m, n, k});
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> pick(0, all.size() - 1);
  for (int i = 0; i < 120; ++i) {
    Case c{all[pick(rng)], all[pick(rng)], all[pick(rng)]};
    if (c.m * c.n * c.k <= (1 << 22)) cases.push_back(c);
  }
  for (std::int64_t s : kEdgeSizes) cases.push_back({s, s, s});
  return cases;
}

template <class Isa, class AType>
void check_raw(const Case& c, std::mt19937& rng, bool per_row, int zp_mode, int data_mode) {
  constexpr bool kSigned = std::is_same<AType, std::int8_t>::value;
  const int lo = kSigned ? -128 : 0, hi = kSigned ? 127 : 255;
  std::vector<AType> a;
  std::vector<std::int8_t> w;
  const auto mk = static_cast<std::size_t>(c.m * c.k), nk = static_cast<std::size_t>(c.n * c.k);
  if (data_mode == 0) {
    a = qsafe_test::random_vector<AType>(rng, mk, lo, hi);
    w = qsafe_test::random_vector<std::int8_t>(rng, nk, -128, 127);
  } else {  // extremes: A at one end, weights at -128 / 127
    a.assign(mk, static_cast<AType>(data_mode == 1 ? hi : lo));
    w = qsafe_test::random_vector<std::int8_t>(rng, nk, 0, 1);
    for (auto& x : w) x = static_cast<std::int8_t>(x ? 127 : -128);
  }
  std::vector<std::int32_t> zp(per_row ? static_cast<std::size_t>(c.m) : 1);
  for (auto& z : zp) z = zp_mode == 0 ? lo : (zp_mode == 1 ? hi : std::uniform_int_distribution<int>(lo, hi)(rng));

  const qsafe_test::Packed p = qsafe_test::pack<Isa>(w, c.n, c.k);
  REQUIRE(p.status == Status::ok);
  std::vector<std::int32_t> out(static_cast<std::size_t>(c.m * c.n), 0x5a5a5a5a);
  const Status s = qsafe_test::gemm<Isa>(MatrixView<const AType>(a.data(), c.m, c.k), Span<const std::int32_t>(zp), p.w,
                                         qsafe::pipeline(), MatrixView<std::int32_t>(out.data(), c.m, c.n));
  REQUIRE(s == Status::ok);
  const std::vector<std::int64_t> ref = qsafe_test::reference_acc(a, zp, w, c.m, c.n, c.k);
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (out[i] != ref[i]) {
      FAIL_CHECK(Isa::name << (kSigned ? " s8" : " u8") << " M=" << c.m << " N=" << c.n << " K=" << c.k
                           << " per_row=" << per_row << " zp_mode=" << zp_mode << " data_mode=" << data_mode
                           << " index " << i << ": " << out[i] << " != " << ref[i]);
      return;
    }
  }
}

}  // namespace

TEST_CASE("gemm: every compiled path equals the int64 reference on edge shapes", "[kernel][gemm]") {
  const std::vector<Case> cases = shape_cases();
  for_each_arch(qsafe::arch::compiled{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) {
      WARN("path " << Isa::name << " not available on this CPU: skipped (see the expected-paths test)");
      return;
    }
    std::mt19937 rng(42);
    int i = 0;
    for (const Case& c : cases) {
      const bool per_row = (i & 1) != 0;
      const int zp_mode = i % 3;
      const int data_mode = (i % 7 == 0) ? 1 + (i / 7) % 2 : 0;
      if (i % 2 == 0)
        check_raw<Isa, std::uint8_t>(c, rng, per_row, zp_mode, data_mode);
      else
        check_raw<Isa, std::int8_t>(c, rng, per_row, zp_mode, data_mode);
      ++i;
    }
  });
}

TEST_CASE("gemm: extreme values at the largest K are exact (no int16 saturation, no int32 overflow)",
          "[kernel][gemm]") {
  // All-255 activations with zero point 0 against weights of +127 and -128: every vpmaddubsw-style
  // pair sum would saturate int16; the int32 total reaches 255 * 128 * K.
  for_each_arch(qsafe::arch::compiled{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) return;
    for (std::int64_t k : {std::int64_t{64}, std::int64_t{4099}, qsafe::kGemmMaxK}) {
      const std::int64_t m = 3, n = 4;
      std::vector<std::uint8_t> a(static_cast<std::size_t>(m * k), 255);
      std::vector<std::int8_t> w(static_cast<std::size_t>(n * k));
      for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t kk = 0; kk < k; ++kk)
          w[static_cast<std::size_t>(j * k + kk)] = static_cast<std::int8_t>(j == 0   ? 127
                                                                             : j == 1 ? -128
                                                                             : j == 2 ? (kk % 2 ? 127 : -128)
                                                                                      : -127);
      std::vector<std::int32_t> zp{0};
      const qsafe_test::Packed p = qsafe_test::pack<Isa>(w, n, k);
      REQUIRE(p.status == Status::ok);
      std::vector<std::int32_t> out(static_cast<std::size_t>(m * n));
      REQUIRE(qsafe_test::gemm<Isa>(MatrixView<const std::uint8_t>(a.data(), m, k), Span<const std::int32_t>(zp), p.w,
                                    qsafe::pipeline(), MatrixView<std::int32_t>(out.data(), m, n)) == Status::ok);
      const auto ref = qsafe_test::reference_acc(a, zp, w, m, n, k);
      for (std::size_t i = 0; i < ref.size(); ++i) {
        INFO(Isa::name << " K=" << k << " index " << i);
        CHECK(out[i] == ref[i]);
      }
    }
  });
}

TEST_CASE("gemm: bad input is a status, never a crash", "[kernel][gemm]") {
  using Isa = qsafe::arch::scalar;
  const std::int64_t m = 4, n = 5, k = 6;
  std::vector<std::uint8_t> a(static_cast<std::size_t>(m * k), 1);
  std::vector<std::int8_t> w(static_cast<std::size_t>(n * k), 1);
  std::vector<std::int32_t> zp{3}, c(static_cast<std::size_t>(m * n));
  const qsafe_test::Packed p = qsafe_test::pack<Isa>(w, n, k);
  REQUIRE(p.status == Status::ok);
  const MatrixView<const std::uint8_t> av(a.data(), m, k);
  const MatrixView<std::int32_t> cv(c.data(), m, n);
  const Span<const std::int32_t> zv(zp);
  CHECK(qsafe_test::gemm<Isa>(av, zv, p.w, qsafe::pipeline(), cv) == Status::ok);
  // shapes
  CHECK(qsafe_test::gemm<Isa>(MatrixView<const std::uint8_t>(a.data(), m, k - 1), zv, p.w, qsafe::pipeline(), cv) ==
        Status::shape_mismatch);
  CHECK(qsafe_test::gemm<Isa>(av, zv, p.w, qsafe::pipeline(), MatrixView<std::int32_t>(c.data(), m, n - 1)) ==
        Status::shape_mismatch);
  CHECK(qsafe_test::gemm<Isa>(av, zv, p.w, qsafe::pipeline(), MatrixView<std::int32_t>(c.data(), m - 1, n)) ==
        Status::shape_mismatch);
  std::vector<std::int32_t> zp2{1, 2};
  CHECK(qsafe_test::gemm<Isa>(av, Span<const std::int32_t>(zp2), p.w, qsafe::pipeline(), cv) == Status::shape_mismatch);
  // null data with non-zero sizes
  CHECK(qsafe_test::gemm<Isa>(MatrixView<const std::uint8_t>(nullptr, m, k), zv, p.w, qsafe::pipeline(), cv) ==
        Status::null_pointer);
  CHECK(qsafe_test::gemm<Isa>(av, zv, p.w, qsafe::pipeline(), MatrixView<std::int32_t>(nullptr, m, n)) ==
        Status::null_pointer);
  CHECK(qsafe_test::gemm<Isa>(av, Span<const std::int32_t>(nullptr, 1), p.w, qsafe::pipeline(), cv) ==
        Status::null_pointer);
  // zero point outside A's range
  std::vector<std::int32_t> bad_zp{256};
  CHECK(qsafe_test::gemm<Isa>(av, Span<const std::int32_t>(bad_zp), p.w, qsafe::pipeline(), cv) ==
        Status::invalid_argument);
  // empty weights, and weights packed for another path
  CHECK(qsafe_test::gemm<Isa>(av, zv, qsafe::PackedWeights{}, qsafe::pipeline(), cv) == Status::invalid_argument);
  CHECK(qsafe::gemm(av, zv, qsafe::PackedWeights{}, qsafe::pipeline(), cv) == Status::invalid_argument);
  for_each_arch(qsafe::arch::compiled{}, [&](auto isa) {
    using Other = decltype(isa);
    if (std::is_same<Other, Isa>::value || !Other::available()) return;
    const qsafe_test::Packed q = qsafe_test::pack<Other>(w, n, k);
    REQUIRE(q.status == Status::ok);
    CHECK(qsafe_test::gemm<Isa>(av, zv, q.w, qsafe::pipeline(), cv) == Status::invalid_argument);
    CHECK(qsafe_test::gemm<Other>(av, zv, p.w, qsafe::pipeline(), cv) == Status::invalid_argument);
  });
  // packing: K too large, storage too small, null storage
  std::vector<std::byte> tiny(16);
  CHECK(qsafe::pack_weights<Isa>(MatrixView<const std::int8_t>(w.data(), n, k), qsafe::WeightLayout::nk,
                                 Span<std::byte>(tiny))
            .status() == Status::workspace_too_small);
  CHECK(qsafe::pack_weights<Isa>(MatrixView<const std::int8_t>(w.data(), 1, qsafe::kGemmMaxK + 1),
                                 qsafe::WeightLayout::nk, Span<std::byte>(tiny))
            .status() == Status::overflow_risk);
  CHECK(qsafe::packed_weights_size<Isa>(1, qsafe::kGemmMaxK + 1) == 0);
  CHECK(qsafe::pack_weights<Isa>(MatrixView<const std::int8_t>(nullptr, n, k), qsafe::WeightLayout::nk,
                                 Span<std::byte>(tiny))
            .status() == Status::null_pointer);
  // negative sizes
  CHECK(qsafe_test::gemm<Isa>(MatrixView<const std::uint8_t>(a.data(), -1, k), zv, p.w, qsafe::pipeline(), cv) ==
        Status::invalid_argument);
  // workspace: scalar needs none; AVX2 widens A into it
  CHECK(qsafe::gemm_workspace_size<Isa>(m, p.w) == 0);
#if QSAFE_COMPILE_AVX2
  if (qsafe::arch::avx2::available()) {
    const qsafe_test::Packed q = qsafe_test::pack<qsafe::arch::avx2>(w, n, k);
    const std::size_t need = qsafe::gemm_workspace_size(m, q.w);
    CHECK(need == qsafe::gemm_workspace_size<qsafe::arch::avx2>(m, q.w));
    CHECK(need >= static_cast<std::size_t>(m * 8 * 2));
    std::vector<std::byte> ws(need);
    CHECK(qsafe::gemm(av, zv, q.w, qsafe::pipeline(), cv, Span<std::byte>(ws.data(), need - 1)) ==
          Status::workspace_too_small);
    CHECK(qsafe::gemm(av, zv, q.w, qsafe::pipeline(), cv, Span<std::byte>(nullptr, need)) == Status::null_pointer);
    CHECK(qsafe::gemm(av, zv, q.w, qsafe::pipeline(), cv, Span<std::byte>(ws)) == Status::ok);
  }
#endif
}

TEST_CASE("gemm: forcing a path the CPU lacks is unsupported_arch", "[kernel][gemm]") {
  std::vector<std::int8_t> w(12, 1);
  for_each_arch(qsafe::arch::compiled{}, [&](auto isa) {
    using Isa = decltype(isa);
    const qsafe_test::Packed p = qsafe_test::pack<Isa>(w, 3, 4);  // packing is plain data: always allowed
    REQUIRE(p.status == Status::ok);
    std::vector<std::uint8_t> a(8, 1);
    std::vector<std::int32_t> zp{0}, c(6);
    const Status s = qsafe_test::gemm<Isa>(MatrixView<const std::uint8_t>(a.data(), 2, 4), Span<const std::int32_t>(zp),
                                           p.w, qsafe::pipeline(), MatrixView<std::int32_t>(c.data(), 2, 3));
    CHECK(s == (Isa::available() ? Status::ok : Status::unsupported_arch));
  });
}

TEST_CASE("gemm: [K, N] weights pack to the same result as [N, K]", "[kernel][gemm]") {
  std::mt19937 rng(3);
  const std::int64_t m = 5, n = 19, k = 37;
  auto a = qsafe_test::random_vector<std::uint8_t>(rng, static_cast<std::size_t>(m * k), 0, 255);
  auto w = qsafe_test::random_vector<std::int8_t>(rng, static_cast<std::size_t>(n * k), -128, 127);
  std::vector<std::int8_t> wt(w.size());
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t kk = 0; kk < k; ++kk)
      wt[static_cast<std::size_t>(kk * n + j)] = w[static_cast<std::size_t>(j * k + kk)];
  std::vector<std::byte> storage(qsafe::packed_weights_size(n, k));
  auto r = qsafe::pack_weights(MatrixView<const std::int8_t>(wt.data(), k, n), qsafe::WeightLayout::kn,
                               Span<std::byte>(storage));
  REQUIRE(r.ok());
  std::vector<std::int32_t> zp{17}, c(static_cast<std::size_t>(m * n));
  REQUIRE(qsafe_test::gemm<qsafe::arch::automatic>(MatrixView<const std::uint8_t>(a.data(), m, k),
                                                   Span<const std::int32_t>(zp), r.value(), qsafe::pipeline(),
                                                   MatrixView<std::int32_t>(c.data(), m, n)) == Status::ok);
  const auto ref = qsafe_test::reference_acc(a, zp, w, m, n, k);
  for (std::size_t i = 0; i < ref.size(); ++i) CHECK(c[i] == ref[i]);
}

TEST_CASE("gemm: strided A and C; only C's window is written", "[kernel][gemm]") {
  std::mt19937 rng(5);
  const std::int64_t m = 9, n = 21, k = 13, lda = 20, ldc = 30;
  auto a = qsafe_test::random_vector<std::int8_t>(rng, static_cast<std::size_t>(m * lda), -128, 127);
  auto w = qsafe_test::random_vector<std::int8_t>(rng, static_cast<std::size_t>(n * k), -128, 127);
  std::vector<std::int8_t> a_dense(static_cast<std::size_t>(m * k));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t kk = 0; kk < k; ++kk)
      a_dense[static_cast<std::size_t>(i * k + kk)] = a[static_cast<std::size_t>(i * lda + kk)];
  std::vector<std::int32_t> zp{-7};
  const auto ref = qsafe_test::reference_acc(a_dense, zp, w, m, n, k);
  for_each_arch(qsafe::arch::compiled{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) return;
    const qsafe_test::Packed p = qsafe_test::pack<Isa>(w, n, k);
    std::vector<std::int32_t> c(static_cast<std::size_t>(m * ldc), -1);
    REQUIRE(qsafe_test::gemm<Isa>(MatrixView<const std::int8_t>(a.data(), m, k, lda), Span<const std::int32_t>(zp), p.w,
                                  qsafe::pipeline(), MatrixView<std::int32_t>(c.data(), m, n, ldc)) == Status::ok);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < ldc; ++j) {
        INFO(Isa::name << " row " << i << " col " << j);
        const std::int32_t got = c[static_cast<std::size_t>(i * ldc + j)];
        CHECK(got == (j < n ? ref[static_cast<std::size_t>(i * n + j)] : -1));
      }
  });
}

TEST_CASE("gemm: empty dimensions (M, N or K = 0)", "[kernel][gemm]") {
  for_each_arch(qsafe::arch::compiled{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) return;
    std::vector<std::int32_t> zp{5};
    // K = 0: every accumulator is 0, the pipeline still runs (bias added).
    {
      std::vector<std::int8_t> w;
      const qsafe_test::Packed p = qsafe_test::pack<Isa>(w, 3, 0);
      REQUIRE(p.status == Status::ok);
      std::vector<std::uint8_t> a;
      std::vector<std::int32_t> bias{1, 2, 3}, c(6, -1);
      REQUIRE(qsafe_test::gemm<Isa>(MatrixView<const std::uint8_t>(a.data(), 2, 0), Span<const std::int32_t>(zp), p.w,
                                    qsafe::pipeline(qsafe::AddBias{Span<const std::int32_t>(bias)}),
                                    MatrixView<std::int32_t>(c.data(), 2, 3)) == Status::ok);
      CHECK(c == std::vector<std::int32_t>({1, 2, 3, 1, 2, 3}));
    }
    // M = 0 and N = 0: ok, nothing written.
    {
      std::vector<std::int8_t> w(8, 1);
      const qsafe_test::Packed p = qsafe_test::pack<Isa>(w, 2, 4);
      std::vector<std::int32_t> c(1, -1);
      CHECK(qsafe_test::gemm<Isa>(MatrixView<const std::uint8_t>(nullptr, 0, 4), Span<const std::int32_t>(zp), p.w,
                                  qsafe::pipeline(), MatrixView<std::int32_t>(nullptr, 0, 2)) == Status::ok);
      std::vector<std::int8_t> none;
      const qsafe_test::Packed q = qsafe_test::pack<Isa>(none, 0, 4);
      REQUIRE(q.status == Status::ok);
      std::vector<std::uint8_t> a(8, 1);
      CHECK(qsafe_test::gemm<Isa>(MatrixView<const std::uint8_t>(a.data(), 2, 4), Span<const std::int32_t>(zp), q.w,
                                  qsafe::pipeline(), MatrixView<std::int32_t>(c.data(), 2, 0)) == Status::ok);
      CHECK(c[0] == -1);
    }
  });
}

// The micro-kernel contract's A in pieces (detail/ukernel.hpp; conv2d's row path): pieces at
// unrelated addresses, rows overlapping inside a piece (lda < piece length), a K tail in the last
// piece, and the panels entered at a k offset (and left before their end) with the column sums of
// the k rows A meets.
TEST_CASE("gemm: A in pieces equals the reference on every path (tails, k offset, overlapping rows)",
          "[kernel][gemm]") {
  struct PieceCase {
    std::int64_t m, n, k_begin, piece_len, pieces, last, lda;
  };
  const std::vector<PieceCase> cases = {
      {1, 5, 0, 8, 3, 3, 8},   {7, 70, 4, 12, 3, 12, 4},      {13, 64, 8, 64, 2, 61, 16}, {22, 129, 0, 20, 4, 7, 20},
      {9, 17, 12, 4, 5, 1, 2}, {16, 65, 64, 192, 3, 192, 64}, {3, 8, 0, 4, 1, 2, 4},
  };
  for_each_arch(qsafe::arch::compiled{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) return;
    std::mt19937 rng(11);
    for (const PieceCase& c : cases) {
      const std::int64_t k_a = (c.pieces - 1) * c.piece_len + c.last;  // A's k
      // The packed weights' k: more rows after A's when A ends on a group (conv2d's bottom padding
      // rows left out); none when A ends in a K tail (its padding must meet the panel's zero rows).
      const std::int64_t k_w = c.k_begin + k_a + (k_a % 4 == 0 ? 8 : 0);
      const std::vector<std::int8_t> w =
          qsafe_test::random_vector<std::int8_t>(rng, static_cast<std::size_t>(c.n * k_w), -128, 127);
      const qsafe_test::Packed p = qsafe_test::pack<Isa>(w, c.n, k_w);
      REQUIRE(p.status == Status::ok);
      // Each piece its own buffer: row m of piece s at m * lda (rows overlap when lda < length).
      std::vector<std::vector<std::uint8_t>> bufs;
      std::vector<const std::uint8_t*> piece;
      for (std::int64_t s = 0; s < c.pieces; ++s) {
        const std::int64_t len = s + 1 == c.pieces ? c.last : c.piece_len;
        bufs.push_back(
            qsafe_test::random_vector<std::uint8_t>(rng, static_cast<std::size_t>((c.m - 1) * c.lda + len), 0, 255));
        piece.push_back(bufs.back().data());
      }
      // The same A contiguous, and the weights' k rows [k_begin, k_begin + k_a) as an N x k_a matrix.
      std::vector<std::uint8_t> a(static_cast<std::size_t>(c.m * k_a));
      std::vector<std::int8_t> w_sub(static_cast<std::size_t>(c.n * k_a));
      for (std::int64_t m = 0; m < c.m; ++m)
        for (std::int64_t kk = 0; kk < k_a; ++kk) {
          const std::int64_t s = std::min<std::int64_t>(kk / c.piece_len, c.pieces - 1);
          a[static_cast<std::size_t>(m * k_a + kk)] =
              piece[static_cast<std::size_t>(s)][m * c.lda + kk - s * c.piece_len];
        }
      std::vector<std::int32_t> sums(static_cast<std::size_t>(p.w.n_padded()), 0);
      for (std::int64_t j = 0; j < c.n; ++j)
        for (std::int64_t kk = 0; kk < k_a; ++kk) {
          const std::int8_t v = w[static_cast<std::size_t>(j * k_w + c.k_begin + kk)];
          w_sub[static_cast<std::size_t>(j * k_a + kk)] = v;
          sums[static_cast<std::size_t>(j)] += v;
        }
      const std::vector<std::int32_t> zp = {std::uniform_int_distribution<int>(0, 255)(rng)};
      std::vector<std::int32_t> out(static_cast<std::size_t>(c.m * c.n), 0x5a5a5a5a);
      std::vector<std::byte> ws(qsafe::gemm_workspace_size<Isa>(c.m, p.w));
      const qsafe::detail::PiecewiseA<std::uint8_t> pa{
          piece.data(), static_cast<int>(c.pieces), c.piece_len, c.lda, c.m, k_a};
      const auto pl = qsafe::pipeline();
      qsafe::detail::run_gemm_pieces<Isa>(pa, Span<const std::int32_t>(zp), p.w, c.k_begin, sums.data(), pl,
                                          MatrixView<std::int32_t>(out.data(), c.m, c.n), Span<std::byte>(ws),
                                          qsafe::ParallelFor{});
      const std::vector<std::int64_t> ref = qsafe_test::reference_acc(a, zp, w_sub, c.m, c.n, k_a);
      for (std::size_t i = 0; i < ref.size(); ++i)
        if (out[i] != ref[i]) {
          FAIL_CHECK(Isa::name << " M=" << c.m << " N=" << c.n << " k_begin=" << c.k_begin << " pieces=" << c.pieces
                               << " index " << i << ": " << out[i] << " != " << ref[i]);
          break;
        }
    }
  });
}
