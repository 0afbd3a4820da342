#!/usr/bin/env bash
# Builds qsafe and passes every test: installs what is missing, then runs each CI stage in
# scripts/ci/ in order (NN-name.sh). A stage is one concern (a compiler, sanitizers, NEON under
# qemu, the installed-package consumer, firmware compile checks, fuzzing, lint); any failure stops
# the run with a non-zero exit. QSAFE_STAGES="10 20" runs only the stages whose numbers are listed.
# Each stage's output is also kept in build/ci-logs/NN.log. docs/ci.md describes the stages.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --ci
export QSAFE_JOBS=${QSAFE_JOBS:-2}
logs=build/ci-logs
mkdir -p "$logs"
start=$SECONDS
timings=()
summaries=()
for stage in scripts/ci/[0-9][0-9]-*.sh; do
  name=$(basename "$stage" .sh); n=${name%%-*}
  if [ -n "${QSAFE_STAGES:-}" ] && [[ " $QSAFE_STAGES " != *" $n "* ]]; then continue; fi
  echo "=== qsafe stage $name ($((SECONDS - start)) s elapsed)"
  t0=$SECONDS
  if ! bash "$stage" 2>&1 | tee "$logs/$n.log"; then
    echo "=== qsafe: stage $name FAILED after $((SECONDS - t0)) s (log: $logs/$n.log)"
    exit 1
  fi
  timings+=("$name $((SECONDS - t0)) s")
  while IFS= read -r line; do summaries+=("$name: $line"); done \
    < <(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$logs/$n.log" || true)
done
echo "=== qsafe: all stages passed in $((SECONDS - start)) s"
for t in "${timings[@]}"; do echo "    $t"; done
# End with ctest's summary line: one per ctest run above, then the total over all of them.
total=0
for s in "${summaries[@]}"; do
  echo "    $s"
  total=$((total + $(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$s")))
done
if [ ${#summaries[@]} -gt 0 ]; then
  echo "100% tests passed, 0 tests failed out of $total"
fi
