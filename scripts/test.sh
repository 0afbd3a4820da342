#!/usr/bin/env bash
# Builds qsafe and passes every test: installs what is missing, then runs each CI stage in
# scripts/ci/ in order (NN-name.sh). A stage is one concern (a compiler, sanitizers, NEON under
# qemu, the installed-package consumer, firmware compile checks, ...); any failure stops the run.
# QSAFE_STAGES="10 20" runs only the stages whose numbers are listed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export QSAFE_JOBS=${QSAFE_JOBS:-2}
start=$SECONDS
for stage in scripts/ci/[0-9][0-9]-*.sh; do
  n=$(basename "$stage"); n=${n%%-*}
  if [ -n "${QSAFE_STAGES:-}" ] && [[ " $QSAFE_STAGES " != *" $n "* ]]; then continue; fi
  echo "=== qsafe stage $(basename "$stage") ($((SECONDS - start)) s elapsed)"
  bash "$stage"
done
echo "=== qsafe: all stages passed in $((SECONDS - start)) s"
