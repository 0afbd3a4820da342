// qsafe/kernel/arch/neon_dotprod/arch.hpp: AArch64 with the ARMv8.2 dot-product extension (SDOT/UDOT;
// Cortex-A55/A75 and later, Neoverse N1+, Apple M1+). GCC and Clang cannot enable it per function on
// ARM, so this path exists only in builds with -march=armv8.2-a+dotprod (or any -march implying it)
// and the binary then requires it: __ARM_FEATURE_DOTPROD is the build's promise.
#ifndef QSAFE_KERNEL_ARCH_NEON_DOTPROD_ARCH_HPP_
#define QSAFE_KERNEL_ARCH_NEON_DOTPROD_ARCH_HPP_

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/neon/arch.hpp"

namespace qsafe {
namespace arch {

struct neon_dotprod : neon {
  using parent = neon;
  static constexpr Id id = Id::neon_dotprod;
  static constexpr const char* name = "neon_dotprod";
  static bool available() noexcept { return QSAFE_HAS_NEON_DOTPROD != 0; }
};

}  // namespace arch
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_NEON_DOTPROD_ARCH_HPP_
