#!/usr/bin/env bash
# NEON paths under qemu-aarch64: a cross-compiled test build (tests/cross/CMakeLists.txt with
# cmake/toolchain-aarch64.cmake) of the kernel tests (every compiled path against the reference),
# the fixed-point requantization tests and tests/cross/ (which fail unless the expected NEON path is
# compiled in and dispatched: a skipped path is a failure, not a pass).
#   1. -march=armv8.2-a+dotprod, GCC, on qemu's default CPU (max): neon_dotprod, neon and scalar.
#   2. -march=armv8-a, GCC, under -cpu cortex-a53 (ARMv8.0, no SDOT): neon and scalar; any stray
#      dot-product instruction is an illegal instruction there.
#   3. Negative control: build 1 under -cpu cortex-a53 must die of SIGILL, proving check 2 can bite.
#   4. -march=armv8.2-a+dotprod with Clang 14 (warning-free under both compilers), run on qemu.
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=${QSAFE_JOBS:-2}
sysroot=/usr/aarch64-linux-gnu
qemu=(qemu-aarch64 -L "$sysroot")

configure_and_build() {  # name march expect [extra cmake args]
  local name=$1 march=$2 expect=$3
  shift 3
  cmake -S tests/cross -B "build/$name" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-aarch64.cmake" \
        -DCMAKE_BUILD_TYPE=Release -DQSAFE_CROSS_MARCH="$march" -DQSAFE_CROSS_EXPECT="$expect" "$@" >/dev/null
  cmake --build "build/$name" -j"$jobs"
}

configure_and_build neon-dotprod armv8.2-a+dotprod neon_dotprod
configure_and_build neon-plain armv8-a neon
configure_and_build neon-dotprod-clang armv8.2-a+dotprod neon_dotprod -DQSAFE_CROSS_CLANG=ON

# QSAFE_EXPECT_ARCHS (tests/kernel/paths_test.cpp) reaches the guest: qemu-user passes the environment.
echo "--- neon_dotprod build, qemu default CPU"
QSAFE_EXPECT_ARCHS=neon_dotprod,neon,scalar "${qemu[@]}" build/neon-dotprod/qsafe_cross_test
echo "--- plain NEON build, qemu -cpu cortex-a53"
QSAFE_EXPECT_ARCHS=neon,scalar "${qemu[@]}" -cpu cortex-a53 build/neon-plain/qsafe_cross_test
echo "--- negative control: the dot-product build must fault on cortex-a53"
set +e
"${qemu[@]}" -cpu cortex-a53 build/neon-dotprod/qsafe_cross_test "[gemm]" >/dev/null 2>&1
rc=$?
set -e
if [ "$rc" -ne 132 ]; then  # 128 + SIGILL
  echo "40-neon: expected SIGILL (exit 132) from SDOT on cortex-a53, got exit $rc" >&2
  exit 1
fi
echo "--- neon_dotprod build (Clang), qemu default CPU"
QSAFE_EXPECT_ARCHS=neon_dotprod,neon,scalar "${qemu[@]}" build/neon-dotprod-clang/qsafe_cross_test
