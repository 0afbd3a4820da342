// The 8-bit stores of the output pipelines (the AVX-512 row store packs 64 columns at once) through
// the GEMM on every path: kernel/pipeline_check.hpp. Under the sanitizers the float-requantization
// cases run on the scalar path only (check_pipeline_numerics: output_pipeline_test.cpp runs the
// same stage types on every path there); the plain 8-bit stores run on every path in every build.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "kernel/pipeline_check.hpp"

using qsafe::QuantizedMultiplier;
using qsafe::Span;
using qsafe_test::check_pipeline;
using qsafe_test::check_pipeline_numerics;

// The AVX-512 8-bit row store packs 64 columns at once, clamps in 8 bits after a last Clamp, and
// adds a RequantizeFloat zero point in saturating int16 when |zp| <= 32512 (int32 otherwise):
// zero points on both sides of that bound, clamp bounds outside the 8-bit range, multipliers
// giving exact ties (0.5, 0.25) and overflowing to +-inf (3e38), column tails around 64.
TEST_CASE("output stages: 8-bit stores after float requantization at extreme zero points and scales",
          "[kernel][output_stage]") {
  std::mt19937 rng(123);
  const std::int64_t shapes[][3] = {{1, 1, 3}, {7, 63, 9}, {6, 64, 17}, {13, 65, 4}, {5, 129, 31}, {2, 200, 1}};
  std::uint32_t seed = 500;
  for (const auto& s : shapes) {
    const std::int64_t m = s[0], n = s[1], k = s[2];
    std::vector<std::int32_t> bias(static_cast<std::size_t>(n));
    for (auto& b : bias) b = std::uniform_int_distribution<std::int32_t>(-3000, 3000)(rng);
    const Span<const std::int32_t> b(bias);
    std::vector<float> mixed(static_cast<std::size_t>(n));
    const float choices[] = {0.5f, 0.25f, 1.f, 3e38f, 1e-3f, 0.f, 7.5e-4f};
    for (auto& x : mixed) x = choices[std::uniform_int_distribution<int>(0, 6)(rng)];
    const Span<const float> f(mixed);
    std::vector<std::int32_t> zp_t{77}, zp_s{-128}, zp_rows(static_cast<std::size_t>(m));
    for (auto& z : zp_rows) z = std::uniform_int_distribution<std::int32_t>(0, 255)(rng);
    for (const std::int32_t out_zp : {0, 5, -100, 32512, -32512, 32513, -32513, 40000, -65535, 65535}) {
      check_pipeline_numerics<std::uint8_t, std::uint8_t>(
          qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeFloat{f, out_zp}), m, n, k, seed++, zp_t);
      check_pipeline_numerics<std::int8_t, std::uint8_t>(qsafe::pipeline(qsafe::RequantizeFloat{f, out_zp}), m, n, k,
                                                         seed++, zp_rows);
      check_pipeline_numerics<std::uint8_t, std::int8_t>(
          qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeFloat{f.subspan(0, 1), out_zp},
                          qsafe::Clamp{-1000, 1000}),
          m, n, k, seed++, zp_t);
      check_pipeline_numerics<std::int8_t, std::uint8_t>(
          qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeFloat{f, out_zp}, qsafe::Clamp{-20, 90}), m, n, k, seed++,
          zp_rows);
      check_pipeline_numerics<std::uint8_t, std::uint8_t>(
          qsafe::pipeline(qsafe::RequantizeFloat{f, out_zp}, qsafe::Clamp{out_zp, out_zp + 200}), m, n, k, seed++,
          zp_t);
    }
    // 8-bit stores without a RequantizeFloat: the pack alone saturates, the Clamp after it.
    check_pipeline<std::uint8_t, std::uint8_t>(qsafe::pipeline(), m, n, k, seed++, zp_t);
    check_pipeline<std::int8_t, std::int8_t>(qsafe::pipeline(qsafe::AddBias{b}), m, n, k, seed++, zp_s);
    check_pipeline_numerics<std::int8_t, std::uint8_t>(qsafe::pipeline(qsafe::Clamp{-300, -100}), m, n, k, seed++,
                                                       zp_t);
    check_pipeline_numerics<std::uint8_t, std::uint8_t>(qsafe::pipeline(qsafe::AddBias{b}, qsafe::Clamp{100, 100}), m,
                                                        n, k, seed++, zp_rows);
  }
}
