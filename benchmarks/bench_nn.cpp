// The digits CNN (data/digits) over its 597 test images, one forward pass per iteration, as the
// analysis runs it (analysis::NnEngine -> nn::QuantizedModel):
//
//   nn/float/reference          Model::forward_float: the loop-nest float reference (double sums)
//   nn/float/im2col             QuantizedModel::forward_float: the same results bit for bit
//   nn/static_int8/reference    the PyTorch-exact int8 chain hand-wired from nn::reference layers
//                               (direct loop nests; tests/nn/quantized_digits_test.cpp)
//   nn/static_int8/executor     QuantizedModel, default LayerConfig (static min-max 8/8 per
//                               channel): the same integers through the GEMM / conv / depthwise kernels
//   nn/<policy>/executor        dynamic per tensor, dynamic per row, guarded per tensor, a 4/8-bit
//                               BitWidthRule, static 16-bit activations
//   nn/prepare/<observer>       prepare() with 200 calibration images
// items/s = images per second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "qsafe/core/float_requant.hpp"
#include "qsafe/io/model_loader.hpp"
#include "qsafe/io/npy.hpp"
#include "qsafe/nn/quantized_model.hpp"
#include "qsafe/nn/quantized_reference.hpp"
#include "qsafe/quantize.hpp"

namespace {

using namespace qsafe;

std::string digits_dir() {
  std::string f = __FILE__;
  return f.substr(0, f.rfind('/')) + "/../data/digits/";
}

struct Digits {
  nn::Model model = io::load_model(digits_dir() + "model/model.txt");
  io::NpyArray calib = io::read_npy(digits_dir() + "calib_x.npy");
  io::NpyArray test = io::read_npy(digits_dir() + "test_x.npy");
  std::vector<float> cx = calib.to_float();
  std::vector<float> tx = test.to_float();
  std::int64_t n_calib = calib.shape()[0];
  std::int64_t n = test.shape()[0];
};

const Digits& digits() {
  static const Digits d;
  return d;
}

void BM_float_reference(benchmark::State& state) {
  const Digits& d = digits();
  nn::Activations acts;
  for (auto _ : state) {
    if (d.model.forward_float(Span<const float>(d.tx), d.n, acts) != Status::ok) state.SkipWithError("forward");
    benchmark::DoNotOptimize(acts.outputs.back().data());
  }
  state.SetItemsProcessed(state.iterations() * d.n);
}

void BM_float_im2col(benchmark::State& state) {
  const Digits& d = digits();
  nn::QuantizedModel qm(d.model);
  std::vector<float> out(static_cast<std::size_t>(d.n * 10));
  for (auto _ : state) {
    if (qm.forward_float(Span<const float>(d.tx), d.n, Span<float>(out)) != Status::ok) state.SkipWithError("forward");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * d.n);
}

// The hand-wired reference chain: per-layer int8 weights, int32 bias and multipliers from the
// executor's own calibration, then nn::reference loop nests.
struct RefLayer {
  Conv2dGeometry g;
  std::vector<std::int8_t> w;
  std::vector<std::int32_t> bias;
  std::vector<float> mult;
  nn::reference::RequantFloat rq;
};

void BM_static_int8_reference(benchmark::State& state) {
  namespace ref = nn::reference;
  const Digits& d = digits();
  nn::QuantizedModel qm(d.model);
  if (!qm.prepare(analysis::QuantConfig{}, Span<const float>(d.cx), d.n_calib).ok()) state.SkipWithError("prepare");
  std::vector<RefLayer> layers(qm.num_quantizable());
  for (std::size_t j = 0; j < layers.size(); ++j) {
    const nn::Layer& l = d.model.layers[static_cast<std::size_t>(qm.layer_index(j))];
    const analysis::LayerRunStats& s = qm.stats(j);
    RefLayer& r = layers[j];
    if (l.kind == nn::LayerKind::conv2d) {
      r.g = nn::Model::geometry(l, l.in_shape, l.weight_shape[0]);
    } else {
      r.g.in_channels = l.weight_shape[1];
      r.g.out_channels = l.weight_shape[0];
    }
    r.g.batch = d.n;
    const std::size_t per = l.weight.size() / static_cast<std::size_t>(r.g.out_channels);
    for (std::size_t k = 0; k < l.weight.size(); ++k) {
      const float ws = s.weight_scales[k / per];
      const float q = std::nearbyint(l.weight[k] * (1.f / ws));
      r.w.push_back(static_cast<std::int8_t>(q < -128.f ? -128.f : (q > 127.f ? 127.f : q)));
    }
    for (std::int64_t o = 0; o < r.g.out_channels; ++o) {
      const float ws = s.weight_scales[static_cast<std::size_t>(o)];
      r.bias.push_back(pytorch_quantize_bias(l.bias[static_cast<std::size_t>(o)], s.input.scale, ws));
      r.mult.push_back(pytorch_requant_scale(s.input.scale, ws, s.output.scale));
    }
    r.rq.multiplier = Span<const float>(r.mult);
    r.rq.zero_point = s.output.zero_point;
    r.rq.lo = j < 4 ? s.output.zero_point : 0;  // conv1, conv2, dw3, fc1 have a fused ReLU
  }
  const QParams in = qm.stats(0).input, pool = qm.stats(2).input, res = qm.stats(3).input;
  const QParams dw3 = qm.stats(2).output;
  const ref::AddParams add =
      ref::qnnpack_add_params(dw3.scale, dw3.zero_point, pool.scale, pool.zero_point, res.scale, res.zero_point)
          .value();
  Conv2dGeometry pg;
  pg.batch = d.n;
  pg.in_h = pg.in_w = 8;
  pg.in_channels = pg.out_channels = 16;
  pg.kernel_h = pg.kernel_w = pg.stride_h = pg.stride_w = 2;
  std::vector<std::uint8_t> xq(d.tx.size()), a, b, p;
  std::vector<std::int32_t> acc;
  std::vector<float> logits;
  const auto layer = [&](const RefLayer& r, std::int32_t x_zp, const std::vector<std::uint8_t>& x,
                         std::vector<std::uint8_t>& y) {
    acc.resize(static_cast<std::size_t>(r.g.output_numel()));
    y.resize(acc.size());
    if (ref::conv2d_nhwc_acc(r.g, Span<const std::uint8_t>(x), x_zp, Span<const std::int8_t>(r.w), {},
                             Span<const std::int32_t>(r.bias), Span<std::int32_t>(acc)) != Status::ok ||
        ref::requantize_channels(Span<const std::int32_t>(acc), r.g.out_channels, r.rq, Span<std::uint8_t>(y)) !=
            Status::ok)
      state.SkipWithError("reference layer");
  };
  const Quantizer<std::uint8_t> in_q;
  for (auto _ : state) {
    if (in_q.quantize(Span<const float>(d.tx), in, Span<std::uint8_t>(xq)) != Status::ok)
      state.SkipWithError("quantize");
    layer(layers[0], in.zero_point, xq, a);
    layer(layers[1], layers[0].rq.zero_point, a, b);
    p.resize(static_cast<std::size_t>(pg.output_numel()));
    if (ref::max_pool2d_nhwc_u8(pg, Span<const std::uint8_t>(b), Span<std::uint8_t>(p)) != Status::ok)
      state.SkipWithError("pool");
    layer(layers[2], pool.zero_point, p, a);
    for (std::size_t k = 0; k < a.size(); ++k) a[k] = ref::qnnpack_add(a[k], p[k], add);
    b.resize(a.size());  // flatten NHWC -> NCHW (16 channels, 4x4)
    for (std::int64_t s = 0; s < d.n; ++s)
      for (std::int64_t c = 0; c < 16; ++c)
        for (std::int64_t q = 0; q < 16; ++q)
          b[static_cast<std::size_t>(s * 256 + c * 16 + q)] = a[static_cast<std::size_t>((s * 16 + q) * 16 + c)];
    layer(layers[3], res.zero_point, b, a);
    layer(layers[4], layers[3].rq.zero_point, a, b);
    logits.resize(b.size());
    const QParams o = qm.stats(4).output;
    for (std::size_t k = 0; k < b.size(); ++k)
      logits[k] = static_cast<float>(static_cast<std::int32_t>(b[k]) - o.zero_point) * o.scale;
    benchmark::DoNotOptimize(logits.data());
  }
  state.SetItemsProcessed(state.iterations() * d.n);
}

void run_executor(benchmark::State& state, const analysis::LayerConfig& c) {
  const Digits& d = digits();
  nn::QuantizedModel qm(d.model);
  analysis::QuantConfig q;
  q.all = c;
  if (!qm.prepare(q, Span<const float>(d.cx), d.n_calib).ok()) state.SkipWithError("prepare");
  std::vector<float> out(static_cast<std::size_t>(d.n * 10));
  for (auto _ : state) {
    if (qm.run(Span<const float>(d.tx), d.n, Span<float>(out)) != Status::ok) state.SkipWithError("run");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * d.n);
}

void BM_static_int8_executor(benchmark::State& state) { run_executor(state, analysis::LayerConfig{}); }

void BM_policy_executor(benchmark::State& state) {
  analysis::LayerConfig c;
  switch (state.range(0)) {
    case 0: c.policy = analysis::ActPolicy::dynamic_per_tensor; break;
    case 1: c.policy = analysis::ActPolicy::dynamic_per_row; break;
    case 2: c.policy = analysis::ActPolicy::guarded_per_tensor; break;
    case 3:
      c.policy = analysis::ActPolicy::dynamic_per_tensor;
      c.bit_width.enabled = true;
      c.bit_width.thresholds = {5.f};
      c.bit_width.bits = {4, 8};
      break;
    default: c.activation_bits = 16; break;
  }
  run_executor(state, c);
}

void BM_prepare(benchmark::State& state) {
  const Digits& d = digits();
  nn::QuantizedModel qm(d.model);
  analysis::QuantConfig q;
  q.all.observer = static_cast<analysis::ObserverKind>(state.range(0));
  for (auto _ : state)
    if (!qm.prepare(q, Span<const float>(d.cx), d.n_calib).ok()) state.SkipWithError("prepare");
  state.SetLabel(analysis::to_string(q.all.observer));
}

}  // namespace

BENCHMARK(BM_float_reference)->Name("nn/float/reference")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_float_im2col)->Name("nn/float/im2col")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_static_int8_reference)->Name("nn/static_int8/reference")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_static_int8_executor)->Name("nn/static_int8/executor")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_policy_executor)
    ->Name("nn/policy/executor")
    ->ArgName("dyn_tensor0_row1_guarded2_rule3_static16_4")
    ->DenseRange(0, 4)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_prepare)->Name("nn/prepare")->DenseRange(0, 4)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
