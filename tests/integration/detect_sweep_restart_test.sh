#!/usr/bin/env bash
# detect_sweep_restart_test.sh PORTSCAND
#
# Both rules' open keys survive kill -9 (README "Port sweeps and several rules", "Delivery
# guarantees and checkpoints"): `portscand run` with the port-scan and port-sweep rules,
# early alerts on, a file input. One source sweeps port 445 over 30 addresses and another
# scans 30 ports; after a checkpoint holds them the daemon is killed with SIGKILL, the second
# half (30 more of each) is appended, and the daemon restarts from the checkpoint. The
# 51st address and the 51st port cross the thresholds only if the first halves came back:
# each source then gets exactly one early alert, whose counts (51) say the key was rebuilt,
# not started again (which would never cross on 30).
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 PORTSCAND" >&2; exit 2; }
portscand=$1
die() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$portscand" ] || die "no portscand binary at $portscand"
command -v curl >/dev/null || die "curl is not installed (deploy/install-deps.sh installs it)"
command -v jq >/dev/null || die "jq is not installed (deploy/install-deps.sh installs it)"

work=$(mktemp -d "${TMPDIR:-/tmp}/detect_sweep_restart.XXXXXX")
daemon_pid=
cleanup() { [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null; }
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "work directory kept: $work" >&2
  [ -f "$work/daemon.log" ] && tail -30 "$work/daemon.log" >&2
  exit 1
}

# The hourly schedule and 10 minutes of lateness keep the current bin open for the whole
# test: only the early alerts can speak.
cat >"$work/portscand.yaml" <<YAML
rules: [builtin:port-scan, builtin:port-sweep]
early_alerts: {enabled: true}
shards: 2
state_dir: $work/state
checkpoint_interval: 1s
inputs:
  - {type: file, name: fw, path: $work/in.jsonl, format: asim}
outputs:
  - {type: file, name: alerts, path: $work/alerts.jsonl}
metrics: {listen: "127.0.0.1:0"}
YAML
: >"$work/in.jsonl"

metrics_port=
start() {
  : >"$work/daemon.log"
  "$portscand" run --config "$work/portscand.yaml" >"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  metrics_port=
  for _ in $(seq 100); do
    metrics_port=$(sed -n 's/.*metrics on http:.*(port \([0-9]*\)).*/\1/p' "$work/daemon.log" | head -1)
    [ -n "$metrics_port" ] && return 0
    kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited at start"
    sleep 0.1
  done
  fail "no metrics port in the log"
}
metric() {
  curl -fsS "http://127.0.0.1:$metrics_port/metrics" |
    awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { print s + 0 }'
}
when=$(date -u -d "@$(($(date +%s) - 20))" +%Y-%m-%dT%H:%M:%SZ)
append() {  # append FIRST LAST: the sweep's addresses and the scan's ports FIRST..LAST
  local i
  for i in $(seq "$1" "$2"); do
    printf '{"TimeGenerated":"%s","SrcIpAddr":"203.0.113.9","DstIpAddr":"198.18.1.%d","DstPortNumber":445,"EventVendor":"Test","EventProduct":"Restart"}\n' \
      "$when" "$i"
    printf '{"TimeGenerated":"%s","SrcIpAddr":"203.0.113.10","DstIpAddr":"198.18.2.1","DstPortNumber":%d,"EventVendor":"Test","EventProduct":"Restart"}\n' \
      "$when" "$((1000 + i))"
  done >>"$work/in.jsonl"
}
newest_checkpoint() { ls -d "$work"/state/ckpt-* 2>/dev/null | sort | tail -1; }

start
append 1 30
deadline=$((SECONDS + 60))
while [ "$(metric portscand_records_parsed_total)" -lt 60 ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
[ "$(metric portscand_records_parsed_total)" -ge 60 ] || fail "the first 60 records were not parsed in 60 s"
# Two checkpoints after the records were parsed: the second began after they reached the
# shards' state.
for _ in 1 2; do
  before=$(newest_checkpoint)
  deadline=$((SECONDS + 30))
  while [ "$(newest_checkpoint)" = "$before" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  [ "$(newest_checkpoint)" != "$before" ] || fail "no new checkpoint within 30 s"
done
[ ! -s "$work/alerts.jsonl" ] || fail "an alert before the thresholds were crossed: $(head -c 300 "$work/alerts.jsonl")"
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
daemon_pid=

append 31 60
start
grep -q 'restored checkpoint' "$work/daemon.log" || fail "the daemon did not restore its checkpoint"
deadline=$((SECONDS + 60))
while [ "$(grep -c . "$work/alerts.jsonl" 2>/dev/null || echo 0)" -lt 2 ] && [ $SECONDS -lt $deadline ]; do
  sleep 0.2
done
sleep 1  # a third alert (one sent twice) would show now

[ "$(grep -c . "$work/alerts.jsonl")" = 2 ] ||
  fail "want one early alert per source, got: $(cat "$work/alerts.jsonl")"
sweep=$(jq -c 'select(.SrcIpAddr == "203.0.113.9") | [.early, .rule.id, .DstPortNumber, .TargetCount]' "$work/alerts.jsonl")
[ "$sweep" = '[true,"842a5b8e-315e-42ef-bb51-ef4a30b32fce",445,51]' ] ||
  fail "the sweep's early alert: $sweep (want the 51st address of port 445)"
scan=$(jq -c 'select(.SrcIpAddr == "203.0.113.10") | [.early, .rule.id, .AttemptedPortsCount]' "$work/alerts.jsonl")
[ "$scan" = '[true,"1da9853f-3dea-4ea9-b7e5-26730da3d537",51]' ] ||
  fail "the scan's early alert: $scan (want the 51st port)"

kill -TERM "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
daemon_pid=
rm -rf "$work"
echo "PASS: both rules' open keys survive kill -9"
