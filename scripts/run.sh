#!/usr/bin/env bash
# The main job. Until the reliability report lands this is the quick-start example: it
# calibrates, quantizes and prints what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${QSAFE_BUILD_DIR:-build/gcc-release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target qsafe_example_quickstart
"$build/examples/qsafe_example_quickstart"
