#!/usr/bin/env bash
# Installs qsafe's build and test dependencies from Debian 12 packages when they are missing.
# Usage: scripts/install-deps.sh [extra-package ...]. Runs apt-get update only if something is missing.
set -euo pipefail
packages=(build-essential cmake g++ clang libeigen3-dev libxsimd-dev catch2 libbenchmark-dev
          libdnnl-dev libgemmlowp-dev libopenblas-dev g++-aarch64-linux-gnu qemu-user "$@")
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
