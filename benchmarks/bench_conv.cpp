// Quantized conv2d, single-threaded, side by side: qsafe (dispatched and each forced path) against
// oneDNN's int8 convolution (u8 src, s8 weights, s32 bias, u8 dst; every memory format `any`, so
// oneDNN picks its preferred blocked layouts; the reorders into them run once, outside timing).
// Both requantize per output channel to uint8 with a zero point on the input (qsafe: AddBias +
// RequantizeFloat, then the uint8 store saturates; oneDNN: src zero point, per-channel output scales, dst zero point
// where this oneDNN accepts them, see the label).
// Layers: ResNet-50's 3x3 convolutions at each resolution and its first 1x1 expansion, batch 1.
// Names: conv/<impl>/<H>x<W>x<C>-><OC>_<KH>x<KW> (impl qsafe_nostages: no output stages, see
// bench_qsafe); counter GOPS = 2*OH*OW*OC*(C/groups)*KH*KW / s / 1e9.
// Run single-threaded: OMP_NUM_THREADS=1 (set here too, before oneDNN starts its OpenMP pool).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "peers/onednn_conv.hpp"
#include "qsafe/kernel/conv2d.hpp"

namespace {

struct Layer {
  std::int64_t h, w, c, oc, k;
};

const Layer kLayers[] = {
    {56, 56, 64, 64, 3}, {28, 28, 128, 128, 3}, {14, 14, 256, 256, 3}, {7, 7, 512, 512, 3}, {56, 56, 64, 256, 1}};

constexpr std::int32_t kInZeroPoint = 128;
constexpr std::int32_t kOutZeroPoint = 3;

qsafe::Conv2dGeometry geometry(Layer l) {
  qsafe::Conv2dGeometry g;
  g.in_h = l.h;
  g.in_w = l.w;
  g.in_channels = l.c;
  g.out_channels = l.oc;
  g.kernel_h = g.kernel_w = l.k;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = l.k / 2;
  return g;
}

std::string layer_name(const char* impl, Layer l) {
  return std::string("conv/") + impl + "/" + std::to_string(l.h) + "x" + std::to_string(l.w) + "x" +
         std::to_string(l.c) + "->" + std::to_string(l.oc) + "_" + std::to_string(l.k) + "x" + std::to_string(l.k);
}

void set_gops(benchmark::State& st, const qsafe::Conv2dGeometry& g) {
  const double ops = 2.0 * static_cast<double>(g.out_h() * g.out_w() * g.out_channels * g.depth());
  st.counters["GOPS"] = benchmark::Counter(ops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

struct Data {
  qsafe::Conv2dGeometry g;
  std::vector<std::uint8_t> x;  // NHWC
  std::vector<std::int8_t> w;   // OIHW
  std::vector<std::int32_t> bias;
  std::vector<float> scale;  // per output channel: x_scale * w_scale / y_scale
  explicit Data(Layer l) : g(geometry(l)) {
    std::mt19937 rng(1);
    x.resize(static_cast<std::size_t>(g.input_numel()));
    w.resize(static_cast<std::size_t>(g.weight_numel()));
    bias.resize(static_cast<std::size_t>(g.out_channels));
    scale.resize(bias.size());
    for (auto& v : x) v = static_cast<std::uint8_t>(rng());
    for (auto& v : w) v = static_cast<std::int8_t>(rng());
    for (std::size_t i = 0; i < bias.size(); ++i) {
      bias[i] = static_cast<std::int32_t>(rng() % 2001) - 1000;
      scale[i] = 1.f / static_cast<float>(3000 + 7 * i);
    }
  }
};

// Bare = true: the same convolution with no output stages (the int32 accumulators saturated into
// the uint8 store): what the machinery (fills, K loop, tile walk, 8-bit store) costs without the
// requantization, for comparing against oneDNN's full figure in the same run.
template <class Isa, bool Bare = false>
void bench_qsafe(benchmark::State& st, Layer l) {
  if constexpr (!std::is_same<Isa, qsafe::arch::automatic>::value) {
    if (!Isa::available()) return st.SkipWithError("path not available on this CPU");
  }
  const Data d(l);
  std::vector<std::byte> storage(qsafe::conv2d_packed_weights_size<Isa>(d.g));
  const auto packed =
      qsafe::pack_conv2d_weights<Isa>(d.g, qsafe::Span<const std::int8_t>(d.w), qsafe::Span<std::byte>(storage));
  if (!packed.ok()) return st.SkipWithError("packing failed");
  std::vector<std::byte> ws(qsafe::conv2d_workspace_size<Isa>(d.g, packed.value()));
  std::vector<std::uint8_t> y(static_cast<std::size_t>(d.g.output_numel()));
  const auto run = [&](const auto& out) {
    for (auto _ : st) {
      const qsafe::Status s =
          qsafe::conv2d<Isa>(d.g, qsafe::Span<const std::uint8_t>(d.x), kInZeroPoint, packed.value(), out,
                             qsafe::Span<std::uint8_t>(y), qsafe::Span<std::byte>(ws));
      benchmark::DoNotOptimize(s);
      benchmark::ClobberMemory();
    }
  };
  if constexpr (Bare) {
    run(qsafe::pipeline());
  } else {
    run(qsafe::pipeline(qsafe::AddBias{qsafe::Span<const std::int32_t>(d.bias)},
                        qsafe::RequantizeFloat{qsafe::Span<const float>(d.scale), kOutZeroPoint}));
  }
  st.SetLabel(std::string(qsafe::arch::to_string(packed.value().arch())) + ", workspace " +
              std::to_string(ws.size() / 1024) + " KiB");
  set_gops(st, d.g);
}

void bench_onednn(benchmark::State& st, Layer l) {
  const Data d(l);
  qsafe_bench::run_onednn_conv(st, {d.g, d.x.data(), d.w.data(), d.bias.data(), d.scale, kInZeroPoint, kOutZeroPoint});
  set_gops(st, d.g);
}

}  // namespace

int main(int argc, char** argv) {
  qsafe_bench::reexec_single_threaded(argv);
  for (const Layer& l : kLayers) {
    benchmark::RegisterBenchmark(layer_name("qsafe", l).c_str(), bench_qsafe<qsafe::arch::automatic>, l);
    benchmark::RegisterBenchmark(layer_name("onednn", l).c_str(), bench_onednn, l);
    benchmark::RegisterBenchmark(layer_name("qsafe_nostages", l).c_str(), bench_qsafe<qsafe::arch::automatic, true>, l);
#if QSAFE_COMPILE_AVX512_VNNI
    benchmark::RegisterBenchmark(layer_name("qsafe_avx512_vnni", l).c_str(), bench_qsafe<qsafe::arch::avx512_vnni>, l);
#endif
#if QSAFE_COMPILE_AVX_VNNI
    benchmark::RegisterBenchmark(layer_name("qsafe_avx_vnni", l).c_str(), bench_qsafe<qsafe::arch::avx_vnni>, l);
#endif
#if QSAFE_COMPILE_AVX2
    benchmark::RegisterBenchmark(layer_name("qsafe_avx2", l).c_str(), bench_qsafe<qsafe::arch::avx2>, l);
#endif
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
