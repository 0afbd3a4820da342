// Quantize / dequantize / fake-quantize throughput next to memcpy of the same bytes.
// Names: <op>/<what>/128x4096. Every benchmark reports bytes_per_second for the float side (the
// 128 x 4096 x 4 = 2 MiB tensor read or written), so the GB/s columns compare directly with
// memcpy/128x4096 (which copies those 2 MiB). Target: quantize >= 50 % of memcpy.
// quantize/half_away/... is RoundHalfAway, TFLite's quantize: a true division by the scale where
// the half-even rows (PyTorch's) multiply by its reciprocal, so the division's cost shows next to
// quantize/int8 and memcpy in the same run.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qsafe/policy/all.hpp"
#include "qsafe/quantize.hpp"

namespace {

constexpr std::int64_t kRows = 128;
constexpr std::int64_t kCols = 4096;
constexpr std::size_t kN = static_cast<std::size_t>(kRows * kCols);
constexpr std::int64_t kFloatBytes = static_cast<std::int64_t>(kN * sizeof(float));

const std::vector<float>& input() {
  static const std::vector<float> x = [] {
    std::vector<float> v(kN);
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.f, 1.f);
    for (float& e : v) e = d(rng);
    return v;
  }();
  return x;
}

void set_bytes(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * kFloatBytes);
}

void bm_memcpy(benchmark::State& state) {
  const std::vector<float>& x = input();
  std::vector<float> y(kN);
  for (auto _ : state) {
    std::memcpy(y.data(), x.data(), static_cast<std::size_t>(kFloatBytes));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state);
}

template <class Int, class Rounding>
void bm_quantize(benchmark::State& state) {
  const std::vector<float>& x = input();
  std::vector<Int> q(kN);
  const qsafe::Quantizer<Int, static_cast<int>(sizeof(Int) * 8), qsafe::Affine, qsafe::PerTensor, Rounding> quant;
  const qsafe::QParams p = qsafe::qparams_from_range({-4.f, 4.f}, quant.qrange(), qsafe::SchemeKind::affine).value();
  for (auto _ : state) {
    const qsafe::Status s = quant.quantize(qsafe::Span<const float>(x), p, qsafe::Span<Int>(q));
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state);
}

// The normative scalar loop, for comparison with the vector one.
template <class Int>
void bm_quantize_scalar(benchmark::State& state) {
  const std::vector<float>& x = input();
  std::vector<Int> q(kN);
  const qsafe::QRange r = qsafe::qrange_of<Int>();
  const qsafe::QParams p = qsafe::qparams_from_range({-4.f, 4.f}, r, qsafe::SchemeKind::affine).value();
  for (auto _ : state) {
    const std::size_t bad = qsafe::detail::quantize_loop_scalar<qsafe::RoundHalfEven>(
        x.data(), kN, qsafe::detail::QuantScale(p.scale), p.zero_point, r, q.data());
    benchmark::DoNotOptimize(bad);
    benchmark::ClobberMemory();
  }
  set_bytes(state);
}

template <class Int>
void bm_quantize_counted(benchmark::State& state) {
  const std::vector<float>& x = input();
  std::vector<Int> q(kN);
  const qsafe::QRange r = qsafe::qrange_of<Int>();
  const qsafe::QParams p = qsafe::qparams_from_range({-4.f, 4.f}, r, qsafe::SchemeKind::affine).value();
  for (auto _ : state) {
    const qsafe::detail::QuantizeCounts c = qsafe::detail::quantize_loop_counted<qsafe::RoundHalfEven>(
        x.data(), kN, qsafe::detail::QuantScale(p.scale), p.zero_point, r, qsafe::Range{-4.f, 4.f}, q.data());
    benchmark::DoNotOptimize(c);
    benchmark::ClobberMemory();
  }
  set_bytes(state);
}

template <class Int>
void bm_dequantize(benchmark::State& state) {
  std::vector<Int> q(kN);
  std::mt19937 rng(2);
  for (Int& e : q) e = static_cast<Int>(rng());
  std::vector<float> y(kN);
  const qsafe::Quantizer<Int> quant;
  const qsafe::QParams p = qsafe::qparams_from_range({-4.f, 4.f}, quant.qrange(), qsafe::SchemeKind::affine).value();
  for (auto _ : state) {
    const qsafe::Status s = quant.dequantize(qsafe::Span<const Int>(q), p, qsafe::Span<float>(y));
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  set_bytes(state);
}

template <class Int, bool kMask, class Rounding = qsafe::RoundHalfEven>
void bm_fake_quantize(benchmark::State& state) {
  const std::vector<float>& x = input();
  std::vector<float> y(kN);
  std::vector<std::uint8_t> mask(kMask ? kN : 0);
  const qsafe::Quantizer<Int, static_cast<int>(sizeof(Int) * 8), qsafe::Affine, qsafe::PerTensor, Rounding> quant;
  const qsafe::QParams p = qsafe::qparams_from_range({-4.f, 4.f}, quant.qrange(), qsafe::SchemeKind::affine).value();
  for (auto _ : state) {
    const qsafe::Status s = quant.fake_quantize(qsafe::Span<const float>(x), p, qsafe::Span<float>(y),
                                                qsafe::Span<std::uint8_t>(mask));
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  set_bytes(state);
}

// A range policy over the whole matrix (begin, then row_params + quantize_row per row).
template <class Policy>
void bm_policy(benchmark::State& state, Policy policy) {
  const std::vector<float>& x = input();
  std::vector<std::uint8_t> q(kN);
  const qsafe::QuantTarget t{qsafe::qrange_of<std::uint8_t>(), qsafe::SchemeKind::affine, qsafe::kDefaultScaleEps};
  std::vector<qsafe::QParams> params(Policy::scope == qsafe::RangeScope::per_row ? kRows : 1);
  for (auto _ : state) {
    const qsafe::Status s = qsafe::quantize_matrix(policy, qsafe::MatrixView<const float>(x.data(), kRows, kCols), t,
                                                   qsafe::MatrixView<std::uint8_t>(q.data(), kRows, kCols),
                                                   qsafe::Span<qsafe::QParams>(params));
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  set_bytes(state);
}

void register_all() {
  const std::string size = "/128x4096";
  benchmark::RegisterBenchmark(("memcpy" + size).c_str(), bm_memcpy);
  benchmark::RegisterBenchmark(("quantize/uint8" + size).c_str(), bm_quantize<std::uint8_t, qsafe::RoundHalfEven>);
  benchmark::RegisterBenchmark(("quantize/int8" + size).c_str(), bm_quantize<std::int8_t, qsafe::RoundHalfEven>);
  benchmark::RegisterBenchmark(("quantize/int16" + size).c_str(), bm_quantize<std::int16_t, qsafe::RoundHalfEven>);
  benchmark::RegisterBenchmark(("quantize/int8_counted" + size).c_str(), bm_quantize_counted<std::int8_t>);
  benchmark::RegisterBenchmark(("quantize/int8_scalar_reference" + size).c_str(), bm_quantize_scalar<std::int8_t>);
  benchmark::RegisterBenchmark(("quantize/half_away/uint8" + size).c_str(),
                               bm_quantize<std::uint8_t, qsafe::RoundHalfAway>);
  benchmark::RegisterBenchmark(("quantize/half_away/int8" + size).c_str(),
                               bm_quantize<std::int8_t, qsafe::RoundHalfAway>);
  benchmark::RegisterBenchmark(("quantize/half_away/int16" + size).c_str(),
                               bm_quantize<std::int16_t, qsafe::RoundHalfAway>);
  benchmark::RegisterBenchmark(("quantize/static_policy_uint8" + size).c_str(), bm_policy<qsafe::StaticRange>,
                               qsafe::StaticRange(qsafe::QParams{8.f / 255.f, 128}));
  benchmark::RegisterBenchmark(("quantize/dynamic_per_tensor_uint8" + size).c_str(),
                               bm_policy<qsafe::DynamicRange<qsafe::PerTensor>>, qsafe::DynamicRange<qsafe::PerTensor>{});
  benchmark::RegisterBenchmark(("quantize/dynamic_per_row_uint8" + size).c_str(),
                               bm_policy<qsafe::DynamicRange<qsafe::PerRow>>, qsafe::DynamicRange<qsafe::PerRow>{});
  benchmark::RegisterBenchmark(("quantize/guarded_per_row_uint8" + size).c_str(),
                               bm_policy<qsafe::GuardedRange<qsafe::PerRow>>,
                               qsafe::GuardedRange<qsafe::PerRow>(qsafe::GuardOptions{{-3.f, 3.f}, 2.f, 0.f,
                                                                                      qsafe::OnViolation::clamp_to_envelope}));
  benchmark::RegisterBenchmark(("dequantize/uint8" + size).c_str(), bm_dequantize<std::uint8_t>);
  benchmark::RegisterBenchmark(("dequantize/int8" + size).c_str(), bm_dequantize<std::int8_t>);
  benchmark::RegisterBenchmark(("dequantize/int16" + size).c_str(), bm_dequantize<std::int16_t>);
  benchmark::RegisterBenchmark(("fake_quantize/uint8" + size).c_str(), bm_fake_quantize<std::uint8_t, false>);
  benchmark::RegisterBenchmark(("fake_quantize/uint8_mask" + size).c_str(), bm_fake_quantize<std::uint8_t, true>);
  benchmark::RegisterBenchmark(("fake_quantize/half_away/uint8" + size).c_str(),
                               bm_fake_quantize<std::uint8_t, false, qsafe::RoundHalfAway>);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("qsafe_vector_loops_arch", qsafe::detail::vector_loops_arch());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
