// qsafe/kernel/arch/avx2/arch.hpp: AVX2 + FMA, no VNNI (Haswell and later, Zen 1 and later).
// Its functions carry QSAFE_TARGET_AVX2 (config.hpp), so a baseline-compiled binary holds this path
// and runs it only when the CPU has it.
#ifndef QSAFE_KERNEL_ARCH_AVX2_ARCH_HPP_
#define QSAFE_KERNEL_ARCH_AVX2_ARCH_HPP_

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/cpu_features.hpp"
#include "qsafe/kernel/arch/scalar/arch.hpp"

namespace qsafe {
namespace arch {

struct avx2 : scalar {
  using parent = scalar;
  static constexpr Id id = Id::avx2;
  static constexpr const char* name = "avx2";
  static bool available() noexcept { return QSAFE_COMPILE_AVX2 && cpu_features().avx2_fma; }
};

}  // namespace arch
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_AVX2_ARCH_HPP_
