#!/usr/bin/env bash
# NEON paths under qemu-aarch64: a cross-compiled test build (tests/cross/CMakeLists.txt with
# cmake/toolchain-aarch64.cmake) of the kernel tests (every compiled path against the reference),
# the fixed-point requantization tests and tests/cross/ (which fail unless the expected NEON path is
# compiled in and dispatched: a skipped path is a failure, not a pass).
#   1. -march=armv8.2-a+dotprod, GCC, on qemu's default CPU (max): neon_dotprod, neon and scalar.
#   2. -march=armv8-a, GCC, under -cpu cortex-a53 (ARMv8.0, no SDOT): neon and scalar; any stray
#      dot-product instruction is an illegal instruction there. Kernel tests only
#      (QSAFE_CROSS_KERNEL_ONLY): the other loops are the same code as in build 1.
#   3. Negative control: build 1 under -cpu cortex-a53 must die of SIGILL, proving check 2 can bite.
#   4. -march=armv8.2-a+dotprod with Clang 14 (warning-free under both compilers), run on qemu: the
#      kernel test files that instantiate the NEON GEMM kernels, epilogues and depthwise kernels
#      directly (QSAFE_CROSS_KERNEL_TESTS), not the layers built on them (GCC's builds run those).
# qemu-user runs one thread, so each run goes to the background while the next build uses both
# cores; the runs' logs are printed in order at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=${QSAFE_JOBS:-2}
sysroot=/usr/aarch64-linux-gnu
qemu=(qemu-aarch64 -L "$sysroot")
logs=build/neon-logs
rm -rf "$logs"
mkdir -p "$logs"

configure_and_build() {  # name march expect [extra cmake args]
  local name=$1 march=$2 expect=$3
  shift 3
  cmake -S tests/cross -B "build/$name" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-aarch64.cmake" \
        -DCMAKE_BUILD_TYPE=Release -DQSAFE_CROSS_MARCH="$march" -DQSAFE_CROSS_EXPECT="$expect" "$@" >/dev/null
  cmake --build "build/$name" -j"$jobs"
}

# QSAFE_EXPECT_ARCHS (tests/kernel/paths_test.cpp) reaches the guest: qemu-user passes the environment.
run_dotprod() {  # checks 1 and 3
  QSAFE_EXPECT_ARCHS=neon_dotprod,neon,scalar "${qemu[@]}" build/neon-dotprod/qsafe_cross_test || return 1
  local rc=0
  # In a subshell that reaps qemu itself (no exec: the "; exit") with its stderr discarded, so the
  # shell's "Illegal instruction" notice stays out of the log; the status is still 132.
  ("${qemu[@]}" -cpu cortex-a53 build/neon-dotprod/qsafe_cross_test "[gemm]" >/dev/null 2>&1; exit $?) 2>/dev/null || rc=$?
  if [ "$rc" -ne 132 ]; then  # 128 + SIGILL
    echo "40-neon: expected SIGILL (exit 132) from SDOT on cortex-a53, got exit $rc"
    return 1
  fi
  echo "negative control: the dot-product build died of SIGILL on cortex-a53, as it must"
}
run_plain() {  # check 2
  QSAFE_EXPECT_ARCHS=neon,scalar "${qemu[@]}" -cpu cortex-a53 build/neon-plain/qsafe_cross_test
}
run_clang() {  # check 4
  QSAFE_EXPECT_ARCHS=neon_dotprod,neon,scalar "${qemu[@]}" build/neon-dotprod-clang/qsafe_cross_test
}

pids=()
keys=()
titles=()
start_run() {  # key title function
  "$3" >"$logs/$1.log" 2>&1 &
  pids+=($!)
  keys+=("$1")
  titles+=("$2")
}

# Longest run first, shortest last (the last one has no build to overlap): Clang ~43 s, the
# dot-product build ~45 s with its control, the plain build on cortex-a53 ~16 s.
configure_and_build neon-dotprod-clang armv8.2-a+dotprod neon_dotprod -DQSAFE_CROSS_CLANG=ON \
  -DQSAFE_CROSS_KERNEL_TESTS="gemm_test.cpp;neon_output_test.cpp;output_pipeline_test.cpp;depthwise_test.cpp;paths_test.cpp"
start_run clang "neon_dotprod build (Clang, kernel subset), qemu default CPU" run_clang
configure_and_build neon-dotprod armv8.2-a+dotprod neon_dotprod
start_run dotprod "neon_dotprod build, qemu default CPU; then the SIGILL control on cortex-a53" run_dotprod
configure_and_build neon-plain armv8-a neon -DQSAFE_CROSS_KERNEL_ONLY=ON
start_run plain "plain NEON build, qemu -cpu cortex-a53" run_plain

failed=0
for i in "${!pids[@]}"; do
  rc=0
  wait "${pids[$i]}" || rc=$?
  echo "--- ${titles[$i]}"
  cat "$logs/${keys[$i]}.log"
  if [ "$rc" -ne 0 ]; then
    echo "40-neon: FAILED (exit $rc): ${titles[$i]}"
    failed=1
  fi
done
exit "$failed"
