#!/usr/bin/env bash
# Builds qsafe and passes every test: installs what is missing, then configures, builds (-j2) and
# runs the suite (GCC and Clang builds, the sanitizer build, the NEON builds under qemu and the
# compile-only checks are added by scripts/ci-*.sh as they land).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=${QSAFE_JOBS:-2}
build=${QSAFE_BUILD_DIR:-build/gcc-release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ >/dev/null
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" -j"$jobs" --output-on-failure
