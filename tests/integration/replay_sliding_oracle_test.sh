#!/usr/bin/env bash
# replay_sliding_oracle_test.sh PORTSCAND GEN_WORKLOAD
#
# `portscand replay` with `evaluation: {window: sliding}` against the DuckDB oracle's
# sliding formulation (tests/oracle/sliding_alerts.sql) on a generated workload with the
# sliding cases planted (gen_workload --sliding-cases 1: a scan straddling a bin edge, the
# same written out of order inside the lateness, scanners paced just under and just over
# the threshold): every alert field but event_count (counted as far as the daemon has read
# when it evaluates) and the order; the sliding cases by name, with the window ends worked
# out by hand in the generator; the same workload in tumbling mode, where the straddling and
# paced scans must not alert; the same output with 1 and 4 shards.
#
# Fails, never skips, when anything it needs is missing. Keeps its work directory when it
# fails (the path is printed), removes it when it passes.
set -uo pipefail

. "$(dirname "$0")/oracle_common.sh" replay_sliding "$@"

workload=$work/workload.jsonl
manifest=$work/manifest.json
"$gen" --events 120000 --sources 12000 --seed 20261207 --start 2026-01-15T10:00:00Z \
  --scans 30 --bad-lines 40 --duration-min 60 --sliding-cases 1 --manifest "$manifest" \
  >"$workload" || die "gen_workload failed"
printf 'evaluation: {window: sliding}\nshards: 4\noutputs: [{type: stdout}]\n' >"$work/sliding.yaml"
printf 'evaluation: {window: sliding}\nshards: 1\noutputs: [{type: stdout}]\n' >"$work/sliding1.yaml"

replay() {
  local name=$1 out=$2
  shift 2
  if ! "$portscand" replay "$@" >"$out" 2>"$work/$name.stderr"; then
    failed "portscand replay $* exited non-zero; its stderr:"
    tail -20 "$work/$name.stderr" >&2
    return 1
  fi
  echo "replay $name: $(wc -l <"$out") alerts"
}

expected=$work/oracle.sliding.jsonl
node "$oracle/oracle.mjs" --window sliding --rejects-out "$work/rejects.json" "$workload" \
  >"$expected" || die "the sliding oracle failed"
node "$oracle/check_planted.mjs" --mode default --window sliding --rejects "$work/rejects.json" \
  "$manifest" "$expected" || die "the sliding oracle does not find what was planted"

if replay sliding "$work/sliding.jsonl" --config "$work/sliding.yaml" --format asim "$workload"; then
  node "$oracle/compare.mjs" --ignore event_count --names oracle,replay "$expected" \
    "$work/sliding.jsonl" || failed "sliding replay differs from the oracle"
  node "$oracle/check_planted.mjs" --mode default --window sliding \
    --metrics "$work/sliding.stderr" "$manifest" "$work/sliding.jsonl" ||
    failed "sliding replay misses planted cases or miscounts rejected lines"
fi
strip_detected_at() { sed -E 's/,?"detected_at":"[^"]*"//' "$1"; }
if replay sliding1 "$work/sliding1.jsonl" --config "$work/sliding1.yaml" --format asim "$workload"; then
  cmp -s <(strip_detected_at "$work/sliding.jsonl") <(strip_detected_at "$work/sliding1.jsonl") ||
    failed "sliding: --shards 1 and --shards 4 output differ (detected_at aside)"
fi

# Tumbling on the same workload: the planted straddling and paced scans stay silent (the
# manifest's slide_* per-bin cases), and the tumbling oracle still agrees.
node "$oracle/oracle.mjs" --rejects-out "$work/rejects.tumbling.json" "$workload" \
  >"$work/oracle.tumbling.jsonl" || die "the oracle failed (tumbling)"
if replay tumbling "$work/tumbling.jsonl" --format asim "$workload"; then
  node "$oracle/compare.mjs" --names oracle,replay "$work/oracle.tumbling.jsonl" \
    "$work/tumbling.jsonl" || failed "tumbling replay differs from the oracle"
  node "$oracle/check_planted.mjs" --mode default "$manifest" "$work/tumbling.jsonl" ||
    failed "tumbling replay alerts on a case only the sliding window may catch"
fi

if [ "$failures" -eq 0 ]; then
  rm -rf "$work"
  echo "PASS: sliding replay agrees with the oracle"
  exit 0
fi
echo "FAIL: $failures problem(s); inputs and outputs kept in $work" >&2
exit 1
