#!/usr/bin/env bash
# e2e_replay.sh [BUILD_DIR] — the end-to-end benchmark: `portscand replay` against DuckDB on
# the same 5,000,000-record ASIM NDJSON file, timed in one run with /usr/bin/time (wall,
# user+sys CPU, max RSS), after checking that all of them give the same alerts. Each
# contender runs REPEAT times, the rounds interleaved (replay, DuckDB best, DuckDB natural,
# replay, ...) so that a noisy spell of a shared machine hits all alike; the table shows
# each one's fastest round (its CPU and RSS from that round).
#
#   replay          portscand replay FILE (default options: the format is detected, `auto`)
#   duckdb best     tests/bench/duckdb_best.sql: hand pre-filtered (count(*) per key before
#                   any distinct aggregate), the fastest DuckDB formulation we found
#   duckdb natural  tests/bench/duckdb_natural.sql: one GROUP BY with distinct aggregates
#   node baseline   node + DuckDB started, SELECT 1: what the DuckDB rows carry anyway
#
# BUILD_DIR defaults to build/release (configure with the `release` preset; needs the
# portscand and gen_workload targets). The workload goes to a scratch directory, by
# default BUILD_DIR/bench-e2e (never commit it; ~1 GB), and is reused while the generator
# and the parameters stay the same. The file is read once before timing so that every
# contender starts with it in the page cache.
#
# Environment: EVENTS (5000000), SOURCES (200000), SCANS (200), SEED (7),
# DURATION_MIN (120), REPEAT (3), SCRATCH (BUILD_DIR/bench-e2e).
# Exit status: 0 when every contender ran and all alerts agree; 1 otherwise.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
events=${EVENTS:-5000000}
sources=${SOURCES:-200000}
scans=${SCANS:-200}
seed=${SEED:-7}
duration=${DURATION_MIN:-120}
repeat=${REPEAT:-3}
scratch=${SCRATCH:-$build/bench-e2e}
oracle=$root/tests/oracle
portscand=$build/daemon/portscand
gen=$build/tests/tools/gen_workload

die() {
  echo "e2e_replay: $*" >&2
  exit 1
}
[ -x "$portscand" ] || die "no $portscand (ninja -C $build -j2 portscand)"
[ -x "$gen" ] || die "no $gen (ninja -C $build -j2 gen_workload)"
[ -x /usr/bin/time ] || die "GNU time is missing (apt-get install time)"
command -v node >/dev/null || die "node is missing (deploy/install-deps.sh)"
[ -d "$oracle/node_modules/@duckdb/node-api" ] || die "DuckDB is missing: (cd tests/oracle && npm ci)"

mkdir -p "$scratch"
workload=$scratch/asim-$events-$sources-$scans-$seed-$duration.jsonl
if [ ! -s "$workload" ] || [ "$gen" -nt "$workload" ]; then
  echo "generating $workload"
  rm -f "$scratch"/asim-*.jsonl
  "$gen" --events "$events" --sources "$sources" --scans "$scans" --seed "$seed" \
    --duration-min "$duration" --bad-lines 200 --manifest "$workload.manifest" >"$workload.tmp"
  mv "$workload.tmp" "$workload"
fi
cat "$workload" >/dev/null

# run NAME COMMAND...: output to NAME.jsonl, stderr to NAME.stderr; NAME.time keeps the
# fastest round's "wall user sys maxrss".
run() {
  local name=$1
  shift
  echo "running $name" >&2
  if ! /usr/bin/time -f '%e %U %S %M' -o "$scratch/$name.round" "$@" \
    >"$scratch/$name.jsonl" 2>"$scratch/$name.stderr"; then
    echo "e2e_replay: $name failed; its stderr:" >&2
    tail -20 "$scratch/$name.stderr" >&2
    return 1
  fi
  if [ ! -s "$scratch/$name.time" ] ||
    awk -v best="$(cut -d' ' -f1 "$scratch/$name.time")" '{w = $1} END {exit !(w < best)}' "$scratch/$name.round"; then
    mv "$scratch/$name.round" "$scratch/$name.time"
  fi
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
ok=1
rm -f "$scratch"/*.time "$scratch"/*.round
for round in $(seq "$repeat"); do
  echo "round $round of $repeat" >&2
  run replay "$portscand" replay "$workload" || ok=0
  run duckdb_best node "$oracle/oracle.mjs" --sql "$root/tests/bench/duckdb_best.sql" \
    --view ps_bench_alerts "$workload" || ok=0
  run duckdb_natural node "$oracle/oracle.mjs" --sql "$root/tests/bench/duckdb_natural.sql" \
    --view ps_bench_alerts "$workload" || ok=0
done
run node_baseline node "$oracle/oracle.mjs" --baseline || ok=0
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Same alerts from all three, every field and the order (compare.mjs also refuses zero).
if [ "$ok" = 1 ]; then
  node "$oracle/compare.mjs" --names duckdb_best,replay "$scratch/duckdb_best.jsonl" "$scratch/replay.jsonl" || ok=0
  node "$oracle/compare.mjs" --names duckdb_best,duckdb_natural "$scratch/duckdb_best.jsonl" \
    "$scratch/duckdb_natural.jsonl" || ok=0
  # ... and what was planted is there, so agreeing on a wrong answer does not pass.
  node "$oracle/check_planted.mjs" --mode default "$workload.manifest" "$scratch/duckdb_best.jsonl" || ok=0
fi

echo
echo "End-to-end: $events ASIM records ($(du -m "$workload" | cut -f1) MB), $sources sources, $(wc -l <"$scratch/duckdb_best.jsonl" 2>/dev/null || echo "?") alerts"
echo "machine: $(nproc) cores, load average before $load_before, after $load_after; $(cat "$scratch/node_baseline.jsonl" 2>/dev/null)"
echo "each contender's fastest of $repeat interleaved rounds"
echo "portscand: $("$portscand" --version 2>/dev/null | head -1) at $portscand; tests at $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')"
echo
awk -v events="$events" -v scratch="$scratch" '
  function load(name,   line, f) {
    if ((getline line < (scratch "/" name ".time")) <= 0) return 0
    split(line, f, " ")
    wall[name] = f[1]; cpu[name] = f[2] + f[3]; rss[name] = f[4] / 1024
    return 1
  }
  BEGIN {
    split("replay duckdb_best duckdb_natural node_baseline", names, " ")
    printf "%-16s %10s %12s %12s\n", "", "wall s", "CPU s", "max RSS MB"
    for (i = 1; i <= 4; ++i)
      if (load(names[i]))
        printf "%-16s %10.2f %12.2f %12.1f\n", names[i], wall[names[i]], cpu[names[i]], rss[names[i]]
    print ""
    if (("replay" in wall) && ("duckdb_best" in wall) && wall["duckdb_best"] > 0) {
      printf "replay wall / DuckDB best wall      %.3f\n", wall["replay"] / wall["duckdb_best"]
      printf "replay wall / DuckDB natural wall   %.3f\n", wall["replay"] / wall["duckdb_natural"]
      printf "replay RSS / DuckDB best RSS        %.3f   (DuckDB best minus the node baseline: %.3f)\n",
             rss["replay"] / rss["duckdb_best"], rss["replay"] / (rss["duckdb_best"] - rss["node_baseline"])
      if (cpu["replay"] > 0)
        printf "replay events/s per core            %.0f   (events / replay user+sys CPU seconds)\n", events / cpu["replay"]
      printf "replay events/s (wall)              %.0f\n", events / wall["replay"]
    }
  }'
echo
if [ "$ok" = 1 ]; then
  echo "all alerts agree (replay, DuckDB best, DuckDB natural)"
else
  echo "FAILED: see above; outputs in $scratch" >&2
  exit 1
fi
