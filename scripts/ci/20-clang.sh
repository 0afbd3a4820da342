#!/usr/bin/env bash
# Release build with Clang 14, -Wall -Wextra -Wpedantic -Werror, every target but the benchmarks
# (stage 10 builds those with GCC; they are never run in CI), full test suite. The layer-level tests
# (nn, analysis, tools) run the scalar kernels here (QSAFE_LAYERS_SCALAR_ONLY, as in stage 30): GCC's
# stage runs them on every path, and this stage's tests/kernel covers every path with Clang.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build/clang-release
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ -DQSAFE_BUILD_BENCHMARKS=OFF \
  -DQSAFE_LAYERS_SCALAR_ONLY=ON >/dev/null
cmake --build "$build" -j"${QSAFE_JOBS:-2}"
ctest --test-dir "$build" -j"${QSAFE_JOBS:-2}" --output-on-failure --no-tests=error
