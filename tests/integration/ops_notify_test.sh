#!/usr/bin/env bash
# ops_notify_test.sh PORTSCAND NOTIFY_LISTENER GEN_WORKLOAD
#
# The sd_notify(3) protocol of `portscand run`, as systemd's Type=notify unit relies on it,
# observed on a real notification socket (tests/tools/notify_listener): READY=1 once the
# daemon serves (and /healthz answers), WATCHDOG=1 pings while the shards advance (with
# WATCHDOG_USEC/WATCHDOG_PID set as systemd sets them), RELOADING=1 then READY=1 on SIGHUP,
# STOPPING=1 on SIGTERM, exit code 0. The state messages must come in exactly that order.
#
# Fails, never skips, when anything it needs is missing.
set -uo pipefail

[ $# -eq 3 ] || { echo "usage: $0 PORTSCAND NOTIFY_LISTENER GEN_WORKLOAD" >&2; exit 2; }
portscand=$1 listener=$2 gen=$3

die() { echo "FAIL: $*" >&2; exit 1; }
for x in "$portscand" "$listener" "$gen"; do [ -x "$x" ] || die "missing executable $x"; done
command -v curl >/dev/null || die "curl is not installed (deploy/install-deps.sh installs it)"

work=$(mktemp -d "${TMPDIR:-/tmp}/ops_notify.XXXXXX")
daemon_pid=
listener_pid=
cleanup() {
  [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "work directory kept: $work" >&2
  echo "--- notifications:" >&2
  cat "$work/notify.log" >&2
  echo "--- daemon log (tail):" >&2
  tail -30 "$work/daemon.log" >&2
  exit 1
}
# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  while [ $SECONDS -lt $deadline ]; do
    "$@" && return 0
    sleep 0.1
  done
  "$@"
}
# The state messages so far, one token per line, watchdog pings left out.
states() { tr '\t' '\n' <"$work/notify.log" | grep -E '^(READY|RELOADING|STOPPING)=1$' | cut -d= -f1 | paste -sd' '; }
states_are() { [ "$(states)" = "$1" ]; }

"$gen" --events 25000 --sources 2000 --scans 2 --seed 7 >"$work/workload.jsonl" || die "gen_workload failed"
cat >"$work/portscand.yaml" <<YAML
evaluation: {schedule: on_close, idle_timeout: 1s}
shards: 2
state_dir: $work/state
checkpoint_interval: 1h
inputs:
  - {type: file, name: workload, path: $work/workload.jsonl, format: asim}
outputs:
  - {type: file, name: alerts, path: $work/alerts.jsonl}
metrics: {listen: "127.0.0.1:0"}
YAML

"$listener" "$work/notify.sock" --timeout 120 >"$work/notify.log" 2>"$work/listener.err" &
listener_pid=$!
wait_for 10 test -S "$work/notify.sock" || die "notify_listener did not create its socket: $(cat "$work/listener.err")"

# As systemd starts a Type=notify service with WatchdogSec=: NOTIFY_SOCKET, WATCHDOG_USEC,
# and WATCHDOG_PID naming the service's own pid (sd_watchdog_enabled checks it), which the
# subshell learns before it execs the daemon under that same pid.
(
  export NOTIFY_SOCKET=$work/notify.sock WATCHDOG_USEC=2000000 WATCHDOG_PID=$BASHPID
  exec "$portscand" run --config "$work/portscand.yaml"
) >"$work/daemon.log" 2>&1 &
daemon_pid=$!

wait_for 30 grep -q 'READY=1' "$work/notify.log" || fail "no READY=1 within 30 s of the start"
states_are "READY" || fail "expected READY first, got: $(states)"
grep -q 'STATUS=' "$work/notify.log" || fail "READY came without a STATUS= text for systemctl status"
port=$(sed -n 's/.*metrics on http:.*(port \([0-9]*\)).*/\1/p' "$work/daemon.log" | head -1)
[ -n "$port" ] || fail "READY=1 was sent before the metrics endpoint was announced"
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || fail "READY=1 sent, but /healthz does not answer"

# Pinged every WATCHDOG_USEC/2 while the shards keep advancing: at least two in 3 s.
wait_for 5 bash -c "[ \$(grep -c 'WATCHDOG=1' '$work/notify.log') -ge 2 ]" ||
  fail "fewer than two WATCHDOG=1 pings with WATCHDOG_USEC=2s"

# The work is done before the reload, so the reload is not confused with start-up.
wait_for 60 test -s "$work/alerts.jsonl" || fail "no alert written: the daemon does not work at all"

kill -HUP "$daemon_pid"
wait_for 15 states_are "READY RELOADING READY" || fail "after SIGHUP expected READY RELOADING READY, got: $(states)"
grep -q 'reloaded:' "$work/daemon.log" || fail "the daemon sent READY=1 after SIGHUP without reloading"
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died on SIGHUP"

kill -TERM "$daemon_pid"
deadline=$((SECONDS + 60))
while kill -0 "$daemon_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
kill -0 "$daemon_pid" 2>/dev/null && fail "still running 60 s after SIGTERM"
wait "$daemon_pid"
rc=$?
daemon_pid=
[ $rc -eq 0 ] || fail "exit code $rc after SIGTERM (want 0)"
wait_for 5 states_are "READY RELOADING READY STOPPING" ||
  fail "expected READY RELOADING READY STOPPING, got: $(states)"
ls "$work"/state/ckpt-* >/dev/null 2>&1 || fail "no checkpoint written on the way out"

echo "notifications: $(states) and $(grep -c 'WATCHDOG=1' "$work/notify.log") watchdog pings"
rm -rf "$work"
echo "PASS"
