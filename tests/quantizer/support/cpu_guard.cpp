// Baseline-compiled guard for the per-ISA test executables (tests/cmake/quantizer_isa.cmake). It
// runs as a high-priority constructor, before any static initialiser of the ISA-compiled test code
// could execute an instruction this CPU lacks, and exits with 77 (CTest: skipped) in that case.
#include <cstdio>
#include <cstdlib>

namespace {

bool cpu_has_required_isa() {
  __builtin_cpu_init();  // required before __builtin_cpu_supports in a constructor
#if defined(QSAFE_CPU_GUARD_AVX512)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd");
#elif defined(QSAFE_CPU_GUARD_AVX2)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return true;
#endif
}

__attribute__((constructor(101))) void qsafe_cpu_guard() {
  if (!cpu_has_required_isa()) {
    std::fputs("qsafe: this CPU lacks the ISA this test executable was built for; skipped\n", stderr);
    std::_Exit(77);
  }
}

}  // namespace
