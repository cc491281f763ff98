#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs the packages, builds the
# release and asan (ASan+UBSan) presets and runs every test of both with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
for preset in release asan; do
  echo "== build $preset"
  deploy/build.sh "$preset"
  echo "== test $preset"
  ctest --preset "$preset" -j "$(nproc)" --timeout 600
done
