// The vectorised quantize / dequantize / fake-quantize loops (quantizer/detail/vector_loops.hpp)
// against the scalar reference (element_loops.hpp), bit for bit. This one source is also built
// with -mavx2 -mfma and with AVX-512 flags as separate executables (tests/cmake/quantizer_isa.cmake),
// so every ISA xsimd can pick at compile time is compared with the same body.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "qsafe/quantize.hpp"

using namespace qsafe;

namespace {

// The ISA builds skip (WARN + return) when this CPU cannot run them; the baseline build never does.
bool cpu_can_run_this_build() {
#if defined(QSAFE_TEST_ISA_AVX512)
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#elif defined(QSAFE_TEST_ISA_AVX2)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return true;
#endif
}

#define QSAFE_SKIP_IF_CPU_LACKS_ISA()                                          \
  do {                                                                         \
    if (!cpu_can_run_this_build()) {                                           \
      WARN("CPU lacks the ISA this test binary was built for: skipped");       \
      return;                                                                  \
    }                                                                          \
  } while (0)

std::uint32_t float_bits(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// Index of the first element whose bits differ, or n (one assertion per comparison, not per element).
std::size_t first_bit_difference(const float* a, const float* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (float_bits(a[i]) != float_bits(b[i])) return i;
  return n;
}
float from_bits(std::uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// Inputs that stress every branch: ties at every level (and around the clamp ends), signed
// zeros, denormals, huge values, NaN with various payloads, +-Inf, plus random values.
std::vector<float> awkward_inputs(QParams p, QRange r, std::uint32_t seed) {
  std::vector<float> v;
  const float s = p.scale;
  const std::int32_t k_lo = r.qmin - p.zero_point - 3, k_hi = r.qmax - p.zero_point + 3;
  for (std::int32_t k = k_lo; k <= k_hi; ++k) {
    // Every level of 8-bit ranges; the ends and every 97th level of 16-bit ones.
    if (k_hi - k_lo > 600 && k > k_lo + 8 && k < k_hi - 8 && k % 97 != 0 && (k < -8 || k > 8)) continue;
    const float kf = static_cast<float>(k);
    v.push_back((kf + 0.5f) * s);  // exact ties when the scale is a power of two
    v.push_back((kf - 0.5f) * s);
    v.push_back(kf * s);
    v.push_back(std::nextafter((kf + 0.5f) * s, 1e30f));
    v.push_back(std::nextafter((kf + 0.5f) * s, -1e30f));
  }
  const float specials[] = {0.f,
                            -0.f,
                            from_bits(1u),                // smallest denormal
                            from_bits(0x80000001u),       // its negative
                            from_bits(0x007fffffu),       // largest denormal
                            -std::numeric_limits<float>::min(),
                            std::numeric_limits<float>::max(),
                            -std::numeric_limits<float>::max(),
                            3e38f,
                            -3e38f,
                            2147483648.f,
                            -2147483648.f,
                            2147483520.f * s,
                            -2147483520.f * s,
                            1e20f,
                            -1e20f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            -std::numeric_limits<float>::quiet_NaN(),
                            from_bits(0x7f800001u),  // signalling NaN payload
                            from_bits(0xffc00123u),
                            0.49999997f * s,
                            -0.49999997f * s,
                            0.5f * s,
                            -0.5f * s};
  for (float x : specials) v.push_back(x);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.5f, 1.5f);
  const float span = static_cast<float>(r.qmax - r.qmin) * s;
  for (int i = 0; i < 500; ++i) v.push_back(u(rng) * span);
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

struct Case {
  QParams p;
  QRange r;
};

template <class Int>
std::vector<Case> cases_for() {
  std::vector<Case> cs;
  const QRange full = qrange_of<Int>();
  const QRange narrow = qrange_of<Int>({true, false});
  const QRange reduced = qrange_of<Int>({false, true});
  const float scales[] = {0.25f, 1.f / 64.f, 0.0123f, 3.f, 1e-3f};
  for (float s : scales) {
    cs.push_back({{s, (full.qmin + full.qmax + 1) / 2}, full});
    cs.push_back({{s, full.qmin}, full});
    cs.push_back({{s, full.qmax}, full});
    cs.push_back({{s, std::is_signed<Int>::value ? 0 : 7}, narrow});
    cs.push_back({{s, reduced.qmin + 3}, reduced});
  }
  if (sizeof(Int) == 1) {  // logical 4-bit values held in one byte
    const QRange q4 = std::is_signed<Int>::value ? qrange_of<std::int8_t, 4>() : qrange_of<std::uint8_t, 4>();
    cs.push_back({{0.5f, std::is_signed<Int>::value ? 0 : 8}, q4});
    cs.push_back({{0.037f, std::is_signed<Int>::value ? -3 : 2}, q4});
  }
  return cs;
}

// Runs vector and scalar on x[off .. off + n) for every length n in 0..67 and offsets 0..3.
template <class Int, class Rounding>
void compare_quantize(const std::vector<float>& data, const Case& c) {
  const detail::QuantScale inv(c.p.scale);
  std::vector<float> x(data.size() + 80);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = data[i % data.size()];
  std::vector<Int> qv(x.size() + 8), qs(x.size() + 8);
  for (std::size_t off = 0; off < 4; ++off) {
    for (std::size_t n = 0; n <= 67; ++n) {
      CAPTURE(off, n);
      std::fill(qv.begin(), qv.end(), Int{42});
      std::fill(qs.begin(), qs.end(), Int{42});
      const std::size_t bv = detail::quantize_loop<Rounding>(x.data() + off, n, inv, c.p.zero_point, c.r, qv.data() + off);
      const std::size_t bs =
          detail::quantize_loop_scalar<Rounding>(x.data() + off, n, inv, c.p.zero_point, c.r, qs.data() + off);
      REQUIRE(bv == bs);
      REQUIRE(qv == qs);  // also proves nothing was written outside [off, off + n)
    }
  }
  // The whole vector at once (many blocks) plus a tail.
  const std::size_t n = data.size();
  const std::size_t bv = detail::quantize_loop<Rounding>(data.data(), n, inv, c.p.zero_point, c.r, qv.data() + 1);
  const std::size_t bs = detail::quantize_loop_scalar<Rounding>(data.data(), n, inv, c.p.zero_point, c.r, qs.data() + 1);
  REQUIRE(bv == bs);
  REQUIRE(bv > 0);  // the data holds NaN and Inf
  const std::size_t diff = static_cast<std::size_t>(
      std::mismatch(qv.begin() + 1, qv.begin() + 1 + static_cast<std::ptrdiff_t>(n), qs.begin() + 1).first -
      (qv.begin() + 1));
  CAPTURE(diff < n ? data[diff] : 0.f);
  REQUIRE(diff == n);
}

template <class Int, class Rounding>
void compare_quantize_counted(const std::vector<float>& data, const Case& c, Range clip) {
  const detail::QuantScale inv(c.p.scale);
  std::vector<Int> qv(data.size()), qs(data.size());
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{17}, std::size_t{64}, std::size_t{67},
                        data.size()}) {
    CAPTURE(n);
    const detail::QuantizeCounts cv =
        detail::quantize_loop_counted<Rounding>(data.data(), n, inv, c.p.zero_point, c.r, clip, qv.data());
    const detail::QuantizeCounts cs =
        detail::quantize_loop_counted_scalar<Rounding>(data.data(), n, inv, c.p.zero_point, c.r, clip, qs.data());
    REQUIRE(cv.non_finite == cs.non_finite);
    REQUIRE(cv.saturated == cs.saturated);
    REQUIRE(cv.clipped == cs.clipped);
    REQUIRE(std::equal(qv.begin(), qv.begin() + static_cast<std::ptrdiff_t>(n), qs.begin()));
    // Same output as the plain loop.
    std::vector<Int> qp(n);
    detail::quantize_loop_scalar<Rounding>(data.data(), n, inv, c.p.zero_point, c.r, qp.data());
    REQUIRE(std::equal(qp.begin(), qp.end(), qs.begin()));
  }
}

template <class Rounding>
void compare_fake_quantize(const std::vector<float>& data, const Case& c) {
  const detail::QuantScale inv(c.p.scale);
  std::vector<float> x(data.size() + 80);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = data[(i * 7) % data.size()];
  std::vector<float> yv(x.size() + 8), ys(x.size() + 8);
  std::vector<std::uint8_t> mv(x.size() + 8), ms(x.size() + 8);
  const auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && first_bit_difference(a.data(), b.data(), a.size()) == a.size();
  };
  for (std::size_t off = 0; off < 4; ++off) {
    for (std::size_t n = 0; n <= 67; ++n) {
      CAPTURE(off, n);
      std::fill(yv.begin(), yv.end(), 7.f);
      std::fill(ys.begin(), ys.end(), 7.f);
      std::fill(mv.begin(), mv.end(), std::uint8_t{9});
      std::fill(ms.begin(), ms.end(), std::uint8_t{9});
      const std::size_t bv = detail::fake_quantize_loop<Rounding>(x.data() + off, n, inv, c.p.zero_point,
                                                                  c.r, yv.data() + off, mv.data() + off);
      const std::size_t bs = detail::fake_quantize_loop_scalar<Rounding>(x.data() + off, n, inv,
                                                                         c.p.zero_point, c.r, ys.data() + off,
                                                                         ms.data() + off);
      REQUIRE(bv == bs);
      REQUIRE(same_bits(yv, ys));
      REQUIRE(mv == ms);
      // Without a mask.
      detail::fake_quantize_loop<Rounding>(x.data() + off, n, inv, c.p.zero_point, c.r, yv.data() + off,
                                           nullptr);
      REQUIRE(same_bits(yv, ys));
    }
  }
  // In place (y aliases x), whole data.
  std::vector<float> inplace = data;
  const std::size_t bv = detail::fake_quantize_loop<Rounding>(inplace.data(), inplace.size(), inv,
                                                              c.p.zero_point, c.r, inplace.data(), nullptr);
  std::vector<float> ref(data.size());
  const std::size_t bs = detail::fake_quantize_loop_scalar<Rounding>(data.data(), data.size(), inv,
                                                                     c.p.zero_point, c.r, ref.data(), nullptr);
  REQUIRE(bv == bs);
  REQUIRE(same_bits(inplace, ref));
}

template <class Int>
void compare_dequantize(const Case& c, std::uint32_t seed) {
  std::vector<Int> q;
  if (sizeof(Int) == 1) {
    for (int v = std::numeric_limits<Int>::min(); v <= std::numeric_limits<Int>::max(); ++v) q.push_back(static_cast<Int>(v));
  } else {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> u(std::numeric_limits<Int>::min(), std::numeric_limits<Int>::max());
    for (int i = 0; i < 2000; ++i) q.push_back(static_cast<Int>(u(rng)));
    q.push_back(std::numeric_limits<Int>::min());
    q.push_back(std::numeric_limits<Int>::max());
    q.push_back(Int{0});
  }
  std::vector<float> yv(q.size() + 8, 5.f), ys(q.size() + 8, 5.f);
  for (std::size_t off = 0; off < 4; ++off)
    for (std::size_t n = 0; n <= 67; ++n) {
      CAPTURE(off, n);
      detail::dequantize_loop(q.data() + off, n, c.p.scale, c.p.zero_point, yv.data() + off);
      detail::dequantize_loop_scalar(q.data() + off, n, c.p.scale, c.p.zero_point, ys.data() + off);
      REQUIRE(first_bit_difference(yv.data(), ys.data(), yv.size()) == yv.size());
    }
  detail::dequantize_loop(q.data(), q.size(), c.p.scale, c.p.zero_point, yv.data());
  detail::dequantize_loop_scalar(q.data(), q.size(), c.p.scale, c.p.zero_point, ys.data());
  REQUIRE(first_bit_difference(yv.data(), ys.data(), q.size()) == q.size());
}

template <class Int>
void run_all_for_type() {
  std::uint32_t seed = 1;
  for (const Case& c : cases_for<Int>()) {
    CAPTURE(c.p.scale, c.p.zero_point, c.r.qmin, c.r.qmax);
    const std::vector<float> data = awkward_inputs(c.p, c.r, seed++);
    compare_quantize<Int, RoundHalfEven>(data, c);
    compare_quantize<Int, RoundHalfAway>(data, c);
    const float lo = static_cast<float>(c.r.qmin - c.p.zero_point) * c.p.scale;
    const float hi = static_cast<float>(c.r.qmax - c.p.zero_point) * c.p.scale;
    compare_quantize_counted<Int, RoundHalfEven>(data, c, Range{lo, hi});
    compare_quantize_counted<Int, RoundHalfAway>(data, c, Range{lo * 0.5f, hi * 0.25f});
    compare_quantize_counted<Int, RoundHalfEven>(data, c, Range{0.5f * hi, hi});  // excludes 0: tail padding
    compare_fake_quantize<RoundHalfEven>(data, c);
    compare_fake_quantize<RoundHalfAway>(data, c);
    compare_dequantize<Int>(c, seed++);
  }
}

}  // namespace

TEST_CASE("vector loops: the compile-time ISA is the one this binary was built for", "[quantizer][simd]") {
  QSAFE_SKIP_IF_CPU_LACKS_ISA();
  const std::string arch = detail::vector_loops_arch();
  INFO("vector loops run on " << arch);
#if defined(QSAFE_TEST_EXPECT_ARCH)
  CHECK(arch == QSAFE_TEST_EXPECT_ARCH);  // coverage guard: the expected path really ran
#elif defined(QSAFE_HAS_XSIMD) && QSAFE_X86_64
  CHECK(arch != "scalar");
#endif
  SUCCEED();
}

TEST_CASE("vector loops: int8 quantize/fake-quantize/dequantize == scalar, both roundings", "[quantizer][simd]") {
  QSAFE_SKIP_IF_CPU_LACKS_ISA();
  run_all_for_type<std::int8_t>();
}

TEST_CASE("vector loops: uint8 == scalar", "[quantizer][simd]") {
  QSAFE_SKIP_IF_CPU_LACKS_ISA();
  run_all_for_type<std::uint8_t>();
}

TEST_CASE("vector loops: int16 == scalar", "[quantizer][simd]") {
  QSAFE_SKIP_IF_CPU_LACKS_ISA();
  run_all_for_type<std::int16_t>();
}

TEST_CASE("vector loops: uint16 == scalar", "[quantizer][simd]") {
  QSAFE_SKIP_IF_CPU_LACKS_ISA();
  run_all_for_type<std::uint16_t>();
}

TEST_CASE("vector loops: random data over many scales", "[quantizer][simd]") {
  QSAFE_SKIP_IF_CPU_LACKS_ISA();
  std::mt19937 rng(2024);
  std::uniform_real_distribution<float> e(-20.f, 20.f);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(4099);
  std::vector<std::int8_t> qv(x.size()), qs(x.size());
  std::vector<float> yv(x.size()), ys(x.size());
  for (int trial = 0; trial < 200; ++trial) {
    const float scale = std::ldexp(1.f + 0.5f * u(rng) * u(rng), static_cast<int>(e(rng) / 2));
    const std::int32_t zp = static_cast<std::int32_t>(u(rng) * 100.f);
    for (float& v : x) v = std::ldexp(u(rng), static_cast<int>(e(rng))) * 128.f * scale;
    const QRange r = qrange_of<std::int8_t>();
    CAPTURE(scale, zp);
    const detail::QuantScale inv(scale);
    REQUIRE(detail::quantize_loop<RoundHalfEven>(x.data(), x.size(), inv, zp, r, qv.data()) == 0);
    detail::quantize_loop_scalar<RoundHalfEven>(x.data(), x.size(), inv, zp, r, qs.data());
    REQUIRE(qv == qs);
    detail::quantize_loop<RoundHalfAway>(x.data(), x.size(), inv, zp, r, qv.data());
    detail::quantize_loop_scalar<RoundHalfAway>(x.data(), x.size(), inv, zp, r, qs.data());
    REQUIRE(qv == qs);
    detail::fake_quantize_loop<RoundHalfEven>(x.data(), x.size(), inv, zp, r, yv.data(), nullptr);
    detail::fake_quantize_loop_scalar<RoundHalfEven>(x.data(), x.size(), inv, zp, r, ys.data(), nullptr);
    REQUIRE(first_bit_difference(yv.data(), ys.data(), x.size()) == x.size());
  }
}

namespace {
// Quantizes, fake-quantizes and dequantizes single objects (not arrays) through the public
// Quantizer. GCC 12 at -O3 used to warn (-Warray-bounds / -Wstringop-overflow) on such calls,
// breaking -Werror builds: this test compiles them in the Release (-O3) -Werror CI builds, at every
// ISA this source is built for.
template <class Int, int Bits, class Scheme, class Rounding>
void check_one_element(float value, QParams p) {
  const Quantizer<Int, Bits, Scheme, PerTensor, Rounding> quant;
  const float x = value;
  Int q{};
  float fq = 0.f, dq = 0.f;
  REQUIRE(quant.quantize(Span<const float>(&x, 1), p, Span<Int>(&q, 1)) == Status::ok);
  REQUIRE(quant.fake_quantize(Span<const float>(&x, 1), p, Span<float>(&fq, 1)) == Status::ok);
  REQUIRE(quant.dequantize(Span<const Int>(&q, 1), p, Span<float>(&dq, 1)) == Status::ok);
  const std::int32_t want = detail::quantize_value<Rounding>(x, detail::QuantScale(p.scale), p.zero_point, quant.qrange());
  CHECK(static_cast<std::int32_t>(q) == want);
  CHECK(dq == static_cast<float>(want - p.zero_point) * p.scale);
  CHECK(fq == dq);
}
}  // namespace

TEST_CASE("vector loops: one-element objects through Quantizer (no -O3 false positives)", "[quantizer][simd]") {
  QSAFE_SKIP_IF_CPU_LACKS_ISA();
  for (float v : {-3.7f, -0.05f, 0.f, 0.26f, 12.5f, 1e6f}) {
    check_one_element<std::int8_t, 8, Symmetric, RoundHalfEven>(v, QParams{0.1f, 0});
    check_one_element<std::uint8_t, 8, Affine, RoundHalfAway>(v, QParams{0.05f, 128});
    check_one_element<std::uint8_t, 4, Affine, RoundHalfEven>(v, QParams{0.5f, 3});
    check_one_element<std::int16_t, 16, Affine, RoundHalfEven>(v, QParams{0.001f, -7});
    check_one_element<std::uint16_t, 16, Affine, RoundHalfEven>(v, QParams{0.01f, 30000});
  }
}

// RoundHalfAway against TFLite's reference quantize, compiled here so every ISA build runs it.
#include "support/tflite_half_away_cases.hpp"
