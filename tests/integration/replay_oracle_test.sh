#!/usr/bin/env bash
# replay_oracle_test.sh PORTSCAND GEN_WORKLOAD
#
# `portscand replay` against the DuckDB oracle (tests/oracle) on a generated workload of
# ~200k ASIM records with planted scans: every alert field and the line order, in default
# and sentinel mode; the planted edge cases by name (so an oracle that is wrong the same
# way as the daemon cannot pass); and the same output whatever the shard count, from a
# file or from stdin.
#
# Fails, never skips, when anything it needs is missing. Keeps its work directory when
# it fails (the path is printed), removes it when it passes.
set -uo pipefail

. "$(dirname "$0")/oracle_common.sh" replay_oracle "$@"
finish() {
  if [ "$failures" -eq 0 ]; then
    rm -rf "$work"
    echo "PASS: replay agrees with the oracle"
    exit 0
  fi
  echo "FAIL: $failures problem(s); inputs and outputs kept in $work" >&2
  exit 1
}

# The oracle is checked first: comparing with a wrong oracle proves nothing.
bash "$oracle/selftest/selftest.sh" >"$work/selftest.log" 2>&1 ||
  { cat "$work/selftest.log"; die "the oracle's self-test fails"; }
echo "ok: oracle self-test"

workload=$work/workload.jsonl
manifest=$work/manifest.json
"$gen" --events 200000 --sources 20000 --seed 20261128 --start 2026-01-15T10:00:00Z \
  --scans 40 --bad-lines 60 --duration-min 60 --manifest "$manifest" >"$workload" ||
  die "gen_workload failed"

# replay MODE OUT [args...]: runs replay, keeps its stderr summary, fails on a non-zero exit.
replay() {
  local name=$1 out=$2
  shift 2
  if ! "$portscand" replay "$@" >"$out" 2>"$work/$name.stderr"; then
    failed "portscand replay $* exited non-zero; its stderr:"
    tail -20 "$work/$name.stderr" >&2
    return 1
  fi
  echo "replay $name: $(wc -l <"$out") alerts; $(grep -m1 '^portscand replay:' "$work/$name.stderr" ||
    tail -1 "$work/$name.stderr")"
}

for mode in default sentinel; do
  expected=$work/oracle.$mode.jsonl
  actual=$work/replay.$mode.jsonl
  node "$oracle/oracle.mjs" --mode "$mode" --rejects-out "$work/rejects.$mode.json" "$workload" \
    >"$expected" || die "the oracle failed ($mode mode)"
  # The oracle must itself deliver what the generator planted, and count every malformed
  # line the generator wrote, before it may judge replay.
  node "$oracle/check_planted.mjs" --mode "$mode" --rejects "$work/rejects.$mode.json" \
    "$manifest" "$expected" || die "the oracle does not find what was planted ($mode mode)"

  replay "$mode" "$actual" --mode "$mode" --format asim "$workload" || continue
  node "$oracle/compare.mjs" --names oracle,replay "$expected" "$actual" ||
    failed "replay differs from the oracle ($mode mode)"
  # Also every malformed line must be counted, by reason (SPEC §4), in replay's summary.
  node "$oracle/check_planted.mjs" --mode "$mode" --metrics "$work/$mode.stderr" "$manifest" "$actual" ||
    failed "replay misses planted cases or miscounts rejected lines ($mode mode)"
done

# Sharding must not change anything: same alerts, same order, same bytes (but for the
# wall-clock detected_at), and reading stdin is the same as reading the file.
strip_detected_at() { sed -E 's/,?"detected_at":"[^"]*"//' "$1"; }
if replay shards1 "$work/shards1.jsonl" --shards 1 --format asim "$workload" &&
  replay shards4 "$work/shards4.jsonl" --shards 4 --format asim "$workload" &&
  replay stdin4 "$work/stdin4.jsonl" --shards 4 --format asim - <"$workload"; then
  node "$oracle/compare.mjs" --names shards1,shards4 "$work/shards1.jsonl" "$work/shards4.jsonl" ||
    failed "--shards 1 and --shards 4 give different alerts"
  cmp -s <(strip_detected_at "$work/shards1.jsonl") <(strip_detected_at "$work/shards4.jsonl") ||
    failed "--shards 1 and --shards 4 output differ byte for byte (detected_at aside)"
  cmp -s <(strip_detected_at "$work/shards4.jsonl") <(strip_detected_at "$work/stdin4.jsonl") ||
    failed "replay of stdin differs from replay of the file"
  node "$oracle/compare.mjs" --names oracle,shards1 "$work/oracle.default.jsonl" "$work/shards1.jsonl" ||
    failed "--shards 1 differs from the oracle"
fi

finish
