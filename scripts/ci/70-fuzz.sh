#!/usr/bin/env bash
# libFuzzer (Clang, -fsanitize=fuzzer,address,undefined): every fuzz/fuzz_<target>.cpp runs for a
# bounded number of inputs, starting from its committed seed corpus fuzz/corpus/<target>/ (copied, so
# the run never edits the repository). A crash stops the stage and leaves the reproducer in
# build/fuzz/artifacts/<target>/. Longer runs: QSAFE_FUZZ_RUNS / QSAFE_FUZZ_SECONDS, see docs/ci.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build/fuzz
runs=${QSAFE_FUZZ_RUNS:-50000}
seconds=${QSAFE_FUZZ_SECONDS:-15}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" -DCMAKE_CXX_COMPILER=clang++ \
  -DQSAFE_BUILD_FUZZERS=ON -DQSAFE_BUILD_BENCHMARKS=OFF -DQSAFE_BUILD_EXAMPLES=OFF >/dev/null
targets=()
for src in fuzz/fuzz_*.cpp; do
  t=$(basename "$src" .cpp); targets+=("${t#fuzz_}")
done
cmake --build "$build" -j"${QSAFE_JOBS:-2}" --target "${targets[@]/#/qsafe_fuzz_}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
# One target per job slot (QSAFE_JOBS, default 2): libFuzzer runs single-threaded.
fuzz_one() {  # target; output in $build/$t.log, exit status in $build/$t.rc
  local t=$1 work=$build/work/$1 artifacts=$build/artifacts/$1 rc=0
  rm -rf "$work"; mkdir -p "$work" "$artifacts"
  cp fuzz/corpus/"$t"/* "$work"/
  # Recorded crashes join the corpus: libFuzzer's first pass replays all of it (stage 30 does not).
  if [ -d fuzz/regressions/"$t" ]; then cp fuzz/regressions/"$t"/* "$work"/; fi
  "$build/fuzz/qsafe_fuzz_$t" -runs="$runs" -max_total_time="$seconds" -max_len=4096 \
    -seed="${QSAFE_FUZZ_SEED:-1}" -artifact_prefix="$artifacts/" -print_final_stats=1 "$work" \
    >"$build/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$build/$t.rc"
}
echo "--- fuzz ${targets[*]}: up to $runs inputs or $seconds s each, ${QSAFE_JOBS:-2} at a time"
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "${QSAFE_JOBS:-2}" ]; then wait -n || true; running=$((running - 1)); fi
  rm -f "$build/$t.rc"
  fuzz_one "$t" &
  running=$((running + 1))
done
wait
failed=()
for t in "${targets[@]}"; do
  [ "$(cat "$build/$t.rc" 2>/dev/null)" = 0 ] || failed+=("$t")
done
for t in "${targets[@]}"; do
  echo "fuzz $t: $(grep -E "^stat::number_of_executed_units|^Done" "$build/$t.log" | tr '\n' ' ')"
done
for t in "${failed[@]}"; do
  tail -n 60 "$build/$t.log"
  echo "fuzz $t: FAILED; reproducer(s): $(ls "$build/artifacts/$t")" >&2
  echo "replay one with: $build/fuzz/qsafe_fuzz_$t $build/artifacts/$t/<file>" >&2
done
[ "${#failed[@]}" -eq 0 ]
