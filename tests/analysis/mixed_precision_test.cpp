#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "qsafe/analysis/mixed_precision.hpp"
#include "toy_engine.hpp"

using qsafe::Span;
using qsafe::Status;
namespace qa = qsafe::analysis;

namespace {
// Two layers that only hurt together: the quantized output flips (logits swapped) when both
// layers run with weights of 8 bits or fewer; either one alone is harmless. The additive
// prediction sees nothing; the measured refinement must widen one of them.
class PairEngine : public qa::Engine {
 public:
  std::size_t num_layers() const override { return 2; }
  qa::LayerInfo layer_info(std::size_t i) const override { return {"l" + std::to_string(i), "linear", 100, 100}; }
  std::int64_t sample_numel() const override { return 1; }
  std::int64_t num_outputs() const override { return 2; }
  Status run_float(Span<const float> x, std::int64_t n, Span<float> out) override { return run(x, n, out, false); }
  Status prepare(const qa::QuantConfig& config, Span<const float>, std::int64_t) override {
    QSAFE_RETURN_IF_ERROR(qa::check_config(config, 2));
    config_ = config;
    return Status::ok;
  }
  Status run_quantized(Span<const float> x, std::int64_t n, Span<float> out) override {
    const auto narrow = [&](std::size_t l) {
      return !config_.layer(l).keep_float && config_.layer(l).weight_bits <= 8;
    };
    return run(x, n, out, narrow(0) && narrow(1));
  }
  qa::LayerRunStats layer_stats(std::size_t) const override { return {}; }

 private:
  Status run(Span<const float> x, std::int64_t n, Span<float> out, bool swap) {
    for (std::int64_t s = 0; s < n; ++s) {
      const bool one = x[static_cast<std::size_t>(s)] > 0.5f;
      out[static_cast<std::size_t>(2 * s)] = (one != swap) ? 0.f : 1.f;
      out[static_cast<std::size_t>(2 * s + 1)] = (one != swap) ? 1.f : 0.f;
    }
    return Status::ok;
  }
  qa::QuantConfig config_;
};
}  // namespace

TEST_CASE("mixed precision: measured refinement fixes layers that interact", "[analysis][mixed_precision]") {
  PairEngine e;
  qa::Dataset calib;
  calib.x = {0.f, 1.f};
  calib.n = 2;
  qa::Group g;
  g.name = "g";
  g.x = {0.f, 1.f, 1.f, 0.f};
  g.n = 4;
  g.labels = {0, 1, 1, 0};
  qa::MixedPrecisionOptions o;
  o.candidates = {{false, 16, 16}, {false, 8, 8}};
  o.budget = 12.0;  // one layer at 16 bits
  o.verify_top = 1;
  const auto p = qa::plan_mixed_precision(e, qa::QuantConfig{}, calib, {g}, o);
  REQUIRE(p.ok());
  CHECK(p->predicted_worst == 0.0);
  CHECK(p->refine_steps_taken == 1);
  CHECK(p->measured_worst == 0.0);
  CHECK(p->average_weight_bits == Approx(12.0));
  CHECK(p->plans_measured == 1 + 2);  // the predicted plan, then each layer widened
  o.refine_steps = 0;
  const auto raw = qa::plan_mixed_precision(e, qa::QuantConfig{}, calib, {g}, o);
  REQUIRE(raw.ok());
  CHECK(raw->measured_worst == 1.0);  // every prediction flips
  CHECK(raw->average_weight_bits == Approx(8.0));
}

TEST_CASE("mixed precision: a tight budget keeps the sensitive layer wide", "[analysis][mixed_precision]") {
  qsafe_test::ToyMlp m = qsafe_test::make_bars_mlp(true);  // layer 2's input has an outlier channel
  const qa::Dataset calib = qsafe_test::make_bars(32, 1);
  const std::vector<qa::Group> groups = {qa::as_group(qsafe_test::make_bars(32, 2))};
  const qa::QuantConfig base = qsafe_test::uniform_config("static", qa::ActPolicy::static_range);
  qa::MixedPrecisionOptions o;
  o.metric = qa::Metric::kl_mean;
  o.budget = 9.0;  // average weight bits; weights: 256, 256, 64
  const auto p = qa::plan_mixed_precision(m, base, calib, groups, o);
  REQUIRE(p.ok());
  REQUIRE(p->layers.size() == 3);
  CHECK(p->exhaustive);
  CHECK(p->plans_considered > 10);
  CHECK(p->plans_measured == 3);
  CHECK(p->average_weight_bits <= 9.0);
  const qa::PrecisionCandidate& last = p->layers[2].precision;
  CHECK((last.keep_float || last.activation_bits >= 16));
  CHECK(p->layers[0].precision.bits() <= 8);
  CHECK(p->layers[1].precision.bits() <= 8);
  // The alone measurements: layer 2 at w8a8 is bad, layers 0/1 are harmless at any width.
  REQUIRE(p->alone_worst.size() == 3);
  CHECK(p->candidate_labels[2] == "w8a8");
  CHECK(p->alone_worst[2][2] > 100 * (p->alone_worst[0][2] + 1e-6));
  CHECK(p->measured_worst < 0.1);
  CHECK(p->measured_worst_accuracy == 1.0);
  CHECK(p->config.per_layer.size() == 3);
  CHECK(p->evaluation.groups.size() == 1);
  // Cost figures by hand.
  double bits = 0;
  const double w[3] = {256, 256, 64};
  for (std::size_t l = 0; l < 3; ++l) bits += w[l] * p->layers[l].precision.bits();
  CHECK(p->average_weight_bits == Approx(bits / 576));
  CHECK(p->weight_bytes == Approx(bits / 8));

  // The greedy path chooses the same kind of plan.
  o.max_exhaustive = 1;
  const auto g = qa::plan_mixed_precision(m, base, calib, groups, o);
  REQUIRE(g.ok());
  CHECK_FALSE(g->exhaustive);
  CHECK(g->average_weight_bits <= 9.0);
  CHECK((g->layers[2].precision.keep_float || g->layers[2].precision.activation_bits >= 16));
  CHECK(g->measured_worst < 0.1);
}

TEST_CASE("mixed precision: byte budget, impossible budget, bad candidates", "[analysis][mixed_precision]") {
  qsafe_test::ToyMlp m = qsafe_test::make_bars_mlp(false);
  const qa::Dataset calib = qsafe_test::make_bars(16, 1);
  const std::vector<qa::Group> groups = {qa::as_group(qsafe_test::make_bars(16, 2))};
  const qa::QuantConfig base;
  qa::MixedPrecisionOptions o;
  o.budget_kind = qa::BudgetKind::weight_bytes;
  o.budget = 576 * 4 / 8.0;  // everything at 4 bits exactly
  const auto p = qa::plan_mixed_precision(m, base, calib, groups, o);
  REQUIRE(p.ok());
  CHECK(p->weight_bytes == Approx(288.0));
  for (const auto& l : p->layers) CHECK(l.precision.weight_bits == 4);
  o.budget = 100;
  CHECK(qa::plan_mixed_precision(m, base, calib, groups, o).status() == Status::invalid_argument);
  o.budget = 1e9;
  o.candidates = {{false, 1, 8}};
  CHECK(qa::plan_mixed_precision(m, base, calib, groups, o).status() == Status::invalid_argument);
  o.candidates = {};
  CHECK(qa::plan_mixed_precision(m, base, calib, groups, o).status() == Status::invalid_argument);
  o = qa::MixedPrecisionOptions{};
  CHECK(qa::plan_mixed_precision(m, base, calib, {}, o).status() == Status::empty_input);
}
