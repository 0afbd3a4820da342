// Output stages: every SIMD stage against the scalar reference on >= 10^6 random (accumulator,
// multiplier, shift) lanes including the corners; then whole pipelines through the GEMM on every
// path, bit for bit against the scalar path and against stages applied to the int64 reference.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernel/gemm_support.hpp"
#include "qsafe/kernel/gemm.hpp"

using qsafe::MatrixView;
using qsafe::QuantizedMultiplier;
using qsafe::Span;
using qsafe::Status;
using qsafe::detail::ElementPos;

namespace {

constexpr std::int32_t kMin = std::numeric_limits<std::int32_t>::min();
constexpr std::int32_t kMax = std::numeric_limits<std::int32_t>::max();

std::int32_t random_acc(std::mt19937& rng) {
  switch (rng() % 8) {
    case 0: return static_cast<std::int32_t>(rng());  // full range
    case 1: return std::uniform_int_distribution<std::int32_t>(-300, 300)(rng);
    case 2: return rng() % 2 ? kMin + static_cast<std::int32_t>(rng() % 4) : kMax - static_cast<std::int32_t>(rng() % 4);
    case 3: return std::uniform_int_distribution<std::int32_t>(-(1 << 20), 1 << 20)(rng);
    default: return std::uniform_int_distribution<std::int32_t>(-(1 << 16), 1 << 16)(rng);
  }
}

QuantizedMultiplier random_multiplier(std::mt19937& rng) {
  QuantizedMultiplier m;
  switch (rng() % 10) {
    case 0: m.multiplier = 0; break;
    case 1: m.multiplier = 1 << 30; break;
    case 2: m.multiplier = kMax; break;
    default: m.multiplier = static_cast<std::int32_t>((1u << 30) + rng() % (1u << 30)); break;
  }
  switch (rng() % 6) {
    case 0: m.shift = QuantizedMultiplier::kMinShift + static_cast<int>(rng() % 3); break;
    case 1: m.shift = QuantizedMultiplier::kMaxShift - static_cast<int>(rng() % 3); break;
    case 2: m.shift = static_cast<int>(rng() % 8); break;  // left shifts (wrap for large acc)
    default: m.shift = -static_cast<int>(rng() % 20) - 1; break;  // the usual right shifts
  }
  return m;
}

float random_scale(std::mt19937& rng) {
  switch (rng() % 6) {
    case 0: return 0.5f;   // float(acc) * 0.5: exact ties for odd acc
    case 1: return 0.25f;
    case 2: return std::uniform_real_distribution<float>(1.f, 3.f)(rng);
    case 3: return 1e30f;  // saturates at 2^30
    default: return std::uniform_real_distribution<float>(1e-6f, 1e-2f)(rng);
  }
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// One stage on one vector of lanes for each SIMD family; results written to `out`.
#if QSAFE_COMPILE_AVX512_VNNI
template <class Stage, class Out>
QSAFE_TARGET_AVX512_VNNI void stage_avx512(const Stage& s, const std::int32_t* in, Out* out, std::int64_t row,
                                           std::int64_t col, int lanes) {
  const auto mask = static_cast<__mmask16>(lanes >= 16 ? 0xffff : (1u << lanes) - 1u);
  const qsafe::detail::Lanes16 l{row, col, mask};
  const auto r = qsafe::detail::apply(qsafe::arch::avx512_vnni{}, s, _mm512_maskz_loadu_epi32(mask, in), l);
  if constexpr (std::is_same<Out, float>::value)
    _mm512_mask_storeu_ps(out, mask, r);
  else
    _mm512_mask_storeu_epi32(out, mask, r);
}
#endif
#if QSAFE_COMPILE_AVX2
template <class Stage, class Out>
QSAFE_TARGET_AVX2 void stage_avx2(const Stage& s, const std::int32_t* in, Out* out, std::int64_t row, std::int64_t col,
                                  int lanes) {
  const qsafe::detail::Lanes8 l{row, col, lanes, qsafe::detail::lane_mask8(lanes)};
  const auto r = qsafe::detail::apply(qsafe::arch::avx2{}, s, _mm256_maskload_epi32(in, l.mask), l);
  if constexpr (std::is_same<Out, float>::value)
    _mm256_maskstore_ps(out, l.mask, r);
  else
    _mm256_maskstore_epi32(reinterpret_cast<int*>(out), l.mask, r);
}
#endif

// Runs `stage` on `count` random accumulators per SIMD family, comparing to the scalar reference.
// Lanes are per channel (column col + lane) unless the stage's spans have size 1.
template <class Stage, class Out = std::int32_t>
std::int64_t compare_stage(const Stage& stage, const std::vector<std::int32_t>& acc, std::int64_t row, int lanes) {
  std::int64_t checked = 0;
  auto check = [&](const char* family, int width, auto&& run) {
    for (std::size_t base = 0; base + static_cast<std::size_t>(width) <= acc.size(); base += static_cast<std::size_t>(width)) {
      Out got[16] = {};
      const int n = lanes < width ? lanes : width;
      run(acc.data() + base, got, n);
      for (int i = 0; i < n; ++i) {
        const Out want = qsafe::detail::apply(qsafe::arch::scalar{}, stage, acc[base + static_cast<std::size_t>(i)],
                                              ElementPos{row, i});
        if (!same_bits(got[i], want)) {
          FAIL_CHECK(family << " lane " << i << " acc " << acc[base + static_cast<std::size_t>(i)] << ": " << got[i]
                            << " != " << want);
          return;
        }
        ++checked;
      }
    }
  };
  (void)check;
#if QSAFE_COMPILE_AVX512_VNNI
  if (qsafe::arch::avx512_vnni::available())
    check("avx512", 16, [&](const std::int32_t* in, Out* out, int n) { stage_avx512(stage, in, out, row, 0, n); });
#endif
#if QSAFE_COMPILE_AVX2
  if (qsafe::arch::avx2::available())
    check("avx2", 8, [&](const std::int32_t* in, Out* out, int n) { stage_avx2(stage, in, out, row, 0, n); });
#endif
  return checked;
}

}  // namespace

TEST_CASE("output stages: SIMD integer requantization equals the scalar reference on 10^6 lanes",
          "[kernel][output_stage]") {
  std::mt19937 rng(11);
  std::int64_t checked = 0;
  for (int round = 0; round < 4096; ++round) {
    std::vector<QuantizedMultiplier> mult(16);
    for (auto& m : mult) m = random_multiplier(rng);
    std::vector<std::int32_t> acc(256);
    for (auto& a : acc) a = random_acc(rng);
    const int lanes = round % 5 == 0 ? 1 + static_cast<int>(rng() % 16) : 16;  // tails
    const std::int32_t zp = static_cast<std::int32_t>(rng() % 256) - 128;
    const bool per_tensor = round % 7 == 0;
    const Span<const QuantizedMultiplier> ms(mult.data(), per_tensor ? 1 : 16);
    checked += compare_stage(qsafe::RequantizeQ31{ms, zp}, acc, 0, lanes);
    checked += compare_stage(qsafe::RequantizeQ31SingleRound{ms, zp}, acc, 0, lanes);
  }
#if defined(__x86_64__)
  if (qsafe::arch::avx2::available()) CHECK(checked >= 1000000);
#endif
  (void)checked;  // no x86 family on aarch64 (NEON stages: tests/kernel/neon_output_test.cpp)
}

TEST_CASE("output stages: SIMD float requantization, bias, clamp and dequantize equal the scalar reference",
          "[kernel][output_stage]") {
  std::mt19937 rng(12);
  for (int round = 0; round < 2000; ++round) {
    std::vector<float> fm(16), sw(16), bias(16), sa(3);
    for (auto& x : fm) x = random_scale(rng);
    for (auto& x : sw) x = std::uniform_real_distribution<float>(1e-4f, 1e-1f)(rng);
    for (auto& x : bias) x = std::uniform_real_distribution<float>(-10.f, 10.f)(rng);
    for (auto& x : sa) x = std::uniform_real_distribution<float>(1e-3f, 1.f)(rng);
    std::vector<std::int32_t> ib(16), acc(128);
    for (auto& x : ib) x = random_acc(rng);
    for (auto& a : acc) a = random_acc(rng);
    if (round % 3 == 0) acc[5] = 0;
    const int lanes = round % 4 == 0 ? 1 + static_cast<int>(rng() % 16) : 16;
    const std::int32_t zp = static_cast<std::int32_t>(rng() % 256) - 128;
    const std::size_t pc = round % 5 == 0 ? 1 : 16;
    compare_stage(qsafe::RequantizeFloat{Span<const float>(fm.data(), pc), zp}, acc, 0, lanes);
    compare_stage(qsafe::AddBias{Span<const std::int32_t>(ib.data(), pc)}, acc, 0, lanes);
    compare_stage(qsafe::Clamp{-100, 27}, acc, 0, lanes);
    const std::int64_t row = round % 3;
    compare_stage<qsafe::Dequantize, float>(
        qsafe::Dequantize{Span<const float>(sa.data(), round % 2 ? 3 : 1), Span<const float>(sw.data(), pc),
                          round % 3 ? Span<const float>(bias.data(), 16) : Span<const float>()},
        acc, row, lanes);
  }
}

TEST_CASE("output stages: check_stage rejects bad parameters", "[kernel][output_stage]") {
  std::vector<QuantizedMultiplier> m(3);
  CHECK(qsafe::check_stage(qsafe::RequantizeQ31{Span<const QuantizedMultiplier>(m), 0}, 1, 3) == Status::ok);
  CHECK(qsafe::check_stage(qsafe::RequantizeQ31{Span<const QuantizedMultiplier>(m), 0}, 1, 4) == Status::shape_mismatch);
  m[1].shift = 31;
  CHECK(qsafe::check_stage(qsafe::RequantizeQ31{Span<const QuantizedMultiplier>(m), 0}, 1, 3) == Status::invalid_argument);
  m[1].shift = 0;
  m[2].multiplier = -1;
  CHECK(qsafe::check_stage(qsafe::RequantizeQ31SingleRound{Span<const QuantizedMultiplier>(m), 0}, 1, 3) ==
        Status::invalid_argument);
  std::vector<float> f{1.f, std::numeric_limits<float>::quiet_NaN()};
  CHECK(qsafe::check_stage(qsafe::RequantizeFloat{Span<const float>(f), 0}, 1, 2) == Status::non_finite_input);
  CHECK(qsafe::check_stage(qsafe::Dequantize{Span<const float>(f.data(), 1), Span<const float>(f.data(), 1), {}}, 5, 2) ==
        Status::ok);
  CHECK(qsafe::check_stage(qsafe::Dequantize{Span<const float>(f.data(), 2), Span<const float>(f.data(), 1), {}}, 5, 2) ==
        Status::shape_mismatch);
  CHECK(qsafe::check_stage(qsafe::Dequantize{Span<const float>(f.data(), 1), Span<const float>(f.data(), 1),
                                             Span<const float>(f.data(), 1)},
                           5, 2) == Status::shape_mismatch);
  CHECK(qsafe::check_stage(qsafe::Clamp{3, 2}, 1, 1) == Status::invalid_argument);
  CHECK(qsafe::check_stage(qsafe::AddBias{Span<const std::int32_t>(nullptr, 1)}, 1, 1) == Status::null_pointer);
}

namespace {

// Applies `pipe` through the GEMM on every path; compares with the scalar path bitwise and with
// the pipeline applied by hand to the int64 reference accumulators.
template <class Out, class AType, class Pipeline>
void check_pipeline(const Pipeline& pipe, std::int64_t m, std::int64_t n, std::int64_t k, std::uint32_t seed,
                    const std::vector<std::int32_t>& zp) {
  std::mt19937 rng(seed);
  constexpr bool kSigned = std::is_same<AType, std::int8_t>::value;
  auto a = qsafe_test::random_vector<AType>(rng, static_cast<std::size_t>(m * k), kSigned ? -128 : 0, kSigned ? 127 : 255);
  auto w = qsafe_test::random_vector<std::int8_t>(rng, static_cast<std::size_t>(n * k), -128, 127);
  const auto ref = qsafe_test::reference_acc(a, zp, w, m, n, k);
  std::vector<Out> want(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      qsafe::detail::store_scalar(&want[static_cast<std::size_t>(i * n + j)],
                                  qsafe::detail::apply_stages_scalar<0>(
                                      pipe, static_cast<std::int32_t>(ref[static_cast<std::size_t>(i * n + j)]),
                                      ElementPos{i, j}));
  qsafe_test::for_each_arch(qsafe::arch::compiled{}, [&](auto isa) {
    using Isa = decltype(isa);
    if (!Isa::available()) return;
    const qsafe_test::Packed p = qsafe_test::pack<Isa>(w, n, k);
    std::vector<Out> c(static_cast<std::size_t>(m * n));
    REQUIRE(qsafe_test::gemm<Isa>(MatrixView<const AType>(a.data(), m, k), Span<const std::int32_t>(zp), p.w, pipe,
                                  MatrixView<Out>(c.data(), m, n)) == Status::ok);
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (!same_bits(c[i], want[i])) {
        FAIL_CHECK(Isa::name << " M=" << m << " N=" << n << " K=" << k << " index " << i << ": " << +c[i]
                             << " != " << +want[i]);
        return;
      }
    }
  });
}

}  // namespace

TEST_CASE("output stages: pipelines through the GEMM on every path", "[kernel][output_stage]") {
  std::mt19937 rng(99);
  const std::int64_t shapes[][3] = {{1, 1, 1}, {3, 17, 5}, {7, 65, 31}, {13, 64, 64}, {6, 129, 257}, {2, 33, 1000}, {31, 16, 8}};
  std::uint32_t seed = 1;
  for (const auto& s : shapes) {
    const std::int64_t m = s[0], n = s[1], k = s[2];
    std::vector<std::int32_t> bias(static_cast<std::size_t>(n));
    for (auto& b : bias) b = std::uniform_int_distribution<std::int32_t>(-20000, 20000)(rng);
    std::vector<QuantizedMultiplier> qm(static_cast<std::size_t>(n));
    for (auto& q : qm) {
      const double real = std::uniform_real_distribution<double>(1e-5, 1e-3)(rng);
      q = qsafe::quantize_multiplier(real).value();
    }
    std::vector<float> fm(static_cast<std::size_t>(n)), sw(static_cast<std::size_t>(n)), fb(static_cast<std::size_t>(n)),
        sa(static_cast<std::size_t>(m));
    for (auto& x : fm) x = std::uniform_real_distribution<float>(1e-5f, 1e-3f)(rng);
    for (auto& x : sw) x = std::uniform_real_distribution<float>(1e-3f, 1e-1f)(rng);
    for (auto& x : fb) x = std::uniform_real_distribution<float>(-1.f, 1.f)(rng);
    for (auto& x : sa) x = std::uniform_real_distribution<float>(1e-3f, 1e-1f)(rng);
    std::vector<std::int32_t> zp_t{3}, zp_u{255}, zp_s{-128}, zp_rows(static_cast<std::size_t>(m));
    for (auto& z : zp_rows) z = std::uniform_int_distribution<std::int32_t>(0, 255)(rng);
    const Span<const std::int32_t> b(bias);
    const Span<const QuantizedMultiplier> q(qm);
    const Span<const float> f(fm);
    check_pipeline<std::int8_t, std::uint8_t>(
        qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeQ31{q, -5}, qsafe::Clamp{-128, 100}), m, n, k, seed++, zp_t);
    check_pipeline<std::uint8_t, std::uint8_t>(qsafe::pipeline(qsafe::RequantizeQ31{q.subspan(0, 1), 128}), m, n, k,
                                               seed++, zp_rows);
    check_pipeline<std::int8_t, std::int8_t>(
        qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeQ31SingleRound{q, 2}), m, n, k, seed++, zp_s);
    check_pipeline<std::uint8_t, std::uint8_t>(
        qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeFloat{f, 120}, qsafe::relu(120, 255)), m, n, k, seed++, zp_u);
    check_pipeline<float, std::uint8_t>(
        qsafe::pipeline(qsafe::Dequantize{Span<const float>(sa), Span<const float>(sw), Span<const float>(fb)}), m, n, k,
        seed++, zp_rows);
    check_pipeline<float, std::int8_t>(
        qsafe::pipeline(qsafe::Dequantize{Span<const float>(sa.data(), 1), Span<const float>(sw.data(), 1), {}},
                        qsafe::ClampFloat{0.f, 6.f}),
        m, n, k, seed++, zp_t);
    check_pipeline<std::int32_t, std::int8_t>(qsafe::pipeline(qsafe::AddBias{b}, qsafe::Clamp{-1000, 1000}), m, n, k,
                                              seed++, zp_s);
    // Pipelines that end in the requantization (the uint8 store saturates by itself) and AddBias
    // first with per-row zero points: the AVX-512 epilogue folds such a bias into the zero-point
    // correction and drops the clamp before a uint8 store when it can.
    check_pipeline<std::uint8_t, std::uint8_t>(qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeFloat{f, 250}), m, n,
                                               k, seed++, zp_rows);
    check_pipeline<std::int8_t, std::uint8_t>(qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeQ31{q, 7}), m, n, k,
                                              seed++, zp_rows);
    check_pipeline<std::uint8_t, std::int8_t>(
        qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeFloat{f.subspan(0, 1), 0}, qsafe::Clamp{0, 200}), m, n, k,
        seed++, zp_t);
  }
}

// The AVX-512 8-bit row store packs 64 columns at once, clamps in 8 bits after a last Clamp, and
// adds a RequantizeFloat zero point in saturating int16 when |zp| <= 32512 (int32 otherwise):
// zero points on both sides of that bound, clamp bounds outside the 8-bit range, multipliers
// giving exact ties (0.5, 0.25) and overflowing to +-inf (3e38), column tails around 64.
TEST_CASE("output stages: 8-bit stores after float requantization at extreme zero points and scales",
          "[kernel][output_stage]") {
  std::mt19937 rng(123);
  const std::int64_t shapes[][3] = {{1, 1, 3}, {7, 63, 9}, {6, 64, 17}, {13, 65, 4}, {5, 129, 31}, {2, 200, 1}};
  std::uint32_t seed = 500;
  for (const auto& s : shapes) {
    const std::int64_t m = s[0], n = s[1], k = s[2];
    std::vector<std::int32_t> bias(static_cast<std::size_t>(n));
    for (auto& b : bias) b = std::uniform_int_distribution<std::int32_t>(-3000, 3000)(rng);
    const Span<const std::int32_t> b(bias);
    std::vector<float> mixed(static_cast<std::size_t>(n));
    const float choices[] = {0.5f, 0.25f, 1.f, 3e38f, 1e-3f, 0.f, 7.5e-4f};
    for (auto& x : mixed) x = choices[std::uniform_int_distribution<int>(0, 6)(rng)];
    const Span<const float> f(mixed);
    std::vector<std::int32_t> zp_t{77}, zp_s{-128}, zp_rows(static_cast<std::size_t>(m));
    for (auto& z : zp_rows) z = std::uniform_int_distribution<std::int32_t>(0, 255)(rng);
    for (const std::int32_t out_zp : {0, 5, -100, 32512, -32512, 32513, -32513, 40000, -65535, 65535}) {
      check_pipeline<std::uint8_t, std::uint8_t>(qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeFloat{f, out_zp}),
                                                 m, n, k, seed++, zp_t);
      check_pipeline<std::int8_t, std::uint8_t>(qsafe::pipeline(qsafe::RequantizeFloat{f, out_zp}), m, n, k, seed++,
                                                zp_rows);
      check_pipeline<std::uint8_t, std::int8_t>(
          qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeFloat{f.subspan(0, 1), out_zp},
                          qsafe::Clamp{-1000, 1000}),
          m, n, k, seed++, zp_t);
      check_pipeline<std::int8_t, std::uint8_t>(
          qsafe::pipeline(qsafe::AddBias{b}, qsafe::RequantizeFloat{f, out_zp}, qsafe::Clamp{-20, 90}), m, n, k, seed++,
          zp_rows);
      check_pipeline<std::uint8_t, std::uint8_t>(
          qsafe::pipeline(qsafe::RequantizeFloat{f, out_zp}, qsafe::Clamp{out_zp, out_zp + 200}), m, n, k, seed++,
          zp_t);
    }
    // 8-bit stores without a RequantizeFloat: the pack alone saturates, the Clamp after it.
    check_pipeline<std::uint8_t, std::uint8_t>(qsafe::pipeline(), m, n, k, seed++, zp_t);
    check_pipeline<std::int8_t, std::int8_t>(qsafe::pipeline(qsafe::AddBias{b}), m, n, k, seed++, zp_s);
    check_pipeline<std::int8_t, std::uint8_t>(qsafe::pipeline(qsafe::Clamp{-300, -100}), m, n, k, seed++, zp_t);
    check_pipeline<std::uint8_t, std::uint8_t>(qsafe::pipeline(qsafe::AddBias{b}, qsafe::Clamp{100, 100}), m, n, k,
                                               seed++, zp_rows);
  }
}
