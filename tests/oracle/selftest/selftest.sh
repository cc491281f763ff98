#!/usr/bin/env bash
# Checks the oracle itself before anything is compared with it: the SQL against alerts
# worked out by hand (README.md here), and compare.mjs against files that must differ.
# No portscand needed. Fails (never skips) when node or DuckDB is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
oracle=$here/..
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node is not installed (deploy/install-deps.sh)"
[ -d "$oracle/node_modules/@duckdb/node-api" ] ||
  fail "the DuckDB oracle is not installed: (cd tests/oracle && npm ci)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for mode in default sentinel; do
  node "$oracle/oracle.mjs" --mode "$mode" --threshold 2 --max-targets 2 --rejects-out "$work/rejects.$mode.json" \
    "$here/basic.jsonl" >"$work/oracle.$mode.jsonl"
  node "$oracle/compare.mjs" --names hand,oracle "$here/basic.$mode.expected.jsonl" "$work/oracle.$mode.jsonl" ||
    fail "the oracle disagrees with the hand-computed alerts ($mode mode)"
  node -e '
    const fs = require("fs");
    const a = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const b = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    const canon = (o) => JSON.stringify(o, Object.keys(o).sort());
    if (a.rejected !== b.rejected || canon(a.by_reason) !== canon(b.by_reason)) {
      console.error("rejects: oracle", JSON.stringify(a), "hand", JSON.stringify(b));
      process.exit(1);
    }' "$work/rejects.$mode.json" "$here/basic.rejects.json" ||
    fail "the oracle's reject counts differ from the hand count ($mode mode)"
done

# The benchmark's DuckDB formulations (tests/bench/duckdb_*.sql) must give the same result:
# their pre-filters are easy to get wrong (a key spelled two ways, a port-less record).
# They compute the rule's columns only, so they are held to those.
for mode in default sentinel; do
  node -e '
    const fs = require("fs");
    for (const line of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
      if (line === "") continue;
      const a = JSON.parse(line);
      for (const k of ["incident_id", "targets", "targets_truncated", "protocols", "outcomes"]) delete a[k];
      console.log(JSON.stringify(a));
    }' "$here/basic.$mode.expected.jsonl" >"$work/rule-only.$mode.jsonl"
done
for variant in natural best; do
  for mode in default sentinel; do
    node "$oracle/oracle.mjs" --mode "$mode" --threshold 2 --sql "$here/../../bench/duckdb_$variant.sql" \
      --view ps_bench_alerts "$here/basic.jsonl" >"$work/$variant.$mode.jsonl"
    node "$oracle/compare.mjs" --names hand,"duckdb_$variant" "$work/rule-only.$mode.jsonl" \
      "$work/$variant.$mode.jsonl" || fail "duckdb_$variant.sql disagrees with the hand-computed alerts ($mode mode)"
  done
done

# The port-sweep rule (sweep.jsonl, README.md here): with the scan rule, in both modes, and
# with suppression per rule and source (600 s drops the sweeper's second port of the bin,
# not its scan alert).
for run in default:default sentinel:sentinel suppression:default; do
  name=${run%%:*} mode=${run#*:}
  extra=()
  [ "$name" = suppression ] && extra=(--suppression 600)
  node "$oracle/oracle.mjs" --mode "$mode" --threshold 2 --sweep-threshold 2 "${extra[@]}" \
    --rejects-out "$work/sweep-rejects.$name.json" "$here/sweep.jsonl" >"$work/sweep.$name.jsonl"
  node "$oracle/compare.mjs" --names hand,oracle "$here/sweep.$name.expected.jsonl" "$work/sweep.$name.jsonl" ||
    fail "the oracle disagrees with the hand-computed sweep alerts ($name)"
  grep -q '"rejected":1,"by_reason":{"bad_dst_port":1}' "$work/sweep-rejects.$name.json" ||
    fail "the oracle's reject count of sweep.jsonl is not the one bad port ($name)"
done
# Without --sweep-threshold: the scan alert alone, as before the sweep rule.
node "$oracle/oracle.mjs" --mode default --threshold 2 --no-rejects "$here/sweep.jsonl" >"$work/sweep.scan.jsonl"
head -1 "$here/sweep.default.expected.jsonl" | cmp -s - "$work/sweep.scan.jsonl" ||
  fail "without --sweep-threshold the oracle does not give the scan alert alone"

# compare.mjs must notice each kind of difference; a comparator that cannot fail would
# let every replay test pass.
expected=$here/basic.default.expected.jsonl
must_differ() {
  local what=$1 file=$2
  if node "$oracle/compare.mjs" "$expected" "$file" >"$work/compare.out"; then
    cat "$work/compare.out"
    fail "compare.mjs did not notice $what"
  fi
  echo "ok: compare.mjs notices $what"
}
{ sed -n 2p "$expected"; sed -n 1p "$expected"; sed -n 3p "$expected"; } >"$work/swapped.jsonl"
must_differ "two alerts in the wrong order" "$work/swapped.jsonl"
sed '1s/"event_count":6/"event_count":7/' "$expected" >"$work/count.jsonl"
must_differ "a different event_count" "$work/count.jsonl"
sed '1s/"Zscaler\/",//' "$expected" >"$work/label.jsonl"
must_differ "a missing ReportedBy label" "$work/label.jsonl"
sed '3s/"alert_id":"a/"alert_id":"b/' "$expected" >"$work/id.jsonl"
must_differ "a different alert_id" "$work/id.jsonl"
sed '2d' "$expected" >"$work/missing.jsonl"
must_differ "a missing alert" "$work/missing.jsonl"
{ cat "$expected"; sed -n '1p' "$expected"; } >"$work/dup.jsonl"
must_differ "a duplicated alert" "$work/dup.jsonl"
sed '1s/"last_seen":"2026-01-15T10:04:59.999999Z"/"last_seen":"2026-01-15T10:04:59.999Z"/' "$expected" >"$work/time.jsonl"
must_differ "a truncated last_seen" "$work/time.jsonl"
sed '2s/"attempts":2/"attempts":3/' "$expected" >"$work/attempts.jsonl"
must_differ "a different target attempt count" "$work/attempts.jsonl"
sed '3s/{"address":"192.0.2.2","attempts":1}//; 3s/,\]/]/' "$expected" >"$work/target.jsonl"
must_differ "a missing target" "$work/target.jsonl"
sed '2s/"allowed":1/"allowed":0/' "$expected" >"$work/outcome.jsonl"
must_differ "a different outcome count" "$work/outcome.jsonl"
sed '3s/"targets_truncated":true/"targets_truncated":false/' "$expected" >"$work/truncated.jsonl"
must_differ "a different targets_truncated" "$work/truncated.jsonl"
sed '1s/"incident_id":"e/"incident_id":"f/' "$expected" >"$work/incident.jsonl"
must_differ "a different incident_id" "$work/incident.jsonl"
# The same for sweep alerts: keyed by rule and port, compared on their own fields.
expected=$here/sweep.default.expected.jsonl
{ sed -n 1p "$expected"; sed -n 3p "$expected"; sed -n 2p "$expected"; sed -n '4,$p' "$expected"; } >"$work/sweep-swapped.jsonl"
must_differ "two sweep alerts of one source and bin in the wrong port order" "$work/sweep-swapped.jsonl"
{ sed -n 2p "$expected"; sed -n 1p "$expected"; sed -n '3,$p' "$expected"; } >"$work/sweep-first.jsonl"
must_differ "a sweep alert before the scan alert of its source and bin" "$work/sweep-first.jsonl"
sed '2s/"TargetCount":3,/"TargetCount":4,/' "$expected" >"$work/sweep-count.jsonl"
must_differ "a different TargetCount" "$work/sweep-count.jsonl"
sed '2s/"DstPortNumber":22,/"DstPortNumber":2222,/' "$expected" >"$work/sweep-port.jsonl"
must_differ "a sweep alert for another port" "$work/sweep-port.jsonl"
sed '3s/"title":"Potential port sweep/"title":"Port sweep/' "$expected" >"$work/sweep-title.jsonl"
must_differ "a different sweep title" "$work/sweep-title.jsonl"
sed '3s/"severity":"Medium"/"severity":"High"/' "$expected" >"$work/sweep-severity.jsonl"
must_differ "a different sweep rule severity" "$work/sweep-severity.jsonl"
sed '2d' "$expected" >"$work/sweep-missing.jsonl"
must_differ "a missing sweep alert beside a scan alert" "$work/sweep-missing.jsonl"

: >"$work/empty.jsonl"
if node "$oracle/compare.mjs" "$work/empty.jsonl" "$work/empty.jsonl" >/dev/null; then
  fail "compare.mjs accepted two empty files"
fi
echo "ok: compare.mjs refuses to compare nothing"
echo "PASS: oracle self-test"
