// qsafe/kernel/arch/neon/arch.hpp: AArch64 Advanced SIMD (ARMv8.0-A), which every AArch64 CPU has.
// Chosen at compile time: this path exists in aarch64 builds only (registry.hpp).
#ifndef QSAFE_KERNEL_ARCH_NEON_ARCH_HPP_
#define QSAFE_KERNEL_ARCH_NEON_ARCH_HPP_

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/scalar/arch.hpp"

namespace qsafe {
namespace arch {

struct neon : scalar {
  using parent = scalar;
  static constexpr Id id = Id::neon;
  static constexpr const char* name = "neon";
  // NEON is mandatory in AArch64: a build that compiled this path runs it.
  static bool available() noexcept { return QSAFE_AARCH64 != 0; }
};

}  // namespace arch
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_NEON_ARCH_HPP_
