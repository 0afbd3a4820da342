// The AVX2 (widen16) kernel on the shapes and values its own structure makes risky: every row
// tail of its 6-row tile and the tiles that prefetch the next one, awkward K (odd, prime, one
// past a pair or a 32-k prefetch step), and values at both ends of every range (A 0 / 255,
// zero points at the edges, weights -128 / 127), against the int64 reference.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include "kernel/gemm_support.hpp"
#include "qsafe/kernel/gemm.hpp"

using qsafe::MatrixView;
using qsafe::Span;
using qsafe::Status;

#if QSAFE_COMPILE_AVX2
namespace {

using Avx2 = qsafe::arch::avx2;

template <class AType>
void check_case(std::mt19937& rng, std::int64_t m, std::int64_t n, std::int64_t k, int a_mode, int w_mode,
                int zp_mode) {
  qsafe_test::check_extreme_gemm<Avx2, AType>(rng, m, n, k, a_mode, w_mode, zp_mode);
}

}  // namespace

TEST_CASE("avx2 gemm: awkward K, every row tail, extreme values", "[kernel][gemm][avx2]") {
  if (!Avx2::available()) {
    WARN("AVX2 not available on this CPU: skipped");
    return;
  }
  const std::int64_t ks[] = {1, 2, 3, 4, 5, 7, 11, 13, 31, 32, 33, 63, 65, 127, 257, 509, 1031};
  // 1..7 cover every tail of the 6-row tile; 12, 13, 19 have tiles that prefetch the next one.
  const std::int64_t ms[] = {1, 2, 3, 4, 5, 6, 7, 12, 13, 19};
  const std::int64_t ns[] = {1, 8, 15, 16, 17, 33};
  std::mt19937 rng(2026);
  int i = 0;
  for (std::int64_t k : ks)
    for (std::int64_t m : ms)
      for (std::int64_t n : ns) {
        if (m * n * k > (1 << 17)) continue;
        const int a_mode = i % 3, w_mode = (i / 3) % 5, zp_mode = (i / 15) % 3;
        if (i % 2 == 0)
          check_case<std::uint8_t>(rng, m, n, k, a_mode, w_mode, zp_mode);
        else
          check_case<std::int8_t>(rng, m, n, k, a_mode, w_mode, zp_mode);
        ++i;
      }
}

TEST_CASE("avx2 gemm: all-255 activations against -128 / 127 weights on every pattern and zero point",
          "[kernel][gemm][avx2]") {
  if (!Avx2::available()) return;
  std::mt19937 rng(5);
  for (std::int64_t k : {std::int64_t{2}, std::int64_t{63}, std::int64_t{257}, std::int64_t{4099}})
    for (int w_mode = 1; w_mode <= 4; ++w_mode)
      for (int zp_mode = 0; zp_mode <= 2; ++zp_mode) {
        check_case<std::uint8_t>(rng, 13, 17, k, 1, w_mode, zp_mode);
        check_case<std::int8_t>(rng, 13, 17, k, 1, w_mode, zp_mode);
        check_case<std::int8_t>(rng, 7, 17, k, 2, w_mode, zp_mode);
      }
}
#endif
