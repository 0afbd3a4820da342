#!/usr/bin/env bash
# The Clang 14 build: every target but the benchmarks warning-free under -Wall -Wextra -Wpedantic
# -Werror, and the full suite, under AddressSanitizer + UndefinedBehaviorSanitizer (Clang: its
# -fsanitize=undefined also covers float-cast-overflow, which GCC's leaves out and which matters for
# float -> int code), every check fatal (-fno-sanitize-recover=all). It is CI's only Clang x86
# build: a separate Clang -O3 build compiled and ran the same tests again (220 s of the 15-minute
# budget) for no check this one lacks; GCC's stage 10 is the optimized build, stage 40 builds the
# NEON kernels with Clang too.
# Debug at -O1 with line tables only (full -g doubles the compile time of the template-heavy kernel
# tests under ASan): asserts (QSAFE_DCHECK) stay on. The layer-level targets (tests/nn,
# tests/analysis, tests/tools, the tools and examples) are built for the scalar kernel path only
# (QSAFE_LAYERS_SCALAR_ONLY, see CMakeLists.txt): tests/kernel runs every path under the
# sanitizers, and instrumenting every path again in each layer test cost ~8x the compile. The
# kernel tests leave out the SIMD paths of pipeline cases that only vary numerics
# (QSAFE_TEST_SANITIZED, tests/kernel/pipeline_check.hpp). The fuzz corpus and regression replays
# run under ASan + UBSan in stage 70 (libFuzzer's first pass), not here.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build/sanitize
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" -DQSAFE_SANITIZE=ON -DQSAFE_LAYERS_SCALAR_ONLY=ON \
  -DQSAFE_BUILD_BENCHMARKS=OFF -DQSAFE_BUILD_FUZZ_REPLAYS=OFF >/dev/null
cmake --build "$build" -j"${QSAFE_JOBS:-2}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
ctest --test-dir "$build" -j"${QSAFE_JOBS:-2}" --output-on-failure --no-tests=error
