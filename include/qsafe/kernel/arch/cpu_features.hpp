// qsafe/kernel/arch/cpu_features.hpp: what the x86 CPU (and the OS, through XCR0) can run.
// Probed once through CPUID and cached in a function-local static; never used on ARM, where the
// path is fixed at compile time.
#ifndef QSAFE_KERNEL_ARCH_CPU_FEATURES_HPP_
#define QSAFE_KERNEL_ARCH_CPU_FEATURES_HPP_

#include "qsafe/config.hpp"

#if QSAFE_X86_64 && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace qsafe {
namespace arch {

struct CpuFeatures {
  bool avx2_fma = false;     // AVX2 + FMA, YMM state enabled by the OS
  bool avx512_vnni = false;  // AVX-512 F/BW/DQ/VL + VNNI, ZMM and opmask state enabled
  bool avx_vnni = false;     // VEX-encoded VNNI on YMM (Alder Lake, Zen 5, ...)
};

namespace detail {

#if QSAFE_X86_64 && (defined(__GNUC__) || defined(__clang__))
inline CpuFeatures probe_cpu_features() noexcept {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1u;
  const bool avx = (c >> 28) & 1u;
  const bool fma = (c >> 12) & 1u;
  if (!osxsave || !avx) return f;
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  // xgetbv by its opcode bytes: needs no target attribute and no -mxsave.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool ymm_state = (xcr0_lo & 0x6u) == 0x6u;
  const bool zmm_state = (xcr0_lo & 0xe6u) == 0xe6u;
  if (!ymm_state) return f;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = (b >> 5) & 1u;
  const bool avx512f = (b >> 16) & 1u, avx512dq = (b >> 17) & 1u;
  const bool avx512bw = (b >> 30) & 1u, avx512vl = (b >> 31) & 1u;
  const bool avx512vnni = (c >> 11) & 1u;
  const unsigned max_subleaf = a;
  bool avxvnni = false;
  if (max_subleaf >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    avxvnni = (a >> 4) & 1u;
  }
  f.avx2_fma = avx2 && fma;
  f.avx512_vnni = f.avx2_fma && zmm_state && avx512f && avx512dq && avx512bw && avx512vl && avx512vnni;
  f.avx_vnni = f.avx2_fma && avxvnni;
  return f;
}
#else
inline CpuFeatures probe_cpu_features() noexcept { return CpuFeatures{}; }
#endif

}  // namespace detail

// Probed on first use (thread-safe static initialisation), then read for free.
inline const CpuFeatures& cpu_features() noexcept {
  static const CpuFeatures features = detail::probe_cpu_features();
  return features;
}

}  // namespace arch
}  // namespace qsafe

#endif  // QSAFE_KERNEL_ARCH_CPU_FEATURES_HPP_
