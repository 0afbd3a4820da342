// Packed int4 (quantizer/int4_pack.hpp): layout, odd lengths, range checks, and that the packed
// quantize/dequantize equal Quantizer<Int, 4> followed by packing.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "qsafe/quantize.hpp"
#include "qsafe/quantizer/int4_pack.hpp"

using namespace qsafe;

TEST_CASE("int4 pack: element 2i in the low nibble, 2i+1 in the high nibble", "[quantizer][int4]") {
  const std::int8_t s[] = {1, -2, 7, -8, 3};
  std::uint8_t packed[3] = {0xaa, 0xaa, 0xaa};
  REQUIRE(pack_int4(Span<const std::int8_t>(s), Span<std::uint8_t>(packed)) == Status::ok);
  CHECK(packed[0] == 0xE1);  // -2 = 0xE high, 1 low
  CHECK(packed[1] == 0x87);  // -8 = 0x8 high, 7 low
  CHECK(packed[2] == 0x03);  // odd length: the high nibble is 0
  const std::uint8_t u[] = {15, 0, 9};
  std::uint8_t pu[2];
  REQUIRE(pack_int4(Span<const std::uint8_t>(u), Span<std::uint8_t>(pu)) == Status::ok);
  CHECK(pu[0] == 0x0F);
  CHECK(pu[1] == 0x09);
  CHECK(packed_int4_bytes(0) == 0);
  CHECK(packed_int4_bytes(1) == 1);
  CHECK(packed_int4_bytes(6) == 3);
}

TEST_CASE("int4 pack/unpack: round trip of every value, every length 0..40", "[quantizer][int4]") {
  for (std::size_t n = 0; n <= 40; ++n) {
    std::vector<std::int8_t> s(n), s2(n);
    std::vector<std::uint8_t> u(n), u2(n);
    for (std::size_t i = 0; i < n; ++i) {
      s[i] = static_cast<std::int8_t>(static_cast<int>((i * 7) % 16) - 8);
      u[i] = static_cast<std::uint8_t>((i * 5 + 3) % 16);
    }
    std::vector<std::uint8_t> ps(packed_int4_bytes(n)), pu(packed_int4_bytes(n));
    REQUIRE(pack_int4(Span<const std::int8_t>(s), Span<std::uint8_t>(ps)) == Status::ok);
    REQUIRE(pack_int4(Span<const std::uint8_t>(u), Span<std::uint8_t>(pu)) == Status::ok);
    REQUIRE(unpack_int4(Span<const std::uint8_t>(ps), Span<std::int8_t>(s2)) == Status::ok);
    REQUIRE(unpack_int4(Span<const std::uint8_t>(pu), Span<std::uint8_t>(u2)) == Status::ok);
    CHECK(s2 == s);
    CHECK(u2 == u);
  }
}

TEST_CASE("int4 pack: out-of-range values and wrong sizes are errors", "[quantizer][int4]") {
  const std::int8_t bad[] = {1, 8};
  std::uint8_t packed[1] = {0x55};
  CHECK(pack_int4(Span<const std::int8_t>(bad), Span<std::uint8_t>(packed)) == Status::out_of_range);
  CHECK(packed[0] == 0x55);  // nothing written
  const std::int8_t bad2[] = {-9};
  CHECK(pack_int4(Span<const std::int8_t>(bad2), Span<std::uint8_t>(packed)) == Status::out_of_range);
  const std::uint8_t badu[] = {16};
  CHECK(pack_int4(Span<const std::uint8_t>(badu), Span<std::uint8_t>(packed)) == Status::out_of_range);
  const std::int8_t ok3[] = {1, 2, 3};
  CHECK(pack_int4(Span<const std::int8_t>(ok3), Span<std::uint8_t>(packed)) == Status::shape_mismatch);
  std::int8_t out[3];
  CHECK(unpack_int4(Span<const std::uint8_t>(packed), Span<std::int8_t>(out)) == Status::shape_mismatch);
}

TEST_CASE("int4 quantize/dequantize packed == Quantizer<Int, 4> then pack", "[quantizer][int4]") {
  std::vector<float> x(1001);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 2.5f * std::sin(0.013f * static_cast<float>(i * i));
  x[5] = 0.25f;  // a tie at scale 0.5
  SECTION("signed, symmetric, both roundings") {
    const Quantizer<std::int8_t, 4, Symmetric> quant;
    const QParams p{0.5f, 0};
    std::vector<std::int8_t> q(x.size());
    REQUIRE(quant.quantize(Span<const float>(x), p, Span<std::int8_t>(q)) == Status::ok);
    std::vector<std::uint8_t> want(packed_int4_bytes(x.size())), got(want.size());
    REQUIRE(pack_int4(Span<const std::int8_t>(q), Span<std::uint8_t>(want)) == Status::ok);
    REQUIRE(quantize_int4_packed<std::int8_t>(Span<const float>(x), p, Span<std::uint8_t>(got)) == Status::ok);
    CHECK(got == want);
    std::vector<float> y(x.size()), yref(x.size());
    REQUIRE(dequantize_int4_packed<std::int8_t>(Span<const std::uint8_t>(got), p, Span<float>(y)) == Status::ok);
    REQUIRE(quant.dequantize(Span<const std::int8_t>(q), p, Span<float>(yref)) == Status::ok);
    CHECK(y == yref);
    const Quantizer<std::int8_t, 4, Symmetric, PerTensor, RoundHalfAway> away;
    REQUIRE(away.quantize(Span<const float>(x), p, Span<std::int8_t>(q)) == Status::ok);
    REQUIRE(pack_int4(Span<const std::int8_t>(q), Span<std::uint8_t>(want)) == Status::ok);
    REQUIRE(quantize_int4_packed<std::int8_t, RoundHalfAway>(Span<const float>(x), p, Span<std::uint8_t>(got)) ==
            Status::ok);
    CHECK(got == want);
  }
  SECTION("unsigned, affine, odd length, NaN reported") {
    const Quantizer<std::uint8_t, 4> quant;
    const QParams p = qparams_from_range({-2.5f, 2.5f}, quant.qrange(), SchemeKind::affine).value();
    x[17] = std::numeric_limits<float>::quiet_NaN();
    std::vector<std::uint8_t> q(x.size());
    CHECK(quant.quantize(Span<const float>(x), p, Span<std::uint8_t>(q)) == Status::non_finite_input);
    std::vector<std::uint8_t> want(packed_int4_bytes(x.size())), got(want.size());
    REQUIRE(pack_int4(Span<const std::uint8_t>(q), Span<std::uint8_t>(want)) == Status::ok);
    CHECK(quantize_int4_packed<std::uint8_t>(Span<const float>(x), p, Span<std::uint8_t>(got)) ==
          Status::non_finite_input);
    CHECK(got == want);
    // Params that do not fit 4 bits are rejected.
    CHECK(quantize_int4_packed<std::uint8_t>(Span<const float>(x), QParams{0.1f, 16}, Span<std::uint8_t>(got)) ==
          Status::invalid_argument);
  }
}
