// qsafe/kernel/arch/arch_id.hpp: one number per kernel path, recorded in PackedWeights so that
// weights packed for one path are never run by another.
#ifndef QSAFE_KERNEL_ARCH_ARCH_ID_HPP_
#define QSAFE_KERNEL_ARCH_ARCH_ID_HPP_

#include <cstdint>

namespace qsafe {
namespace arch {

enum class Id : std::uint8_t { none = 0, scalar, avx2, avx512_vnni, avx_vnni, neon, neon_dotprod };

constexpr const char* to_string(Id id) noexcept {
  switch (id) {
    case Id::none: return "none";
    case Id::scalar: return "scalar";
    case Id::avx2: return "avx2";
    case Id::avx512_vnni: return "avx512_vnni";
    case Id::avx_vnni: return "avx_vnni";
    case Id::neon: return "neon";
    case Id::neon_dotprod: return "neon_dotprod";
  }
  return "unknown";
}

// Resolved at the call: the best path this CPU runs (x86: CPUID; ARM: the -march the build used).
struct automatic {
  static constexpr const char* name = "automatic";
};

}  // namespace arch
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_ARCH_ID_HPP_
