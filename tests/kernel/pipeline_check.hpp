// tests/kernel/pipeline_check.hpp: runs an output pipeline through the GEMM on every compiled path
// and checks it bit for bit against the scalar path and against the pipeline applied by hand to
// the int64 reference accumulators. Shared by output_pipeline_test.cpp and output_store_test.cpp
// (two files, so the two heaviest kernel-test instantiation sets compile in parallel).
#ifndef QSAFE_TESTS_KERNEL_PIPELINE_CHECK_HPP_
#define QSAFE_TESTS_KERNEL_PIPELINE_CHECK_HPP_

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include "kernel/gemm_support.hpp"
#include "qsafe/kernel/gemm.hpp"

namespace qsafe_test {

// Which paths a check compiles and runs: every compiled one, or the scalar one alone.
enum class PipelinePaths { every, scalar_only };

// Applies `pipe` through the GEMM on every path of kernel_paths; compares with the scalar path
// bitwise and with the pipeline applied by hand to the int64 reference accumulators.
template <class Out, class AType, PipelinePaths Paths = PipelinePaths::every, class Pipeline>
void check_pipeline(const Pipeline& pipe, std::int64_t m, std::int64_t n, std::int64_t k, std::uint32_t seed,
                    const std::vector<std::int32_t>& zp) {
  std::mt19937 rng(seed);
  constexpr bool kSigned = std::is_same<AType, std::int8_t>::value;
  auto a = random_vector<AType>(rng, static_cast<std::size_t>(m * k), kSigned ? -128 : 0, kSigned ? 127 : 255);
  auto w = random_vector<std::int8_t>(rng, static_cast<std::size_t>(n * k), -128, 127);
  const auto ref = reference_acc(a, zp, w, m, n, k);
  std::vector<Out> want(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      qsafe::detail::store_scalar(&want[static_cast<std::size_t>(i * n + j)],
                                  qsafe::detail::apply_stages_scalar<0>(
                                      pipe, static_cast<std::int32_t>(ref[static_cast<std::size_t>(i * n + j)]),
                                      qsafe::detail::ElementPos{i, j}));
  for_each_arch(kernel_paths{}, [&](auto isa) {
    using Isa = decltype(isa);
    if constexpr (Paths == PipelinePaths::scalar_only && !std::is_same<Isa, qsafe::arch::scalar>::value) {
      return;
    } else {
      if (!Isa::available()) return;
      const Packed p = qsafe_test::pack<Isa>(w, n, k);
      std::vector<Out> c(static_cast<std::size_t>(m * n));
      REQUIRE(qsafe_test::gemm<Isa>(qsafe::MatrixView<const AType>(a.data(), m, k), qsafe::Span<const std::int32_t>(zp),
                                    p.w, pipe, qsafe::MatrixView<Out>(c.data(), m, n)) == qsafe::Status::ok);
      for (std::size_t i = 0; i < c.size(); ++i) {
        if (!same_bits(c[i], want[i])) {
          FAIL_CHECK(Isa::name << " M=" << m << " N=" << n << " K=" << k << " index " << i << ": " << +c[i]
                               << " != " << +want[i]);
          return;
        }
      }
    }
  });
}

// The same check for a pipeline that differs from one checked with check_pipeline only in its
// types' numerics (another stage order, clamp, zero-point range or output type of a store the
// other cases already run): under the sanitizers (QSAFE_TEST_SANITIZED, stage 30) it runs on the
// scalar path alone — whose float -> int conversions and integer arithmetic are what UBSan
// checks — and does not instantiate the SIMD paths again: their memory accesses for these stages
// and stores are covered by the check_pipeline cases, their numerics by the unsanitized builds.
// Each pipeline type costs 5-10 s of compile per SIMD path under ASan + UBSan.
template <class Out, class AType, class Pipeline>
void check_pipeline_numerics(const Pipeline& pipe, std::int64_t m, std::int64_t n, std::int64_t k, std::uint32_t seed,
                             const std::vector<std::int32_t>& zp) {
#if defined(QSAFE_TEST_SANITIZED)
  check_pipeline<Out, AType, PipelinePaths::scalar_only>(pipe, m, n, k, seed, zp);
#else
  check_pipeline<Out, AType>(pipe, m, n, k, seed, zp);
#endif
}

}  // namespace qsafe_test

#endif  // QSAFE_TESTS_KERNEL_PIPELINE_CHECK_HPP_
