// qsafe/kernel/arch/avx_vnni/arch.hpp: AVX-VNNI, VEX-encoded vpdpbusd on YMM (Alder Lake, Zen 5); no AVX-512 needed.
// Its functions carry QSAFE_TARGET_AVX_VNNI (config.hpp), so a baseline-compiled binary holds this path
// and runs it only when the CPU has it.
#ifndef QSAFE_KERNEL_ARCH_AVX_VNNI_ARCH_HPP_
#define QSAFE_KERNEL_ARCH_AVX_VNNI_ARCH_HPP_

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/avx2/arch.hpp"
#include "qsafe/kernel/arch/cpu_features.hpp"

namespace qsafe {
namespace arch {

struct avx_vnni : avx2 {
  using parent = avx2;
  static constexpr Id id = Id::avx_vnni;
  static constexpr const char* name = "avx_vnni";
  static bool available() noexcept { return QSAFE_COMPILE_AVX_VNNI && cpu_features().avx_vnni; }
};

}  // namespace arch
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_AVX_VNNI_ARCH_HPP_
