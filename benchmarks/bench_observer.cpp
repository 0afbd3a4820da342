// Observer throughput: observe() on a 128x4096 float tensor for every observer in
// qsafe::all_observers (observer/all.hpp), next to memcpy of the same bytes. Bytes processed are
// the float bytes read, so the GB/s columns compare directly. scripts/bench_torch_histogram.py
// times PyTorch's HistogramObserver on the same data (docs/benchmarks.md).
//
//   observer/<name>/128x4096          steady state: the observer has seen this data before
//   observer/<name>_first/128x4096    a fresh observer each time (first-batch path)
//   observer/histogram/128x4096       Histogram<2048> alone (the shared histogram observers' core)
//   observer/histogram_compile_time_isa/128x4096   its one-pass count without the AVX2 dispatch
//   observer/minmax_scalar/128x4096   the scalar reference scan, for the vector speed-up
//   observer/per_channel_minmax/128x4096, observer/per_channel_percentile/128x4096   axis 0
//   observer_range/<name>/128x4096    range() after observing (the clip search of MSE / entropy)
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "qsafe/observer/all.hpp"

namespace {

constexpr std::int64_t kRows = 128;
constexpr std::int64_t kCols = 4096;
const std::string kSize = "128x4096";

// Deterministic N(0, 1) data: splitmix64 -> two uniforms -> Box-Muller, in double, then float.
// scripts/bench_torch_histogram.py generates the same values.
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

const std::vector<float>& bench_data() {
  static const std::vector<float> data = [] {
    std::vector<float> v(static_cast<std::size_t>(kRows * kCols));
    std::uint64_t state = 20240601;
    const double two_pi = 6.283185307179586;
    for (std::size_t i = 0; i < v.size(); i += 2) {
      const double u1 = (static_cast<double>(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
      const double u2 = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;          // [0, 1)
      const double r = std::sqrt(-2.0 * std::log(u1));
      v[i] = static_cast<float>(r * std::cos(two_pi * u2));
      if (i + 1 < v.size()) v[i + 1] = static_cast<float>(r * std::sin(two_pi * u2));
    }
    return v;
  }();
  return data;
}

qsafe::Span<const float> data_span() {
  const std::vector<float>& d = bench_data();
  return qsafe::Span<const float>(d.data(), d.size());
}

void set_bytes(benchmark::State& state) {
  state.SetBytesProcessed(state.iterations() * kRows * kCols * static_cast<std::int64_t>(sizeof(float)));
  state.counters["ns_per_elem"] = benchmark::Counter(static_cast<double>(state.iterations()) * kRows * kCols,
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void bm_memcpy(benchmark::State& state) {
  const std::vector<float>& src = bench_data();
  std::vector<float> dst(src.size());
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size() * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state);
}

template <class Obs>
void bm_observe(benchmark::State& state) {
  Obs* obs = new Obs();  // histogram observers are large; keep them off the stack
  const qsafe::Span<const float> x = data_span();
  if (obs->observe(x) != qsafe::Status::ok) state.SkipWithError("observe failed");
  for (auto _ : state) {
    benchmark::DoNotOptimize(obs->observe(x));
    benchmark::ClobberMemory();
  }
  set_bytes(state);
  delete obs;
}

template <class Obs>
void bm_observe_first(benchmark::State& state) {
  Obs* obs = new Obs();
  const qsafe::Span<const float> x = data_span();
  for (auto _ : state) {
    state.PauseTiming();
    *obs = Obs();
    state.ResumeTiming();
    benchmark::DoNotOptimize(obs->observe(x));
    benchmark::ClobberMemory();
  }
  set_bytes(state);
  delete obs;
}

template <class Obs>
void bm_range(benchmark::State& state) {
  Obs* obs = new Obs();
  if (obs->observe(data_span()) != qsafe::Status::ok) state.SkipWithError("observe failed");
  for (auto _ : state) benchmark::DoNotOptimize(obs->range());
  delete obs;
}

void bm_histogram(benchmark::State& state) {
  auto* h = new qsafe::Histogram<2048>();
  const qsafe::Span<const float> x = data_span();
  const qsafe::detail::BatchScan s = qsafe::detail::scan_batch(x.data(), x.size());
  h->cover(s.lo, s.hi);
  for (auto _ : state) {
    benchmark::DoNotOptimize(h->try_add(x.data(), x.size()));
    benchmark::ClobberMemory();
  }
  set_bytes(state);
  delete h;
}

// The same one-pass count at the compile-time ISA (detail::window_add: xsimd, SSE2 on a baseline
// build), the path Histogram::try_add took before the run-time dispatched AVX2 pass: a 2048-bin
// window at the histogram's bin width, counting into a local array.
void bm_histogram_compile_time_isa(benchmark::State& state) {
  const qsafe::Span<const float> x = data_span();
  const qsafe::detail::BatchScan s = qsafe::detail::scan_batch(x.data(), x.size());
  qsafe::Histogram<2048> h;  // only for the canonical exponent of the data
  h.cover(s.lo, s.hi);
  const float inv = qsafe::detail::histogram_pow2f(-h.exponent());
  std::vector<std::uint64_t> counts(2048, 0);
  const std::int32_t first = static_cast<std::int32_t>(h.first_bin()) - 400;  // data spans < 1300 bins
  for (auto _ : state) {
    float lo = 0.f;
    float hi = 0.f;
    benchmark::DoNotOptimize(qsafe::detail::window_add(x.data(), x.size(), inv, first, 2048, counts.data(), lo, hi));
    benchmark::ClobberMemory();
  }
  if (counts[400] == 0) state.SkipWithError("window_add counted nothing");
  set_bytes(state);
}

void bm_minmax_scalar(benchmark::State& state) {
  const qsafe::Span<const float> x = data_span();
  for (auto _ : state) benchmark::DoNotOptimize(qsafe::detail::scan_batch_scalar(x.data(), x.size()));
  set_bytes(state);
}

template <class Obs>
void bm_per_channel(benchmark::State& state) {
  std::vector<Obs> storage(static_cast<std::size_t>(kRows));
  qsafe::PerChannelObserver<Obs> obs(0, qsafe::Span<Obs>(storage));
  const qsafe::TensorView<const float> x(bench_data().data(), qsafe::Shape{kRows, kCols});
  if (obs.observe(x) != qsafe::Status::ok) state.SkipWithError("observe failed");
  for (auto _ : state) {
    benchmark::DoNotOptimize(obs.observe(x));
    benchmark::ClobberMemory();
  }
  set_bytes(state);
}

template <class Obs>
void register_observer() {
  const std::string name = Obs::name;
  benchmark::RegisterBenchmark(("observer/" + name + "/" + kSize).c_str(), bm_observe<Obs>);
  benchmark::RegisterBenchmark(("observer/" + name + "_first/" + kSize).c_str(), bm_observe_first<Obs>);
  benchmark::RegisterBenchmark(("observer_range/" + name + "/" + kSize).c_str(), bm_range<Obs>)
      ->Unit(benchmark::kMicrosecond);
}

template <class... Obs>
void register_all(std::tuple<Obs...>*) {
  (register_observer<Obs>(), ...);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark(("memcpy/" + kSize).c_str(), bm_memcpy);
  register_all(static_cast<qsafe::all_observers*>(nullptr));  // one line per observer in all.hpp
  benchmark::RegisterBenchmark(("observer/histogram/" + kSize).c_str(), bm_histogram);
  benchmark::RegisterBenchmark(("observer/histogram_compile_time_isa/" + kSize).c_str(), bm_histogram_compile_time_isa);
  benchmark::RegisterBenchmark(("observer/minmax_scalar/" + kSize).c_str(), bm_minmax_scalar);
  benchmark::RegisterBenchmark(("observer/per_channel_minmax/" + kSize).c_str(), bm_per_channel<qsafe::MinMaxObserver>);
  benchmark::RegisterBenchmark(("observer/per_channel_percentile/" + kSize).c_str(),
                               bm_per_channel<qsafe::PercentileObserver<2048>>);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
