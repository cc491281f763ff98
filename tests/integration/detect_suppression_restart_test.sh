#!/usr/bin/env bash
# detect_suppression_restart_test.sh PORTSCAND
#
# Suppression survives a restart (README "Suppression"): `portscand run` with
# `suppression: {duration: 1h}` and a syslog TCP input; a source alerts, the daemon stops
# (its checkpoint carries the suppression state), starts again from the checkpoint, and the
# same source scanning in the next bin is suppressed (counted), while another source alerts.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 PORTSCAND" >&2; exit 2; }
portscand=$1
die() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$portscand" ] || die "no portscand binary at $portscand"
command -v curl >/dev/null || die "curl is not installed (deploy/install-deps.sh installs it)"

work=$(mktemp -d "${TMPDIR:-/tmp}/detect_suppression.XXXXXX")
daemon_pid=
cleanup() { [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null; }
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "work directory kept: $work" >&2
  [ -f "$work/daemon.log" ] && tail -30 "$work/daemon.log" >&2
  exit 1
}

cat >"$work/portscand.yaml" <<YAML
evaluation: {schedule: on_close, allowed_lateness: 0s, idle_timeout: 1s}
shards: 2
state_dir: $work/state
checkpoint_interval: 1s
inputs:
  - {type: syslog, name: tcp, listen: "tcp://127.0.0.1:0", format: asim}
outputs:
  - {type: file, name: alerts, path: $work/alerts.jsonl}
metrics: {listen: "127.0.0.1:0"}
suppression: {duration: 1h}
YAML

port= metrics_port=
start() {
  : >"$work/daemon.log"
  "$portscand" run --config "$work/portscand.yaml" >"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  port= metrics_port=
  for _ in $(seq 100); do
    port=$(grep -o 'syslog listener on port [0-9]*' "$work/daemon.log" | awk '{print $NF}' | head -1)
    metrics_port=$(sed -n 's/.*metrics on http:.*(port \([0-9]*\)).*/\1/p' "$work/daemon.log" | head -1)
    [ -n "$port" ] && [ -n "$metrics_port" ] && return 0
    kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited at start"
    sleep 0.1
  done
  fail "no listener or metrics port in the log"
}
base=$(( ($(date +%s) / 300) * 300 - 1800 ))
send() {  # send BIN-START SOURCE...: 60 distinct ports from each source
  local start=$1 src p
  shift
  exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to the syslog listener"
  for src in "$@"; do
    for p in $(seq 1 60); do
      printf '{"TimeGenerated":"%s","SrcIpAddr":"%s","DstIpAddr":"198.18.0.1","DstPortNumber":%d,"EventVendor":"Test","EventProduct":"Restart"}\n' \
        "$(date -u -d "@$((start + p))" +%Y-%m-%dT%H:%M:%SZ)" "$src" "$p" >&3
    done
  done
  exec 3>&-
}
alerted() {
  if [ -f "$work/alerts.jsonl" ]; then grep -c "\"SrcIpAddr\":\"$1\"" "$work/alerts.jsonl"; else echo 0; fi
}
wait_alert() {
  local deadline=$((SECONDS + 60))
  while [ "$(alerted "$1")" -lt "$2" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  [ "$(alerted "$1")" -ge "$2" ] || fail "no alert #$2 for $1 within 60 s"
}

start
send "$base" 203.0.113.7
wait_alert 203.0.113.7 1
kill -TERM "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
daemon_pid=
grep -l '"suppression"' "$work"/state/ckpt-*/manifest.json >/dev/null 2>&1 ||
  fail "no checkpoint carries suppression state after a graceful stop"

start
grep -q 'restored checkpoint' "$work/daemon.log" || fail "the daemon did not restore its checkpoint"
send "$((base + 300))" 203.0.113.7 203.0.113.8
wait_alert 203.0.113.8 1
sleep 1
[ "$(alerted 203.0.113.7)" = 1 ] ||
  fail "203.0.113.7 alerted again 5 minutes later after a restart: $(alerted 203.0.113.7) alerts"
suppressed=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics" | awk '$1 == "portscand_alerts_suppressed_total" { print $2 }')
[ "$suppressed" = 1 ] || fail "portscand_alerts_suppressed_total = '$suppressed', want 1"

kill -TERM "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
daemon_pid=
rm -rf "$work"
echo "PASS: suppression survives a restart"
