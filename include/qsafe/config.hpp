// qsafe/config.hpp: version, platform detection and the few macros the core needs.
// Nothing here allocates or throws; this header is safe for freestanding firmware builds.
#ifndef QSAFE_CONFIG_HPP_
#define QSAFE_CONFIG_HPP_

#define QSAFE_VERSION_MAJOR 0
#define QSAFE_VERSION_MINOR 1
#define QSAFE_VERSION_PATCH 0
#define QSAFE_VERSION_STRING "0.1.0"

#if defined(__x86_64__) || defined(_M_X64)
#define QSAFE_X86_64 1
#else
#define QSAFE_X86_64 0
#endif

#if defined(__aarch64__) || defined(_M_ARM64)
#define QSAFE_AARCH64 1
#else
#define QSAFE_AARCH64 0
#endif

#if QSAFE_AARCH64 && defined(__ARM_FEATURE_DOTPROD)
#define QSAFE_HAS_NEON_DOTPROD 1
#else
#define QSAFE_HAS_NEON_DOTPROD 0
#endif

// Runtime ISA dispatch is used on hosted x86-64 with GCC or Clang: every x86 path is compiled
// with function-level target attributes in ordinary translation units (ODR-safe for a
// header-only library). Define QSAFE_NO_RUNTIME_DISPATCH to keep only the compile-time ISA.
#if QSAFE_X86_64 && (defined(__GNUC__) || defined(__clang__)) && !defined(QSAFE_NO_RUNTIME_DISPATCH)
#define QSAFE_RUNTIME_DISPATCH 1
#define QSAFE_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define QSAFE_TARGET_AVX512_VNNI __attribute__((target("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define QSAFE_TARGET_AVX_VNNI __attribute__((target("avx2,fma,avxvnni")))
#else
#define QSAFE_RUNTIME_DISPATCH 0
#endif

// Which x86 kernel paths are compiled. With runtime dispatch: all of them (each function carries
// its own target attribute). Without: only those the compile-time -m flags already enable, and the
// target macros expand to nothing.
#if QSAFE_RUNTIME_DISPATCH
#define QSAFE_COMPILE_AVX2 1
#define QSAFE_COMPILE_AVX512_VNNI 1
#define QSAFE_COMPILE_AVX_VNNI 1
#else
#define QSAFE_TARGET_AVX2
#define QSAFE_TARGET_AVX512_VNNI
#define QSAFE_TARGET_AVX_VNNI
#if QSAFE_X86_64 && defined(__AVX2__) && defined(__FMA__)
#define QSAFE_COMPILE_AVX2 1
#else
#define QSAFE_COMPILE_AVX2 0
#endif
#if QSAFE_COMPILE_AVX2 && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && \
    defined(__AVX512VL__) && defined(__AVX512VNNI__)
#define QSAFE_COMPILE_AVX512_VNNI 1
#else
#define QSAFE_COMPILE_AVX512_VNNI 0
#endif
#if QSAFE_COMPILE_AVX2 && defined(__AVXVNNI__)
#define QSAFE_COMPILE_AVX_VNNI 1
#else
#define QSAFE_COMPILE_AVX_VNNI 0
#endif
#endif

// QSAFE_ASSERT: a hook for firmware fault handlers; defaults to assert(). QSAFE_DCHECK is for
// preconditions inside hot loops that the boundary checks already guarantee.
#ifndef QSAFE_ASSERT
#include <cassert>
#define QSAFE_ASSERT(cond) assert(cond)
#endif
#define QSAFE_DCHECK(cond) QSAFE_ASSERT(cond)

// QSAFE_UNROLL: fully unroll the next loop (constant trip count), so register tiles held in small
// arrays stay in registers.
#if defined(__clang__)
#define QSAFE_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define QSAFE_UNROLL _Pragma("GCC unroll 16")
#else
#define QSAFE_UNROLL
#endif

#if defined(__GNUC__) || defined(__clang__)
#define QSAFE_ALWAYS_INLINE inline __attribute__((always_inline))
#define QSAFE_RESTRICT __restrict__
#else
#define QSAFE_ALWAYS_INLINE inline
#define QSAFE_RESTRICT
#endif

// Wrap every header that holds target("avx512...") functions in QSAFE_AVX512_CODE_BEGIN / _END:
// GCC 12 reports its own _mm512_undefined_*() (self-initialised) as uninitialised once an
// intrinsic is inlined into such a function (GCC PR105593), and the warning is issued at the
// inlining site, so the pragma must cover the functions of the including header.
#if defined(__GNUC__) && !defined(__clang__)
#define QSAFE_AVX512_CODE_BEGIN                                                        \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wuninitialized\"") \
      _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#define QSAFE_AVX512_CODE_END _Pragma("GCC diagnostic pop")
#else
#define QSAFE_AVX512_CODE_BEGIN
#define QSAFE_AVX512_CODE_END
#endif

#endif  // QSAFE_CONFIG_HPP_
