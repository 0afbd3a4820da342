// tests/support/data_paths.hpp: where the tests find the repository's data (the bundled digits CNN
// and its datasets), one definition for every test file (the model tests share a unity file).
#ifndef QSAFE_TESTS_SUPPORT_DATA_PATHS_HPP_
#define QSAFE_TESTS_SUPPORT_DATA_PATHS_HPP_

#include <string>

namespace qsafe_test {

// data/digits/ (QSAFE_TEST_DATA_DIR is tests/data).
inline const std::string kDigitsDir = std::string(QSAFE_TEST_DATA_DIR) + "/../../data/digits/";

}  // namespace qsafe_test

#endif  // QSAFE_TESTS_SUPPORT_DATA_PATHS_HPP_
