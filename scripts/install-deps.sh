#!/usr/bin/env bash
# Installs qsafe's build and test dependencies from Debian 12 packages when they are missing.
# Usage: scripts/install-deps.sh [--ci] [extra-package ...]
#   (no flag)  what building the library, examples, tools, tests and benchmarks needs (scripts/run.sh);
#   --ci       also every tool the CI stages of scripts/test.sh use: Clang's sanitizer and libFuzzer
#              runtimes, clang-format/clang-tidy/cppcheck, the aarch64 cross compiler and qemu, and the
#              Cortex-M4 bare-metal toolchain (docs/ci.md lists which stage needs what).
# Runs apt-get update only if something is missing. Needs root (or sudo).
set -euo pipefail
packages=(build-essential cmake g++ libeigen3-dev libxsimd-dev catch2 libbenchmark-dev
          libdnnl-dev libgemmlowp-dev libopenblas-dev)
if [ "${1:-}" = "--ci" ]; then
  shift
  packages+=(
    clang libclang-rt-14-dev llvm-14             # stage 30 Clang + sanitizers, 40 Clang aarch64, 70 libFuzzer (+ llvm-symbolizer)
    g++-aarch64-linux-gnu qemu-user              # stage 40 NEON under qemu, 60 aarch64 firmware check
    clang-format clang-tidy cppcheck             # stage 80 lint
  )
  # Stage 60's Cortex-M4 check (~410 MB download); skipped when QSAFE_FW_TARGETS leaves it out.
  if [[ " ${QSAFE_FW_TARGETS:-cortex-m4} " == *" cortex-m4 "* ]]; then
    packages+=(gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib)
  fi
fi
packages+=("$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "qsafe: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
