#!/usr/bin/env bash
# Release build with GCC, -Wall -Wextra -Wpedantic -Werror, full test suite.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build/gcc-release
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ >/dev/null
cmake --build "$build" -j"${QSAFE_JOBS:-2}"
ctest --test-dir "$build" -j"${QSAFE_JOBS:-2}" --output-on-failure
