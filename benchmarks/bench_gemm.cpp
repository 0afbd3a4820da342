// Quantized GEMM, single-threaded, side by side: qsafe (dispatched and each forced path) against
// oneDNN (matmul primitive, u8 src / s8 weights reordered once to its preferred layout, s32 and f32
// dst; and dnnl_gemm_u8s8s32), gemmlowp (u8 x u8 with offsets, int32 out; built with -mavx2 in
// gemm_peers/gemmlowp_avx2.cpp) and Eigen float GEMM. The oneDNN matmul set-up is
// peers/onednn_matmul.hpp.
// Names: gemm/<impl>/<M>x<K>x<N>; counter GOPS = 2*M*K*N / s / 1e9. Plus peak/* loops that time
// the multiply instructions alone, so results read as a fraction of the machine's limit.
//
// All integer outputs are raw int32 accumulators with an activation zero point (qsafe's
// correction, oneDNN's src zero point, gemmlowp's lhs offset); *_f32 variants dequantize with
// per-channel weight scales (qsafe Dequantize, oneDNN output scales with mask 2); *_requant_u8
// variants add an int32 bias and requantize per channel to uint8 with a zero point (every shape, and
// 3136x64x256: ResNet-50's 56x56x64->256 1x1 convolution as a GEMM).
// Run single-threaded: OMP_NUM_THREADS=1 (set here too, before oneDNN starts its OpenMP pool).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <oneapi/dnnl/dnnl.h>
#include <Eigen/Core>
#include <oneapi/dnnl/dnnl.hpp>

#include "gemm_peers/gemm_peers.hpp"
#include "peers/onednn_matmul.hpp"
#include "qsafe/kernel/gemm.hpp"
#include "qsafe/kernel/gemm_dynamic.hpp"
#include "qsafe/policy/dynamic_range.hpp"

namespace {

struct Shape {
  std::int64_t m, k, n;
};

const Shape kShapes[] = {{1, 4096, 4096},  {16, 4096, 4096},  {128, 4096, 4096}, {3136, 576, 64},
                         {784, 1152, 128}, {256, 1024, 1024}, {1, 256, 256},     {64, 64, 64}};

constexpr std::int32_t kZeroPoint = 128;

struct Data {
  Shape s;
  std::vector<std::uint8_t> a;    // [M, K]
  std::vector<std::int8_t> w_nk;  // [N, K]
  std::vector<std::int8_t> w_kn;  // [K, N]
  std::vector<float> w_scale;     // [N]
  explicit Data(Shape shape) : s(shape) {
    std::mt19937 rng(1);
    a.resize(static_cast<std::size_t>(s.m * s.k));
    w_nk.resize(static_cast<std::size_t>(s.n * s.k));
    w_kn.resize(w_nk.size());
    w_scale.assign(static_cast<std::size_t>(s.n), 0.01f);
    for (auto& x : a) x = static_cast<std::uint8_t>(rng());
    for (auto& x : w_nk) x = static_cast<std::int8_t>(rng());
    for (std::int64_t n = 0; n < s.n; ++n)
      for (std::int64_t k = 0; k < s.k; ++k)
        w_kn[static_cast<std::size_t>(k * s.n + n)] = w_nk[static_cast<std::size_t>(n * s.k + k)];
  }
};

std::string shape_name(const char* impl, Shape s) {
  return std::string("gemm/") + impl + "/" + std::to_string(s.m) + "x" + std::to_string(s.k) + "x" +
         std::to_string(s.n);
}

void set_gops(benchmark::State& st, Shape s) {
  st.counters["GOPS"] = benchmark::Counter(2.0 * static_cast<double>(s.m * s.k * s.n) / 1e9,
                                           benchmark::Counter::kIsIterationInvariantRate);
}

// ---------------------------------------------------------------------------------------------
// qsafe

template <class Isa, bool kFloatOut>
void bench_qsafe(benchmark::State& st, Shape shape) {
  if (!std::is_same<Isa, qsafe::arch::automatic>::value) {
    bool ok = true;
    if constexpr (!std::is_same<Isa, qsafe::arch::automatic>::value) ok = Isa::available();
    if (!ok) {
      st.SkipWithError("path not available on this CPU");
      return;
    }
  }
  const Data d(shape);
  std::vector<std::byte> storage(qsafe::packed_weights_size<Isa>(shape.n, shape.k));
  const auto packed = qsafe::pack_weights<Isa>(qsafe::MatrixView<const std::int8_t>(d.w_nk.data(), shape.n, shape.k),
                                               qsafe::WeightLayout::nk, qsafe::Span<std::byte>(storage));
  if (!packed.ok()) {
    st.SkipWithError("pack_weights failed");
    return;
  }
  std::vector<std::byte> ws(qsafe::gemm_workspace_size<Isa>(shape.m, packed.value()));
  const std::int32_t zp[1] = {kZeroPoint};
  const float a_scale[1] = {0.02f};
  const qsafe::MatrixView<const std::uint8_t> a(d.a.data(), shape.m, shape.k);
  if constexpr (kFloatOut) {
    std::vector<float> c(static_cast<std::size_t>(shape.m * shape.n));
    const auto pipe =
        qsafe::pipeline(qsafe::Dequantize{qsafe::Span<const float>(a_scale), qsafe::Span<const float>(d.w_scale), {}});
    for (auto _ : st) {
      const qsafe::Status s =
          qsafe::gemm<Isa>(a, qsafe::Span<const std::int32_t>(zp), packed.value(), pipe,
                           qsafe::MatrixView<float>(c.data(), shape.m, shape.n), qsafe::Span<std::byte>(ws));
      benchmark::DoNotOptimize(s);
      benchmark::ClobberMemory();
    }
  } else {
    std::vector<std::int32_t> c(static_cast<std::size_t>(shape.m * shape.n));
    for (auto _ : st) {
      const qsafe::Status s =
          qsafe::gemm<Isa>(a, qsafe::Span<const std::int32_t>(zp), packed.value(), qsafe::pipeline(),
                           qsafe::MatrixView<std::int32_t>(c.data(), shape.m, shape.n), qsafe::Span<std::byte>(ws));
      benchmark::DoNotOptimize(s);
      benchmark::ClobberMemory();
    }
  }
  set_gops(st, shape);
}

// Requantizing output, as a quantized layer runs: int32 bias + per-channel float requantization
// to uint8 with a zero point (qsafe AddBias + RequantizeFloat, the uint8 store saturating).
constexpr std::int32_t kOutZeroPoint = 3;

struct RequantData : Data {
  std::vector<std::int32_t> bias;  // [N]
  std::vector<float> scale;        // [N]: a_scale * w_scale / y_scale
  explicit RequantData(Shape shape) : Data(shape) {
    std::mt19937 rng(2);
    bias.resize(static_cast<std::size_t>(shape.n));
    scale.resize(bias.size());
    for (std::size_t i = 0; i < bias.size(); ++i) {
      bias[i] = static_cast<std::int32_t>(rng() % 2001) - 1000;
      scale[i] = 1.f / static_cast<float>(3000 + 7 * i);
    }
  }
};

template <class Isa>
void bench_qsafe_requant(benchmark::State& st, Shape shape) {
  if constexpr (!std::is_same<Isa, qsafe::arch::automatic>::value) {
    if (!Isa::available()) return st.SkipWithError("path not available on this CPU");
  }
  const RequantData d(shape);
  std::vector<std::byte> storage(qsafe::packed_weights_size<Isa>(shape.n, shape.k));
  const auto packed = qsafe::pack_weights<Isa>(qsafe::MatrixView<const std::int8_t>(d.w_nk.data(), shape.n, shape.k),
                                               qsafe::WeightLayout::nk, qsafe::Span<std::byte>(storage));
  if (!packed.ok()) return st.SkipWithError("pack_weights failed");
  std::vector<std::byte> ws(qsafe::gemm_workspace_size<Isa>(shape.m, packed.value()));
  const std::int32_t zp[1] = {kZeroPoint};
  const qsafe::MatrixView<const std::uint8_t> a(d.a.data(), shape.m, shape.k);
  std::vector<std::uint8_t> c(static_cast<std::size_t>(shape.m * shape.n));
  const auto pipe = qsafe::pipeline(qsafe::AddBias{qsafe::Span<const std::int32_t>(d.bias)},
                                    qsafe::RequantizeFloat{qsafe::Span<const float>(d.scale), kOutZeroPoint});
  for (auto _ : st) {
    const qsafe::Status s =
        qsafe::gemm<Isa>(a, qsafe::Span<const std::int32_t>(zp), packed.value(), pipe,
                         qsafe::MatrixView<std::uint8_t>(c.data(), shape.m, shape.n), qsafe::Span<std::byte>(ws));
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  set_gops(st, shape);
}

// Dynamic quantization: float A through a range policy (quantized row by row), float C out.
template <class Policy>
void bench_qsafe_dynamic(benchmark::State& st, Shape shape) {
  const Data d(shape);
  std::vector<float> a(d.a.size());
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = (static_cast<float>(d.a[i]) - 100.f) * 0.01f;
  std::vector<std::byte> storage(qsafe::packed_weights_size(shape.n, shape.k));
  const auto packed = qsafe::pack_weights(qsafe::MatrixView<const std::int8_t>(d.w_nk.data(), shape.n, shape.k),
                                          qsafe::WeightLayout::nk, qsafe::Span<std::byte>(storage));
  std::vector<std::byte> ws(qsafe::gemm_dynamic_workspace_size(shape.m, packed.value()));
  std::vector<float> c(static_cast<std::size_t>(shape.m * shape.n));
  Policy policy;
  for (auto _ : st) {
    const qsafe::Status s =
        qsafe::gemm_dynamic(qsafe::MatrixView<const float>(a.data(), shape.m, shape.k), policy, packed.value(),
                            qsafe::Span<const float>(d.w_scale), {},
                            qsafe::MatrixView<float>(c.data(), shape.m, shape.n), qsafe::Span<std::byte>(ws));
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  set_gops(st, shape);
}

// ---------------------------------------------------------------------------------------------
// oneDNN

template <bool kFloatOut>
void bench_onednn_matmul(benchmark::State& st, Shape s) {
  const Data d(s);
  std::vector<float> scales;
  qsafe_bench::MatmulProblem p{s.m, s.k, s.n, d.a.data(), d.w_kn.data(), kZeroPoint, dnnl::memory::data_type::s32};
  if (kFloatOut) {
    scales.resize(static_cast<std::size_t>(s.n));
    for (std::size_t i = 0; i < scales.size(); ++i) scales[i] = 0.02f * d.w_scale[i];
    p.dst_type = dnnl::memory::data_type::f32;
    p.scales = &scales;
  }
  qsafe_bench::run_onednn_matmul(st, p);
  set_gops(st, s);
}

// The same requantizing output: s32 bias, per-channel output scales, dst zero point, u8 dst.
void bench_onednn_matmul_requant(benchmark::State& st, Shape s) {
  const RequantData d(s);
  qsafe_bench::MatmulProblem p{s.m, s.k, s.n, d.a.data(), d.w_kn.data(), kZeroPoint, dnnl::memory::data_type::u8};
  p.scales = &d.scale;
  p.bias = d.bias.data();
  p.dst_zero_point = &kOutZeroPoint;
  st.SetLabel(qsafe_bench::run_onednn_matmul(st, p));
  set_gops(st, s);
}

void bench_onednn_gemm(benchmark::State& st, Shape s) {
  const Data d(s);
  std::vector<std::int32_t> c(static_cast<std::size_t>(s.m * s.n));
  const std::int32_t co = 0;
  for (auto _ : st) {
    // Row-major: C[M,N] = (A - ao)[M,K] * B[K,N].
    const dnnl_status_t r =
        dnnl_gemm_u8s8s32('N', 'N', 'F', s.m, s.n, s.k, 1.f, d.a.data(), s.k, static_cast<std::uint8_t>(kZeroPoint),
                          d.w_kn.data(), s.n, 0, 0.f, c.data(), s.n, &co);
    benchmark::DoNotOptimize(r);
    benchmark::ClobberMemory();
  }
  set_gops(st, s);
}

// ---------------------------------------------------------------------------------------------
// gemmlowp (uint8 x uint8 with offsets; weights shifted by +128 into uint8 with offset -128)

void bench_gemmlowp(benchmark::State& st, Shape s) {
  const Data d(s);
  std::vector<std::uint8_t> w(d.w_nk.size());  // [N, K] row-major = [K, N] column-major
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<std::uint8_t>(d.w_nk[i] + 128);
  std::vector<std::int32_t> c(static_cast<std::size_t>(s.m * s.n));
  bench_gemm_peers::GemmlowpContext* ctx = bench_gemm_peers::gemmlowp_create(1);
  for (auto _ : st) {
    bench_gemm_peers::gemmlowp_u8u8_s32(ctx, d.a.data(), w.data(), c.data(), static_cast<int>(s.m),
                                        static_cast<int>(s.k), static_cast<int>(s.n), -kZeroPoint, -128);
    benchmark::ClobberMemory();
  }
  bench_gemm_peers::gemmlowp_destroy(ctx);
  st.SetLabel(bench_gemm_peers::gemmlowp_kernel_flavour());
  set_gops(st, s);
}

// ---------------------------------------------------------------------------------------------
// Eigen float

void bench_eigen(benchmark::State& st, Shape s) {
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Mat a = Mat::Random(s.m, s.k), b = Mat::Random(s.k, s.n), c(s.m, s.n);
  for (auto _ : st) {
    c.noalias() = a * b;
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(c.data());
  set_gops(st, s);
}

// ---------------------------------------------------------------------------------------------
// Peak loops: 12 independent accumulator chains of one instruction, nothing else.

// c = step(c) for the twelve accumulators c0..c11, and keeping them alive.
#define QSAFE_BENCH_PEAK_STEP(c_, expr_) \
  {                                      \
    auto& c = c_;                        \
    c = expr_;                           \
  }
#define QSAFE_BENCH_PEAK_STEPS(expr_)                                                                        \
  QSAFE_BENCH_PEAK_STEP(c0, expr_)                                                                           \
  QSAFE_BENCH_PEAK_STEP(c1, expr_) QSAFE_BENCH_PEAK_STEP(c2, expr_) QSAFE_BENCH_PEAK_STEP(c3, expr_)         \
      QSAFE_BENCH_PEAK_STEP(c4, expr_) QSAFE_BENCH_PEAK_STEP(c5, expr_) QSAFE_BENCH_PEAK_STEP(c6, expr_)     \
          QSAFE_BENCH_PEAK_STEP(c7, expr_) QSAFE_BENCH_PEAK_STEP(c8, expr_) QSAFE_BENCH_PEAK_STEP(c9, expr_) \
              QSAFE_BENCH_PEAK_STEP(c10, expr_) QSAFE_BENCH_PEAK_STEP(c11, expr_)
#define QSAFE_BENCH_PEAK_KEEP \
  for (__m256i c : {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11}) benchmark::DoNotOptimize(c);

#if QSAFE_COMPILE_AVX512_VNNI
QSAFE_TARGET_AVX512_VNNI void peak_vpdpbusd_zmm(benchmark::State& st) {
  if (!qsafe::arch::avx512_vnni::available()) return st.SkipWithError("no AVX-512 VNNI");
  __m512i acc[12];
  const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2);
  for (auto& x : acc) x = _mm512_setzero_si512();
  for (auto _ : st) {
    for (int i = 0; i < 1000; ++i)
      for (auto& x : acc) x = _mm512_dpbusd_epi32(x, a, b);
    for (auto x : acc) benchmark::DoNotOptimize(x);  // copies: a reference would make acc escape to memory
  }
  st.counters["GOPS"] = benchmark::Counter(12 * 1000 * 64 * 2 / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}
#endif
#if QSAFE_COMPILE_AVX_VNNI
QSAFE_TARGET_AVX_VNNI void peak_vpdpbusd_ymm(benchmark::State& st) {
  if (!qsafe::arch::avx_vnni::available()) return st.SkipWithError("no AVX-VNNI");
  // Twelve named accumulators: with an array GCC 12 keeps the YMM chains in memory (a store per
  // step: 287 GOPS instead of the peak).
  const __m256i a = _mm256_set1_epi8(1), b = _mm256_set1_epi8(2);
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0,
          c10 = c0, c11 = c0;
  for (auto _ : st) {
    for (int i = 0; i < 1000; ++i) {
      QSAFE_BENCH_PEAK_STEPS(_mm256_dpbusd_avx_epi32(c, a, b))
    }
    QSAFE_BENCH_PEAK_KEEP
  }
  st.counters["GOPS"] = benchmark::Counter(12 * 1000 * 32 * 2 / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}
#endif
#if QSAFE_COMPILE_AVX2
// vpmaddwd + vpaddd: what the AVX2 widen16 path can reach at best (16 MACs per pair).
QSAFE_TARGET_AVX2 void peak_vpmaddwd_ymm(benchmark::State& st) {
  if (!qsafe::arch::avx2::available()) return st.SkipWithError("no AVX2");
  const __m256i b = _mm256_set1_epi16(2);
  __m256i c0 = _mm256_set1_epi16(1), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0,
          c10 = c0, c11 = c0;
  for (auto _ : st) {
    // Each chain multiplies its own accumulator (12 independent madd+add chains): with a shared
    // operand the compiler would compute the product once.
    for (int i = 0; i < 1000; ++i) {
      QSAFE_BENCH_PEAK_STEPS(_mm256_add_epi32(c, _mm256_madd_epi16(c, b)))
    }
    QSAFE_BENCH_PEAK_KEEP
  }
  st.counters["GOPS"] = benchmark::Counter(12 * 1000 * 16 * 2 / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}
#endif

bool small_enough_for_scalar(Shape s) { return s.m * s.k * s.n <= (std::int64_t{1} << 25); }

}  // namespace

int main(int argc, char** argv) {
  // libgomp (oneDNN's threading) reads OMP_NUM_THREADS when it is loaded, before main: if it is
  // not set, set it and start again, so every peer runs on one thread.
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    setenv("OMP_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);
  }
  Eigen::setNbThreads(1);
  for (const Shape& s : kShapes) {
    benchmark::RegisterBenchmark(shape_name("qsafe", s).c_str(), bench_qsafe<qsafe::arch::automatic, false>, s);
    benchmark::RegisterBenchmark(shape_name("qsafe_f32", s).c_str(), bench_qsafe<qsafe::arch::automatic, true>, s);
    benchmark::RegisterBenchmark(shape_name("qsafe_dynamic_per_row", s).c_str(),
                                 bench_qsafe_dynamic<qsafe::DynamicRange<qsafe::PerRow>>, s);
    benchmark::RegisterBenchmark(shape_name("qsafe_dynamic_per_tensor", s).c_str(),
                                 bench_qsafe_dynamic<qsafe::DynamicRange<qsafe::PerTensor>>, s);
    if (small_enough_for_scalar(s))
      benchmark::RegisterBenchmark(shape_name("qsafe_scalar", s).c_str(), bench_qsafe<qsafe::arch::scalar, false>, s);
#if QSAFE_COMPILE_AVX2
    benchmark::RegisterBenchmark(shape_name("qsafe_avx2", s).c_str(), bench_qsafe<qsafe::arch::avx2, false>, s);
#endif
#if QSAFE_COMPILE_AVX512_VNNI
    benchmark::RegisterBenchmark(shape_name("qsafe_avx512_vnni", s).c_str(),
                                 bench_qsafe<qsafe::arch::avx512_vnni, false>, s);
#endif
#if QSAFE_COMPILE_AVX_VNNI
    benchmark::RegisterBenchmark(shape_name("qsafe_avx_vnni", s).c_str(), bench_qsafe<qsafe::arch::avx_vnni, false>, s);
#endif
    benchmark::RegisterBenchmark(shape_name("onednn_matmul", s).c_str(), bench_onednn_matmul<false>, s);
    benchmark::RegisterBenchmark(shape_name("onednn_matmul_f32", s).c_str(), bench_onednn_matmul<true>, s);
    benchmark::RegisterBenchmark(shape_name("onednn_gemm", s).c_str(), bench_onednn_gemm, s);
    benchmark::RegisterBenchmark(shape_name("gemmlowp", s).c_str(), bench_gemmlowp, s);
    benchmark::RegisterBenchmark(shape_name("eigen_f32", s).c_str(), bench_eigen, s);
  }
  // Requantizing output (bias + per-channel float scale -> uint8 with zero point): every shape
  // above, and ResNet-50's 56x56x64->256 1x1 conv as a GEMM.
  std::vector<Shape> requant_shapes(std::begin(kShapes), std::end(kShapes));
  requant_shapes.push_back(Shape{3136, 64, 256});
  for (const Shape& s : requant_shapes) {
    benchmark::RegisterBenchmark(shape_name("qsafe_requant_u8", s).c_str(), bench_qsafe_requant<qsafe::arch::automatic>,
                                 s);
#if QSAFE_COMPILE_AVX_VNNI
    benchmark::RegisterBenchmark(shape_name("qsafe_avx_vnni_requant_u8", s).c_str(),
                                 bench_qsafe_requant<qsafe::arch::avx_vnni>, s);
#endif
    benchmark::RegisterBenchmark(shape_name("onednn_matmul_requant_u8", s).c_str(), bench_onednn_matmul_requant, s);
  }
#if QSAFE_COMPILE_AVX512_VNNI
  benchmark::RegisterBenchmark("peak/vpdpbusd_zmm", peak_vpdpbusd_zmm);
#endif
#if QSAFE_COMPILE_AVX_VNNI
  benchmark::RegisterBenchmark("peak/vpdpbusd_ymm", peak_vpdpbusd_ymm);
#endif
#if QSAFE_COMPILE_AVX2
  benchmark::RegisterBenchmark("peak/vpmaddwd_vpaddd_ymm", peak_vpmaddwd_ymm);
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
