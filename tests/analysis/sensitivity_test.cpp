#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "qsafe/analysis/sensitivity.hpp"
#include "toy_engine.hpp"

using qsafe::Status;
namespace qa = qsafe::analysis;

TEST_CASE("sensitivity: the layer whose input has an outlier channel ranks first", "[analysis][sensitivity]") {
  qsafe_test::ToyMlp m = qsafe_test::make_bars_mlp(true);
  const qa::Dataset calib = qsafe_test::make_bars(32, 1);
  const qa::Dataset test = qsafe_test::make_bars(32, 2);
  auto groups = qa::make_builtin_groups(test, qa::SampleShape{1, 4, 4}, qsafe::Range{0.f, 1.f}, 7);
  REQUIRE(groups.ok());
  // Without the outlier-pixel group: on it, static ranges clip the 5x pixels that the float model
  // sees in full, so the first layers are (rightly) the worst there.
  groups.value().erase(groups.value().begin() + 6);
  REQUIRE(groups.value()[5].name == "contrast_x2");
  const qa::QuantConfig base = qsafe_test::uniform_config("static8", qa::ActPolicy::static_range);
  for (qa::Metric metric : {qa::Metric::kl_mean, qa::Metric::accuracy_drop, qa::Metric::kl_p99}) {
    qa::SensitivityOptions o;
    o.metric = metric;
    std::size_t last_done = 0, last_total = 0;
    o.progress = [&](const char*, std::size_t done, std::size_t total) {
      last_done = done;
      last_total = total;
    };
    const auto s = qa::sensitivity(m, base, calib, groups.value(), o);
    REQUIRE(s.ok());
    CHECK(last_done == 7);  // 1 + 3 + 3 configurations
    CHECK(last_total == 7);
    REQUIRE(s->layers.size() == 3);
    CHECK(s->group_names.size() == 7);
    CHECK(s->order_only_mean.front() == 2);
    CHECK(s->order_only_worst.front() == 2);
    CHECK(s->order_gain_mean.front() == 2);
    CHECK(s->order_gain_worst.front() == 2);
    CHECK(s->layers[2].name == "fc2");
    CHECK(s->layers[2].only_worst > s->layers[0].only_worst);
    CHECK(s->layers[2].only_worst > s->layers[1].only_worst);
    // Keeping layer 2 in float recovers (almost) everything: the others are harmless here.
    CHECK(s->layers[2].gain_worst > 0.9 * s->full_worst);
    CHECK(s->layers[2].only_per_group.size() == 7);
  }
  // On the accuracy metric, the numbers are accuracy drops: layer 2 alone drops the clean group a lot.
  qa::SensitivityOptions o;
  o.metric = qa::Metric::accuracy_drop;
  o.all_but_one = false;
  const auto s = qa::sensitivity(m, base, calib, groups.value(), o);
  REQUIRE(s.ok());
  CHECK(s->layers[2].only_per_group[0] > 0.5);
  CHECK(s->layers[0].only_per_group[0] == 0.0);
  CHECK(s->order_gain_mean.empty());
  CHECK(s->layers[0].except_per_group.empty());
}

TEST_CASE("sensitivity: without the outlier channel no layer stands out; bad input", "[analysis][sensitivity]") {
  qsafe_test::ToyMlp m = qsafe_test::make_bars_mlp(false);
  const qa::Dataset calib = qsafe_test::make_bars(16, 1);
  const std::vector<qa::Group> groups = {qa::as_group(qsafe_test::make_bars(16, 2))};
  const qa::QuantConfig base = qsafe_test::uniform_config("static8", qa::ActPolicy::static_range);
  qa::SensitivityOptions o;
  o.metric = qa::Metric::accuracy_drop;
  const auto s = qa::sensitivity(m, base, calib, groups, o);
  REQUIRE(s.ok());
  for (const auto& l : s->layers) CHECK(l.only_worst == 0.0);
  CHECK(s->order_only_worst == std::vector<std::size_t>{0, 1, 2});  // ties keep layer order
  CHECK(qa::sensitivity(m, base, calib, {}, o).status() == Status::empty_input);
  qa::QuantConfig bad = base;
  bad.per_layer.resize(2);
  CHECK(qa::sensitivity(m, bad, calib, groups, o).status() == Status::shape_mismatch);
}
