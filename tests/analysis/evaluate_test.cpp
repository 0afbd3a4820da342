#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "qsafe/analysis/evaluate.hpp"
#include "toy_engine.hpp"

using qsafe::Status;
namespace qa = qsafe::analysis;
using qsafe_test::TableEngine;

namespace {

// KL(softmax(p) || softmax(q)) written out directly (no log-sum-exp).
double kl_direct(const std::vector<double>& p, const std::vector<double>& q) {
  double zp = 0, zq = 0;
  for (double v : p) zp += std::exp(v);
  for (double v : q) zq += std::exp(v);
  double kl = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double a = std::exp(p[i]) / zp, b = std::exp(q[i]) / zq;
    kl += a * std::log(a / b);
  }
  return kl;
}

// Rows 0..5 of a 3-class table. Float argmax: 0, 1, 2, 1, 0, 2. Quantized argmax: 0, 2, 2, 1, 1, 2.
TableEngine make_table() {
  const std::vector<float> f = {2, 0, 0, /**/ 0, 2, 0, /**/ 0, 0, 2, /**/ 0, 1, 0, /**/ 3, 0, 0, /**/ 0, 0, 1};
  const std::vector<float> q = {2, 0, 0, /**/ 0, 1, 2, /**/ 0, 0, 2, /**/ 0, 1, 0.5f, /**/ 0, 3, 0, /**/ 0, 0, 1};
  return TableEngine(3, f, q);
}

qa::Group group(const char* name, std::vector<float> rows, std::vector<std::int64_t> labels) {
  qa::Group g;
  g.name = name;
  g.n = static_cast<std::int64_t>(rows.size());
  g.x = std::move(rows);
  g.labels = std::move(labels);
  return g;
}

qa::Dataset calib1() {
  qa::Dataset d;
  d.x = {0.f};
  d.n = 1;
  return d;
}

}  // namespace

TEST_CASE("evaluate: per-group accuracy, drop, flips, worst group and worst class by hand", "[analysis][evaluate]") {
  TableEngine e = make_table();
  // Group A: rows 0..3, labels 0 1 2 0. Float right on 0, 1, 2 (3/4); quantized right on 0, 2 (2/4).
  // Group B: rows 4, 5, no labels; row 4 flips (0 -> 1): flip rate 1/2.
  const std::vector<qa::Group> groups = {group("A", {0, 1, 2, 3}, {0, 1, 2, 0}), group("B", {4, 5}, {})};
  qa::QuantConfig cfg;
  cfg.name = "table";
  const auto ev = qa::evaluate(e, cfg, calib1(), groups);
  REQUIRE(ev.ok());
  REQUIRE(ev->groups.size() == 2);
  const qa::GroupEval& a = ev->groups[0];
  CHECK(a.name == "A");
  CHECK(a.samples == 4);
  CHECK(a.has_labels);
  CHECK(a.float_accuracy == Approx(0.75));
  CHECK(a.accuracy == Approx(0.5));
  CHECK(a.drop_vs_float == Approx(0.25));
  CHECK(a.agreement == Approx(0.75));
  CHECK(a.flipped == std::vector<std::size_t>{1});
  const double kl1 = kl_direct({0, 2, 0}, {0, 1, 2}), kl3 = kl_direct({0, 1, 0}, {0, 1, 0.5});
  CHECK(a.kl.max == Approx(kl1));
  CHECK(a.kl.argmax == 1);
  CHECK(a.kl.mean == Approx((kl1 + kl3) / 4));
  // logits MSE: row 1 errors (0, 1, -2), row 3 (0, 0, -0.5): (1 + 4 + 0.25) / 12.
  CHECK(a.logits.mse == Approx(5.25 / 12));
  const qa::GroupEval& b = ev->groups[1];
  CHECK_FALSE(b.has_labels);
  CHECK(b.accuracy == -1.0);
  CHECK(b.drop_vs_float == Approx(0.5));
  CHECK(b.flipped == std::vector<std::size_t>{0});
  // Worst group by accuracy drop: B (0.5 > 0.25).
  CHECK(ev->worst_group == 1);
  CHECK(ev->worst_degradation == Approx(0.5));
  CHECK(ev->mean_degradation == Approx(0.375));
  // Accuracy over labelled groups only.
  CHECK(ev->mean_accuracy == Approx(0.5));
  CHECK(ev->worst_accuracy == Approx(0.5));
  CHECK(ev->float_mean_accuracy == Approx(0.75));
  // Classes: 0 -> rows 0, 3: float 1/2, quantized 1/2; 1 -> row 1: float 1, quantized 0; 2 -> row 2: 1, 1.
  REQUIRE(ev->classes.size() == 3);
  CHECK(ev->classes[0].float_accuracy == Approx(0.5));
  CHECK(ev->classes[0].drop == Approx(0.0));
  CHECK(ev->classes[1].drop == Approx(1.0));
  CHECK(ev->classes[2].drop == Approx(0.0));
  CHECK(ev->worst_class == 1);
  CHECK(ev->worst_class_drop == Approx(1.0));
  // Per-group layer counters are the group's own share: A has rows 1, 3 odd (2 clipped of 4),
  // B has row 5 (1 of 2); the totals are cumulative.
  REQUIRE(a.layers.size() == 1);
  CHECK(a.layers[0].counters.values == 4);
  CHECK(a.layers[0].counters.clipped == 2);
  CHECK(a.layers[0].clipped_fraction == Approx(0.5));
  CHECK(b.layers[0].counters.values == 2);
  CHECK(b.layers[0].counters.clipped == 1);
  REQUIRE(ev->saturation.size() == 1);
  CHECK(ev->saturation[0].counters.values == 6);
  CHECK(ev->saturation[0].clipped_fraction == Approx(0.5));
  CHECK(ev->saturation[0].name == "table");
}

TEST_CASE("evaluate: other metrics pick other worst groups; batching does not change results", "[analysis][evaluate]") {
  TableEngine e = make_table();
  const std::vector<qa::Group> groups = {group("A", {0, 1, 2, 3}, {0, 1, 2, 0}), group("B", {4, 5}, {})};
  qa::EvalOptions o;
  o.metric = qa::Metric::kl_max;
  o.batch = 1;
  o.keep_logits = true;
  std::size_t calls = 0;
  o.progress = [&](const char*, std::size_t done, std::size_t total) {
    ++calls;
    CHECK(done <= total);
  };
  const auto ev = qa::evaluate(e, qa::QuantConfig{}, calib1(), groups, o);
  REQUIRE(ev.ok());
  CHECK(calls == 2);
  const double klA = kl_direct({0, 2, 0}, {0, 1, 2}), klB = kl_direct({3, 0, 0}, {0, 3, 0});
  CHECK(ev->groups[0].kl.max == Approx(klA));
  CHECK(ev->groups[1].kl.max == Approx(klB));
  CHECK(ev->worst_group == (klB > klA ? 1u : 0u));
  CHECK(ev->groups[1].quantized_logits == std::vector<float>{0, 3, 0, 0, 0, 1});
}

TEST_CASE("evaluate_float: accuracy of the float model per group", "[analysis][evaluate]") {
  TableEngine e = make_table();
  const std::vector<qa::Group> groups = {group("A", {0, 1, 2, 3}, {0, 1, 2, 0}), group("C", {4, 5}, {1, 2})};
  const auto ev = qa::evaluate_float(e, groups);
  REQUIRE(ev.ok());
  CHECK(ev->groups[0].accuracy == Approx(0.75));
  CHECK(ev->groups[1].accuracy == Approx(0.5));  // row 4 -> 0 (label 1), row 5 -> 2
  CHECK(ev->worst_group == 1);
  CHECK(ev->mean_accuracy == Approx(0.625));
  CHECK(ev->groups[0].agreement == 1.0);
}

TEST_CASE("evaluate: bad input is a Status", "[analysis][evaluate]") {
  TableEngine e = make_table();
  const qa::QuantConfig cfg;
  CHECK(qa::evaluate(e, cfg, calib1(), {}).status() == Status::empty_input);
  CHECK(qa::evaluate(e, cfg, calib1(), {group("A", {0, 1}, {0})}).status() == Status::shape_mismatch);
  CHECK(qa::evaluate(e, cfg, calib1(), {group("A", {0, 1}, {0, 3})}).status() == Status::invalid_argument);
  CHECK(qa::evaluate(e, cfg, calib1(), {group("A", {0, 1}, {0, -1})}).status() == Status::invalid_argument);
  CHECK(qa::evaluate(e, cfg, calib1(), {group("A", {0, std::nanf("")}, {})}).status() == Status::non_finite_input);
  qa::Group empty = group("E", {}, {});
  CHECK(qa::evaluate(e, cfg, calib1(), {empty}).status() == Status::empty_input);
  qa::Group wrong = group("W", {0, 1}, {});
  wrong.n = 3;
  CHECK(qa::evaluate(e, cfg, calib1(), {wrong}).status() == Status::shape_mismatch);
  qa::Dataset bad_calib;
  bad_calib.x = {std::numeric_limits<float>::infinity()};
  bad_calib.n = 1;
  CHECK(qa::evaluate(e, cfg, bad_calib, {group("A", {0}, {})}).status() == Status::non_finite_input);
  CHECK(qa::evaluate(e, cfg, qa::Dataset{}, {group("A", {0}, {})}).status() == Status::empty_input);
  qa::QuantConfig bad = cfg;
  bad.all.weight_bits = 1;
  CHECK(qa::evaluate(e, bad, calib1(), {group("A", {0}, {})}).status() == Status::invalid_argument);
  qa::EvalOptions zero_batch;
  zero_batch.batch = 0;
  CHECK(qa::evaluate(e, cfg, calib1(), {group("A", {0}, {})}, zero_batch).status() == Status::invalid_argument);
  // A reference from other groups.
  const auto ref = qa::float_reference(e, {group("A", {0, 1}, {})});
  REQUIRE(ref.ok());
  CHECK(qa::evaluate(e, cfg, calib1(), {group("A", {0}, {})}, ref.value()).status() == Status::shape_mismatch);
  // An engine that outputs NaN.
  TableEngine nan_engine(1, {0.f}, {std::nanf("")});
  CHECK(qa::evaluate(nan_engine, cfg, calib1(), {group("A", {0}, {})}).status() == Status::non_finite_input);
  // The engine's own errors pass through (row 9 is not in the table).
  CHECK(qa::evaluate(e, cfg, calib1(), {group("A", {9}, {})}).status() == Status::invalid_argument);
}

TEST_CASE("evaluate: toy MLP, a dynamic per-tensor policy collapses on a huge value, guarded does not",
          "[analysis][evaluate]") {
  qsafe_test::ToyMlp m = qsafe_test::make_bars_mlp(false);
  const qa::Dataset calib = qsafe_test::make_bars(64, 1);
  const qa::Dataset test = qsafe_test::make_bars(64, 2);
  qa::Group spiked = qa::as_group(test, "spiked");
  for (std::int64_t s = 0; s < spiked.n; ++s)
    spiked.x[static_cast<std::size_t>(s * qsafe_test::kBarsFeatures + qsafe_test::kDeadFeature)] = 1000.f;
  const std::vector<qa::Group> groups = {qa::as_group(test, "clean"), spiked};
  const auto dyn = qa::evaluate(m, qsafe_test::uniform_config("dyn", qa::ActPolicy::dynamic_per_tensor), calib, groups);
  const auto grd = qa::evaluate(m, qsafe_test::uniform_config("grd", qa::ActPolicy::guarded_per_tensor), calib, groups);
  REQUIRE(dyn.ok());
  REQUIRE(grd.ok());
  CHECK(dyn->groups[0].float_accuracy == 1.0);
  CHECK(dyn->groups[1].float_accuracy == 1.0);  // no layer reads the dead feature
  CHECK(dyn->groups[0].accuracy == 1.0);
  CHECK(dyn->groups[1].accuracy == Approx(0.25));  // every value but the spike rounds to 0: one class
  CHECK(dyn->worst_group == 1);
  CHECK(dyn->worst_degradation == Approx(0.75));
  CHECK(grd->groups[1].accuracy == 1.0);
  // Guarded: every spiked sample violates layer 0's envelope and is clipped there.
  CHECK(grd->groups[1].layers[0].counters.envelope_violations == 64);
  CHECK(grd->groups[1].layers[0].counters.clipped == 64);
  CHECK(grd->groups[0].layers[0].counters.clipped == 0);
  CHECK(grd->saturation[0].violation_rate == Approx(0.5));
}
