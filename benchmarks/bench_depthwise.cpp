// Quantized depthwise convolution, single-threaded, side by side: qsafe (dispatched and each
// forced path) against oneDNN's int8 convolution with groups = C (u8 src with a zero point, s8
// weights, s32 bias, per-channel output scales, u8 dst with a zero point; formats `any`, so oneDNN
// picks its preferred layouts; the reorders into them run once, outside the timing).
// Layers: the MobileNetV2 depthwise 3x3 convolutions (pad 1) named below.
// Names: conv/<impl>/<layer>; counter GOPS = 2 * out_h * out_w * C * kh * kw / s / 1e9.
// Both sides compute u8 = clamp(round((acc + bias) * scale[c]) + zp_out): qsafe with
// AddBias + RequantizeFloat + Clamp (PyTorch's epilogue).
// Run single-threaded: OMP_NUM_THREADS=1 (set here too, before oneDNN starts its OpenMP pool).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "peers/onednn_conv.hpp"
#include "qsafe/kernel/depthwise.hpp"

namespace {

struct Layer {
  const char* name;
  std::int64_t h, w, c, stride;
};

const Layer kLayers[] = {
    {"112x112x32_3x3_s1", 112, 112, 32, 1}, {"56x56x144_3x3_s1", 56, 56, 144, 1}, {"56x56x144_3x3_s2", 56, 56, 144, 2}};

constexpr std::int32_t kInZeroPoint = 3;
constexpr std::int32_t kOutZeroPoint = 5;

qsafe::Conv2dGeometry geometry(const Layer& l) {
  qsafe::Conv2dGeometry g;
  g.in_h = l.h;
  g.in_w = l.w;
  g.in_channels = g.out_channels = g.groups = l.c;
  g.kernel_h = g.kernel_w = 3;
  g.stride_h = g.stride_w = l.stride;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
  return g;
}

struct Data {
  qsafe::Conv2dGeometry g;
  std::vector<std::uint8_t> x;  // NHWC
  std::vector<std::int8_t> w;   // [C, 1, 3, 3]
  std::vector<std::int32_t> bias;
  std::vector<float> scale;  // per channel
  explicit Data(const Layer& l) : g(geometry(l)) {
    std::mt19937 rng(1);
    x.resize(static_cast<std::size_t>(g.input_numel()));
    w.resize(static_cast<std::size_t>(g.weight_numel()));
    bias.resize(static_cast<std::size_t>(g.out_channels));
    scale.resize(bias.size());
    for (auto& v : x) v = static_cast<std::uint8_t>(rng());
    for (auto& v : w) v = static_cast<std::int8_t>(rng());
    for (auto& v : bias) v = static_cast<std::int32_t>(rng() % 2001) - 1000;
    for (std::size_t i = 0; i < scale.size(); ++i) scale[i] = 1e-4f * static_cast<float>(1 + i % 7);
  }
};

std::string layer_name(const char* impl, const Layer& l) { return std::string("conv/") + impl + "/" + l.name; }

void set_gops(benchmark::State& st, const qsafe::Conv2dGeometry& g) {
  st.counters["GOPS"] = benchmark::Counter(2.0 * static_cast<double>(g.output_numel() * g.kernel_h * g.kernel_w) / 1e9,
                                           benchmark::Counter::kIsIterationInvariantRate);
}

template <class Isa>
void bench_qsafe(benchmark::State& st, Layer l) {
  if constexpr (!std::is_same<Isa, qsafe::arch::automatic>::value) {
    if (!Isa::available()) {
      st.SkipWithError("path not available on this CPU");
      return;
    }
  }
  const Data d(l);
  std::vector<std::byte> storage(qsafe::depthwise_packed_weights_size<Isa>(d.g));
  const auto packed =
      qsafe::pack_depthwise_weights<Isa>(d.g, qsafe::Span<const std::int8_t>(d.w), qsafe::Span<std::byte>(storage));
  if (!packed.ok()) {
    st.SkipWithError("pack_depthwise_weights failed");
    return;
  }
  std::vector<std::uint8_t> y(static_cast<std::size_t>(d.g.output_numel()));
  const auto out =
      qsafe::pipeline(qsafe::AddBias{qsafe::Span<const std::int32_t>(d.bias)},
                      qsafe::RequantizeFloat{qsafe::Span<const float>(d.scale), kOutZeroPoint}, qsafe::Clamp{0, 255});
  for (auto _ : st) {
    const qsafe::Status s = qsafe::depthwise_conv2d<Isa>(d.g, qsafe::Span<const std::uint8_t>(d.x), kInZeroPoint,
                                                         packed.value(), out, qsafe::Span<std::uint8_t>(y));
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  st.SetLabel(qsafe::arch::to_string(packed.value().arch()));
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
    benchmark::RegisterBenchmark(layer_name("qsafe_dw", l).c_str(), bench_qsafe<qsafe::arch::automatic>, l);
    benchmark::RegisterBenchmark(layer_name("onednn", l).c_str(), bench_onednn, l);
#if QSAFE_COMPILE_AVX512_VNNI
    benchmark::RegisterBenchmark(layer_name("qsafe_dw_avx512_vnni", l).c_str(), bench_qsafe<qsafe::arch::avx512_vnni>,
                                 l);
#endif
#if QSAFE_COMPILE_AVX2
    benchmark::RegisterBenchmark(layer_name("qsafe_dw_avx2", l).c_str(), bench_qsafe<qsafe::arch::avx2>, l);
#endif
    benchmark::RegisterBenchmark(layer_name("qsafe_dw_scalar", l).c_str(), bench_qsafe<qsafe::arch::scalar>, l);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
