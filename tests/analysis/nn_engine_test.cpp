// analysis::NnEngine: qsafe's layer graph behind the Engine interface. The digits CNN through
// Engine calls gives PyTorch's int8 logits exactly; layer_info and layer_stats report what the
// executor did; errors are Status values.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "qsafe/analysis/nn_engine.hpp"
#include "qsafe/io/model_loader.hpp"
#include "qsafe/io/npy.hpp"

using namespace qsafe;
using namespace qsafe::analysis;

namespace {
const std::string kEngineDigits = std::string(QSAFE_TEST_DATA_DIR) + "/../../data/digits/";

struct EngineDigits {
  nn::Model model = io::load_model(kEngineDigits + "model/model.txt");
  io::NpyArray calib = io::read_npy(kEngineDigits + "calib_x.npy");
  std::vector<float> cx = calib.to_float();
  std::int64_t n_calib = calib.shape()[0];
};
}  // namespace

TEST_CASE("NnEngine: layer_info of the digits CNN", "[analysis][nn_engine]") {
  EngineDigits d;
  NnEngine engine(d.model);
  REQUIRE(engine.num_layers() == 5);
  CHECK(engine.sample_numel() == 64);
  CHECK(engine.num_outputs() == 10);
  const LayerInfo c1 = engine.layer_info(0);
  CHECK(c1.name == "conv1");
  CHECK(c1.kind == "conv2d");
  CHECK(c1.weight_count == 8 * 1 * 3 * 3);
  CHECK(c1.macs_per_sample == 8 * 8 * 8 * 9);  // 8 channels x 8x8 pixels x 9 taps
  const LayerInfo dw = engine.layer_info(2);
  CHECK(dw.name == "dw3");
  CHECK(dw.weight_count == 16 * 9);
  CHECK(dw.macs_per_sample == 16 * 4 * 4 * 9);  // depthwise: one input channel per output
  const LayerInfo fc2 = engine.layer_info(4);
  CHECK(fc2.kind == "linear");
  CHECK(fc2.macs_per_sample == fc2.weight_count);
  CHECK(engine.layer_info(5).name.empty());
}

TEST_CASE("NnEngine: static int8 through the Engine interface is PyTorch's int8 model",
          "[analysis][nn_engine][golden]") {
  EngineDigits d;
  NnEngine engine(d.model);
  Engine& e = engine;
  REQUIRE(e.prepare(QuantConfig{}, Span<const float>(d.cx), d.n_calib) == Status::ok);
  const std::vector<float> golden = io::read_npy(kEngineDigits + "torch_int8/logits.npy").to_float();
  const std::int64_t n = static_cast<std::int64_t>(golden.size() / 10);
  std::vector<float> x = io::read_npy(kEngineDigits + "test_x.npy").to_float();
  x.resize(static_cast<std::size_t>(n * 64));
  std::vector<float> q(golden.size()), f(golden.size());
  REQUIRE(e.run_quantized(Span<const float>(x), n, Span<float>(q)) == Status::ok);
  CHECK(q == golden);
  REQUIRE(e.run_float(Span<const float>(x), n, Span<float>(f)) == Status::ok);
  const std::vector<float> float_logits = io::read_npy(kEngineDigits + "test_logits.npy").to_float();
  for (std::size_t i = 0; i < f.size(); ++i) CHECK(f[i] == Approx(float_logits[i]).margin(1e-4));

  for (std::size_t i = 0; i < e.num_layers(); ++i) {
    const LayerRunStats s = e.layer_stats(i);
    CAPTURE(i);
    CHECK(s.quantized);
    CHECK(s.input.scale > 0.f);
    CHECK(s.output.scale > 0.f);
    CHECK(s.input_range.hi > s.input_range.lo);
    CHECK(s.weight_scales.size() ==
          static_cast<std::size_t>(
              d.model.layers[static_cast<std::size_t>(engine.executor().layer_index(i))].weight_shape[0]));
    CHECK(s.bits_chosen[8] == static_cast<std::uint64_t>(n));
    CHECK(s.float_fallbacks == 0);
  }
  // prepare() resets the stats.
  REQUIRE(e.prepare(QuantConfig{}, Span<const float>(d.cx), d.n_calib) == Status::ok);
  CHECK(e.layer_stats(0).bits_chosen[8] == 0);
}

TEST_CASE("NnEngine: per-layer configurations, fallbacks and rules show in layer_stats", "[analysis][nn_engine]") {
  EngineDigits d;
  NnEngine engine(d.model);
  std::vector<float> x = io::read_npy(kEngineDigits + "test_x.npy").to_float();
  const std::int64_t n = 50;
  x.resize(static_cast<std::size_t>(n * 64));
  // Scale up a few samples so their activations leave the calibrated envelope.
  for (std::size_t i = 0; i < 64 * 5; ++i) x[i] *= 8.f;
  std::vector<float> out(static_cast<std::size_t>(n * 10)), ref(out.size());
  REQUIRE(engine.run_float(Span<const float>(x), n, Span<float>(ref)) == Status::ok);

  QuantConfig c;
  c.name = "mixed";
  c.per_layer.assign(5, LayerConfig{});
  c.per_layer[0].policy = ActPolicy::guarded_per_tensor;
  c.per_layer[0].guard_k = 1.5f;
  c.per_layer[0].on_violation = OnViolation::use_float;
  c.per_layer[1].policy = ActPolicy::dynamic_per_row;
  c.per_layer[1].activation_bits = 16;
  c.per_layer[2].keep_float = true;
  c.per_layer[3].bit_width.enabled = true;
  c.per_layer[3].bit_width.statistic = InputStatistic::max_abs;
  c.per_layer[3].bit_width.thresholds = {1e30f};
  c.per_layer[3].bit_width.bits = {6, 8};
  c.per_layer[4].weight_bits = 4;
  c.per_layer[4].per_channel_weights = false;
  REQUIRE(engine.prepare(c, Span<const float>(d.cx), d.n_calib) == Status::ok);
  REQUIRE(engine.run_quantized(Span<const float>(x), n, Span<float>(out)) == Status::ok);
  const LayerRunStats s0 = engine.layer_stats(0);
  CHECK(s0.float_fallbacks == 5);  // the scaled samples
  CHECK(s0.counters.fallbacks == 5);
  CHECK(s0.bits_chosen[8] == static_cast<std::uint64_t>(n - 5));
  const LayerRunStats s1 = engine.layer_stats(1);
  CHECK(s1.bits_chosen[16] == static_cast<std::uint64_t>(n));
  CHECK(s1.counters.groups == static_cast<std::uint64_t>(n * 64));  // one range per patch row
  CHECK(s1.counters.clipped == 0);
  CHECK_FALSE(engine.layer_stats(2).quantized);
  CHECK(engine.layer_stats(3).bits_chosen[6] == static_cast<std::uint64_t>(n));
  CHECK(engine.layer_stats(4).weight_scales.size() == 1);
  CHECK(engine.layer_stats(4).bits_chosen[8] == static_cast<std::uint64_t>(n));
  // Still the same classifier on the unscaled samples.
  std::int64_t agree = 0;
  for (std::int64_t b = 5; b < n; ++b) {
    std::int64_t bq = 0, bf = 0;
    for (std::int64_t k = 1; k < 10; ++k) {
      if (out[static_cast<std::size_t>(b * 10 + k)] > out[static_cast<std::size_t>(b * 10 + bq)]) bq = k;
      if (ref[static_cast<std::size_t>(b * 10 + k)] > ref[static_cast<std::size_t>(b * 10 + bf)]) bf = k;
    }
    agree += bq == bf ? 1 : 0;
  }
  CHECK(agree >= n - 5 - 2);
}

TEST_CASE("NnEngine: errors are Status values", "[analysis][nn_engine][errors]") {
  EngineDigits d;
  NnEngine engine(d.model);
  std::vector<float> x(64, 0.5f), out(10);
  CHECK(engine.run_quantized(Span<const float>(x), 1, Span<float>(out)) == Status::invalid_argument);
  CHECK(engine.layer_stats(0).quantized == false);
  QuantConfig bad;
  bad.all.activation_bits = 17;
  CHECK(engine.prepare(bad, Span<const float>(d.cx), d.n_calib) == Status::invalid_argument);
  CHECK_FALSE(engine.last_error().empty());
  CHECK(engine.prepare(QuantConfig{}, Span<const float>(d.cx.data(), 10), d.n_calib) == Status::shape_mismatch);
  REQUIRE(engine.prepare(QuantConfig{}, Span<const float>(d.cx), d.n_calib) == Status::ok);
  CHECK(engine.run_quantized(Span<const float>(x), 1, Span<float>(out.data(), 9)) == Status::shape_mismatch);
  CHECK(engine.run_float(Span<const float>(x), 1, Span<float>(out.data(), 9)) == Status::shape_mismatch);
  CHECK(engine.run_float(Span<const float>(x), 0, Span<float>(out)) == Status::empty_input);
  x[7] = std::nanf("");
  CHECK(engine.run_quantized(Span<const float>(x), 1, Span<float>(out)) == Status::non_finite_input);
  CHECK(engine.run_float(Span<const float>(x), 1, Span<float>(out)) == Status::non_finite_input);

  nn::Model unfinished;
  NnEngine none(unfinished);
  CHECK(none.num_layers() == 0);
  CHECK(none.sample_numel() == 0);
  CHECK(none.run_float(Span<const float>(x), 1, Span<float>(out)) == Status::invalid_argument);
  CHECK(none.prepare(QuantConfig{}, Span<const float>(d.cx), d.n_calib) == Status::invalid_argument);
}

TEST_CASE("NnEngine: run_float remembers recent inputs and gives the same outputs", "[analysis][nn_engine]") {
  EngineDigits d;
  NnEngine engine(d.model);
  engine.set_float_cache_entries(2);
  const std::int64_t n = 3;
  std::vector<float> a(d.cx.begin(), d.cx.begin() + n * 64), b(d.cx.begin() + n * 64, d.cx.begin() + 2 * n * 64);
  std::vector<float> c = a;
  c[10] += 0.5f;
  const auto run = [&](const std::vector<float>& x) {
    std::vector<float> out(static_cast<std::size_t>(n * 10));
    REQUIRE(engine.run_float(Span<const float>(x), n, Span<float>(out)) == Status::ok);
    return out;
  };
  nn::Activations ref;
  REQUIRE(d.model.forward_float(Span<const float>(a), n, ref) == Status::ok);
  const std::vector<float> ya = run(a), yb = run(b), yc = run(c);
  CHECK(ya == ref.outputs.back());
  CHECK(run(a) == ya);  // hit
  CHECK(yc != ya);      // one changed value is another input
  CHECK(run(b) == yb);  // b was evicted (capacity 2, least recently used): recomputed, same values
  CHECK(run(c) == yc);
  engine.set_float_cache_entries(0);
  CHECK(run(a) == ya);
  // Size checks come first, whatever is remembered.
  std::vector<float> out(static_cast<std::size_t>(n * 10));
  CHECK(engine.run_float(Span<const float>(a.data(), a.size() - 1), n, Span<float>(out)) == Status::shape_mismatch);
}
