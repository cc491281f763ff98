#!/usr/bin/env bash
# The main job, end to end on a fresh Debian 12 machine: installs the packages, builds the
# release binaries, starts an embedded Kafka broker (librdkafka's mock cluster,
# tests/tools/mock_broker), produces the bundled sample sessions to its input topic, runs the
# real daemon (`portscand run`) against it, and prints the alerts read back from the output
# topic. The sample holds background traffic, one port scan, a slow scanner under the
# threshold and a private-range scanner the rule ignores: one alert is expected.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
deploy/install-deps.sh
deploy/build.sh release

bin=$root/build/release
work=$(mktemp -d "${TMPDIR:-/tmp}/portscand-demo.XXXXXX")
broker_pid= daemon_pid=
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "== starting an embedded Kafka broker (librdkafka mock cluster)" >&2
"$bin/tests/tools/mock_broker" --brokers 1 --topic asim-network-session:2 --topic portscan-alerts:1 \
  </dev/null >"$work/broker.out" 2>"$work/broker.log" &
broker_pid=$!
for _ in $(seq 100); do [ -s "$work/broker.out" ] && break; sleep 0.1; done
bootstrap=$(head -1 "$work/broker.out")
[ -n "$bootstrap" ] || { echo "the broker did not start: $(cat "$work/broker.log")" >&2; exit 1; }

records=$(wc -l <deploy/demo/sessions.jsonl)
echo "== producing $records ASIM records to asim-network-session at $bootstrap" >&2
kcat -P -b "$bootstrap" -t asim-network-session -l deploy/demo/sessions.jsonl

cat >"$work/portscand.yaml" <<YAML
mode: default
evaluation: {schedule: on_close, allowed_lateness: 10m, idle_timeout: 2s}
state_dir: $work/state
inputs:
  - {type: kafka, name: asim, brokers: "$bootstrap", topics: [asim-network-session], group: portscand-demo,
     format: auto, properties: {session.timeout.ms: "6000"}}
outputs:
  - {type: kafka, name: soar, brokers: "$bootstrap", topic: portscan-alerts, schema: native}
metrics: {listen: "127.0.0.1:0"}
YAML
echo "== portscand run --config $work/portscand.yaml (log: $work/portscand.log)" >&2
"$bin/daemon/portscand" run --config "$work/portscand.yaml" >"$work/portscand.log" 2>&1 &
daemon_pid=$!

echo "== waiting for alerts on portscan-alerts" >&2
for _ in $(seq 60); do
  kcat -C -b "$bootstrap" -t portscan-alerts -o beginning -e -q >"$work/alerts.jsonl" 2>/dev/null || true
  [ -s "$work/alerts.jsonl" ] && break
  sleep 1
done
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=
if [ ! -s "$work/alerts.jsonl" ]; then
  echo "no alert arrived; the daemon's log:" >&2
  cat "$work/portscand.log" >&2
  exit 1
fi
echo "== alerts read back from Kafka topic portscan-alerts:" >&2
cat "$work/alerts.jsonl"
