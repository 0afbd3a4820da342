// nn::QuantizedModel: the digits CNN under the static 8-bit min-max per-channel configuration is
// PyTorch's eager-mode int8 model integer for integer (own calibration, every layer, logits), and
// tiny models built in code whose quantized answer is known by construction.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "qsafe/io/model_loader.hpp"
#include "qsafe/io/npy.hpp"
#include "qsafe/nn/quantized_model.hpp"
#include "nn/digits_golden.hpp"

using namespace qsafe;
using analysis::ActPolicy;
using analysis::LayerConfig;
using analysis::QuantConfig;
using namespace digits_golden;

namespace {
// A model with one linear layer `in` -> `out` and the given weights (no bias unless given).
nn::Model linear_model(std::int64_t in, std::int64_t out, std::vector<float> w, std::vector<float> bias = {}) {
  nn::Model m;
  m.input_shape = nn::ActShape{in, 1, 1, false};
  nn::Layer l;
  l.kind = nn::LayerKind::linear;
  l.name = "fc";
  l.weight_shape = {out, in};
  l.weight = std::move(w);
  l.bias = std::move(bias);
  m.layers.push_back(l);
  REQUIRE(m.finalize().ok());
  return m;
}

std::vector<float> identity(std::int64_t n) {
  std::vector<float> w(static_cast<std::size_t>(n * n), 0.f);
  for (std::int64_t i = 0; i < n; ++i) w[static_cast<std::size_t>(i * n + i)] = 1.f;
  return w;
}

// Deterministic pseudo-random values in [lo, hi).
std::vector<float> uniform(std::size_t n, float lo, float hi, std::uint32_t seed) {
  std::vector<float> v(n);
  std::uint32_t s = seed;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = lo + (hi - lo) * static_cast<float>(s >> 8) / 16777216.f;
  }
  return v;
}

QuantConfig config_with(LayerConfig c, const std::string& name = "cfg") {
  QuantConfig q;
  q.name = name;
  q.all = c;
  return q;
}

// A model with every window feature: stride, asymmetric padding, dilation, groups, a 1x1
// convolution, relu6, an add from the model input, flatten and a linear layer.
nn::Model window_model() {
  nn::Model m;
  m.input_shape = nn::ActShape{4, 9, 7, true};
  const auto conv = [&](const std::string& name, std::int64_t o, std::int64_t i, std::int64_t k, std::int64_t groups,
                        std::uint32_t seed) {
    nn::Layer l;
    l.kind = nn::LayerKind::conv2d;
    l.name = name;
    l.groups = groups;
    l.weight_shape = {o, i / groups, k, k};
    l.weight = uniform(static_cast<std::size_t>(o * (i / groups) * k * k), -0.5f, 0.5f, seed);
    l.bias = uniform(static_cast<std::size_t>(o), -0.1f, 0.1f, seed + 1);
    return l;
  };
  nn::Layer c1 = conv("c1", 4, 4, 3, 2, 11);
  c1.pad_top = c1.pad_left = c1.pad_bottom = c1.pad_right = 2;
  c1.dilation_h = c1.dilation_w = 2;
  m.layers.push_back(c1);
  nn::Layer add;
  add.kind = nn::LayerKind::add;
  add.name = "res";
  add.from = -1;
  m.layers.push_back(add);
  nn::Layer c2 = conv("c2", 12, 4, 3, 1, 13);
  c2.stride_h = 2;
  c2.stride_w = 1;
  c2.pad_top = 1;
  c2.pad_right = 2;
  m.layers.push_back(c2);
  nn::Layer relu;
  relu.kind = nn::LayerKind::relu6;
  relu.name = "r";
  m.layers.push_back(relu);
  m.layers.push_back(conv("pw", 9, 12, 1, 1, 17));
  nn::Layer flat;
  flat.kind = nn::LayerKind::flatten;
  flat.name = "flat";
  m.layers.push_back(flat);
  REQUIRE(m.finalize().ok());
  nn::Layer fc;
  fc.kind = nn::LayerKind::linear;
  fc.name = "fc";
  fc.weight_shape = {5, m.output_shape().numel()};
  fc.weight = uniform(static_cast<std::size_t>(5 * m.output_shape().numel()), -0.2f, 0.2f, 19);
  m.layers.push_back(fc);
  REQUIRE(m.finalize().ok());
  return m;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}
}  // namespace

TEST_CASE("QuantizedModel: static int8 digits CNN is PyTorch's eager-mode int8 model, integer for integer",
          "[nn][golden][pytorch]") {
  const nn::Model model = io::load_model(kDigits + "model/model.txt");
  const std::map<std::string, GoldenQ> q = read_qparams();
  const io::NpyArray calib = io::read_npy(kDigits + "calib_x.npy");
  const std::vector<float> cx = calib.to_float();
  const std::int64_t n = io::read_npy(kGolden + "quant.int.npy").shape()[0];
  std::vector<float> x = io::read_npy(kDigits + "test_x.npy").to_float();
  x.resize(static_cast<std::size_t>(n * 64));

  nn::QuantizedModel qm(model);
  REQUIRE(qm.num_quantizable() == 5);
  const QuantConfig cfg = config_with(LayerConfig{}, "static int8");  // defaults: static, min-max, 8/8, per channel
  const nn::ModelError e = qm.prepare(cfg, Span<const float>(cx), calib.shape()[0]);
  INFO(e.message);
  REQUIRE(e.ok());
  for (std::size_t i = 0; i < 5; ++i) CHECK(qm.mode(i) == nn::QuantMode::static_u8);

  SECTION("qsafe's own calibration gives PyTorch's qparams") {
    // Input of conv1 = PyTorch's QuantStub; every layer's output (after the fused ReLU).
    CHECK(qm.stats(0).input.scale == q.at("quant").scale);
    CHECK(qm.stats(0).input.zero_point == q.at("quant").zero_point);
    const std::vector<std::pair<const char*, int>> outputs = {{"conv1", 0}, {"conv2", 2}, {"pool", 4}, {"dw3", 5},
                                                              {"res", 7},   {"fc1", 9},   {"fc2", 11}};
    for (const auto& [name, layer] : outputs) {
      CAPTURE(name);
      REQUIRE(qm.output_quantized(static_cast<std::size_t>(layer)));
      const QParams p = qm.output_qparams(static_cast<std::size_t>(layer));
      CHECK(p.zero_point == q.at(name).zero_point);
      // qsafe's float forward accumulates in double, PyTorch's in float: at most a last-bit difference.
      CHECK(std::fabs(p.scale - q.at(name).scale) <= q.at(name).scale * 0x1p-20f);
    }
    const std::vector<std::pair<const char*, std::size_t>> weights = {
        {"conv1", 0}, {"conv2", 1}, {"dw3", 2}, {"fc1", 3}, {"fc2", 4}};
    for (const auto& [name, j] : weights) {
      CAPTURE(name);
      CHECK(qm.stats(j).weight_scales == q.at(name).weight_scales);
    }
  }

  SECTION("every layer's uint8 output and the logits match PyTorch's") {
    std::vector<float> logits(static_cast<std::size_t>(n * 10));
    std::vector<nn::LayerOutput> trace;
    REQUIRE(qm.run(Span<const float>(x), n, Span<float>(logits), &trace) == Status::ok);
    const std::vector<std::pair<const char*, int>> outputs = {{"conv1", 0}, {"conv2", 2}, {"pool", 4}, {"dw3", 5},
                                                              {"res", 7},   {"fc1", 9},   {"fc2", 11}};
    for (const auto& [name, layer] : outputs) {
      CAPTURE(name);
      const nn::LayerOutput& t = trace[static_cast<std::size_t>(layer)];
      REQUIRE(t.quantized);
      CHECK(mismatches(t.q, golden_nhwc(name)) == 0);
    }
    const std::vector<float> golden = io::read_npy(kGolden + "logits.npy").to_float();
    REQUIRE(golden.size() == logits.size());
    std::size_t diff = 0;
    for (std::size_t i = 0; i < logits.size(); ++i) diff += logits[i] != golden[i] ? 1u : 0u;
    CHECK(diff == 0);
    // Counters: every static layer ran once over n samples at 8 bits.
    for (std::size_t j = 0; j < 5; ++j) CHECK(qm.stats(j).bits_chosen[8] == static_cast<std::uint64_t>(n));
    CHECK(qm.stats(0).counters.runs == 1);  // conv1 quantizes the float input
    CHECK(qm.stats(0).counters.values >= static_cast<std::uint64_t>(n * 64));
  }

  SECTION("test accuracy of the whole test set equals PyTorch's int8 accuracy") {
    const io::NpyArray tx = io::read_npy(kDigits + "test_x.npy");
    const std::vector<float> all = tx.to_float();
    const std::vector<std::int64_t> labels = io::read_npy(kDigits + "test_y.npy").to_vector<std::int64_t>();
    const std::int64_t nt = tx.shape()[0];
    std::vector<float> logits(static_cast<std::size_t>(nt * 10));
    REQUIRE(qm.run(Span<const float>(all), nt, Span<float>(logits)) == Status::ok);
    std::int64_t correct = 0;
    for (std::int64_t b = 0; b < nt; ++b) {
      std::int64_t best = 0;
      for (std::int64_t c = 1; c < 10; ++c)
        if (logits[static_cast<std::size_t>(b * 10 + c)] > logits[static_cast<std::size_t>(b * 10 + best)]) best = c;
      correct += best == labels[static_cast<std::size_t>(b)] ? 1 : 0;
    }
    std::ifstream f(kGolden + "accuracy.txt");
    double torch_acc = 0;
    f >> torch_acc;
    CHECK(std::fabs(static_cast<double>(correct) / static_cast<double>(nt) - torch_acc) < 1e-6);
  }
}

TEST_CASE("QuantizedModel: identity linear, static 8-bit: error within half a step of each rounding",
          "[nn][quantized]") {
  const std::int64_t k = 16;
  const nn::Model m = linear_model(k, k, identity(k));
  const std::vector<float> calib = uniform(static_cast<std::size_t>(64 * k), -1.f, 1.f, 1);
  nn::QuantizedModel qm(m);
  REQUIRE(qm.prepare(config_with(LayerConfig{}), Span<const float>(calib), 64).ok());
  REQUIRE(qm.mode(0) == nn::QuantMode::static_u8);
  const std::vector<float> x = uniform(static_cast<std::size_t>(32 * k), -0.99f, 0.99f, 2);
  std::vector<float> y(x.size());
  REQUIRE(qm.run(Span<const float>(x), 32, Span<float>(y)) == Status::ok);
  const float s_in = qm.stats(0).input.scale, s_out = qm.stats(0).output.scale;
  // Symmetric full-range int8 weights store 1.0 as 127 * (1 / 127.5) (PyTorch's qint8 does too).
  const double w_err = 1.0 - 127.0 / 127.5;
  CHECK(max_abs_diff(x, y) <= s_in / 2 + s_out / 2 + w_err + 1e-6);
  CHECK(max_abs_diff(x, y) > 0);  // it did quantize
  CHECK(qm.stats(0).counters.saturated == 0);
}

TEST_CASE("QuantizedModel: one huge value collapses a dynamic per-tensor input; a guarded one keeps the rest",
          "[nn][quantized][policy]") {
  const std::int64_t k = 16;
  const nn::Model m = linear_model(k, k, identity(k));
  const std::vector<float> calib = uniform(static_cast<std::size_t>(64 * k), -1.f, 1.f, 3);
  std::vector<float> x = uniform(static_cast<std::size_t>(k), -1.f, 1.f, 4);
  x[5] = 1000.f;
  std::vector<float> y(x.size());
  const auto error_without_outlier = [&]() {
    double e = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (i != 5) e = std::max(e, std::fabs(static_cast<double>(x[i]) - y[i]));
    return e;
  };
  LayerConfig c;
  c.policy = ActPolicy::dynamic_per_tensor;
  nn::QuantizedModel dyn(m);
  REQUIRE(dyn.prepare(config_with(c), Span<const float>(calib), 64).ok());
  REQUIRE(dyn.mode(0) == nn::QuantMode::float_out);
  REQUIRE(dyn.run(Span<const float>(x), 1, Span<float>(y)) == Status::ok);
  const double dyn_err = error_without_outlier();
  CHECK(dyn_err > 0.3);                              // step 1000/255 ~ 3.9: everything else rounds to 0
  CHECK(std::fabs(y[5] - 1000.f) < 1000.f / 255.f);  // the outlier itself is fine
  CHECK(dyn.stats(0).counters.clipped == 0);

  c.policy = ActPolicy::guarded_per_tensor;
  c.guard_k = 2.f;
  nn::QuantizedModel grd(m);
  REQUIRE(grd.prepare(config_with(c), Span<const float>(calib), 64).ok());
  REQUIRE(grd.run(Span<const float>(x), 1, Span<float>(y)) == Status::ok);
  const double grd_err = error_without_outlier();
  CHECK(grd_err < 0.02);  // envelope [-2, 2]: step 4/255
  CHECK(y[5] < 2.1f);     // the outlier saturates at the envelope
  const RangeCounters& gc = grd.stats(0).counters;
  CHECK(gc.envelope_violations == 1);
  CHECK(gc.clipped == 1);
  CHECK(gc.saturated == 1);
  CHECK(grd.stats(0).float_fallbacks == 0);
  CHECK(grd.stats(0).bits_chosen[8] == 1);

  SECTION("use_float runs the violating input in float and counts it") {
    c.on_violation = OnViolation::use_float;
    nn::QuantizedModel fb(m);
    REQUIRE(fb.prepare(config_with(c), Span<const float>(calib), 64).ok());
    std::vector<float> two = x;
    const std::vector<float> calm = uniform(static_cast<std::size_t>(k), -1.f, 1.f, 5);
    two.insert(two.end(), calm.begin(), calm.end());
    std::vector<float> y2(two.size());
    REQUIRE(fb.run(Span<const float>(two), 2, Span<float>(y2)) == Status::ok);
    for (std::int64_t i = 0; i < k; ++i) CHECK(y2[static_cast<std::size_t>(i)] == two[static_cast<std::size_t>(i)]);
    bool quantized_second = false;
    for (std::int64_t i = k; i < 2 * k; ++i)
      quantized_second = quantized_second || y2[static_cast<std::size_t>(i)] != two[static_cast<std::size_t>(i)];
    CHECK(quantized_second);
    CHECK(fb.stats(0).float_fallbacks == 1);
    CHECK(fb.stats(0).counters.fallbacks == 1);
    CHECK(fb.stats(0).counters.envelope_violations == 1);
    CHECK(fb.stats(0).bits_chosen[8] == 1);
  }
}

TEST_CASE("QuantizedModel: a BitWidthRule picks 4 or 8 bits per input by its statistic and logs it",
          "[nn][quantized][policy]") {
  const std::int64_t k = 16;
  const nn::Model m = linear_model(k, k, identity(k));
  const std::vector<float> calib = uniform(static_cast<std::size_t>(64 * k), -1.f, 1.f, 6);
  LayerConfig c;
  c.policy = ActPolicy::dynamic_per_tensor;
  c.bit_width.enabled = true;
  c.bit_width.statistic = analysis::InputStatistic::peak_to_mean;
  c.bit_width.thresholds = {4.f};
  c.bit_width.bits = {4, 8};  // flat inputs (peak/mean <= 4) get 4 bits, outlier-dominated ones 8
  nn::QuantizedModel qm(m);
  REQUIRE(qm.prepare(config_with(c), Span<const float>(calib), 64).ok());
  std::vector<float> x(static_cast<std::size_t>(3 * k), 0.5f);  // sample 0: flat (statistic 1)
  x[static_cast<std::size_t>(k)] = 40.f;                        // sample 1: peak/mean ~ 6.2
  x[static_cast<std::size_t>(2 * k + 3)] = -1.f;                // sample 2: still flat
  std::vector<float> y(x.size());
  REQUIRE(qm.run(Span<const float>(x), 3, Span<float>(y)) == Status::ok);
  CHECK(qm.stats(0).bits_chosen[4] == 2);
  CHECK(qm.stats(0).bits_chosen[8] == 1);
  REQUIRE(qm.run(Span<const float>(x.data(), static_cast<std::size_t>(k)), 1,
                 Span<float>(y.data(), static_cast<std::size_t>(k))) == Status::ok);
  CHECK(qm.stats(0).bits_chosen[4] == 3);  // cumulative since prepare
  qm.reset_stats();
  CHECK(qm.stats(0).bits_chosen[4] == 0);

  SECTION("the same rule over a static range") {
    c.policy = ActPolicy::static_range;
    REQUIRE(qm.prepare(config_with(c), Span<const float>(calib), 64).ok());
    REQUIRE(qm.mode(0) == nn::QuantMode::float_out);
    REQUIRE(qm.run(Span<const float>(x), 3, Span<float>(y)) == Status::ok);
    CHECK(qm.stats(0).bits_chosen[4] == 2);
    CHECK(qm.stats(0).bits_chosen[8] == 1);
    CHECK(qm.stats(0).counters.clipped >= 1);  // 40 is far outside the calibrated [-1, 1]
  }
}

TEST_CASE("QuantizedModel: more activation bits, less error; keep_float is the float model exactly",
          "[nn][quantized]") {
  const nn::Model model = io::load_model(kDigits + "model/model.txt");
  const io::NpyArray calib = io::read_npy(kDigits + "calib_x.npy");
  const std::vector<float> cx = calib.to_float();
  std::vector<float> x = io::read_npy(kDigits + "test_x.npy").to_float();
  const std::int64_t n = 100;
  x.resize(static_cast<std::size_t>(n * 64));
  nn::Activations acts;
  REQUIRE(model.forward_float(Span<const float>(x), n, acts) == Status::ok);
  const std::vector<float>& ref = acts.outputs.back();
  nn::QuantizedModel qm(model);
  std::vector<float> y(ref.size());

  SECTION("every layer in float") {
    REQUIRE(qm.prepare(QuantConfig::float_model(5), Span<const float>(cx), calib.shape()[0]).ok());
    REQUIRE(qm.run(Span<const float>(x), n, Span<float>(y)) == Status::ok);
    CHECK(y == ref);
    CHECK_FALSE(qm.stats(0).quantized);
  }
  SECTION("isolating one layer: the others are the float reference") {
    const QuantConfig base = config_with(LayerConfig{});
    REQUIRE(qm.prepare(QuantConfig::isolate(base, 5, 4, true), Span<const float>(cx), calib.shape()[0]).ok());
    REQUIRE(qm.run(Span<const float>(x), n, Span<float>(y)) == Status::ok);
    CHECK(y != ref);
    double peak = 0;
    for (float v : ref) peak = std::max(peak, std::fabs(static_cast<double>(v)));
    CAPTURE(max_abs_diff(y, ref), peak);
    CHECK(max_abs_diff(y, ref) < 0.05 * peak);
    CHECK(qm.stats(4).quantized);
    CHECK_FALSE(qm.stats(3).quantized);
  }
  SECTION("16-bit activations are far more accurate than 4-bit ones") {
    double err[3] = {0, 0, 0};
    const int widths[3] = {4, 8, 16};
    for (int i = 0; i < 3; ++i) {
      for (ActPolicy p : {ActPolicy::static_range, ActPolicy::dynamic_per_tensor, ActPolicy::dynamic_per_row}) {
        LayerConfig c;
        c.policy = p;
        c.activation_bits = widths[i];
        c.weight_bits = 8;
        REQUIRE(qm.prepare(config_with(c), Span<const float>(cx), calib.shape()[0]).ok());
        REQUIRE(qm.run(Span<const float>(x), n, Span<float>(y)) == Status::ok);
        err[i] = std::max(err[i], max_abs_diff(y, ref));
      }
    }
    CAPTURE(err[0], err[1], err[2]);
    CHECK(err[2] < err[1]);
    CHECK(err[1] < err[0]);
    CHECK(err[2] * 5 < err[0]);
  }
}

TEST_CASE("QuantizedModel: bad input and bad configurations are Status values", "[nn][quantized][errors]") {
  const std::int64_t k = 4;
  const nn::Model m = linear_model(k, 2, std::vector<float>(static_cast<std::size_t>(2 * k), 0.25f));
  const std::vector<float> calib = uniform(static_cast<std::size_t>(8 * k), -1.f, 1.f, 7);
  nn::QuantizedModel qm(m);
  std::vector<float> x(static_cast<std::size_t>(k), 0.5f), y(2);
  CHECK(qm.run(Span<const float>(x), 1, Span<float>(y)) == Status::invalid_argument);  // not prepared
  LayerConfig bad;
  bad.weight_bits = 1;
  CHECK(qm.prepare(config_with(bad), Span<const float>(calib), 8).status == Status::invalid_argument);
  bad = LayerConfig{};
  bad.bit_width.enabled = true;
  bad.bit_width.bits = {4, 8};  // thresholds missing
  CHECK(qm.prepare(config_with(bad), Span<const float>(calib), 8).status == Status::invalid_argument);
  QuantConfig two = config_with(LayerConfig{});
  two.per_layer.resize(2);
  CHECK(qm.prepare(two, Span<const float>(calib), 8).status == Status::shape_mismatch);
  CHECK(qm.prepare(config_with(LayerConfig{}), Span<const float>(calib), 7).status == Status::shape_mismatch);
  CHECK(qm.prepare(config_with(LayerConfig{}), Span<const float>(), 0).status == Status::empty_input);
  std::vector<float> nan_calib = calib;
  nan_calib[3] = std::nanf("");
  CHECK(qm.prepare(config_with(LayerConfig{}), Span<const float>(nan_calib), 8).status == Status::non_finite_input);
  CHECK_FALSE(qm.prepared());
  // Dynamic layers need no calibration.
  LayerConfig dyn;
  dyn.policy = ActPolicy::dynamic_per_row;
  CHECK(qm.prepare(config_with(dyn), Span<const float>(), 0).ok());

  REQUIRE(qm.prepare(config_with(LayerConfig{}), Span<const float>(calib), 8).ok());
  CHECK(qm.run(Span<const float>(x), 1, Span<float>(y)) == Status::ok);
  CHECK(qm.run(Span<const float>(x), 0, Span<float>(y)) == Status::empty_input);
  CHECK(qm.run(Span<const float>(x.data(), 3), 1, Span<float>(y)) == Status::shape_mismatch);
  CHECK(qm.run(Span<const float>(x), 1, Span<float>(y.data(), 1)) == Status::shape_mismatch);
  x[1] = std::numeric_limits<float>::infinity();
  CHECK(qm.run(Span<const float>(x), 1, Span<float>(y)) == Status::non_finite_input);
  x[1] = std::nanf("");
  CHECK(qm.run(Span<const float>(x), 1, Span<float>(y)) == Status::non_finite_input);

  nn::Model unfinished;
  nn::QuantizedModel qu(unfinished);
  CHECK(qu.prepare(config_with(LayerConfig{}), Span<const float>(calib), 8).status == Status::invalid_argument);
}

TEST_CASE("QuantizedModel: forward_float is Model::forward_float bit for bit", "[nn][float]") {
  // The digits CNN and the window model.
  const nn::Model m = window_model();
  const nn::Model digits = io::load_model(kDigits + "model/model.txt");
  for (const nn::Model* model : std::vector<const nn::Model*>{&m, &digits}) {
    const std::int64_t n = 7, numel = model->input_shape.numel();
    const std::vector<float> x = uniform(static_cast<std::size_t>(n * numel), -2.f, 2.f, 23);
    nn::Activations ref;
    REQUIRE(model->forward_float(Span<const float>(x), n, ref) == Status::ok);
    nn::QuantizedModel qm(*model);
    std::vector<float> y(static_cast<std::size_t>(n * model->output_shape().numel()));
    nn::Activations acts;
    REQUIRE(qm.forward_float(Span<const float>(x), n, Span<float>(y), &acts) == Status::ok);
    for (std::size_t i = 0; i < model->layers.size(); ++i) {
      CAPTURE(model->layers[i].name);
      CHECK(acts.outputs[i] == ref.outputs[i]);
    }
    CHECK(y == ref.outputs.back());
  }
}

namespace {
// q = clamp(round_half_even(x * (1 / scale)) + zp, qmin, qmax), as every qsafe quantizer.
std::int32_t quantize_value(float x, QParams p, QRange r) {
  const float v = std::nearbyint(x * (1.f / p.scale)) + static_cast<float>(p.zero_point);
  return static_cast<std::int32_t>(std::min(std::max(v, static_cast<float>(r.qmin)), static_cast<float>(r.qmax)));
}

struct QuantWeights {
  std::vector<std::int32_t> q;  // OIHW / [out, in]
  std::vector<float> scale;     // per output channel
};

// Per-channel symmetric, full signed range of `bits`.
QuantWeights quantize_weights_ref(const nn::Layer& l, int bits) {
  const std::int64_t oc = l.weight_shape[0];
  const std::size_t per = l.weight.size() / static_cast<std::size_t>(oc);
  const QRange r{-(1 << (bits - 1)), (1 << (bits - 1)) - 1};
  QuantWeights w;
  for (std::int64_t o = 0; o < oc; ++o) {
    Range rg{0.f, 0.f};
    for (std::size_t k = 0; k < per; ++k) {
      const float v = l.weight[static_cast<std::size_t>(o) * per + k];
      rg.lo = std::min(rg.lo, v);
      rg.hi = std::max(rg.hi, v);
    }
    const QParams p = qparams_from_range(rg, r, SchemeKind::symmetric).value();
    w.scale.push_back(p.scale);
    for (std::size_t k = 0; k < per; ++k)
      w.q.push_back(quantize_value(l.weight[static_cast<std::size_t>(o) * per + k], p, r));
  }
  return w;
}

// What a float_out layer must compute for n samples of NHWC input x: each sample's input (per
// tensor) or each output pixel's patch, padding included (per row), quantized dynamically to
// `bits`; exact integer sums with `wbits` weights; y = float(acc) * (sx * sw) + bias. Direct loops.
std::vector<float> expected_dynamic(const nn::Layer& l, const std::vector<float>& x, std::int64_t n, bool per_row,
                                    int bits, int wbits) {
  const QuantWeights w = quantize_weights_ref(l, wbits);
  const QRange ar{0, (1 << bits) - 1};
  Conv2dGeometry g;
  if (l.kind == nn::LayerKind::conv2d) {
    g = nn::Model::geometry(l, l.in_shape, l.weight_shape[0]);
  } else {
    g.in_channels = l.weight_shape[1];
    g.out_channels = l.weight_shape[0];
  }
  const std::int64_t icg = g.in_channels_per_group(), ocg = g.out_channels_per_group();
  const std::int64_t in_numel = g.in_h * g.in_w * g.in_channels, oh_n = g.out_h(), ow_n = g.out_w();
  std::vector<float> y;
  const auto range_params = [&](Range r) { return qparams_from_range(r, ar, SchemeKind::affine).value(); };
  for (std::int64_t b = 0; b < n; ++b) {
    const float* xs = x.data() + b * in_numel;
    QParams tensor_p;
    {
      Range r{xs[0], xs[0]};
      for (std::int64_t i = 0; i < in_numel; ++i) r = Range{std::min(r.lo, xs[i]), std::max(r.hi, xs[i])};
      tensor_p = range_params(r);
    }
    for (std::int64_t oh = 0; oh < oh_n; ++oh)
      for (std::int64_t ow = 0; ow < ow_n; ++ow) {
        QParams p = tensor_p;
        if (per_row) {  // the whole patch over every group, padding (0.0) included
          Range r{0.f, 0.f};
          bool first = true;
          for (std::int64_t kh = 0; kh < g.kernel_h; ++kh)
            for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
              const std::int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
              const std::int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
              const bool in = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
              for (std::int64_t c = 0; c < g.in_channels; ++c) {
                const float v = in ? xs[(ih * g.in_w + iw) * g.in_channels + c] : 0.f;
                r = first ? Range{v, v} : Range{std::min(r.lo, v), std::max(r.hi, v)};
                first = false;
              }
            }
          p = range_params(r);
        }
        for (std::int64_t o = 0; o < g.out_channels; ++o) {
          const std::int64_t grp = o / ocg;
          std::int64_t acc = 0;
          for (std::int64_t kh = 0; kh < g.kernel_h; ++kh)
            for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
              const std::int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
              const std::int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
              if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) continue;
              for (std::int64_t ic = 0; ic < icg; ++ic) {
                const float v = xs[(ih * g.in_w + iw) * g.in_channels + grp * icg + ic];
                const std::int64_t wv =
                    w.q[static_cast<std::size_t>(((o * icg + ic) * g.kernel_h + kh) * g.kernel_w + kw)];
                acc += (quantize_value(v, p, ar) - p.zero_point) * wv;
              }
            }
          const float scale = p.scale * w.scale[static_cast<std::size_t>(o)];
          const float prod = static_cast<float>(acc) * scale;
          y.push_back(l.bias.empty() ? prod : prod + l.bias[static_cast<std::size_t>(o)]);
        }
      }
  }
  return y;
}

// Float input of model layer i in a trace (the model input, NHWC, for layer 0).
std::vector<float> trace_input(const nn::Model& m, const std::vector<nn::LayerOutput>& trace, std::size_t i,
                               const std::vector<float>& x_nchw, std::int64_t n) {
  std::vector<float> in;
  if (i == 0) {
    m.nchw_to_nhwc(Span<const float>(x_nchw), n, in);
    return in;
  }
  const nn::LayerOutput& t = trace[i - 1];
  if (!t.quantized) return t.f;
  for (std::uint8_t q : t.q)
    in.push_back(static_cast<float>(static_cast<std::int32_t>(q) - t.qparams.zero_point) * t.qparams.scale);
  return in;
}
}  // namespace

TEST_CASE("QuantizedModel: dynamic quantization of strided, dilated, grouped, padded convolutions", "[nn][quantized]") {
  const nn::Model m = window_model();
  const std::int64_t n = 5;
  const std::vector<float> x = uniform(static_cast<std::size_t>(n * m.input_shape.numel()), -1.f, 2.f, 29);
  struct Case {
    ActPolicy policy;
    int bits, wbits;
  };
  for (const Case cs : {Case{ActPolicy::dynamic_per_tensor, 8, 8}, Case{ActPolicy::dynamic_per_row, 8, 8},
                        Case{ActPolicy::dynamic_per_tensor, 16, 12}, Case{ActPolicy::dynamic_per_row, 5, 3}}) {
    CAPTURE(to_string(cs.policy), cs.bits, cs.wbits);
    LayerConfig c;
    c.policy = cs.policy;
    c.activation_bits = cs.bits;
    c.weight_bits = cs.wbits;
    nn::QuantizedModel qm(m);
    REQUIRE(qm.prepare(config_with(c), Span<const float>(), 0).ok());
    std::vector<float> y(static_cast<std::size_t>(n * 5));
    std::vector<nn::LayerOutput> trace;
    REQUIRE(qm.run(Span<const float>(x), n, Span<float>(y), &trace) == Status::ok);
    for (std::size_t j = 0; j < qm.num_quantizable(); ++j) {
      const std::size_t li = static_cast<std::size_t>(qm.layer_index(j));
      CAPTURE(m.layers[li].name);
      REQUIRE_FALSE(trace[li].quantized);
      const std::vector<float> want = expected_dynamic(m.layers[li], trace_input(m, trace, li, x, n), n,
                                                       cs.policy == ActPolicy::dynamic_per_row, cs.bits, cs.wbits);
      REQUIRE(want.size() == trace[li].f.size());
      double worst = 0;
      for (std::size_t k = 0; k < want.size(); ++k)
        worst = std::max(worst, std::fabs(static_cast<double>(want[k]) - trace[li].f[k]) /
                                    (1e-6 + std::fabs(static_cast<double>(want[k]))));
      CHECK(worst < 1e-5);
      CHECK(qm.stats(j).bits_chosen[static_cast<std::size_t>(cs.bits)] == static_cast<std::uint64_t>(n));
    }
  }
}

TEST_CASE("QuantizedModel: the static uint8 pipeline on strided, dilated, grouped, padded convolutions",
          "[nn][quantized]") {
  namespace ref = nn::reference;
  const nn::Model m = window_model();
  const std::int64_t n = 5;
  const std::vector<float> calib = uniform(static_cast<std::size_t>(20 * m.input_shape.numel()), -1.f, 2.f, 31);
  const std::vector<float> x = uniform(static_cast<std::size_t>(n * m.input_shape.numel()), -1.2f, 2.2f, 37);
  nn::QuantizedModel qm(m);
  REQUIRE(qm.prepare(config_with(LayerConfig{}), Span<const float>(calib), 20).ok());
  std::vector<float> y(static_cast<std::size_t>(n * 5));
  std::vector<nn::LayerOutput> trace;
  REQUIRE(qm.run(Span<const float>(x), n, Span<float>(y), &trace) == Status::ok);
  // c1 -> add (the other operand is the float model input: a float add) -> c2 + fused relu6 ->
  // pw (chained uint8) -> flatten (uint8) -> fc (chained uint8).
  CHECK_FALSE(trace[1].quantized);
  CHECK(trace[3].quantized);
  CHECK(trace[5].quantized);
  std::uint64_t clamped_above = 0;
  for (std::size_t j = 0; j < qm.num_quantizable(); ++j) {
    const std::size_t li = static_cast<std::size_t>(qm.layer_index(j));
    const nn::Layer& l = m.layers[li];
    CAPTURE(l.name);
    const analysis::LayerRunStats& s = qm.stats(j);
    // The layer's uint8 input: the previous tensor when it is uint8, else its float quantized by
    // the static input parameters.
    std::vector<std::uint8_t> xq;
    if (li > 0 && trace[li - 1].quantized) {
      xq = trace[li - 1].q;
      CHECK(trace[li - 1].qparams.scale == s.input.scale);
    } else {
      for (float v : trace_input(m, trace, li, x, n))
        xq.push_back(static_cast<std::uint8_t>(quantize_value(v, s.input, QRange{0, 255})));
    }
    const QuantWeights w = quantize_weights_ref(l, 8);
    CHECK(w.scale == s.weight_scales);
    std::vector<std::int8_t> wq(w.q.begin(), w.q.end());
    Conv2dGeometry g;
    if (l.kind == nn::LayerKind::conv2d) {
      g = nn::Model::geometry(l, l.in_shape, l.weight_shape[0]);
    } else {
      g.in_channels = l.weight_shape[1];
      g.out_channels = l.weight_shape[0];
    }
    g.batch = n;
    std::vector<std::int32_t> bias(static_cast<std::size_t>(g.out_channels), 0);
    std::vector<float> mult;
    for (std::int64_t o = 0; o < g.out_channels; ++o) {
      if (!l.bias.empty())
        bias[static_cast<std::size_t>(o)] = pytorch_quantize_bias(l.bias[static_cast<std::size_t>(o)], s.input.scale,
                                                                  w.scale[static_cast<std::size_t>(o)]);
      mult.push_back(pytorch_requant_scale(s.input.scale, w.scale[static_cast<std::size_t>(o)], s.output.scale));
    }
    std::vector<std::int32_t> acc(static_cast<std::size_t>(g.output_numel()));
    REQUIRE(ref::conv2d_nhwc_acc(g, Span<const std::uint8_t>(xq), s.input.zero_point, Span<const std::int8_t>(wq), {},
                                 Span<const std::int32_t>(bias), Span<std::int32_t>(acc)) == Status::ok);
    const bool fused = li + 1 < m.layers.size() && m.layers[li + 1].kind == nn::LayerKind::relu6;
    ref::RequantFloat rq;
    rq.multiplier = Span<const float>(mult);
    rq.zero_point = s.output.zero_point;
    rq.lo = fused ? s.output.zero_point : 0;
    std::vector<std::uint8_t> want(acc.size());
    REQUIRE(ref::requantize_channels(Span<const std::int32_t>(acc), g.out_channels, rq, Span<std::uint8_t>(want)) ==
            Status::ok);
    REQUIRE(trace[li].quantized);
    CHECK(mismatches(trace[li].q, want) == 0);
    std::uint64_t above = 0;
    for (std::size_t k = 0; k < acc.size(); ++k)
      above += requantize_float(acc[k], mult[k % mult.size()], s.output.zero_point, INT32_MIN + 1, INT32_MAX) > 255;
    clamped_above += above;
    CHECK(s.counters.saturated >= above);
  }
  CHECK(clamped_above > 0);  // the test input leaves the calibrated range somewhere
}
