#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "qsafe/analysis/mixed_precision.hpp"
#include "toy_engine.hpp"

using qsafe::Status;
namespace qa = qsafe::analysis;

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
