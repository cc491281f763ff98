#!/usr/bin/env bash
# ops_metrics_test.sh PORTSCAND GEN_WORKLOAD
#
# /metrics of `portscand run` after a known workload: the scrape must pass
# `promtool check metrics` without a single finding, every metric family the dashboards and
# alerting rules (deploy/) use must be present, and the counters must equal what the
# workload implies:
#   - lines read = lines in the file = records parsed + rejected (+ skipped, which is 0 for
#     ASIM records);
#   - rejected by reason = the generator's malformed lines by reason (manifest) — checked by
#     tests/oracle/check_planted.mjs, which also checks the planted cases in the alerts;
#   - filtered by reason (private, loopback, private_v6) = the DuckDB oracle's count
#     (tests/oracle/record_counts.mjs);
#   - alerts emitted = alerts delivered = alert lines written = the oracle's alert count.
# The file input is followed like tail -F; with idle_timeout 1s the watermark moves past
# every bin once the file is read, and on_close evaluates each bin as it closes.
#
# Fails, never skips, when anything it needs is missing.
set -uo pipefail

[ $# -eq 2 ] || { echo "usage: $0 PORTSCAND GEN_WORKLOAD" >&2; exit 2; }
portscand=$1 gen=$2
here=$(cd "$(dirname "$0")" && pwd)
oracle=$here/../oracle

die() { echo "FAIL: $*" >&2; exit 1; }
for x in "$portscand" "$gen"; do [ -x "$x" ] || die "missing executable $x"; done
for c in curl promtool node; do command -v $c >/dev/null || die "$c is not installed (deploy/install-deps.sh installs it)"; done
[ -d "$oracle/node_modules/@duckdb/node-api" ] || die "the DuckDB oracle is not installed (cd tests/oracle && npm ci)"

work=$(mktemp -d "${TMPDIR:-/tmp}/ops_metrics.XXXXXX")
daemon_pid=
cleanup() { [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null; }
trap cleanup EXIT
failures=0
failed() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
fail() {
  failed "$*"
  echo "work directory kept: $work" >&2
  [ -f "$work/daemon.log" ] && tail -30 "$work/daemon.log" >&2
  exit 1
}

"$gen" --events 30000 --sources 4000 --scans 10 --seed 4242 --bad-lines 40 \
  --manifest "$work/manifest.json" >"$work/workload.jsonl" || die "gen_workload failed"
node "$oracle/oracle.mjs" --rejects-out "$work/oracle-rejects.json" "$work/workload.jsonl" \
  >"$work/expected.jsonl" || die "the oracle failed"
node "$oracle/record_counts.mjs" "$work/workload.jsonl" >"$work/counts.json" || die "record_counts.mjs failed"
lines=$(wc -l <"$work/workload.jsonl")
expected=$(wc -l <"$work/expected.jsonl")
json() { node -e "const o=JSON.parse(require('fs').readFileSync('$1','utf8')); console.log($2)"; }
[ "$expected" -gt 5 ] || die "the oracle expects only $expected alerts: too few to prove anything"
[ "$(json "$work/counts.json" o.lines)" -eq "$lines" ] || die "the oracle saw $(json "$work/counts.json" o.lines) lines, the file has $lines"
for reason in private loopback private_v6; do
  [ "$(json "$work/counts.json" "o.filtered.$reason")" -gt 0 ] ||
    die "the workload has no '$reason' source: the filtered counter of that reason would prove nothing"
done

cat >"$work/portscand.yaml" <<YAML
evaluation: {schedule: on_close, allowed_lateness: 10m, idle_timeout: 1s}
shards: 2
state_dir: $work/state
checkpoint_interval: 2s
inputs:
  - {type: file, name: workload, path: $work/workload.jsonl, format: asim}
outputs:
  - {type: file, name: alerts, path: $work/alerts.jsonl}
metrics: {listen: "127.0.0.1:0"}
YAML
"$portscand" run --config "$work/portscand.yaml" >"$work/daemon.log" 2>&1 &
daemon_pid=$!

port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*metrics on http:.*(port \([0-9]*\)).*/\1/p' "$work/daemon.log" | head -1)
  [ -n "$port" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited at start"
  sleep 0.1
done
[ -n "$port" ] || fail "no 'metrics on http://... (port N)' line in the log"

alerts_written() { [ -f "$work/alerts.jsonl" ] && wc -l <"$work/alerts.jsonl" || echo 0; }
deadline=$((SECONDS + 120))
while [ "$(alerts_written)" -lt "$expected" ] && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
[ "$(alerts_written)" -eq "$expected" ] || fail "$(alerts_written) alerts written, the oracle expects $expected"
# One checkpoint interval more, so the checkpoint metrics have something to say.
sleep 3

curl -fsS "http://127.0.0.1:$port/metrics" >"$work/scrape.txt" || fail "GET /metrics failed"
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || failed "/readyz is not 200 on a healthy daemon"

# Prometheus' own linter: any finding (naming, units, help, types) fails the test.
if ! promtool check metrics <"$work/scrape.txt" >"$work/promtool.out" 2>&1 || [ -s "$work/promtool.out" ]; then
  failed "promtool check metrics has findings:"
  cat "$work/promtool.out" >&2
fi

# metric NAME [LABEL-REGEX]: the sum of the samples of NAME whose label text matches.
metric() {
  awk -v name="$1" -v want="${2:-}" '
    $0 ~ /^#/ { next }
    {
      split($0, parts, " "); series = parts[1]; value = parts[2]
      n = series; labels = ""
      i = index(series, "{")
      if (i > 0) { n = substr(series, 1, i - 1); labels = substr(series, i) }
      if (n != name) next
      if (want != "" && labels !~ want) next
      found = 1; sum += value
    }
    END { if (!found) { print "absent"; exit } printf "%.0f\n", sum }' "$work/scrape.txt"
}
expect_metric() {  # expect_metric WANT NAME [LABEL-REGEX]
  local got
  got=$(metric "$2" "${3:-}")
  [ "$got" = "$1" ] || failed "$2${3:+ ($3)} = $got, want $1"
}

# Every family the dashboard and the alerting rules query must exist.
for family in portscand_records_parsed_total portscand_records_rejected_total portscand_records_filtered_total \
  portscand_records_received_total portscand_file_lines_total portscand_tracked_keys portscand_state_bytes \
  portscand_shard_queue_batches portscand_watermark_lag_seconds portscand_alerts_total \
  portscand_alerts_delivered_total portscand_alerts_pending portscand_checkpoint_age_seconds \
  portscand_checkpoint_duration_seconds_count portscand_checkpoint_failures_total \
  portscand_evaluation_duration_seconds_count portscand_ready portscand_build_info \
  portscand_start_time_seconds; do
  [ "$(metric "$family")" != absent ] || failed "metric $family is missing from /metrics"
done

parsed=$(metric portscand_records_parsed_total 'input="workload"')
rejected=$(metric portscand_records_rejected_total 'input="workload"')
skipped=$(metric portscand_records_skipped_total 'input="workload"')
[ "$skipped" = absent ] && skipped=0
[ "$parsed" != absent ] && [ "$rejected" != absent ] || fail "parsed/rejected counters missing"
[ $((parsed + rejected + skipped)) -eq "$lines" ] ||
  failed "parsed $parsed + rejected $rejected + skipped $skipped != $lines lines in the file"
expect_metric "$lines" portscand_records_received_total 'input="workload"'
expect_metric "$lines" portscand_file_lines_total 'input="workload"'
expect_metric "$(json "$work/counts.json" o.rejected)" portscand_records_rejected_total 'input="workload"'
expect_metric "$(json "$work/counts.json" o.accepted)" portscand_records_parsed_total 'input="workload",format="asim"'
# The format label names the parser that produced each record.
[ "$(metric portscand_records_parsed_total 'format="asim"')" = "$parsed" ] ||
  failed "records parsed under a format label other than asim"

for reason in private loopback private_v6; do
  expect_metric "$(json "$work/counts.json" "o.filtered.$reason")" portscand_records_filtered_total "reason=\"$reason\""
done
expect_metric 0 portscand_records_filtered_total 'reason="future"'
expect_metric 0 portscand_records_late_total

expect_metric "$expected" portscand_alerts_total
expect_metric "$expected" portscand_alerts_delivered_total 'output="alerts"'
expect_metric 0 portscand_alerts_pending
[ "$(metric portscand_alert_delivery_failures_total)" = absent ] || expect_metric 0 portscand_alert_delivery_failures_total
[ "$(metric portscand_checkpoint_duration_seconds_count)" -ge 1 ] || failed "no checkpoint counted after $((SECONDS)) s with checkpoint_interval 2s"
expect_metric 1 portscand_ready
# The workload's event times lie months back, but once the only input is idle the wall clock
# carries the watermark (SPEC §1): the lag must have come down to about nothing.
lag=$(metric portscand_watermark_lag_seconds)
[ "$lag" != absent ] && [ "$lag" -ge 0 ] && [ "$lag" -lt 60 ] || failed "watermark lag $lag s with every input idle, want < 60"
# Every (source, bin) key with a candidate record is tracked by exactly one of the 2 shards
# until retention expires it; at least the alerting keys are.
for shard in 0 1; do
  [ "$(metric portscand_tracked_keys "shard=\"$shard\"")" != absent ] || failed "no portscand_tracked_keys for shard $shard"
  [ "$(metric portscand_shard_queue_batches "shard=\"$shard\"")" != absent ] || failed "no queue depth for shard $shard"
done
[ "$(metric portscand_evaluation_duration_seconds_count)" -ge 1 ] || failed "no evaluation counted"

# The planted cases in the daemon's output, and its reject counters by reason, against the
# generator's manifest.
node "$oracle/check_planted.mjs" --mode default --metrics "$work/scrape.txt" "$work/manifest.json" "$work/alerts.jsonl" ||
  failed "the daemon's alerts or reject counters do not match the generator's manifest"

kill -TERM "$daemon_pid"
wait "$daemon_pid"
rc=$?
daemon_pid=
[ $rc -eq 0 ] || failed "exit code $rc after SIGTERM"

if [ $failures -ne 0 ]; then
  echo "work directory kept: $work" >&2
  exit 1
fi
echo "$lines lines: $parsed parsed, $rejected rejected; $expected alerts; promtool clean"
rm -rf "$work"
echo "PASS"
