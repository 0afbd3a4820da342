#!/usr/bin/env bash
# Lint of include/: clang-format check, self-contained headers, clang-tidy, cppcheck (scripts/lint.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/lint.sh
