#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs the packages, builds the
# release and asan (ASan+UBSan) presets and runs the tests of both with ctest. The asan run
# leaves out the Kafka end-to-end scenarios (label `kafka`): they exercise timing against a
# broker for minutes and add nothing the sanitizers would see that the unit, replay and
# syslog tests do not.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
jobs=$(nproc)
echo "== format"
tests/tools/check-format.sh
echo "== build release"
deploy/build.sh release
echo "== test release"
ctest --preset release -j "$jobs" --timeout 900
echo "== build asan"
deploy/build.sh asan
echo "== test asan"
ctest --preset asan -j "$jobs" --timeout 900 -LE kafka
