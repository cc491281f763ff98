#!/usr/bin/env bash
# run_fuzzers.sh [SECONDS] [JOBS]
#
# Builds the `fuzz` preset (clang, libFuzzer + ASan + UBSan on every target; see
# CMakePresets.json) and runs every fuzz_* target for SECONDS (default 60) on a scratch copy
# of its committed seed corpus (tests/fuzz/corpus/<stem>/), JOBS targets at a time (default
# 2). Not run by ctest or CI by default: call it from a scheduled job or by hand.
#
# For each target it prints the final coverage (cov:), features (ft:) and executions per
# second. A crash, leak, timeout or sanitizer report fails the run; the reproducer
# (crash-*/leak-*/timeout-*/oom-*) is copied to $OUT/<stem>/ for adding to the committed
# corpus once fixed. The committed corpus is never modified.
#
# Environment: BUILD_DIR (default build/fuzz, the preset's directory), OUT (default
# $BUILD_DIR/fuzz-runs), FUZZ_ARGS (extra libFuzzer flags).
set -uo pipefail

seconds=${1:-60}
jobs=${2:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build/fuzz}
out=${OUT:-$build/fuzz-runs}

command -v clang++ >/dev/null || { echo "FAIL: clang++ is not installed" >&2; exit 1; }

if [ "$build" = "$root/build/fuzz" ]; then
  (cd "$root" && cmake --preset fuzz) >/dev/null || { echo "FAIL: configure" >&2; exit 1; }
else
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ -DPORTSCAND_BUILD_FUZZ=ON -DPORTSCAND_BUILD_TESTS=OFF \
    -DPORTSCAND_BUILD_BENCH=OFF >/dev/null || { echo "FAIL: configure" >&2; exit 1; }
fi

# Every target has a seed corpus directory (tests/fuzz/CMakeLists.txt; the formats' targets
# come from lib/parse/formats.def and share one source, so sources do not name them).
stems=()
for dir in "$root"/tests/fuzz/corpus/*/; do
  stem=$(basename "$dir")
  stems+=("$stem")
done
targets=("${stems[@]/#/fuzz_}")
cmake --build "$build" -j "$jobs" --target "${targets[@]}" || { echo "FAIL: build" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"

# run_one STEM: fuzzes one target; writes $out/<stem>.log and $out/<stem>.status.
run_one() {
  local stem=$1 dir=$out/$1
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -r "$root/tests/fuzz/corpus/$stem/." "$dir/corpus/" 2>/dev/null
  # shellcheck disable=SC2086
  "$build/tests/fuzz/fuzz_$stem" "$dir/corpus" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    ${FUZZ_ARGS:-} >"$dir.log" 2>&1
  echo $? >"$dir.status"
}

running=0
for stem in "${stems[@]}"; do
  run_one "$stem" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

failed=0
printf '%-16s %8s %8s %10s %10s  %s\n' target cov ft execs exec/s result
for stem in "${stems[@]}"; do
  log=$out/$stem.log
  status=$(cat "$out/$stem.status" 2>/dev/null || echo 1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  result=ok
  if [ "$status" != 0 ] || [ -n "$(find "$out/$stem/artifacts" -type f 2>/dev/null)" ]; then
    result="FAILED (exit $status, log $log)"
    failed=$((failed + 1))
  fi
  printf '%-16s %8s %8s %10s %10s  %s\n' "$stem" "${cov:-?}" "${ft:-?}" "${execs:-?}" \
    "${rate:-?}" "$result"
done
if [ "$failed" -ne 0 ]; then
  echo "FAIL: $failed target(s) found a problem; reproducers are in $out/<stem>/artifacts/" >&2
  exit 1
fi
echo "PASS: ${#stems[@]} fuzz targets ran ${seconds}s each without a finding"
