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

// Applies `pipe` through the GEMM on every path; compares with the scalar path bitwise and with
// the pipeline applied by hand to the int64 reference accumulators.
template <class Out, class AType, class Pipeline>
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
  for_each_arch(qsafe::arch::compiled{}, [&](auto isa) {
    using Isa = decltype(isa);
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
  });
}

}  // namespace qsafe_test

#endif  // QSAFE_TESTS_KERNEL_PIPELINE_CHECK_HPP_
