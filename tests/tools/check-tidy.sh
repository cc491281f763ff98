#!/usr/bin/env bash
# Runs clang-tidy with the repository's .clang-tidy over every lib/ and daemon/ translation
# unit of a configured build (its compile_commands.json; default build/release) and fails on
# any finding. Usage: tests/tools/check-tidy.sh [BUILD_DIR]   JOBS=N sets the parallelism.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
if [ ! -f "$build/compile_commands.json" ]; then
  echo "check-tidy: no $build/compile_commands.json (configure the preset first)" >&2
  exit 2
fi
run_tidy=${RUN_CLANG_TIDY:-run-clang-tidy}
version=$(${CLANG_TIDY:-clang-tidy} --version)
if [[ "$version" != *"version 14."* ]]; then
  echo "check-tidy: need clang-tidy 14, found: $version" >&2
  exit 2
fi
# The files are absolute paths in compile_commands.json; tests/ is not held to the set.
# The filter drops clang's counts of the (suppressed) warnings in system headers; the exit
# status is run-clang-tidy's, whatever the filter leaves.
status=0
"$run_tidy" -p "$build" -j "${JOBS:-$(nproc)}" -quiet "^$PWD/(lib|daemon)/" 2>&1 | {
  grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Use -system-headers' ||
    true
} || status=$?
[ "$status" -eq 0 ] && echo "check-tidy: no findings" || echo "check-tidy: findings above" >&2
exit "$status"
