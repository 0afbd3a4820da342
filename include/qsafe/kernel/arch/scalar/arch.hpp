// qsafe/kernel/arch/scalar/arch.hpp: the portable path, and the normative reference every other
// path must match bit for bit. The root of every fallback chain.
#ifndef QSAFE_KERNEL_ARCH_SCALAR_ARCH_HPP_
#define QSAFE_KERNEL_ARCH_SCALAR_ARCH_HPP_

#include "qsafe/kernel/arch/arch_id.hpp"

namespace qsafe {
namespace arch {

struct scalar {
  using parent = void;
  static constexpr Id id = Id::scalar;
  static constexpr const char* name = "scalar";
  static bool available() noexcept { return true; }
};

}  // namespace arch
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_SCALAR_ARCH_HPP_
