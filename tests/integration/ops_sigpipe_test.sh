#!/usr/bin/env bash
# ops_sigpipe_test.sh PORTSCAND GEN_WORKLOAD
#
# A `stdout` output whose reader has gone away (a closed pipe) is an environment fault of
# that output, not a reason to die: `portscand run` ignores SIGPIPE, so the write fails with
# EPIPE, is counted in portscand_alert_delivery_failures_total{reason="write:EPIPE"}, the
# alerts stay pending (retried), the daemon keeps serving, and SIGTERM still stops it with
# exit 0 (without a checkpoint: undelivered alerts must not be marked as sent).
#
# Fails, never skips, when anything it needs is missing.
set -uo pipefail

[ $# -eq 2 ] || { echo "usage: $0 PORTSCAND GEN_WORKLOAD" >&2; exit 2; }
portscand=$1 gen=$2

die() { echo "FAIL: $*" >&2; exit 1; }
for x in "$portscand" "$gen"; do [ -x "$x" ] || die "missing executable $x"; done
command -v curl >/dev/null || die "curl is not installed (deploy/install-deps.sh installs it)"

work=$(mktemp -d "${TMPDIR:-/tmp}/ops_sigpipe.XXXXXX")
daemon_pid=
cleanup() { [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null; }
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "work directory kept: $work" >&2
  tail -20 "$work/daemon.log" >&2
  exit 1
}

"$gen" --events 25000 --sources 2000 --scans 2 --seed 11 >"$work/records.jsonl" 2>/dev/null || die "gen_workload failed"
# The daemon follows the input file, which is empty at the start: the records, and so the
# alerts, come only after the pipe has lost its reader.
: >"$work/workload.jsonl"
cat >"$work/portscand.yaml" <<YAML
evaluation: {schedule: on_close, idle_timeout: 1s}
shards: 2
state_dir: $work/state
checkpoint_interval: 1h
inputs:
  - {type: file, name: workload, path: $work/workload.jsonl, format: asim}
outputs:
  - {type: stdout, name: pipe}
metrics: {listen: "127.0.0.1:0"}
YAML

# The daemon's stdout is a FIFO. This shell holds the only read end (opened read-write so
# the daemon's open does not block; the daemon must not inherit it) and closes it once the
# daemon has started: from then on every write to stdout is a write to a pipe without readers.
mkfifo "$work/stdout.fifo"
exec 8<>"$work/stdout.fifo"
"$portscand" run --config "$work/portscand.yaml" >"$work/stdout.fifo" 2>"$work/daemon.log" 8<&- &
daemon_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*metrics on http:.*(port \([0-9]*\)).*/\1/p' "$work/daemon.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "the daemon did not start"
exec 8<&-
cat "$work/records.jsonl" >>"$work/workload.jsonl"

failures() {
  curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null |
    awk '/^portscand_alert_delivery_failures_total\{.*reason="write:EPIPE"/ { s += $2 } END { print s + 0 }'
}
deadline=$((SECONDS + 60))
while [ "$(failures)" -lt 2 ] && [ $SECONDS -lt $deadline ]; do
  kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died writing to a closed pipe (SIGPIPE?)"
  sleep 0.5
done
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died writing to a closed pipe (SIGPIPE?)"
counted=$(failures)
[ "$counted" -ge 2 ] || fail "no retried write:EPIPE delivery failures counted within 60 s"
scrape=$(curl -fsS "http://127.0.0.1:$port/metrics") || fail "/metrics does not answer"
pending=$(awk '/^portscand_alerts_pending\{output="pipe"\}/ { print $2 }' <<<"$scrape")
[ -n "$pending" ] && [ "$pending" -gt 0 ] || fail "alerts_pending{output=pipe} = '$pending': the undelivered alerts were dropped"
grep -q 'output .pipe.: write' "$work/daemon.log" || fail "no log line names the failing write"

kill -TERM "$daemon_pid"
# The stop waits for the output (bounded: checkpoint drain 30 s, output flush 10 s).
deadline=$((SECONDS + 90))
while kill -0 "$daemon_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
kill -0 "$daemon_pid" 2>/dev/null && fail "still running 90 s after SIGTERM"
wait "$daemon_pid"
rc=$?
daemon_pid=
[ $rc -eq 0 ] || fail "exit code $rc after SIGTERM (want 0; 141 would be death by SIGPIPE)"
grep -q 'checkpoint could not be written' "$work/daemon.log" ||
  fail "a checkpoint was written although its alerts never reached the output"
echo "$counted EPIPE failures counted; $pending alerts kept pending; exit 0"
rm -rf "$work"
echo "PASS"
