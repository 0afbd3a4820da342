// Compiles and runs README.md's usage snippet (extracted at build time by
// cmake/extract_readme_snippet.cmake), so the README cannot drift from the API.
// Contract with the README: the snippet ends with a qsafe::Status named `s` that must be ok.
#include <cstdint>
#include <vector>

#include <catch2/catch.hpp>

#include "readme_includes.inc"

TEST_CASE("readme: the usage snippet compiles and runs") {
#include "readme_body.inc"
  CHECK(s == qsafe::Status::ok);
}
