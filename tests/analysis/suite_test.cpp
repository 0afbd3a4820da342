#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "qsafe/analysis.hpp"
#include "toy_engine.hpp"

using qsafe::Status;
namespace qa = qsafe::analysis;

TEST_CASE("suite: every analysis on the toy MLP, with step times", "[analysis][suite]") {
  qsafe_test::ToyMlp m = qsafe_test::make_bars_mlp(false);
  const qa::Dataset calib = qsafe_test::make_bars(32, 1);
  const qa::Dataset test = qsafe_test::make_bars(32, 2);
  qa::SuiteOptions o;
  o.shape = qa::SampleShape{1, 4, 4};
  o.seed = 9;
  o.extra_groups.push_back(qa::as_group(test, "user:copy"));
  o.calibration.subset_sizes = {8};
  o.calibration.bootstrap = 1;
  o.failure.max_evaluations = 32 * 9;
  o.failure.sources = 32;
  o.failure.population = 4;
  o.mixed_precision.budget = 8.0;
  std::size_t calls = 0;
  o.progress = [&](const char*, std::size_t, std::size_t) { ++calls; };
  const std::vector<qa::QuantConfig> configs = {
      qsafe_test::uniform_config("static", qa::ActPolicy::static_range),
      qsafe_test::uniform_config("dynamic", qa::ActPolicy::dynamic_per_tensor)};
  const auto r = qa::run_suite(m, configs, calib, test, o);
  REQUIRE(r.ok());
  CHECK(r->group_names.size() == 9);
  CHECK(r->group_names.front() == "clean");
  CHECK(r->group_names.back() == "user:copy");
  CHECK(r->float_model.groups.size() == 9);
  REQUIRE(r->configs.size() == 2);
  CHECK(r->configs[0].evaluation.config == "static");
  CHECK(r->configs[1].sensitivity.layers.size() == 3);
  CHECK(r->configs[1].calibration.sets.size() == 1 + 9 + 1 + 2);
  CHECK(r->configs[1].failure.sources == 32);
  // The same numbers as a direct evaluation.
  const auto direct = qa::evaluate(m, configs[1], calib, [&] {
    auto g = qa::make_builtin_groups(test, o.shape, o.range, o.seed).value();
    g.push_back(o.extra_groups[0]);
    return g;
  }());
  REQUIRE(direct.ok());
  const qa::Evaluation& dyn = r->configs[1].evaluation;
  for (std::size_t g = 0; g < dyn.groups.size(); ++g) {
    CHECK(dyn.groups[g].accuracy == direct->groups[g].accuracy);
    CHECK(dyn.groups[g].kl.mean == direct->groups[g].kl.mean);
  }
  CHECK(r->has_mixed_precision);
  CHECK(r->mixed_precision.average_weight_bits <= 8.0);
  CHECK(r->times.size() == 2 + 2 * 4 + 1);
  CHECK(r->times.front().step == "groups");
  CHECK(r->times.back().step == "mixed_precision:static");
  double sum = 0;
  for (const auto& t : r->times) sum += t.seconds;
  CHECK(sum <= r->total_seconds + 1e-3);
  CHECK(calls > 20);
  CHECK(qa::run_suite(m, {}, calib, test, o).status() == Status::empty_input);
  qa::SuiteOptions bad = o;
  bad.shape = qa::SampleShape{1, 3, 3};
  CHECK(qa::run_suite(m, configs, calib, test, bad).status() == Status::shape_mismatch);
}
