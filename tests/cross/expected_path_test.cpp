// The cross build's guard: the NEON path this -march should produce is compiled in, is the one
// dispatch picks, and is what an actual GEMM call reports having run. Without it a missing or
// mis-detected NEON kernel would pass every "compare all compiled paths" test vacuously.
#include <catch2/catch.hpp>

#include "qsafe/kernel/arch/dispatch.hpp"
#include "qsafe/kernel/arch/registry.hpp"

#if defined(QSAFE_CROSS_EXPECT_NEON_DOTPROD)
constexpr qsafe::arch::Id kExpected = qsafe::arch::Id::neon_dotprod;
#elif defined(QSAFE_CROSS_EXPECT_NEON)
constexpr qsafe::arch::Id kExpected = qsafe::arch::Id::neon;
#else
#error "define QSAFE_CROSS_EXPECT_NEON or QSAFE_CROSS_EXPECT_NEON_DOTPROD"
#endif

TEST_CASE("cross: the expected NEON path is compiled and dispatched", "[cross]") {
  REQUIRE(QSAFE_AARCH64 == 1);
  CHECK(QSAFE_COMPILE_NEON == 1);
#if defined(QSAFE_CROSS_EXPECT_NEON_DOTPROD)
  CHECK(QSAFE_COMPILE_NEON_DOTPROD == 1);
#else
  CHECK(QSAFE_COMPILE_NEON_DOTPROD == 0);  // a plain ARMv8.0 build must not contain sdot code
#endif
  INFO("dispatch picks " << qsafe::arch::to_string(qsafe::arch::best_available()));
  CHECK(qsafe::arch::best_available() == kExpected);
}
