// tests/support/special_floats.hpp: the non-finite floats the observer tests feed, defined once so
// test files of one area can share a translation unit (the test targets are unity builds).
#ifndef QSAFE_TESTS_SUPPORT_SPECIAL_FLOATS_HPP_
#define QSAFE_TESTS_SUPPORT_SPECIAL_FLOATS_HPP_

#include <limits>

namespace qsafe_test {

inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
inline constexpr float kInf = std::numeric_limits<float>::infinity();

}  // namespace qsafe_test

#endif  // QSAFE_TESTS_SUPPORT_SPECIAL_FLOATS_HPP_
