#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "qsafe/analysis/dataset.hpp"
#include "qsafe/analysis/saturation.hpp"

using qsafe::Status;
namespace qa = qsafe::analysis;

namespace {
qa::Dataset ramp(std::int64_t n, std::int64_t numel) {
  qa::Dataset d;
  d.n = n;
  for (std::int64_t i = 0; i < n * numel; ++i) d.x.push_back(static_cast<float>(i % 7) / 7.f);
  for (std::int64_t i = 0; i < n; ++i) d.labels.push_back(i % 3);
  return d;
}
}  // namespace

TEST_CASE("dataset: built-in groups are clean + the corruption suite, reproducible", "[analysis][dataset]") {
  const qa::Dataset d = ramp(5, 2 * 4 * 4);
  const qa::SampleShape shape{2, 4, 4};
  const auto g = qa::make_builtin_groups(d, shape, qsafe::Range{0.f, 1.f}, 42);
  REQUIRE(g.ok());
  const auto suite = qa::builtin_corruptions();
  REQUIRE(g->size() == suite.size() + 1);
  CHECK((*g)[0].name == "clean");
  CHECK((*g)[0].x == d.x);
  for (std::size_t i = 0; i < suite.size(); ++i) {
    const qa::Group& grp = (*g)[i + 1];
    CHECK(grp.name == suite[i].name);
    CHECK(grp.n == 5);
    CHECK(grp.labels == d.labels);
    // Each group is the corruption applied with seed + position + 1.
    std::vector<float> want(d.x.size());
    REQUIRE(qa::apply_corruption(suite[i], 5, 2, 4, 4, qsafe::Range{0.f, 1.f}, 42 + i + 1,
                                 qsafe::Span<const float>(d.x), qsafe::Span<float>(want)) == Status::ok);
    CHECK(grp.x == want);
  }
  const auto again = qa::make_builtin_groups(d, shape, qsafe::Range{0.f, 1.f}, 42);
  REQUIRE(again.ok());
  for (std::size_t i = 0; i < g->size(); ++i) CHECK((*again)[i].x == (*g)[i].x);
  const auto other = qa::make_builtin_groups(d, shape, qsafe::Range{0.f, 1.f}, 43);
  REQUIRE(other.ok());
  CHECK((*other)[1].x != (*g)[1].x);  // noise depends on the seed
}

TEST_CASE("dataset: checks and select", "[analysis][dataset]") {
  const qa::Dataset d = ramp(4, 3);
  CHECK(qa::check_dataset(d, 3, 3) == Status::ok);
  CHECK(qa::check_dataset(d, 3, 2) == Status::invalid_argument);  // label 2 with 2 classes
  CHECK(qa::check_dataset(d, 4, 3) == Status::shape_mismatch);
  CHECK(qa::check_dataset(d, 0, 3) == Status::invalid_argument);
  CHECK(qa::check_dataset(qa::Dataset{}, 3, 3) == Status::empty_input);
  qa::Dataset bad = d;
  bad.labels.pop_back();
  CHECK(qa::check_dataset(bad, 3, 3) == Status::shape_mismatch);
  bad = d;
  bad.x[5] = std::nanf("");
  CHECK(qa::check_dataset(bad, 3, 3) == Status::non_finite_input);
  bad = d;
  bad.labels[0] = -1;
  CHECK(qa::check_dataset(bad, 3, 0) == Status::invalid_argument);
  CHECK(qa::check_groups({}, 3, 3) == Status::empty_input);

  const auto s = qa::select(d, 3, {3, 0, 3});
  REQUIRE(s.ok());
  CHECK(s->n == 3);
  CHECK(s->labels == std::vector<std::int64_t>{0, 0, 0});
  CHECK(std::vector<float>(s->x.begin(), s->x.begin() + 3) == std::vector<float>(d.x.begin() + 9, d.x.begin() + 12));
  CHECK(std::vector<float>(s->x.begin() + 3, s->x.begin() + 6) == std::vector<float>(d.x.begin(), d.x.begin() + 3));
  CHECK(qa::select(d, 3, {4}).status() == Status::invalid_argument);
  CHECK(qa::select(d, 3, {}).status() == Status::empty_input);
  CHECK(qa::select(d, 5, {0}).status() == Status::shape_mismatch);

  CHECK(qa::make_builtin_groups(d, qa::SampleShape{1, 2, 2}, qsafe::Range{0.f, 1.f}, 0).status() ==
        Status::shape_mismatch);
  CHECK(qa::make_builtin_groups(d, qa::SampleShape{0, 1, 3}, qsafe::Range{0.f, 1.f}, 0).status() ==
        Status::invalid_argument);
  CHECK(qa::make_builtin_groups(d, qa::SampleShape{1, 1, 3}, qsafe::Range{1.f, 0.f}, 0).status() ==
        Status::invalid_argument);
}

TEST_CASE("saturation: fractions and differences of counters by hand", "[analysis][saturation]") {
  qa::LayerRunStats before, after;
  before.quantized = after.quantized = true;
  before.counters.values = 100;
  before.counters.clipped = 3;
  before.counters.groups = 10;
  before.bits_chosen[8] = 10;
  after.counters.values = 300;
  after.counters.clipped = 13;
  after.counters.saturated = 4;
  after.counters.groups = 20;
  after.counters.envelope_violations = 5;
  after.counters.fallbacks = 2;
  after.float_fallbacks = 3;
  after.bits_chosen[8] = 15;
  after.bits_chosen[4] = 5;
  const qa::LayerSaturation total = qa::saturation_of(1, "conv", after);
  CHECK(total.layer == 1);
  CHECK(total.name == "conv");
  CHECK(total.clipped_fraction == Approx(13.0 / 300));
  CHECK(total.saturated_fraction == Approx(4.0 / 300));
  CHECK(total.violation_rate == Approx(5.0 / 20));
  CHECK(total.fallback_rate == Approx(5.0 / 20));
  const qa::LayerSaturation delta = qa::saturation_between(1, "conv", before, after);
  CHECK(delta.counters.values == 200);
  CHECK(delta.counters.clipped == 10);
  CHECK(delta.clipped_fraction == Approx(0.05));
  CHECK(delta.bits_chosen[8] == 5);
  CHECK(delta.bits_chosen[4] == 5);
  CHECK(delta.float_fallbacks == 3);
  const qa::LayerSaturation none = qa::saturation_of(0, "f", qa::LayerRunStats{});
  CHECK_FALSE(none.quantized);
  CHECK(none.clipped_fraction == 0.0);
  CHECK(none.violation_rate == 0.0);
}
