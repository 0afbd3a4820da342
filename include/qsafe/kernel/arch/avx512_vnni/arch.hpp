// qsafe/kernel/arch/avx512_vnni/arch.hpp: AVX-512 F/BW/DQ/VL + VNNI, vpdpbusd on ZMM (Cascade Lake, Ice Lake, Zen 4/5).
// Its functions carry QSAFE_TARGET_AVX512_VNNI (config.hpp), so a baseline-compiled binary holds this path
// and runs it only when the CPU has it.
#ifndef QSAFE_KERNEL_ARCH_AVX512_VNNI_ARCH_HPP_
#define QSAFE_KERNEL_ARCH_AVX512_VNNI_ARCH_HPP_

#include "qsafe/config.hpp"
#include "qsafe/kernel/arch/avx2/arch.hpp"
#include "qsafe/kernel/arch/cpu_features.hpp"

namespace qsafe {
namespace arch {

struct avx512_vnni : avx2 {
  using parent = avx2;
  static constexpr Id id = Id::avx512_vnni;
  static constexpr const char* name = "avx512_vnni";
  static bool available() noexcept { return QSAFE_COMPILE_AVX512_VNNI && cpu_features().avx512_vnni; }
};

}  // namespace arch
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_AVX512_VNNI_ARCH_HPP_
