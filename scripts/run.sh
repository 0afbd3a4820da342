#!/usr/bin/env bash
# The main job: builds qsafe-report and runs it on the bundled digits data (data/digits: a small CNN,
# 200 calibration and 597 test images) over the built-in input groups. It prints a table of every
# int8 configuration, the recommendation and the failure-search verdicts, and writes
#   build/report/report.html   the self-contained report (open it in a browser)
#   build/report/report.json   every number (schema: docs/report.md)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${QSAFE_BUILD_DIR:-build/gcc-release}
out=${QSAFE_REPORT_DIR:-build/report}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target qsafe-report
"$build/tools/qsafe-report" \
  --model data/digits/model/model.txt \
  --calib data/digits/calib_x.npy \
  --test data/digits/test_x.npy \
  --labels data/digits/test_y.npy \
  --groups builtin \
  --out "$out/report.html" --json "$out/report.json"
echo "Open $out/report.html in a browser (docs/report.md explains how to read it)."
