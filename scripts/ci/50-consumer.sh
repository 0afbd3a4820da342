#!/usr/bin/env bash
# The CMake package as a downstream project sees it: `cmake --install` into a fresh prefix, then
# tests/consumer configured with find_package(qsafe CONFIG) against that prefix, built and run; and
# the same consumer through add_subdirectory(qsafe).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
prefix=$(mktemp -d /tmp/qsafe-prefix.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
jobs=-j"${QSAFE_JOBS:-2}"

cmake -S . -B build/consumer-install -DQSAFE_BUILD_TESTS=OFF -DQSAFE_BUILD_BENCHMARKS=OFF \
  -DQSAFE_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
cmake --install build/consumer-install >/dev/null
test -f "$prefix/include/qsafe/quantize.hpp"
test -f "$prefix"/lib*/cmake/qsafe/qsafeConfig.cmake
test -f "$prefix"/lib*/cmake/qsafe/qsafeConfigVersion.cmake
echo "installed into $prefix: $(find "$prefix" -type f | wc -l) files"

rm -rf build/consumer-package build/consumer-subdir
cmake -S tests/consumer -B build/consumer-package -DQSAFE_CONSUMER_MODE=package \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON | grep "qsafe "
grep -q "qsafe_DIR:PATH=$prefix" build/consumer-package/CMakeCache.txt  # not some other copy
cmake --build build/consumer-package "$jobs"
ctest --test-dir build/consumer-package --output-on-failure --no-tests=error

cmake -S tests/consumer -B build/consumer-subdir -DQSAFE_CONSUMER_MODE=subdirectory \
  -DQSAFE_SOURCE_DIR="$root" >/dev/null
cmake --build build/consumer-subdir "$jobs"
ctest --test-dir build/consumer-subdir --output-on-failure --no-tests=error
