// Requantization arithmetic against independent references:
//  - gemmlowp's fixedpoint.h (Debian libgemmlowp-dev), the code TFLite's MultiplyByQuantizedMultiplier
//    is built from, for the double-rounding path;
//  - 128-bit floor/remainder arithmetic for the single-rounding path;
//  - std::frexp / std::round (TFLite's QuantizeMultiplier algorithm) for quantize_multiplier.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include <gemmlowp/fixedpoint/fixedpoint.h>

#include "qsafe/core/fixed_point.hpp"

using qsafe::QuantizedMultiplier;

namespace {

constexpr std::int32_t kMin = std::numeric_limits<std::int32_t>::min();
constexpr std::int32_t kMax = std::numeric_limits<std::int32_t>::max();

__extension__ typedef __int128 Int128;

// TFLite's MultiplyByQuantizedMultiplier (reference, double rounding) written with gemmlowp's
// primitives. The left shift wraps (TFLite multiplies by 1 << left in int32: UB on overflow in C++,
// a wrap on every compiler and ISA it ships on).
std::int32_t tflite_reference(std::int32_t x, std::int32_t multiplier, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  const auto shifted = static_cast<std::int32_t>(static_cast<std::uint32_t>(x) << left);
  return gemmlowp::RoundingDivideByPOT(gemmlowp::SaturatingRoundingDoublingHighMul(shifted, multiplier), right);
}

// Single rounding, independently: round(x * m / 2^t) with ties up, from a 128-bit floor division
// and its remainder (instead of a nudge and a shift).
std::int64_t single_round_reference(std::int32_t x, std::int32_t multiplier, int shift) {
  const int t = 31 - shift;
  const Int128 p = static_cast<Int128>(x) * multiplier;
  const Int128 d = static_cast<Int128>(1) << t;
  Int128 q = p / d;  // truncates towards zero
  Int128 r = p % d;
  if (r < 0) {  // make it a floor division with 0 <= r < d
    q -= 1;
    r += d;
  }
  return static_cast<std::int64_t>(q + (2 * r >= d ? 1 : 0));
}

// TFLite's QuantizeMultiplier as written there, with libm (fine in a test).
QuantizedMultiplier tflite_quantize_multiplier(double r) {
  if (r == 0.0) return {};
  int shift = 0;
  const double q = std::frexp(r, &shift);
  auto q_fixed = static_cast<std::int64_t>(std::round(q * static_cast<double>(std::int64_t{1} << 31)));
  if (q_fixed == (std::int64_t{1} << 31)) {
    q_fixed /= 2;
    ++shift;
  }
  if (shift < -31) return {};
  QuantizedMultiplier m;
  m.multiplier = static_cast<std::int32_t>(q_fixed);
  m.shift = shift;
  return m;
}

// Accumulators from several distributions: uniform over int32, small, near +-2^k, extremes.
std::int32_t random_accumulator(std::mt19937_64& rng) {
  const std::uint64_t u = rng();
  switch (u % 4) {
    case 0: return static_cast<std::int32_t>(static_cast<std::uint32_t>(u >> 32));
    case 1: return static_cast<std::int32_t>(static_cast<std::int64_t>((u >> 32) % 200001) - 100000);
    case 2: {
      const int k = static_cast<int>((u >> 8) % 31);
      const std::int64_t v = (std::int64_t{1} << k) + static_cast<std::int64_t>((u >> 40) % 5) - 2;
      return static_cast<std::int32_t>(((u >> 16) & 1) ? -v : v);
    }
    default: {
      const std::int32_t edges[] = {kMin, kMin + 1, kMax, kMax - 1, 0, 1, -1};
      return edges[(u >> 32) % 7];
    }
  }
}

std::int32_t random_multiplier(std::mt19937_64& rng) {
  const std::uint64_t u = rng();
  if (u % 16 == 0) return (u >> 8) % 2 ? (std::int32_t{1} << 30) : kMax;
  return static_cast<std::int32_t>((std::int64_t{1} << 30) + static_cast<std::int64_t>((u >> 32) % (std::uint64_t{1} << 30)));
}

}  // namespace

TEST_CASE("fixed_point: SRDHM matches gemmlowp, including the saturating corner", "[core][fixed_point]") {
  CHECK(qsafe::saturating_rounding_doubling_high_mul(kMin, kMin) == kMax);
  CHECK(gemmlowp::SaturatingRoundingDoublingHighMul(kMin, kMin) == kMax);
  CHECK(qsafe::saturating_rounding_doubling_high_mul(kMin, kMax) == -kMax);
  CHECK(qsafe::saturating_rounding_doubling_high_mul(kMax, kMax) == kMax - 1);
  // Ties: a * b = +-2^30 is exactly one half of 2^31; towards +Inf (like SQRDMULH).
  CHECK(qsafe::saturating_rounding_doubling_high_mul(1 << 15, 1 << 15) == 1);
  CHECK(qsafe::saturating_rounding_doubling_high_mul(-(1 << 15), 1 << 15) == 0);
  CHECK(gemmlowp::SaturatingRoundingDoublingHighMul(-(1 << 15), 1 << 15) == 0);
  CHECK(qsafe::saturating_rounding_doubling_high_mul(3 << 15, 1 << 15) == 2);    // 1.5 -> 2
  CHECK(qsafe::saturating_rounding_doubling_high_mul(-(3 << 15), 1 << 15) == -1);  // -1.5 -> -1

  std::mt19937_64 rng(1);
  for (int i = 0; i < 300000; ++i) {
    const std::int32_t a = random_accumulator(rng);
    const std::int32_t b = (i % 2) ? random_accumulator(rng) : random_multiplier(rng);
    const std::int32_t got = qsafe::saturating_rounding_doubling_high_mul(a, b);
    const std::int32_t want = gemmlowp::SaturatingRoundingDoublingHighMul(a, b);
    if (got != want) {
      CAPTURE(a, b);
      REQUIRE(got == want);
    }
  }
}

TEST_CASE("fixed_point: rounding_divide_by_pot matches gemmlowp for every exponent", "[core][fixed_point]") {
  CHECK(qsafe::rounding_divide_by_pot(5, 1) == 3);    // 2.5 -> 3
  CHECK(qsafe::rounding_divide_by_pot(-5, 1) == -3);  // -2.5 -> -3
  CHECK(qsafe::rounding_divide_by_pot(-3, 1) == -2);  // -1.5 -> -2
  CHECK(qsafe::rounding_divide_by_pot(kMax, 31) == 1);
  CHECK(qsafe::rounding_divide_by_pot(kMin, 31) == -1);
  CHECK(qsafe::rounding_divide_by_pot(kMin, 0) == kMin);
  std::mt19937_64 rng(2);
  for (int e = 0; e <= 31; ++e) {
    for (int i = 0; i < 10000; ++i) {
      std::int32_t x = random_accumulator(rng);
      if (i % 3 == 0 && e > 0) {  // force an exact tie: x = (2k + 1) * 2^(e-1)
        const std::int64_t k = static_cast<std::int64_t>(rng() % 64) - 32;
        const std::int64_t v = (2 * k + 1) * (std::int64_t{1} << (e - 1));
        if (v >= kMin && v <= kMax) x = static_cast<std::int32_t>(v);
      }
      const std::int32_t got = qsafe::rounding_divide_by_pot(x, e);
      const std::int32_t want = gemmlowp::RoundingDivideByPOT(x, e);
      if (got != want) {
        CAPTURE(x, e);
        REQUIRE(got == want);
      }
    }
  }
}

TEST_CASE("fixed_point: multiply_by_quantized_multiplier matches TFLite via gemmlowp on 10^6 triples",
          "[core][fixed_point]") {
  std::mt19937_64 rng(3);
  long checked = 0;
  for (int i = 0; i < 1200000; ++i) {
    const std::int32_t x = random_accumulator(rng);
    QuantizedMultiplier m;
    m.multiplier = random_multiplier(rng);
    m.shift = static_cast<int>(rng() % 62) - 31;  // the whole valid range [-31, 30]
    if (i % 8 == 0) m.shift = -static_cast<int>(rng() % 12);  // the common case, r < 1
    const std::int32_t got = qsafe::multiply_by_quantized_multiplier(x, m);
    const std::int32_t want = tflite_reference(x, m.multiplier, m.shift);
    if (got != want) {
      CAPTURE(x, m.multiplier, m.shift);
      REQUIRE(got == want);
    }
    ++checked;
  }
  CHECK(checked >= 1000000);

  // Saturating corner through the whole pipeline: INT32_MIN * (multiplier 2^31 is not allowed, but
  // the SRDHM operand after a left shift can be INT32_MIN): x = -2^30, shift 1 -> -2^31.
  QuantizedMultiplier big{kMax, 1};
  CHECK(qsafe::multiply_by_quantized_multiplier(-(1 << 30), big) == tflite_reference(-(1 << 30), kMax, 1));
  CHECK(qsafe::multiply_by_quantized_multiplier(kMin, QuantizedMultiplier{kMax, 0}) == -kMax);
  CHECK(qsafe::multiply_by_quantized_multiplier(kMin, QuantizedMultiplier{kMax, 0}) ==
        tflite_reference(kMin, kMax, 0));
}

TEST_CASE("fixed_point: hand-picked ties (double rounding)", "[core][fixed_point]") {
  // r = 0.5 (multiplier 2^30, shift 0): the tie is decided by SRDHM, towards +Inf.
  const QuantizedMultiplier half{1 << 30, 0};
  CHECK(qsafe::multiply_by_quantized_multiplier(1, half) == 1);     // 0.5 -> 1
  CHECK(qsafe::multiply_by_quantized_multiplier(-1, half) == 0);    // -0.5 -> 0
  CHECK(qsafe::multiply_by_quantized_multiplier(3, half) == 2);     // 1.5 -> 2
  CHECK(qsafe::multiply_by_quantized_multiplier(-3, half) == -1);   // -1.5 -> -1
  // r = 0.125 = 0.5 * 2^-2: SRDHM is exact for even x, the tie is decided by the shift, away from 0.
  const QuantizedMultiplier eighth{1 << 30, -2};
  CHECK(qsafe::multiply_by_quantized_multiplier(4, eighth) == 1);    // 0.5 -> 1
  CHECK(qsafe::multiply_by_quantized_multiplier(-4, eighth) == -1);  // -0.5 -> -1
  CHECK(qsafe::multiply_by_quantized_multiplier(12, eighth) == 2);   // 1.5 -> 2
  CHECK(qsafe::multiply_by_quantized_multiplier(-12, eighth) == -2);
  // Double rounding differs from single rounding: x = 1, r = 0.75 * 2^-1. SRDHM gives 0.75 -> 1, then
  // 1 / 2 = 0.5 -> 1, whereas the exact 0.375 rounds to 0 in one step.
  const QuantizedMultiplier three_eighths{3 << 29, -1};
  CHECK(qsafe::multiply_by_quantized_multiplier(1, three_eighths) == 1);
  CHECK(qsafe::multiply_by_quantized_multiplier_single_round(1, three_eighths) == 0);
  CHECK(qsafe::multiply_by_quantized_multiplier(-1, three_eighths) == -1);
  CHECK(qsafe::multiply_by_quantized_multiplier_single_round(-1, three_eighths) == 0);
  for (int x = -4000; x <= 4000; ++x) {
    for (int s = -12; s <= 2; ++s) {
      const QuantizedMultiplier m{(1 << 30) + ((x & 7) << 27), s};
      REQUIRE(qsafe::multiply_by_quantized_multiplier(x, m) == tflite_reference(x, m.multiplier, m.shift));
    }
  }
}

TEST_CASE("fixed_point: single rounding matches a 128-bit floor/remainder formula", "[core][fixed_point]") {
  // Ties go up (towards +Inf), as TFLite's int64 shift does.
  const QuantizedMultiplier half{1 << 30, 0};
  CHECK(qsafe::multiply_by_quantized_multiplier_single_round(1, half) == 1);
  CHECK(qsafe::multiply_by_quantized_multiplier_single_round(-1, half) == 0);
  CHECK(qsafe::multiply_by_quantized_multiplier_single_round(-3, half) == -1);
  // Saturation beyond int32 (TFLite DCHECKs; qsafe saturates).
  CHECK(qsafe::multiply_by_quantized_multiplier_single_round(kMax, QuantizedMultiplier{kMax, 30}) == kMax);
  CHECK(qsafe::multiply_by_quantized_multiplier_single_round(kMin, QuantizedMultiplier{kMax, 30}) == kMin);
  CHECK(qsafe::multiply_by_quantized_multiplier_single_round(kMin, QuantizedMultiplier{kMax, 0}) == -kMax);

  std::mt19937_64 rng(4);
  for (int i = 0; i < 400000; ++i) {
    const std::int32_t x = random_accumulator(rng);
    QuantizedMultiplier m;
    m.multiplier = random_multiplier(rng);
    m.shift = static_cast<int>(rng() % 62) - 31;
    std::int64_t want = single_round_reference(x, m.multiplier, m.shift);
    want = want > kMax ? kMax : want < kMin ? kMin : want;
    const std::int32_t got = qsafe::multiply_by_quantized_multiplier_single_round(x, m);
    if (got != want) {
      CAPTURE(x, m.multiplier, m.shift);
      REQUIRE(got == want);
    }
    // Where no left shift wraps, double and single rounding differ by at most one.
    if (m.shift <= 0) {
      const std::int64_t d = static_cast<std::int64_t>(qsafe::multiply_by_quantized_multiplier(x, m)) - got;
      if (d < -1 || d > 1) {
        CAPTURE(x, m.multiplier, m.shift, d);
        REQUIRE(false);
      }
    }
  }
}

TEST_CASE("fixed_point: quantize_multiplier matches TFLite's frexp algorithm", "[core][fixed_point]") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> mantissa(0.5, 1.0);
#ifdef QSAFE_UNDER_QEMU
  const int count = 20000;  // libm-heavy reference: slow under emulation
#else
  const int count = 200000;
#endif
  for (int i = 0; i < count; ++i) {
    const int e = static_cast<int>(rng() % 64) - 33;  // covers [2^-34, 2^30)
    double r = std::ldexp(mantissa(rng), e);
    if (i % 10 == 0) r = std::ldexp(1.0 - std::ldexp(static_cast<double>(rng() % 4), -33), e);  // carries
    CAPTURE(r);
    const auto got = qsafe::quantize_multiplier(r);
    const QuantizedMultiplier want = tflite_quantize_multiplier(r);
    if (want.shift > QuantizedMultiplier::kMaxShift) {
      REQUIRE(got.status() == qsafe::Status::out_of_range);
      continue;
    }
    REQUIRE(got.ok());
    REQUIRE(got->multiplier == want.multiplier);
    REQUIRE(got->shift == want.shift);
    if (got->multiplier == 0) {
      REQUIRE(r < std::ldexp(1.0, -32));
      continue;
    }
    REQUIRE(got->multiplier >= (1 << 30));
    REQUIRE(got->shift >= QuantizedMultiplier::kMinShift);
    const double back = std::ldexp(static_cast<double>(got->multiplier), got->shift - 31);
    REQUIRE(std::fabs(back - r) / r <= std::ldexp(1.0, -31));
  }
}

TEST_CASE("fixed_point: quantize_multiplier edge cases and statuses", "[core][fixed_point]") {
  auto m = qsafe::quantize_multiplier(0.99999999999);  // rounds to 2^31: carry into the shift
  REQUIRE(m.ok());
  CHECK(m->multiplier == (1 << 30));
  CHECK(m->shift == 1);
  m = qsafe::quantize_multiplier(1.0);
  REQUIRE(m.ok());
  CHECK(m->multiplier == (1 << 30));
  CHECK(m->shift == 1);
  m = qsafe::quantize_multiplier(0.5);
  REQUIRE(m.ok());
  CHECK(m->multiplier == (1 << 30));
  CHECK(m->shift == 0);
  m = qsafe::quantize_multiplier(0.75);
  REQUIRE(m.ok());
  CHECK(m->multiplier == (3 << 29));
  CHECK(m->shift == 0);
  m = qsafe::quantize_multiplier(0.0);
  REQUIRE(m.ok());
  CHECK(m->multiplier == 0);
  CHECK(m->shift == 0);
  m = qsafe::quantize_multiplier(-0.0);
  REQUIRE(m.ok());
  CHECK(m->multiplier == 0);
  m = qsafe::quantize_multiplier(1e-12);  // < 2^-32: zero, as TFLite
  REQUIRE(m.ok());
  CHECK(m->multiplier == 0);
  CHECK(m->shift == 0);
  m = qsafe::quantize_multiplier(std::numeric_limits<double>::denorm_min());
  REQUIRE(m.ok());
  CHECK(m->multiplier == 0);
  m = qsafe::quantize_multiplier(std::ldexp(1.0, -32));  // the smallest representable: shift -31
  REQUIRE(m.ok());
  CHECK(m->multiplier == (1 << 30));
  CHECK(m->shift == -31);
  m = qsafe::quantize_multiplier(std::ldexp(1.0, 30) - 1.0);  // the largest: shift 30
  REQUIRE(m.ok());
  CHECK(m->shift == 30);
  CHECK(m->multiplier == kMax - 1);  // (1 - 2^-30) * 2^31
  CHECK(qsafe::quantize_multiplier(std::ldexp(1.0, 30)).status() == qsafe::Status::out_of_range);
  CHECK(qsafe::quantize_multiplier(1e300).status() == qsafe::Status::out_of_range);
  CHECK(qsafe::quantize_multiplier(-0.5).status() == qsafe::Status::invalid_argument);
  CHECK(qsafe::quantize_multiplier(-1e-300).status() == qsafe::Status::invalid_argument);
  CHECK(qsafe::quantize_multiplier(std::numeric_limits<double>::quiet_NaN()).status() ==
        qsafe::Status::non_finite_input);
  CHECK(qsafe::quantize_multiplier(std::numeric_limits<double>::infinity()).status() ==
        qsafe::Status::non_finite_input);
  CHECK(qsafe::quantize_multiplier(-std::numeric_limits<double>::infinity()).status() ==
        qsafe::Status::non_finite_input);
}

TEST_CASE("fixed_point: requantizing with a quantized multiplier approximates x * r", "[core][fixed_point]") {
  std::mt19937_64 rng(6);
  std::uniform_real_distribution<double> log_r(-20.0, 0.0);
  for (int i = 0; i < 20000; ++i) {
    const double r = std::exp2(log_r(rng));
    const auto m = qsafe::quantize_multiplier(r);
    REQUIRE(m.ok());
    const std::int32_t x = static_cast<std::int32_t>(rng() % 2000001) - 1000000;
    const double exact = static_cast<double>(x) * r;
    CAPTURE(r, x, exact);
    // The multiplier's relative error (<= 2^-31) times |x| (<= 10^6) is < 0.001; rounding adds <= 1.
    CHECK(std::fabs(qsafe::multiply_by_quantized_multiplier(x, *m) - exact) <= 1.001);
    CHECK(std::fabs(qsafe::multiply_by_quantized_multiplier_single_round(x, *m) - exact) <= 0.501);
  }
}
