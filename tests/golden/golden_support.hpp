// tests/golden/golden_support.hpp: helpers shared by the PyTorch golden tests: bitwise float
// comparison and a quantizer chosen at run time from the fixture's integer range.
#ifndef QSAFE_TESTS_GOLDEN_GOLDEN_SUPPORT_HPP_
#define QSAFE_TESTS_GOLDEN_GOLDEN_SUPPORT_HPP_

#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>

#include "qsafe/quantize.hpp"

namespace golden {

inline std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Equal as bit patterns: distinguishes -0 from +0 and never lets NaN pass.
inline bool same_bits(float a, float b) { return bits_of(a) == bits_of(b); }

inline std::string hex(float f) {
  std::ostringstream s;
  s << std::hexfloat << f;
  return s.str();
}

// First mismatch of two arrays, for a readable failure message: "" when equal.
template <class A, class B, class Eq>
std::string first_mismatch(const A* got, const B* want, std::size_t n, Eq eq, const float* x = nullptr) {
  std::size_t count = 0, first = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (!eq(got[i], want[i])) {
      if (count++ == 0) first = i;
    }
  if (count == 0) return "";
  std::ostringstream s;
  s << count << " of " << n << " differ; first at [" << first << "]";
  if (x != nullptr) s << " x=" << hex(x[first]) << " (" << x[first] << ")";
  s << ": qsafe " << +got[first] << " vs PyTorch " << +want[first];
  return s.str();
}

// The qsafe storage type and bit width for a PyTorch integer range: visits f with a
// value-initialised tag `T*` holding Int, plus Bits and the QRangeOptions, or returns false.
template <class F>
bool with_qrange(std::int32_t qmin, std::int32_t qmax, F&& f) {
  using qsafe::QRangeOptions;
  if (qmin == 0 && qmax == 255) return f(static_cast<std::uint8_t*>(nullptr), std::integral_constant<int, 8>{}, QRangeOptions{}), true;
  if (qmin == 0 && qmax == 127) return f(static_cast<std::uint8_t*>(nullptr), std::integral_constant<int, 8>{}, QRangeOptions{false, true}), true;
  if (qmin == -128 && qmax == 127) return f(static_cast<std::int8_t*>(nullptr), std::integral_constant<int, 8>{}, QRangeOptions{}), true;
  if (qmin == -64 && qmax == 63) return f(static_cast<std::int8_t*>(nullptr), std::integral_constant<int, 8>{}, QRangeOptions{false, true}), true;
  if (qmin == -127 && qmax == 127) return f(static_cast<std::int8_t*>(nullptr), std::integral_constant<int, 8>{}, QRangeOptions{true, false}), true;
  if (qmin == -8 && qmax == 7) return f(static_cast<std::int8_t*>(nullptr), std::integral_constant<int, 4>{}, QRangeOptions{}), true;
  if (qmin == 0 && qmax == 15) return f(static_cast<std::uint8_t*>(nullptr), std::integral_constant<int, 4>{}, QRangeOptions{}), true;
  if (qmin == -2 && qmax == 1) return f(static_cast<std::int8_t*>(nullptr), std::integral_constant<int, 2>{}, QRangeOptions{}), true;
  if (qmin == -32768 && qmax == 32767) return f(static_cast<std::int16_t*>(nullptr), std::integral_constant<int, 16>{}, QRangeOptions{}), true;
  return false;
}

}  // namespace golden

#endif  // QSAFE_TESTS_GOLDEN_GOLDEN_SUPPORT_HPP_
