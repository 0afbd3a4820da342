// The analyses on qsafe's own graph (analysis::NnEngine): the known-by-construction cases on a
// synthetic nn::Model (the toy MLP of toy_engine.hpp built as linear / relu layers), and the
// suite on the bundled digits CNN.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "qsafe/analysis.hpp"
#include "qsafe/analysis/nn_engine.hpp"
#include "qsafe/io/model_loader.hpp"
#include "qsafe/io/npy.hpp"
#include "support/data_paths.hpp"
#include "toy_engine.hpp"

using qsafe::Status;
namespace qa = qsafe::analysis;
namespace nn = qsafe::nn;

namespace {

nn::Model bars_model(bool outlier) {
  nn::Model m;
  m.input_shape = nn::ActShape{qsafe_test::kBarsFeatures, 1, 1, false};
  const std::vector<qsafe_test::ToyLayer> layers = qsafe_test::bars_layers(outlier);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    nn::Layer l;
    l.kind = nn::LayerKind::linear;
    l.name = "fc" + std::to_string(i);
    l.weight_shape = {layers[i].out, layers[i].in};
    l.weight = layers[i].w;
    l.bias = layers[i].b;
    m.layers.push_back(l);
    if (i + 1 < layers.size()) {
      nn::Layer r;
      r.kind = nn::LayerKind::relu;
      r.name = "relu" + std::to_string(i);
      m.layers.push_back(r);
    }
  }
  REQUIRE(m.finalize().ok());
  return m;
}

qa::Dataset spiked(std::int64_t n, std::uint64_t seed) {
  qa::Dataset d = qsafe_test::make_bars(n, seed);
  for (std::int64_t s = 0; s < n; ++s)
    d.x[static_cast<std::size_t>(s * qsafe_test::kBarsFeatures + qsafe_test::kDeadFeature)] = 1000.f;
  return d;
}


struct Digits {
  nn::Model model = qsafe::io::load_model(qsafe_test::kDigitsDir + "model/model.txt");
  qa::Dataset calib, test;
  std::vector<float> float_logits;
  explicit Digits(std::int64_t test_n) {
    const qsafe::io::NpyArray c = qsafe::io::read_npy(qsafe_test::kDigitsDir + "calib_x.npy");
    calib.x = c.to_float();
    calib.n = c.shape()[0];
    const qsafe::io::NpyArray t = qsafe::io::read_npy(qsafe_test::kDigitsDir + "test_x.npy");
    const std::vector<float> tx = t.to_float();
    const std::vector<float> ty = qsafe::io::read_npy(qsafe_test::kDigitsDir + "test_y.npy").to_float();
    const std::vector<float> tl = qsafe::io::read_npy(qsafe_test::kDigitsDir + "test_logits.npy").to_float();
    test.n = std::min<std::int64_t>(test_n, t.shape()[0]);
    test.x.assign(tx.begin(), tx.begin() + test.n * 64);
    for (std::int64_t i = 0; i < test.n; ++i)
      test.labels.push_back(static_cast<std::int64_t>(ty[static_cast<std::size_t>(i)]));
    float_logits.assign(tl.begin(), tl.begin() + test.n * 10);
  }
};

}  // namespace

TEST_CASE("nn analysis: the layer whose input has an outlier channel ranks first", "[analysis][nn]") {
  const nn::Model model = bars_model(true);
  qa::NnEngine engine(model);
  const qa::Dataset calib = qsafe_test::make_bars(32, 1);
  const std::vector<qa::Group> groups = {qa::as_group(qsafe_test::make_bars(32, 2))};
  // Dynamic per-tensor activations: each layer quantizes only its own input. (In the static
  // uint8 pipeline fc1 also requantizes its output - the same outlier tensor - so fc1 and fc2
  // would share the blame.)
  qa::QuantConfig base;
  base.name = "dynamic8";
  base.all.policy = qa::ActPolicy::dynamic_per_tensor;
  // (Top-1 survives here: per sample, the dynamic range of fc2's input follows the outlier unit,
  // so the divergence metrics are the ones that see the damage.)
  for (qa::Metric metric : {qa::Metric::kl_mean, qa::Metric::kl_max, qa::Metric::logit_mse}) {
    qa::SensitivityOptions o;
    o.metric = metric;
    const auto s = qa::sensitivity(engine, base, calib, groups, o);
    REQUIRE(s.ok());
    REQUIRE(s->layers.size() == 3);
    CHECK(s->order_only_mean.front() == 2);
    CHECK(s->order_only_worst.front() == 2);
    CHECK(s->order_gain_mean.front() == 2);
    CHECK(s->order_gain_worst.front() == 2);
    CHECK(s->layers[2].name == "fc2");
  }
  // The mixed-precision planner keeps that layer wide under a tight budget.
  qa::MixedPrecisionOptions mo;
  mo.metric = qa::Metric::kl_mean;
  mo.budget = 9.0;
  const auto p = qa::plan_mixed_precision(engine, base, calib, groups, mo);
  REQUIRE(p.ok());
  CHECK((p->layers[2].precision.keep_float || p->layers[2].precision.activation_bits >= 16));
  CHECK(p->average_weight_bits <= 9.0);
  CHECK(p->measured_worst_accuracy == 1.0);
}

TEST_CASE("nn analysis: static uint8 mixed precision keeps both layers that touch the outlier tensor wide",
          "[analysis][nn]") {
  // Static uint8: fc1 requantizes its output (fc2's input, with the outlier unit) at its own
  // activation width, so both fc1 and fc2 need 16 bits; fc0 does not.
  const nn::Model model = bars_model(true);
  qa::NnEngine engine(model);
  const qa::Dataset calib = qsafe_test::make_bars(32, 1);
  const std::vector<qa::Group> groups = {qa::as_group(qsafe_test::make_bars(32, 2))};
  qa::QuantConfig base;
  base.name = "static8";
  qa::MixedPrecisionOptions mo;
  mo.metric = qa::Metric::kl_mean;
  mo.candidates = {{false, 16, 16}, {false, 8, 8}};
  mo.budget = 12.5;  // (256 * 8 + 256 * 16 + 64 * 16) / 576 = 12.4
  const auto p = qa::plan_mixed_precision(engine, base, calib, groups, mo);
  REQUIRE(p.ok());
  CHECK(p->layers[0].precision.activation_bits == 8);
  CHECK(p->layers[1].precision.activation_bits == 16);
  CHECK(p->layers[2].precision.activation_bits == 16);
  CHECK(p->alone_worst[1][1] > 100 * p->alone_worst[1][0]);  // fc1 alone at w8a8 already hurts
  CHECK(p->measured_worst < 0.05);
  CHECK(p->average_weight_bits <= 12.5);
}

TEST_CASE("nn analysis: dynamic per-tensor on one huge value is detrimental, guarded is not", "[analysis][nn]") {
  const nn::Model model = bars_model(false);
  qa::NnEngine engine(model);
  const qa::Dataset calib = qsafe_test::make_bars(64, 1);
  const qa::Dataset inputs = spiked(32, 2);
  qa::FailureSearchOptions o;
  o.linf = 0.05f;
  o.max_evaluations = 32 * 9;
  o.sources = 32;
  o.population = 4;
  o.search_corruptions = false;
  o.seed = 3;
  qa::QuantConfig dyn;
  dyn.name = "dynamic";
  dyn.all.policy = qa::ActPolicy::dynamic_per_tensor;
  qa::QuantConfig grd = dyn;
  grd.name = "guarded";
  grd.all.policy = qa::ActPolicy::guarded_per_tensor;
  const auto d = qa::failure_search(engine, dyn, calib, inputs, o);
  REQUIRE(d.ok());
  CHECK(d->verdict == qa::Verdict::detrimental);
  CHECK(d->clean_float_accuracy == 1.0);
  CHECK(d->accuracy_drop > 0.5);
  const auto g = qa::failure_search(engine, grd, calib, inputs, o);
  REQUIRE(g.ok());
  CHECK(g->verdict == qa::Verdict::robust);
  CHECK(g->accuracy_drop <= 0.1);
  // Evaluation: the guarded policy's envelope violations are counted on the spiked group only.
  const std::vector<qa::Group> groups = {qa::as_group(qsafe_test::make_bars(32, 2)), qa::as_group(inputs, "spiked")};
  const auto ev = qa::evaluate(engine, grd, calib, groups);
  REQUIRE(ev.ok());
  CHECK(ev->groups[0].layers[0].counters.envelope_violations == 0);
  CHECK(ev->groups[1].layers[0].counters.envelope_violations > 0);
  CHECK(ev->groups[1].accuracy == 1.0);
}

TEST_CASE("nn analysis: digits CNN over the built-in groups", "[analysis][nn][digits]") {
  const Digits d(96);
  qa::NnEngine engine(d.model);
  const auto groups = qa::make_builtin_groups(d.test, qa::SampleShape{1, 8, 8}, qsafe::Range{0.f, 1.f}, 1);
  REQUIRE(groups.ok());
  qa::QuantConfig cfg;
  cfg.name = "static_int8";
  const auto ev = qa::evaluate(engine, cfg, d.calib, groups.value());
  REQUIRE(ev.ok());
  REQUIRE(ev->groups.size() == 8);
  // The float accuracy of the clean group is that of PyTorch's float logits.
  std::int64_t right = 0;
  for (std::int64_t i = 0; i < d.test.n; ++i) {
    const qsafe::Span<const float> row(d.float_logits.data() + i * 10, 10);
    right += static_cast<std::int64_t>(qa::argmax(row)) == d.test.labels[static_cast<std::size_t>(i)];
  }
  CHECK(ev->groups[0].float_accuracy == Approx(static_cast<double>(right) / 96.0));
  CHECK(ev->groups[0].drop_vs_float < 0.03);
  CHECK(ev->worst_degradation >= ev->groups[0].drop_vs_float);
  CHECK(ev->worst_class >= 0);
  REQUIRE(ev->saturation.size() == 5);
  CHECK(ev->saturation[0].name == "conv1");
  CHECK(ev->saturation[0].counters.values > 0);
  // Outlier pixels at 5x the calibrated maximum are clipped by conv1's static input range (on
  // top of the output clamps every group has).
  CHECK(ev->groups[6].name == "outliers_5x");
  CHECK(ev->groups[6].layers[0].counters.clipped > ev->groups[0].layers[0].counters.clipped);
}

// The whole suite with default options on the full digits test set, with step times (for
// docs/analysis.md). Hidden: run with  qsafe_test_models "[.digits_suite]" -s
TEST_CASE("nn analysis: full suite on the digits CNN", "[.digits_suite]") {
  const Digits d(597);
  qa::NnEngine engine(d.model);
  qa::SuiteOptions o;
  o.shape = qa::SampleShape{1, 8, 8};
  o.seed = 1;
  std::vector<qa::QuantConfig> configs(3);
  configs[0].name = "static_int8";
  configs[1].name = "dynamic_per_tensor";
  configs[1].all.policy = qa::ActPolicy::dynamic_per_tensor;
  configs[2].name = "guarded_per_tensor";
  configs[2].all.policy = qa::ActPolicy::guarded_per_tensor;
  const auto r = qa::run_suite(engine, configs, d.calib, d.test, o);
  REQUIRE(r.ok());
  for (const auto& t : r->times) std::printf("%-36s %8.3f s\n", t.step.c_str(), t.seconds);
  std::printf("%-36s %8.3f s\n", "total", r->total_seconds);
  for (const auto& c : r->configs)
    std::printf("%-20s clean %.4f worst %.4f (%s) failure-search drop %.3f -> %s\n", c.evaluation.config.c_str(),
                c.evaluation.groups[0].accuracy, c.evaluation.worst_accuracy,
                c.evaluation.groups[c.evaluation.worst_group].name.c_str(), c.failure.accuracy_drop,
                qa::to_string(c.failure.verdict));
  for (const auto& c : r->configs) {
    for (const auto& g : c.evaluation.groups)
      std::printf("  %-20s %-16s float %.4f quantized %.4f\n", c.evaluation.config.c_str(), g.name.c_str(),
                  g.float_accuracy, g.accuracy);
    for (const auto& p : c.failure.corruptions)
      std::printf("  %-20s probe %-12s param %8.3f count %d objective %.3f flips %.3f drop %.3f\n",
                  c.evaluation.config.c_str(), p.name.c_str(), static_cast<double>(p.corruption.param),
                  p.corruption.count, p.objective, p.flip_rate, p.accuracy_drop);
  }
  std::printf("mixed precision: %.2f bits, worst drop %.4f\n", r->mixed_precision.average_weight_bits,
              r->mixed_precision.measured_worst);
}
