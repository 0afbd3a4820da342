#!/usr/bin/env bash
# Lint for include/ (CI stage 80; configs: .clang-format, .clang-tidy, .cppcheck-suppressions).
#   1. clang-format: every header must already be formatted (check mode, fails on any diff);
#   2. every header compiles on its own (self-contained includes), GCC -Wall -Wextra -Wpedantic -Werror;
#   3. clang-tidy on a TU including every header, plus the TUs that instantiate the templates
#      (tests/freestanding/*_tu.cpp, fuzz/fuzz_*.cpp); only diagnostics in include/qsafe count;
#   4. cppcheck (warning, performance, portability) on the every-header TU, x86-64 and aarch64.
# Usage: scripts/lint.sh [--fix]   (--fix runs clang-format -i on include/ instead of checking it)
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/lint
mkdir -p "$out"
mapfile -t headers < <(find include/qsafe -name '*.hpp' | sort)
jobs=${QSAFE_JOBS:-2}
fail=0

if [ "${1:-}" = "--fix" ]; then
  clang-format-14 -i "${headers[@]}"
  echo "clang-format applied to ${#headers[@]} headers"
  exit 0
fi

echo "--- clang-format (check) on ${#headers[@]} headers"
unformatted=()
for h in "${headers[@]}"; do
  clang-format-14 --dry-run --Werror "$h" >/dev/null 2>&1 || unformatted+=("$h")
done
if [ ${#unformatted[@]} -gt 0 ]; then
  echo "not clang-formatted (run scripts/lint.sh --fix, or see: clang-format-14 FILE | diff FILE -):"
  for h in "${unformatted[@]}"; do
    echo "  $h ($(clang-format-14 "$h" | diff "$h" - | grep -c '^>') lines differ)"
  done
  fail=1
fi

# cppcheck on two explicit configurations, the x86-64 build (runtime dispatch) and the aarch64
# dot-product build: left to itself it explores up to 12 #if combinations of the whole include tree
# and took 61 s of CPU, against ~5.5 s per explicit configuration. Both run in the background
# (cppcheck is single-threaded) while the checks below keep the cores busy; reported at the end.
printf '#include "%s"\n' "${headers[@]#include/}" > "$out/all_headers.cpp"
cppcheck_configs=("-D__x86_64__=1" "-D__aarch64__=1 -D__ARM_NEON=1 -D__ARM_FEATURE_DOTPROD=1")
cppcheck_pids=()
for i in 0 1; do
  # shellcheck disable=SC2086  # the configuration is a list of -D options
  cppcheck --enable=warning,performance,portability --std=c++17 --language=c++ --inline-suppr --quiet \
    --error-exitcode=1 --suppressions-list=.cppcheck-suppressions --suppress=toomanyconfigs -Iinclude \
    -D__GNUC__=12 -D__linux__=1 ${cppcheck_configs[$i]} \
    --template='{file}:{line}: {severity}: {id}: {message}' "$out/all_headers.cpp" >"$out/cppcheck-$i.log" 2>&1 &
  cppcheck_pids+=($!)
done

echo "--- self-contained headers"
if ! printf '%s\n' "${headers[@]#include/}" | xargs -P"$jobs" -I{} sh -c \
    'echo "#include \"{}\"" | g++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -DQSAFE_HAS_XSIMD=1 -Iinclude \
       -x c++ -fsyntax-only - 2>/dev/null || { echo "  does not compile on its own: include/{}"; exit 1; }'; then
  fail=1
fi

echo "--- clang-tidy"
tidy_sources=("$out/all_headers.cpp" tests/freestanding/*_tu.cpp fuzz/fuzz_*.cpp)
if ! printf '%s\n' "${tidy_sources[@]}" | xargs -P"$jobs" -I{} bash -c \
    'log=build/lint/tidy-$(basename {}).log; \
     clang-tidy-14 --quiet {} -- -std=c++17 -Iinclude -DQSAFE_HAS_XSIMD=1 >"$log" 2>&1; rc=$?; \
     grep -E -A3 "(warning|error):" "$log"; [ $rc -eq 0 ] || { echo "  clang-tidy failed on {} (log: $log)"; exit 1; }'; then
  fail=1
fi

echo "--- cppcheck (x86-64, aarch64+dotprod)"
for i in 0 1; do
  rc=0
  wait "${cppcheck_pids[$i]}" || rc=$?
  cat "$out/cppcheck-$i.log"
  if [ "$rc" -ne 0 ]; then
    echo "  cppcheck failed with ${cppcheck_configs[$i]}"
    fail=1
  fi
done

if [ $fail -ne 0 ]; then
  echo "lint: FAILED"
  exit 1
fi
echo "lint: clean (${#headers[@]} headers)"
