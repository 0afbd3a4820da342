// The bundled digits CNN quantized the way a PyTorch user does it (eager mode, engine qnnpack,
// conv+relu and linear+relu fused, min-max activations, per-channel symmetric int8 weights) must
// be reproduced integer for integer by qsafe's quantized reference layers: quantized input, every
// layer's requantized output and the final logits. Golden data: scripts/models/quantize_digits_torch.py.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "qsafe/core/float_requant.hpp"
#include "qsafe/io/model_loader.hpp"
#include "qsafe/io/npy.hpp"
#include "qsafe/nn/quantized_reference.hpp"
#include "qsafe/quantize.hpp"
#include "nn/digits_golden.hpp"

using namespace qsafe;
namespace ref = qsafe::nn::reference;
using namespace digits_golden;

namespace {
using LayerQ = GoldenQ;

// A conv2d or linear layer quantized as PyTorch does: per-channel symmetric int8 weights from
// their exact ranges, int32 bias, float requantization, optional fused ReLU.
struct QuantLayer {
  Conv2dGeometry g;
  std::vector<std::int8_t> w;
  std::vector<float> w_scales;
  std::vector<std::int32_t> bias;
  std::vector<float> multipliers;
  ref::RequantFloat out;
};

QuantLayer quantize_layer(const nn::Layer& l, std::int64_t batch, const LayerQ& in, const LayerQ& out, bool relu) {
  QuantLayer q;
  if (l.kind == nn::LayerKind::conv2d) {
    q.g = nn::Model::geometry(l, l.in_shape, l.weight_shape[0]);
  } else {  // linear = 1x1 convolution over a 1x1 image with `in` channels
    q.g.in_channels = l.weight_shape[1];
    q.g.out_channels = l.weight_shape[0];
  }
  q.g.batch = batch;
  const std::int64_t oc = l.weight_shape[0];
  Shape wshape;
  if (l.weight_shape.size() == 4)
    wshape = Shape{l.weight_shape[0], l.weight_shape[1], l.weight_shape[2], l.weight_shape[3]};
  else
    wshape = Shape{l.weight_shape[0], l.weight_shape[1]};
  Quantizer<std::int8_t, 8, Symmetric, PerChannel> wq(PerChannel{0});
  std::vector<Range> ranges(static_cast<std::size_t>(oc));
  std::vector<QParams> params(static_cast<std::size_t>(oc));
  REQUIRE(wq.params_from_data(TensorView<const float>(l.weight.data(), wshape), Span<Range>(ranges),
                              Span<QParams>(params)) == Status::ok);
  q.w.resize(l.weight.size());
  REQUIRE(wq.quantize(TensorView<const float>(l.weight.data(), wshape), Span<const QParams>(params),
                      TensorView<std::int8_t>(q.w.data(), wshape)) == Status::ok);
  for (std::int64_t c = 0; c < oc; ++c) {
    const float ws = params[static_cast<std::size_t>(c)].scale;
    q.w_scales.push_back(ws);
    q.bias.push_back(pytorch_quantize_bias(l.bias[static_cast<std::size_t>(c)], in.scale, ws));
    q.multipliers.push_back(pytorch_requant_scale(in.scale, ws, out.scale));
  }
  q.out.multiplier = Span<const float>(q.multipliers);
  q.out.zero_point = out.zero_point;
  q.out.lo = relu ? out.zero_point : 0;
  q.out.hi = 255;
  return q;
}

std::vector<std::uint8_t> run_layer(const QuantLayer& q, const std::vector<std::uint8_t>& x, std::int32_t x_zp) {
  std::vector<std::int32_t> acc(static_cast<std::size_t>(q.g.output_numel()));
  REQUIRE(ref::conv2d_nhwc_acc(q.g, Span<const std::uint8_t>(x), x_zp, Span<const std::int8_t>(q.w), {},
                               Span<const std::int32_t>(q.bias), Span<std::int32_t>(acc)) == Status::ok);
  std::vector<std::uint8_t> y(acc.size());
  REQUIRE(ref::requantize_channels(Span<const std::int32_t>(acc), q.g.out_channels, q.out, Span<std::uint8_t>(y)) ==
          Status::ok);
  return y;
}

std::vector<std::uint8_t> flatten_nchw(const std::vector<std::uint8_t>& nhwc, std::int64_t n, std::int64_t c,
                                       std::int64_t hw) {
  std::vector<std::uint8_t> out(nhwc.size());
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t p = 0; p < hw; ++p)
        out[static_cast<std::size_t>(b * c * hw + ch * hw + p)] = nhwc[static_cast<std::size_t>((b * hw + p) * c + ch)];
  return out;
}
// Runs the whole quantized chain under qparams `q`; returns the outputs of every layer by name.
std::map<std::string, std::vector<std::uint8_t>> run_chain(const nn::Model& model, const std::map<std::string, LayerQ>& q,
                                                           const std::vector<float>& x, std::int64_t n) {
  std::map<std::string, std::vector<std::uint8_t>> out;
  Quantizer<std::uint8_t> in_q;
  std::vector<std::uint8_t> xq(x.size());
  REQUIRE(in_q.quantize(Span<const float>(x), QParams{q.at("quant").scale, q.at("quant").zero_point},
                        Span<std::uint8_t>(xq)) == Status::ok);
  out["quant"] = xq;
  out["conv1"] = run_layer(quantize_layer(model.layers[0], n, q.at("quant"), q.at("conv1"), true), xq,
                           q.at("quant").zero_point);
  out["conv2"] = run_layer(quantize_layer(model.layers[2], n, q.at("conv1"), q.at("conv2"), true), out["conv1"],
                           q.at("conv1").zero_point);
  Conv2dGeometry pool_g;
  pool_g.batch = n;
  pool_g.in_h = pool_g.in_w = 8;
  pool_g.in_channels = pool_g.out_channels = 16;
  pool_g.kernel_h = pool_g.kernel_w = pool_g.stride_h = pool_g.stride_w = 2;
  out["pool"].resize(static_cast<std::size_t>(pool_g.output_numel()));
  REQUIRE(ref::max_pool2d_nhwc_u8(pool_g, Span<const std::uint8_t>(out["conv2"]), Span<std::uint8_t>(out["pool"])) ==
          Status::ok);
  out["dw3"] = run_layer(quantize_layer(model.layers[5], n, q.at("pool"), q.at("dw3"), true), out["pool"],
                         q.at("pool").zero_point);
  const Result<ref::AddParams> add = ref::qnnpack_add_params(q.at("dw3").scale, q.at("dw3").zero_point,
                                                             q.at("pool").scale, q.at("pool").zero_point,
                                                             q.at("res").scale, q.at("res").zero_point);
  REQUIRE(add.ok());
  out["res"].resize(out["dw3"].size());
  for (std::size_t i = 0; i < out["res"].size(); ++i) out["res"][i] = ref::qnnpack_add(out["dw3"][i], out["pool"][i], *add);
  out["fc1"] = run_layer(quantize_layer(model.layers[9], n, q.at("res"), q.at("fc1"), true),
                         flatten_nchw(out["res"], n, 16, 16), q.at("res").zero_point);
  out["fc2"] = run_layer(quantize_layer(model.layers[11], n, q.at("fc1"), q.at("fc2"), false), out["fc1"],
                         q.at("fc1").zero_point);
  return out;
}
}  // namespace

TEST_CASE("nn: static int8 digits CNN matches PyTorch qnnpack integer for integer", "[nn][golden][pytorch]") {
  const nn::Model model = io::load_model(kDigits + "model/model.txt");
  const std::map<std::string, LayerQ> q = read_qparams();
  const io::NpyArray x_all = io::read_npy(kDigits + "test_x.npy");
  const std::int64_t n = io::read_npy(kGolden + "quant.int.npy").shape()[0];
  std::vector<float> x = x_all.to_float();
  x.resize(static_cast<std::size_t>(n * 64));

  // Quantized input (quint8 per tensor), NHWC with C = 1 is the same order as NCHW.
  Quantizer<std::uint8_t> in_q;
  std::vector<std::uint8_t> xq(x.size());
  REQUIRE(in_q.quantize(Span<const float>(x), QParams{q.at("quant").scale, q.at("quant").zero_point},
                        Span<std::uint8_t>(xq)) == Status::ok);
  CHECK(mismatches(xq, golden_nhwc("quant")) == 0);

  // Layer indices in the manifest graph: conv1 0, conv2 2, pool 4, dw3 5, res 7, fc1 9, fc2 11.
  const QuantLayer conv1 = quantize_layer(model.layers[0], n, q.at("quant"), q.at("conv1"), true);
  const QuantLayer conv2 = quantize_layer(model.layers[2], n, q.at("conv1"), q.at("conv2"), true);
  const QuantLayer dw3 = quantize_layer(model.layers[5], n, q.at("pool"), q.at("dw3"), true);
  const QuantLayer fc1 = quantize_layer(model.layers[9], n, q.at("res"), q.at("fc1"), true);
  const QuantLayer fc2 = quantize_layer(model.layers[11], n, q.at("fc1"), q.at("fc2"), false);
  SECTION("per-channel weight scales are PyTorch's, bit for bit") {
    CHECK(conv1.w_scales == q.at("conv1").weight_scales);
    CHECK(conv2.w_scales == q.at("conv2").weight_scales);
    CHECK(dw3.w_scales == q.at("dw3").weight_scales);
    CHECK(fc1.w_scales == q.at("fc1").weight_scales);
    CHECK(fc2.w_scales == q.at("fc2").weight_scales);
  }

  Conv2dGeometry pool_g;
  pool_g.batch = n;
  pool_g.in_h = pool_g.in_w = 8;
  pool_g.in_channels = pool_g.out_channels = 16;
  pool_g.kernel_h = pool_g.kernel_w = pool_g.stride_h = pool_g.stride_w = 2;
  const Result<ref::AddParams> add = ref::qnnpack_add_params(q.at("dw3").scale, q.at("dw3").zero_point,
                                                             q.at("pool").scale, q.at("pool").zero_point,
                                                             q.at("res").scale, q.at("res").zero_point);
  REQUIRE(add.ok());
  const auto run_pool = [&](const std::vector<std::uint8_t>& in) {
    std::vector<std::uint8_t> y(static_cast<std::size_t>(pool_g.output_numel()));
    REQUIRE(ref::max_pool2d_nhwc_u8(pool_g, Span<const std::uint8_t>(in), Span<std::uint8_t>(y)) == Status::ok);
    return y;
  };
  const auto run_add = [&](const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
    std::vector<std::uint8_t> y(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) y[i] = ref::qnnpack_add(a[i], b[i], *add);
    return y;
  };

  SECTION("every layer, fed PyTorch's own input, gives PyTorch's output") {
    CHECK(mismatches(run_layer(conv1, golden_nhwc("quant"), q.at("quant").zero_point), golden_nhwc("conv1")) == 0);
    CHECK(mismatches(run_layer(conv2, golden_nhwc("conv1"), q.at("conv1").zero_point), golden_nhwc("conv2")) == 0);
    CHECK(mismatches(run_pool(golden_nhwc("conv2")), golden_nhwc("pool")) == 0);
    CHECK(mismatches(run_layer(dw3, golden_nhwc("pool"), q.at("pool").zero_point), golden_nhwc("dw3")) == 0);
    CHECK(mismatches(run_add(golden_nhwc("dw3"), golden_nhwc("pool")), golden_nhwc("res")) == 0);
    const std::vector<std::uint8_t> flat = flatten_nchw(golden_nhwc("res"), n, 16, 16);
    CHECK(mismatches(run_layer(fc1, flat, q.at("res").zero_point), golden_nhwc("fc1")) == 0);
    CHECK(mismatches(run_layer(fc2, golden_nhwc("fc1"), q.at("fc1").zero_point), golden_nhwc("fc2")) == 0);
  }

  SECTION("the whole chain from the quantized input reproduces PyTorch's logits exactly") {
    const auto outs = run_chain(model, q, x, n);
    for (const char* name : {"conv1", "conv2", "pool", "dw3", "res", "fc1", "fc2"}) {
      CAPTURE(name);
      CHECK(mismatches(outs.at(name), golden_nhwc(name)) == 0);
    }
    const std::vector<std::uint8_t>& f2 = outs.at("fc2");
    const std::vector<float> logits = io::read_npy(kGolden + "logits.npy").to_float();
    REQUIRE(logits.size() == f2.size());
    std::size_t diff = 0;
    for (std::size_t i = 0; i < f2.size(); ++i)
      diff += static_cast<float>(static_cast<std::int32_t>(f2[i]) - q.at("fc2").zero_point) * q.at("fc2").scale != logits[i];
    CHECK(diff == 0);
  }
}

TEST_CASE("nn: min-max calibration on qsafe's float forward gives PyTorch's activation qparams",
          "[nn][golden][pytorch]") {
  // PyTorch's observers see the float outputs of the fused float modules; qsafe's float forward
  // computes the same graph (accumulating in double, PyTorch in float), so the observed extremes
  // may differ in the last bits. Scales must agree to 2^-20 relative, zero points exactly.
  const nn::Model model = io::load_model(kDigits + "model/model.txt");
  const std::map<std::string, LayerQ> q = read_qparams();
  const io::NpyArray calib = io::read_npy(kDigits + "calib_x.npy");
  const std::vector<float> cx = calib.to_float();
  nn::Activations acts;
  REQUIRE(model.forward_float(Span<const float>(cx), calib.shape()[0], acts) == Status::ok);
  const auto range_of = [](const std::vector<float>& v) {
    Range r{v[0], v[0]};
    for (float e : v) {
      r.lo = e < r.lo ? e : r.lo;
      r.hi = e > r.hi ? e : r.hi;
    }
    return r;
  };
  // Observed tensor -> PyTorch observer: input, relu1 (conv1+relu), relu2, relu3 (dw3+relu), res, relu4 (fc1+relu), fc2.
  const std::vector<std::pair<std::string, const std::vector<float>*>> observed = {
      {"quant", &acts.input},      {"conv1", &acts.outputs[1]}, {"conv2", &acts.outputs[3]},
      {"dw3", &acts.outputs[6]},   {"res", &acts.outputs[7]},   {"fc1", &acts.outputs[10]},
      {"fc2", &acts.outputs[11]}};
  int exact = 0;
  for (const auto& [name, values] : observed) {
    const Result<QParams> p = qparams_from_range(range_of(*values), qrange_of<std::uint8_t>(), SchemeKind::affine);
    REQUIRE(p.ok());
    CAPTURE(name, p->scale, q.at(name).scale);
    CHECK(p->zero_point == q.at(name).zero_point);
    CHECK(std::fabs(p->scale - q.at(name).scale) <= q.at(name).scale * 0x1p-20f);
    exact += p->scale == q.at(name).scale ? 1 : 0;
  }
  WARN("activation scales bit-identical to PyTorch's: " << exact << " of " << observed.size());

  // The whole int8 model under qsafe's own calibration (activation qparams observed by qsafe,
  // pool sharing conv2's as PyTorch's quantized max pooling does) against PyTorch's outputs.
  std::map<std::string, LayerQ> own = q;
  for (const auto& [name, values] : observed) {
    const Result<QParams> p = qparams_from_range(range_of(*values), qrange_of<std::uint8_t>(), SchemeKind::affine);
    own[name].scale = p->scale;
    own[name].zero_point = p->zero_point;
  }
  own["pool"] = own["conv2"];
  const io::NpyArray x_all = io::read_npy(kDigits + "test_x.npy");
  const std::int64_t n = io::read_npy(kGolden + "quant.int.npy").shape()[0];
  std::vector<float> x = x_all.to_float();
  x.resize(static_cast<std::size_t>(n * 64));
  const auto outs = run_chain(model, own, x, n);
  std::size_t total = 0, differ = 0, off_by_more = 0;
  for (const char* name : {"quant", "conv1", "conv2", "pool", "dw3", "res", "fc1", "fc2"}) {
    const std::vector<std::uint8_t> g = golden_nhwc(name);
    const std::vector<std::uint8_t>& o = outs.at(name);
    for (std::size_t i = 0; i < g.size(); ++i) {
      differ += o[i] != g[i] ? 1u : 0u;
      off_by_more += (o[i] > g[i] + 1 || g[i] > o[i] + 1) ? 1u : 0u;
    }
    total += g.size();
  }
  WARN("own calibration: " << differ << " of " << total << " quantized values differ from PyTorch's, "
                           << off_by_more << " by more than one level");
  // The last-bit scale differences flip no rounding on this data: the int8 model is PyTorch's.
  CHECK(off_by_more == 0);
  CHECK(differ == 0);
}
