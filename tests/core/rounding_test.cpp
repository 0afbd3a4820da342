#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "qsafe/core/rounding.hpp"

using qsafe::RoundHalfAway;
using qsafe::RoundHalfEven;

TEST_CASE("rounding: ties go to even or away from zero", "[core][rounding]") {
  const float ties[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 127.5f, -128.5f, 8388607.5f};
  const std::int32_t even[] = {0, 2, 2, 0, -2, -2, 128, -128, 8388608};
  const std::int32_t away[] = {1, 2, 3, -1, -2, -3, 128, -129, 8388608};
  for (int i = 0; i < 9; ++i) {
    CAPTURE(ties[i]);
    CHECK(RoundHalfEven::to_int32(ties[i]) == even[i]);
    CHECK(RoundHalfAway::to_int32(ties[i]) == away[i]);
  }
}

TEST_CASE("rounding: matches std::nearbyint and std::round on random floats", "[core][rounding]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> mag(-30.f, 30.f);
  for (int i = 0; i < 200000; ++i) {
    const float x = std::ldexp(std::uniform_real_distribution<float>(-1.f, 1.f)(rng), static_cast<int>(mag(rng)));
    CAPTURE(x);
    REQUIRE(RoundHalfEven::to_int32(x) == static_cast<std::int32_t>(std::nearbyint(x)));
    REQUIRE(RoundHalfAway::to_int32(x) == static_cast<std::int32_t>(std::round(x)));
  }
}

TEST_CASE("rounding: saturates and maps NaN to zero", "[core][rounding]") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(RoundHalfEven::to_int32(inf) == std::numeric_limits<std::int32_t>::max());
  CHECK(RoundHalfEven::to_int32(-inf) == std::numeric_limits<std::int32_t>::min());
  CHECK(RoundHalfEven::to_int32(3e9f) == std::numeric_limits<std::int32_t>::max());
  CHECK(RoundHalfEven::to_int32(-3e9f) == std::numeric_limits<std::int32_t>::min());
  CHECK(RoundHalfEven::to_int32(-2147483648.f) == std::numeric_limits<std::int32_t>::min());
  CHECK(RoundHalfEven::to_int32(2147483520.f) == 2147483520);
  CHECK(RoundHalfEven::to_int32(std::numeric_limits<float>::quiet_NaN()) == 0);
  CHECK(RoundHalfEven::to_int32(std::numeric_limits<float>::denorm_min()) == 0);
  CHECK(RoundHalfEven::to_int32(-0.f) == 0);
}
