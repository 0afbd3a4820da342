// What dynamic quantization of the activations costs, single-threaded, side by side in one run:
//
//   gemm_dynamic/static/<M>x<K>x<N>            gemm() on already-quantized uint8 A, float C out with
//                                              the same Dequantize stage (per-row scales) as below:
//                                              the GEMM the dynamic path cannot beat;
//   gemm_dynamic/<policy>_<path>/<M>x<K>x<N>   gemm_dynamic(): float A in through a range policy,
//                                              quantized and written row by row, float C out;
//   rows/<policy>_<path>/<M>x<K>               the A-side alone (detail::dynamic_quantize_rows, the
//                                              loop gemm_dynamic runs before its integer GEMM);
//                                              counter ns_per_elem.
//
// <policy>: dynamic_per_row, dynamic_per_tensor, guarded_per_row (envelope never hit: the common
// case). <path>: the policy's row-scan loops (policy/detail/row_scan.hpp): portable (the
// compile-time-ISA loops of quantizer/detail/vector_loops.hpp, SSE2 in a baseline build: what
// every policy ran before the dispatched loops), avx2, avx512, or auto (the best this CPU runs).
// GOPS = 2*M*K*N / s / 1e9, as bench_gemm.cpp.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "qsafe/kernel/gemm.hpp"
#include "qsafe/kernel/gemm_dynamic.hpp"
#include "qsafe/policy/dynamic_range.hpp"
#include "qsafe/policy/guarded_range.hpp"

namespace {

struct Shape {
  std::int64_t m, k, n;
};

const Shape kShapes[] = {{1, 4096, 4096},  {16, 4096, 4096},  {128, 4096, 4096}, {3136, 576, 64},
                         {784, 1152, 128}, {256, 1024, 1024}, {1, 256, 256},     {64, 64, 64}};

std::string name(const char* group, const std::string& impl, Shape s, bool with_n = true) {
  std::string r = std::string(group) + "/" + impl + "/" + std::to_string(s.m) + "x" + std::to_string(s.k);
  if (with_n) r += "x" + std::to_string(s.n);
  return r;
}

void set_gops(benchmark::State& st, Shape s) {
  st.counters["GOPS"] = benchmark::Counter(2.0 * static_cast<double>(s.m * s.k * s.n) / 1e9,
                                           benchmark::Counter::kIsIterationInvariantRate);
}

struct Data {
  std::vector<float> a;           // [M, K], activations (roughly normal, per-row spread)
  std::vector<std::int8_t> w_nk;  // [N, K]
  std::vector<float> w_scale;     // [N]
  explicit Data(Shape s) {
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.1f, 1.f);
    a.resize(static_cast<std::size_t>(s.m * s.k));
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = nd(rng) * (1.f + static_cast<float>(i / s.k % 4));
    w_nk.resize(static_cast<std::size_t>(s.n * s.k));
    for (auto& x : w_nk) x = static_cast<std::int8_t>(rng());
    w_scale.assign(static_cast<std::size_t>(s.n), 0.01f);
  }
};

template <class Policy>
Policy make_policy(qsafe::RowScanPath path) {
  Policy p;
  if constexpr (std::is_constructible<Policy, qsafe::GuardOptions>::value) {
    qsafe::GuardOptions o;
    o.calibrated = qsafe::Range{-8.f, 8.f};
    p = Policy(o);
  }
  p.set_scan_path(path);
  return p;
}

bool skip_path(benchmark::State& st, qsafe::RowScanPath path) {
  if (qsafe::detail::row_scan_available(path)) return false;
  st.SkipWithError("row-scan path not available on this CPU");
  return true;
}

void bench_static(benchmark::State& st, Shape s) {
  const Data d(s);
  std::vector<std::uint8_t> a(d.a.size());
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::uint8_t>(i * 131 % 256);
  std::vector<std::byte> storage(qsafe::packed_weights_size(s.n, s.k));
  const auto packed = qsafe::pack_weights(qsafe::MatrixView<const std::int8_t>(d.w_nk.data(), s.n, s.k),
                                          qsafe::WeightLayout::nk, qsafe::Span<std::byte>(storage));
  if (!packed.ok()) return st.SkipWithError("pack_weights failed");
  std::vector<std::byte> ws(qsafe::gemm_workspace_size(s.m, packed.value()));
  std::vector<std::int32_t> zp(static_cast<std::size_t>(s.m), 117);
  std::vector<float> scale(static_cast<std::size_t>(s.m), 0.02f);
  std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
  const auto pipe =
      qsafe::pipeline(qsafe::Dequantize{qsafe::Span<const float>(scale), qsafe::Span<const float>(d.w_scale), {}});
  for (auto _ : st) {
    const qsafe::Status r =
        qsafe::gemm(qsafe::MatrixView<const std::uint8_t>(a.data(), s.m, s.k), qsafe::Span<const std::int32_t>(zp),
                    packed.value(), pipe, qsafe::MatrixView<float>(c.data(), s.m, s.n), qsafe::Span<std::byte>(ws));
    benchmark::DoNotOptimize(r);
    benchmark::ClobberMemory();
  }
  set_gops(st, s);
}

template <class Policy>
void bench_dynamic(benchmark::State& st, Shape s, qsafe::RowScanPath path) {
  if (skip_path(st, path)) return;
  const Data d(s);
  std::vector<std::byte> storage(qsafe::packed_weights_size(s.n, s.k));
  const auto packed = qsafe::pack_weights(qsafe::MatrixView<const std::int8_t>(d.w_nk.data(), s.n, s.k),
                                          qsafe::WeightLayout::nk, qsafe::Span<std::byte>(storage));
  if (!packed.ok()) return st.SkipWithError("pack_weights failed");
  std::vector<std::byte> ws(qsafe::gemm_dynamic_workspace_size(s.m, packed.value()));
  std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
  Policy policy = make_policy<Policy>(path);
  for (auto _ : st) {
    const qsafe::Status r =
        qsafe::gemm_dynamic(qsafe::MatrixView<const float>(d.a.data(), s.m, s.k), policy, packed.value(),
                            qsafe::Span<const float>(d.w_scale), {}, qsafe::MatrixView<float>(c.data(), s.m, s.n),
                            qsafe::Span<std::byte>(ws));
    if (r != qsafe::Status::ok) return st.SkipWithError("gemm_dynamic failed");
    benchmark::ClobberMemory();
  }
  set_gops(st, s);
}

template <class Policy>
void bench_rows(benchmark::State& st, Shape s, qsafe::RowScanPath path) {
  if (skip_path(st, path)) return;
  const Data d(s);
  std::vector<std::uint8_t> q(d.a.size());
  std::vector<std::int32_t> zp(static_cast<std::size_t>(s.m));
  std::vector<float> scale(static_cast<std::size_t>(s.m));
  Policy policy = make_policy<Policy>(path);
  const qsafe::MatrixView<const float> a(d.a.data(), s.m, s.k);
  for (auto _ : st) {
    if (qsafe::detail::dynamic_quantize_rows(a, policy, qsafe::QuantTarget{}, q.data(), zp.data(), scale.data()) !=
        qsafe::Status::ok)
      return st.SkipWithError("dynamic_quantize_rows failed");
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  st.counters["ns_per_elem"] =
      benchmark::Counter(static_cast<double>(s.m * s.k) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

struct PathName {
  qsafe::RowScanPath path;
  const char* name;
};
const PathName kPaths[] = {{qsafe::RowScanPath::portable, "portable"},
                           {qsafe::RowScanPath::avx2, "avx2"},
                           {qsafe::RowScanPath::avx512, "avx512"},
                           {qsafe::RowScanPath::automatic, "auto"}};

template <class Policy>
void register_policy(const char* policy_name, Shape s) {
  for (const PathName& p : kPaths) {
    const std::string impl = std::string(policy_name) + "_" + p.name;
    benchmark::RegisterBenchmark(name("rows", impl, s, false).c_str(), bench_rows<Policy>, s, p.path);
    benchmark::RegisterBenchmark(name("gemm_dynamic", impl, s).c_str(), bench_dynamic<Policy>, s, p.path);
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (const Shape& s : kShapes) {
    benchmark::RegisterBenchmark(name("gemm_dynamic", "static", s).c_str(), bench_static, s);
    register_policy<qsafe::DynamicRange<qsafe::PerRow>>("dynamic_per_row", s);
    register_policy<qsafe::DynamicRange<qsafe::PerTensor>>("dynamic_per_tensor", s);
    register_policy<qsafe::GuardedRange<qsafe::PerRow>>("guarded_per_row", s);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
