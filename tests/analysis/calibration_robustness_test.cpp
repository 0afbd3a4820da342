#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "qsafe/analysis/calibration_robustness.hpp"
#include "toy_engine.hpp"

using qsafe::Status;
namespace qa = qsafe::analysis;

namespace {
// The clean inputs scaled by 0.05 (a "dark" shift the float model is invariant to: argmax of a
// linear-ReLU network without biases does not change under positive scaling).
qa::Group dark(const qa::Dataset& d) {
  qa::Group g = qa::as_group(d, "dark");
  for (float& v : g.x) v *= 0.05f;
  return g;
}
}  // namespace

TEST_CASE("calibration robustness: calibrating on a shifted group gives a worse worst group",
          "[analysis][calibration_robustness]") {
  qsafe_test::ToyMlp m = qsafe_test::make_bars_mlp(false);
  // Low noise: every clean feature (0.1 +- 0.01 or 1) is above the dark group's maximum (0.05).
  const qa::Dataset calib = qsafe_test::make_bars(64, 1, 0.01);
  const qa::Dataset test = qsafe_test::make_bars(64, 2, 0.01);
  const std::vector<qa::Group> groups = {qa::as_group(test, "clean"), dark(test)};
  const qa::QuantConfig cfg = qsafe_test::uniform_config("static8", qa::ActPolicy::static_range);
  qa::CalibrationRobustnessOptions o;
  o.bootstrap = 2;
  o.subset_sizes = {4, 16, 1000};  // 1000 > 64: skipped
  o.subsets_per_size = 2;
  o.seed = 3;
  const auto r = qa::calibration_robustness(m, cfg, calib, groups, o);
  REQUIRE(r.ok());
  // base, group:clean, group:dark, bootstrap x2, subset4 x2, subset16 x2
  REQUIRE(r->sets.size() == 9);
  CHECK(r->sets[0].name == "base");
  CHECK(r->sets[2].name == "group:dark");
  CHECK(r->sets[3].kind == "bootstrap");
  CHECK(r->sets[5].name == "subset4:0");
  CHECK(r->sets[5].samples == 4);
  CHECK(r->sets[8].name == "subset16:1");
  CHECK(r->groups == std::vector<std::string>{"clean", "dark"});
  const auto& base = r->sets[0];
  const auto& on_dark = r->sets[2];
  CHECK(base.worst_accuracy == 1.0);
  CHECK(on_dark.accuracy[1] == 1.0);  // fine on its own distribution
  // Clean inputs clip to 0.05 everywhere: every class ties, argmax says class 0.
  CHECK(on_dark.accuracy[0] == 0.25);
  CHECK(on_dark.worst_accuracy < base.worst_accuracy);
  CHECK(r->worst_set == 2);
  CHECK(r->worst_group_accuracy.min == on_dark.worst_accuracy);
  CHECK(r->worst_group_accuracy.max == 1.0);
  // Layer 0's input scale: about 1/255 from clean data, about 0.1/255 from the dark group.
  REQUIRE(r->layers.size() == 3);
  CHECK(r->layers[0].scale.max == Approx(r->sets[0].input_scale[0]).epsilon(0.05));
  CHECK(r->layers[0].scale.min == Approx(on_dark.input_scale[0]));
  CHECK(r->layers[0].max_over_min > 5.0);
  CHECK(r->layers[0].range_hi.min < 0.06);
  // Deterministic for a seed.
  const auto again = qa::calibration_robustness(m, cfg, calib, groups, o);
  REQUIRE(again.ok());
  for (std::size_t s = 0; s < r->sets.size(); ++s) {
    CHECK(again->sets[s].accuracy == r->sets[s].accuracy);
    CHECK(again->sets[s].input_scale == r->sets[s].input_scale);
  }
}

TEST_CASE("calibration robustness: spread by hand; bad options", "[analysis][calibration_robustness]") {
  const qa::Spread s = qa::spread_of({1.0, 2.0, 3.0, 6.0});
  CHECK(s.min == 1.0);
  CHECK(s.max == 6.0);
  CHECK(s.mean == Approx(3.0));
  CHECK(s.stddev == Approx(std::sqrt((4.0 + 1.0 + 0.0 + 9.0) / 4.0)));
  qsafe_test::ToyMlp m = qsafe_test::make_bars_mlp(false);
  const qa::Dataset calib = qsafe_test::make_bars(8, 1);
  const std::vector<qa::Group> groups = {qa::as_group(calib)};
  const qa::QuantConfig cfg;
  qa::CalibrationRobustnessOptions o;
  o.bootstrap = -1;
  CHECK(qa::calibration_robustness(m, cfg, calib, groups, o).status() == Status::invalid_argument);
  o.bootstrap = 0;
  o.subset_sizes = {0};
  CHECK(qa::calibration_robustness(m, cfg, calib, groups, o).status() == Status::invalid_argument);
  o.subset_sizes = {};
  CHECK(qa::calibration_robustness(m, cfg, calib, {}, o).status() == Status::empty_input);
  CHECK(qa::calibration_robustness(m, cfg, qa::Dataset{}, groups, o).status() == Status::empty_input);
  o.per_group = false;
  const auto r = qa::calibration_robustness(m, cfg, calib, groups, o);
  REQUIRE(r.ok());
  CHECK(r->sets.size() == 1);
}
