// NEON output stages (arch/neon/output.hpp) against the scalar reference, lane for lane: >= 10^6
// (accumulator, multiplier, shift) lanes for the fixed-point requantizations including the corners
// (INT32_MIN, INT32_MAX, shifts -31 and 30, multiplier 0, 2^30 and INT32_MAX, exact ties), and the
// float stages and narrowing stores. Built on AArch64 only (the cross build, scripts/ci/40-neon.sh).
#include "qsafe/config.hpp"

#if QSAFE_AARCH64

#include <catch2/catch.hpp>

#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "qsafe/kernel/arch/neon/output.hpp"

using qsafe::QuantizedMultiplier;
using qsafe::Span;
using qsafe::detail::ElementPos;
using qsafe::detail::Lanes4;

namespace {

constexpr std::int32_t kMin = std::numeric_limits<std::int32_t>::min();
constexpr std::int32_t kMax = std::numeric_limits<std::int32_t>::max();

std::int32_t random_acc(std::mt19937_64& rng) {
  const std::uint64_t u = rng();
  switch (u % 6) {
    case 0: return static_cast<std::int32_t>(static_cast<std::uint32_t>(u >> 32));
    case 1: return static_cast<std::int32_t>((u >> 32) % 600) - 300;
    case 2: {
      const std::int32_t edges[] = {kMin, kMin + 1, kMax, kMax - 1, 0, 1, -1, 1 << 30, -(1 << 30)};
      return edges[(u >> 32) % 9];
    }
    case 3: {  // exact ties for multiplier 2^30 and a right shift e: odd multiples of 2^(e-1)
      const int e = static_cast<int>((u >> 8) % 20);
      const std::int64_t v = (2 * static_cast<std::int64_t>((u >> 32) % 1000) - 999) * (std::int64_t{1} << e);
      return static_cast<std::int32_t>(v);
    }
    default: return static_cast<std::int32_t>((u >> 32) % (1u << 21)) - (1 << 20);
  }
}

QuantizedMultiplier random_multiplier(std::mt19937_64& rng) {
  const std::uint64_t u = rng();
  QuantizedMultiplier m;
  switch (u % 8) {
    case 0: m.multiplier = 0; break;
    case 1: m.multiplier = 1 << 30; break;
    case 2: m.multiplier = kMax; break;
    default: m.multiplier = static_cast<std::int32_t>((1u << 30) + (u >> 34) % (1u << 30)); break;
  }
  m.shift = static_cast<int>((u >> 8) % 62) - 31;  // [-31, 30]
  if ((u >> 16) % 2) m.shift = -static_cast<int>((u >> 20) % 20);
  return m;
}

template <class Stage>
void check_int_stage(const Stage& stage, const std::int32_t* in, std::int64_t col) {
  const int32x4_t v = apply(qsafe::arch::neon{}, stage, vld1q_s32(in), Lanes4{0, col});
  std::int32_t got[4];
  vst1q_s32(got, v);
  for (int i = 0; i < 4; ++i) {
    const std::int32_t want = apply(qsafe::arch::scalar{}, stage, in[i], ElementPos{0, col + i});
    if (got[i] != want) {
      INFO("lane " << i << " acc " << in[i]);
      REQUIRE(got[i] == want);
    }
  }
}

}  // namespace

TEST_CASE("neon output: fixed-point requantization equals the scalar reference on 10^6 lanes",
          "[kernel][neon][output_stage]") {
  std::mt19937_64 rng(41);
#ifdef QSAFE_UNDER_QEMU
  const int rounds = 70000;  // 4 lanes x 2 stages x 2 layouts: > 10^6 lanes
#else
  const int rounds = 140000;
#endif
  std::int64_t lanes = 0;
  std::vector<QuantizedMultiplier> mult(8);
  for (int r = 0; r < rounds; ++r) {
    std::int32_t acc[4];
    for (auto& a : acc) a = random_acc(rng);
    for (auto& m : mult) m = random_multiplier(rng);
    const std::int32_t zp = static_cast<std::int32_t>(rng() % 256) - 128;
    for (const std::size_t size : {std::size_t{1}, mult.size()}) {
      const Span<const QuantizedMultiplier> ms(mult.data(), size);
      const std::int64_t col = size == 1 ? 0 : static_cast<std::int64_t>(rng() % 5);
      check_int_stage(qsafe::RequantizeQ31{ms, zp}, acc, col);
      check_int_stage(qsafe::RequantizeQ31SingleRound{ms, zp}, acc, col);
      lanes += 8;
    }
  }
  CHECK(lanes >= 1000000);
  // The corners, explicitly: INT32_MIN through SQRDMULH and the rounding shift; widest shifts.
  const std::int32_t corner[4] = {kMin, kMax, -1, 1};
  for (const QuantizedMultiplier m : {QuantizedMultiplier{kMax, 0}, QuantizedMultiplier{kMax, -31},
                                      QuantizedMultiplier{1 << 30, 30}, QuantizedMultiplier{1 << 30, -1},
                                      QuantizedMultiplier{0, 0}}) {
    check_int_stage(qsafe::RequantizeQ31{Span<const QuantizedMultiplier>(&m, 1), 0}, corner, 0);
    check_int_stage(qsafe::RequantizeQ31SingleRound{Span<const QuantizedMultiplier>(&m, 1), 0}, corner, 0);
  }
}

TEST_CASE("neon output: float requantization, bias, clamps, dequantize and stores equal the scalar reference",
          "[kernel][neon][output_stage]") {
  std::mt19937_64 rng(42);
  const float scales[] = {0.5f, 0.25f, 1.0f / 3.0f, 0.0123f, 3.7e-5f, 2.0f, 1e-9f, 7.5f};
  for (int r = 0; r < 20000; ++r) {
    std::int32_t acc[4];
    for (auto& a : acc) a = random_acc(rng);
    float f[8], sa[2], bias_f[8];
    std::int32_t bias[8];
    for (int i = 0; i < 8; ++i) {
      f[i] = scales[rng() % 8];
      bias[i] = random_acc(rng);
      bias_f[i] = static_cast<float>(static_cast<std::int32_t>(rng() % 2001) - 1000) * 0.37f;
    }
    sa[0] = scales[rng() % 8];
    sa[1] = scales[rng() % 8];
    const std::int32_t zp = static_cast<std::int32_t>(rng() % 256) - 128;
    const std::size_t pc = r % 3 == 0 ? 1 : 8;
    const std::int64_t col = pc == 1 ? 0 : static_cast<std::int64_t>(rng() % 5);
    check_int_stage(qsafe::RequantizeFloat{Span<const float>(f, pc), zp}, acc, col);
    check_int_stage(qsafe::AddBias{Span<const std::int32_t>(bias, pc)}, acc, col);
    check_int_stage(qsafe::Clamp{-100, 27}, acc, col);

    const qsafe::Dequantize dq{Span<const float>(sa, r % 2 ? 2 : 1), Span<const float>(f, pc),
                               r % 4 == 0 ? Span<const float>() : Span<const float>(bias_f, 8)};
    const std::int64_t row = r % 2;
    const float32x4_t y = apply(qsafe::arch::neon{}, dq, vld1q_s32(acc), Lanes4{row, col});
    const qsafe::ClampFloat cf{-1.5f, 6.0f};
    const float32x4_t yc = apply(qsafe::arch::neon{}, cf, y, Lanes4{row, col});
    float got[4], got_c[4];
    vst1q_f32(got, y);
    vst1q_f32(got_c, yc);
    for (int i = 0; i < 4; ++i) {
      const float want = apply(qsafe::arch::scalar{}, dq, acc[i], ElementPos{row, col + i});
      const float want_c = apply(qsafe::arch::scalar{}, cf, want, ElementPos{row, col + i});
      REQUIRE(std::memcmp(&got[i], &want, 4) == 0);  // bit for bit, -0.0 included
      REQUIRE(std::memcmp(&got_c[i], &want_c, 4) == 0);
    }

    // Narrowing stores saturate exactly like store_scalar.
    std::int32_t more[4];
    for (auto& a : more) a = random_acc(rng);
    std::int8_t s8[8];
    std::uint8_t u8[8];
    qsafe::detail::store8(s8, vld1q_s32(acc), vld1q_s32(more));
    qsafe::detail::store8(u8, vld1q_s32(acc), vld1q_s32(more));
    for (int i = 0; i < 8; ++i) {
      const std::int32_t v = i < 4 ? acc[i] : more[i - 4];
      std::int8_t ws;
      std::uint8_t wu;
      qsafe::detail::store_scalar(&ws, v);
      qsafe::detail::store_scalar(&wu, v);
      REQUIRE(s8[i] == ws);
      REQUIRE(u8[i] == wu);
    }
  }
  // ClampFloat keeps -0.0 and NaN as the scalar compare-and-select does.
  const float specials[4] = {-0.0f, std::numeric_limits<float>::quiet_NaN(), -7.0f, 9.0f};
  const qsafe::ClampFloat cf{-0.0f, 6.0f};
  float got[4];
  vst1q_f32(got, apply(qsafe::arch::neon{}, cf, vld1q_f32(specials), Lanes4{0, 0}));
  for (int i = 0; i < 4; ++i) {
    const float want = apply(qsafe::arch::scalar{}, cf, specials[i], ElementPos{0, i});
    CHECK(std::memcmp(&got[i], &want, 4) == 0);
  }
}

#endif  // QSAFE_AARCH64
