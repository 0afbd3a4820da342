#!/usr/bin/env bash
# GEMM kernel paths: runs the kernel tests with QSAFE_EXPECT_ARCHS set from what this CPU
# advertises in /proc/cpuinfo (an independent source from qsafe's own CPUID probe), so a path the
# machine has but the tests skipped fails CI. Override by exporting QSAFE_EXPECT_ARCHS.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build/gcc-release
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ >/dev/null
cmake --build "$build" -j"${QSAFE_JOBS:-2}" --target qsafe_test_kernel
if [ -z "${QSAFE_EXPECT_ARCHS:-}" ] && [ -r /proc/cpuinfo ] && [ "$(uname -m)" = x86_64 ]; then
  flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  has() { for f in "$@"; do [[ "$flags" == *" $f "* ]] || return 1; done; }
  expect=()
  has avx2 fma && expect+=(avx2)
  has avx2 fma avx512f avx512bw avx512dq avx512vl avx512_vnni && expect+=(avx512_vnni)
  has avx2 fma avx_vnni && expect+=(avx_vnni)
  QSAFE_EXPECT_ARCHS=$(IFS=,; echo "${expect[*]:-}")
fi
export QSAFE_EXPECT_ARCHS
echo "kernel paths expected to run: ${QSAFE_EXPECT_ARCHS:-none}"
"$build"/tests/qsafe_test_kernel
