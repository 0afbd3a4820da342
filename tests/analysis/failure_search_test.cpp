#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "qsafe/analysis/failure_search.hpp"
#include "toy_engine.hpp"

using qsafe::Status;
namespace qa = qsafe::analysis;

namespace {
// Clean samples whose dead feature (no layer reads it) holds one huge value.
qa::Dataset spiked_dataset(std::int64_t n, std::uint64_t seed) {
  qa::Dataset d = qsafe_test::make_bars(n, seed);
  for (std::int64_t s = 0; s < n; ++s)
    d.x[static_cast<std::size_t>(s * qsafe_test::kBarsFeatures + qsafe_test::kDeadFeature)] = 1000.f;
  return d;
}
qa::FailureSearchOptions small_search() {
  qa::FailureSearchOptions o;
  o.linf = 0.05f;
  o.max_evaluations = 32 * 13;
  o.sources = 32;
  o.population = 4;
  o.search_corruptions = false;
  o.threshold = 0.1;
  o.seed = 11;
  return o;
}
}  // namespace

TEST_CASE("failure search: dynamic per-tensor on inputs with one huge value is detrimental, guarded is not",
          "[analysis][failure_search]") {
  qsafe_test::ToyMlp m = qsafe_test::make_bars_mlp(false);
  const qa::Dataset calib = qsafe_test::make_bars(64, 1);
  const qa::Dataset inputs = spiked_dataset(32, 2);
  const qa::FailureSearchOptions o = small_search();
  const auto dyn =
      qa::failure_search(m, qsafe_test::uniform_config("dyn", qa::ActPolicy::dynamic_per_tensor), calib, inputs, o);
  REQUIRE(dyn.ok());
  CHECK(dyn->verdict == qa::Verdict::detrimental);
  CHECK(dyn->clean_float_accuracy == 1.0);
  CHECK(dyn->clean_accuracy == Approx(0.25));  // already collapsed before any search
  CHECK(dyn->accuracy_drop >= 0.75);
  CHECK(dyn->evaluations <= o.max_evaluations);
  CHECK(dyn->evaluations == 32 + 3 * 32 * 4);  // sources + 3 generations of 4 per source
  REQUIRE(dyn->worst.size() == o.keep);
  CHECK(dyn->worst[0].flipped);
  CHECK(dyn->worst[0].objective >= dyn->worst.back().objective);
  CHECK(dyn->worst[0].linf_distance <= 0.05 + 1e-6);
  CHECK(dyn->worst[0].x.size() == 16);

  const auto grd =
      qa::failure_search(m, qsafe_test::uniform_config("grd", qa::ActPolicy::guarded_per_tensor), calib, inputs, o);
  REQUIRE(grd.ok());
  CHECK(grd->verdict == qa::Verdict::robust);
  CHECK(grd->clean_accuracy == 1.0);
  CHECK(grd->accuracy_drop <= 0.1);

  // Deterministic for a seed.
  const auto again =
      qa::failure_search(m, qsafe_test::uniform_config("dyn", qa::ActPolicy::dynamic_per_tensor), calib, inputs, o);
  REQUIRE(again.ok());
  REQUIRE(again->worst.size() == dyn->worst.size());
  for (std::size_t i = 0; i < dyn->worst.size(); ++i) {
    CHECK(again->worst[i].source == dyn->worst[i].source);
    CHECK(again->worst[i].x == dyn->worst[i].x);
  }
}

TEST_CASE("failure search: the L-inf search finds the spike from clean inputs", "[analysis][failure_search]") {
  qsafe_test::ToyMlp m = qsafe_test::make_bars_mlp(false);
  const qa::Dataset calib = qsafe_test::make_bars(64, 1);
  const qa::Dataset clean = qsafe_test::make_bars(32, 2);
  qa::FailureSearchOptions o = small_search();
  const auto dyn_clean =
      qa::failure_search(m, qsafe_test::uniform_config("dyn", qa::ActPolicy::dynamic_per_tensor), calib, clean, o);
  REQUIRE(dyn_clean.ok());
  CHECK(dyn_clean->verdict == qa::Verdict::robust);  // small budget: nothing to find
  o.linf = 1000.f;
  const auto dyn_big =
      qa::failure_search(m, qsafe_test::uniform_config("dyn", qa::ActPolicy::dynamic_per_tensor), calib, clean, o);
  REQUIRE(dyn_big.ok());
  CHECK(dyn_big->clean_accuracy == 1.0);
  CHECK(dyn_big->verdict == qa::Verdict::detrimental);
  CHECK(dyn_big->worst[0].origin == "linf");
}

// Negative outlier pixels: the float model's first ReLU removes them (it loses one or two
// features), while a dynamic per-tensor range stretched to -200 or below rounds every other value
// to 0.
TEST_CASE("failure search: corruption parameters - negative outliers are the worst family for dynamic per-tensor",
          "[analysis][failure_search]") {
  qsafe_test::ToyMlp m = qsafe_test::make_bars_mlp(false);
  const qa::Dataset calib = qsafe_test::make_bars(64, 1);
  const qa::Dataset clean = qsafe_test::make_bars(16, 2);
  qa::FailureSearchOptions o;
  o.linf = 0.f;
  o.sources = 16;
  o.max_evaluations = 16 * 25;
  o.shape = qa::SampleShape{1, 4, 4};
  o.corruptions = {{"outliers", qa::CorruptionKind::outlier_pixels, -1000.f, -200.f, 1, 2},
                   {"brightness", qa::CorruptionKind::brightness, -0.1f, 0.1f, 0, 0}};
  o.seed = 5;
  const auto r =
      qa::failure_search(m, qsafe_test::uniform_config("dyn", qa::ActPolicy::dynamic_per_tensor), calib, clean, o);
  REQUIRE(r.ok());
  REQUIRE(r->corruptions.size() == 2);
  CHECK(r->corruptions[0].probes == 12);
  CHECK(r->corruptions[1].probes == 12);
  CHECK(r->evaluations == 16 * 25);
  CHECK(r->corruptions[0].objective > r->corruptions[1].objective);
  CHECK(r->corruptions[0].corruption.param <= -200.f);
  CHECK(r->corruptions[0].flip_rate > 0.5);
  CHECK(r->corruptions[1].flip_rate == 0.0);
  CHECK(r->worst[0].origin == "corruption:outliers");
}

TEST_CASE("failure search: bad input", "[analysis][failure_search]") {
  qsafe_test::ToyMlp m = qsafe_test::make_bars_mlp(false);
  const qa::Dataset calib = qsafe_test::make_bars(8, 1);
  const qa::Dataset inputs = qsafe_test::make_bars(8, 2);
  const qa::QuantConfig cfg;
  qa::FailureSearchOptions o = small_search();
  CHECK(qa::failure_search(m, cfg, calib, qa::Dataset{}, o).status() == Status::empty_input);
  qa::Dataset bad_labels = inputs;
  bad_labels.labels[0] = 4;
  CHECK(qa::failure_search(m, cfg, calib, bad_labels, o).status() == Status::invalid_argument);
  bad_labels.labels.pop_back();
  CHECK(qa::failure_search(m, cfg, calib, bad_labels, o).status() == Status::shape_mismatch);
  qa::Dataset nan_in = inputs;
  nan_in.x[3] = std::nanf("");
  CHECK(qa::failure_search(m, cfg, calib, nan_in, o).status() == Status::non_finite_input);
  o.linf = -1.f;
  CHECK(qa::failure_search(m, cfg, calib, inputs, o).status() == Status::invalid_argument);
  o = small_search();
  o.max_evaluations = 3;
  CHECK(qa::failure_search(m, cfg, calib, inputs, o).status() == Status::invalid_argument);
  o = small_search();
  o.search_corruptions = true;
  o.shape = qa::SampleShape{1, 3, 3};  // does not hold 16 features
  CHECK(qa::failure_search(m, cfg, calib, inputs, o).status() == Status::invalid_argument);
  o.shape = qa::SampleShape{};  // flat 1 x 1 x 1: wrong too
  CHECK(qa::failure_search(m, cfg, calib, inputs, o).status() == Status::invalid_argument);
  o.shape = qa::SampleShape{0, 0, 0};  // the default: flat 1 x 1 x 16
  CHECK(qa::failure_search(m, cfg, calib, inputs, o).ok());
  o.shape = qa::SampleShape{1, 4, 4};
  o.corruptions = {{"bad", qa::CorruptionKind::contrast, 2.f, 1.f, 0, 0}};
  CHECK(qa::failure_search(m, cfg, calib, inputs, o).status() == Status::invalid_argument);
}

TEST_CASE("failure search: a per-input bit-width rule fooled by one large value is detrimental",
          "[analysis][failure_search]") {
  // Rule: inputs with max |x| <= 1.5 get 8 bits, others 2 bits. A value of 10 in the dead feature
  // makes layer 0 quantize [0, 10] on 4 levels (every real feature rounds to 0); plain dynamic
  // 8-bit on the same inputs keeps ~25 levels per unit and is robust.
  qsafe_test::ToyMlp m = qsafe_test::make_bars_mlp(false);
  const qa::Dataset calib = qsafe_test::make_bars(64, 1);
  qa::Dataset inputs = qsafe_test::make_bars(32, 2);
  for (std::int64_t s = 0; s < inputs.n; ++s)
    inputs.x[static_cast<std::size_t>(s * qsafe_test::kBarsFeatures + qsafe_test::kDeadFeature)] = 10.f;
  qa::QuantConfig rule = qsafe_test::uniform_config("bit_rule", qa::ActPolicy::dynamic_per_tensor);
  rule.all.bit_width.enabled = true;
  rule.all.bit_width.statistic = qa::InputStatistic::max_abs;
  rule.all.bit_width.thresholds = {1.5f};
  rule.all.bit_width.bits = {8, 2};
  const qa::FailureSearchOptions o = small_search();
  const auto r = qa::failure_search(m, rule, calib, inputs, o);
  REQUIRE(r.ok());
  CHECK(r->verdict == qa::Verdict::detrimental);
  CHECK(r->clean_float_accuracy == 1.0);
  CHECK(r->clean_accuracy == Approx(0.25));
  const auto plain =
      qa::failure_search(m, qsafe_test::uniform_config("dyn8", qa::ActPolicy::dynamic_per_tensor), calib, inputs, o);
  REQUIRE(plain.ok());
  CHECK(plain->verdict == qa::Verdict::robust);
  // The evaluation shows the rule's choices per group: 2 bits on every spiked_dataset input at layer 0.
  const std::vector<qa::Group> groups = {qa::as_group(qsafe_test::make_bars(32, 2), "clean"),
                                         qa::as_group(inputs, "spiked_dataset")};
  const auto ev = qa::evaluate(m, rule, calib, groups);
  REQUIRE(ev.ok());
  CHECK(ev->groups[0].layers[0].bits_chosen[8] == 32);
  CHECK(ev->groups[0].layers[0].bits_chosen[2] == 0);
  CHECK(ev->groups[1].layers[0].bits_chosen[2] == 32);
  CHECK(ev->groups[1].layers[1].bits_chosen[8] == 32);
  CHECK(ev->saturation[0].bits_chosen[2] == 32);
}
