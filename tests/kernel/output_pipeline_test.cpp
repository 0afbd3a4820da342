// Whole output pipelines (bias, the three requantizations, clamps, dequantize; per-tensor and
// per-row zero points) through the GEMM on every path: kernel/pipeline_check.hpp. Every stage with
// per-channel or per-row parameters and every output type runs through check_pipeline (all paths,
// also under the sanitizers); check_pipeline_numerics marks the cases that only vary the numerics.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "kernel/pipeline_check.hpp"

using qsafe::QuantizedMultiplier;
using qsafe::Span;
using qsafe_test::check_pipeline;
using qsafe_test::check_pipeline_numerics;

TEST_CASE("output stages: pipelines through the GEMM on every path", "[kernel][output_stage]") {
  std::mt19937 rng(99);
  const std::int64_t shapes[][3] = {{1, 1, 1},     {3, 17, 5},    {7, 65, 31}, {13, 64, 64},
                                    {6, 129, 257}, {2, 33, 1000}, {31, 16, 8}};
  std::uint32_t seed = 1;
  for (const auto& s : shapes) {
    const std::int64_t m = s[0], n = s[1], k = s[2];
    std::vector<std::int32_t> bias(static_cast<std::size_t>(n));
    for (auto& b : bias) b = std::uniform_int_distribution<std::int32_t>(-20000, 20000)(rng);
    std::vector<QuantizedMultiplier> qm(static_cast<std::size_t>(n));
    for (auto& q : qm) {
      const double real = std::uniform_real_distribution<double>(1e-5, 1e-3)(rng);
      q = qsafe::quantize_multiplier(real).value();
    }
    std::vector<float> fm(static_cast<std::size_t>(n)), sw(static_cast<std::size_t>(n)),
        fb(static_cast<std::size_t>(n)), sa(static_cast<std::size_t>(m));
    for (auto& x : fm) x = std::uniform_real_distribution<float>(1e-5f, 1e-3f)(rng);
    for (auto& x : sw) x = std::uniform_real_distribution<float>(1e-3f, 1e-1f)(rng);
    for (auto& x : fb) x = std::uniform_real_distribution<float>(-1.f, 1.f)(rng);
    for (auto& x : sa) x = std::uniform_real_distribution<float>(1e-3f, 1e-1f)(rng);
    std::vector<std::int32_t> zp_t{3}, zp_u{255}, zp_s{-128}, zp_rows(static_cast<std::size_t>(m));
    for (auto& z : zp_rows) z = std::uniform_int_distribution<std::int32_t>(0, 255)(rng);
    const Span<const std::int32_t> b(bias);
    const Span<const QuantizedMultiplier> q(qm);
    const Span<const float> f(fm);
    check_pipeline<std::int8_t, std::uint8_t>(
        qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeQ31{q, -5}, qsafe::Clamp{-128, 100}), m, n, k, seed++,
        zp_t);
    check_pipeline_numerics<std::uint8_t, std::uint8_t>(qsafe::pipeline(qsafe::RequantizeQ31{q.subspan(0, 1), 128}), m,
                                                        n, k, seed++, zp_rows);
    // The same pipeline types again with per-tensor parameters: no new instantiation, the other
    // branch of each stage's parameter read.
    check_pipeline<std::int8_t, std::uint8_t>(
        qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeQ31{q.subspan(0, 1), 3}, qsafe::Clamp{-100, 127}), m, n, k,
        seed++, zp_rows);
    check_pipeline<std::int8_t, std::int8_t>(
        qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeQ31SingleRound{q.subspan(0, 1), -3}), m, n, k, seed++,
        zp_s);
    check_pipeline<std::uint8_t, std::uint8_t>(
        qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeFloat{f.subspan(0, 1), 7}, qsafe::relu(7, 255)), m, n, k,
        seed++, zp_rows);
    check_pipeline<float, std::uint8_t>(
        qsafe::pipeline(qsafe::Dequantize{Span<const float>(sa.data(), 1), Span<const float>(sw.data(), 1), {}}), m, n,
        k, seed++, zp_t);
    check_pipeline<std::int8_t, std::int8_t>(qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeQ31SingleRound{q, 2}),
                                             m, n, k, seed++, zp_s);
    check_pipeline<std::uint8_t, std::uint8_t>(
        qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeFloat{f, 120}, qsafe::relu(120, 255)), m, n, k, seed++,
        zp_u);
    check_pipeline<float, std::uint8_t>(
        qsafe::pipeline(qsafe::Dequantize{Span<const float>(sa), Span<const float>(sw), Span<const float>(fb)}), m, n,
        k, seed++, zp_rows);
    check_pipeline_numerics<float, std::int8_t>(
        qsafe::pipeline(qsafe::Dequantize{Span<const float>(sa.data(), 1), Span<const float>(sw.data(), 1), {}},
                        qsafe::ClampFloat{0.f, 6.f}),
        m, n, k, seed++, zp_t);
    check_pipeline_numerics<std::int32_t, std::int8_t>(qsafe::pipeline(qsafe::AddBias{b}, qsafe::Clamp{-1000, 1000}), m,
                                                       n, k, seed++, zp_s);
    // Pipelines that end in the requantization (the uint8 store saturates by itself) and AddBias
    // first with per-row zero points: the AVX-512 epilogue folds such a bias into the zero-point
    // correction and drops the clamp before a uint8 store when it can.
    check_pipeline<std::uint8_t, std::uint8_t>(qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeFloat{f, 250}), m, n,
                                               k, seed++, zp_rows);
    check_pipeline_numerics<std::int8_t, std::uint8_t>(qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeQ31{q, 7}),
                                                       m, n, k, seed++, zp_rows);
    check_pipeline_numerics<std::uint8_t, std::int8_t>(
        qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeFloat{f.subspan(0, 1), 0}, qsafe::Clamp{0, 200}), m, n, k,
        seed++, zp_t);
  }
}
