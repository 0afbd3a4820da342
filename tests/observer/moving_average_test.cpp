#include <catch2/catch.hpp>

#include "qsafe/observer/moving_average_min_max.hpp"

using namespace qsafe;

TEST_CASE("MovingAverageMinMaxObserver: PyTorch's update rule", "[observer][moving_average]") {
  MovingAverageMinMaxObserver obs(0.5f);
  const float a[] = {-2.f, 4.f};
  const float b[] = {-6.f, 8.f};
  REQUIRE(obs.observe(Span<const float>(a)) == Status::ok);  // first batch sets the range
  CHECK(obs.range()->lo == -2.f);
  CHECK(obs.range()->hi == 4.f);
  REQUIRE(obs.observe(Span<const float>(b)) == Status::ok);  // lo += 0.5 * (-6 - -2)
  CHECK(obs.range()->lo == -4.f);
  CHECK(obs.range()->hi == 6.f);
  CHECK(obs.batches() == 2);
  CHECK(MovingAverageMinMaxObserver().averaging_constant() == 0.01f);
}

TEST_CASE("MovingAverageMinMaxObserver: merge is a batch-weighted mean; bad constants refused",
          "[observer][moving_average]") {
  MovingAverageMinMaxObserver a(0.5f), b(0.5f);
  const float x[] = {-2.f, 4.f};
  const float y[] = {-8.f, 10.f};
  REQUIRE(a.observe(Span<const float>(x)) == Status::ok);
  REQUIRE(b.observe(Span<const float>(y)) == Status::ok);
  REQUIRE(b.observe(Span<const float>(y)) == Status::ok);
  REQUIRE(a.merge(b) == Status::ok);  // weights 1/3 and 2/3
  CHECK(a.range()->lo == Approx(-6.f));
  CHECK(a.range()->hi == Approx(8.f));
  CHECK(a.batches() == 3);
  MovingAverageMinMaxObserver other(0.1f);
  CHECK(a.merge(other) == Status::invalid_argument);
  MovingAverageMinMaxObserver bad(0.f), worse(1.5f);
  CHECK(bad.observe(Span<const float>(x)) == Status::invalid_argument);
  CHECK(worse.observe(Span<const float>(x)) == Status::invalid_argument);
}
