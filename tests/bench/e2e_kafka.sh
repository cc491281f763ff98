#!/usr/bin/env bash
# e2e_kafka.sh [BUILD_DIR] — end-to-end throughput of `portscand run` through librdkafka's
# mock cluster (tests/tools/mock_broker): a generated ASIM workload is produced to a
# 16-partition input topic first (a backlog), then the daemon (2 shards, schedule on_close)
# consumes it, evaluates, and publishes alerts to an output topic. Every 250 ms the script
# scrapes /metrics for records parsed and the consumer lag, and prints:
#   - the lag over time (a line per second),
#   - events/s from the first record parsed to the last (the group join is not counted),
#   - the time until every expected alert is on the output topic,
#   - the daemon's peak RSS (VmHWM).
# The mock cluster keeps at most ~5 MiB per partition, so the workload stays under that
# (EVENTS, default 300000, ~200 bytes each over 16 partitions).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
events=${EVENTS:-300000}
portscand=$build/daemon/portscand
gen=$build/tests/tools/gen_workload
mock=$build/tests/tools/mock_broker
for x in "$portscand" "$gen" "$mock"; do [ -x "$x" ] || { echo "missing $x" >&2; exit 1; }; done
command -v kcat >/dev/null && command -v curl >/dev/null || { echo "needs kcat and curl" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/e2e_kafka.XXXXXX")
broker_pid= daemon_pid=
cleanup() {
  [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$mock" --brokers 1 --topic asim:16 --topic alerts:1 </dev/null >"$work/broker.out" 2>/dev/null &
broker_pid=$!
for _ in $(seq 100); do [ -s "$work/broker.out" ] && break; sleep 0.1; done
bootstrap=$(head -1 "$work/broker.out")

"$gen" --events "$events" --sources $((events / 20)) --scans 40 --seed 5 --duration-min 60 >"$work/w.jsonl" 2>/dev/null
echo "producing $events records ($(du -h "$work/w.jsonl" | cut -f1)) to 16 partitions" >&2
# Round robin, in file order: the mock cluster trims anything beyond ~5 MiB per partition.
for p in $(seq 0 15); do
  awk -v p=$p 'NR % 16 == p' "$work/w.jsonl" >"$work/part.jsonl"
  kcat -P -b "$bootstrap" -t asim -p "$p" -l "$work/part.jsonl" -X queue.buffering.max.messages=1000000
done

cat >"$work/p.yaml" <<YAML
evaluation: {schedule: on_close, allowed_lateness: 10m, idle_timeout: 2s}
shards: 2
state_dir: $work/state
checkpoint_interval: 10s
inputs:
  - {type: kafka, name: asim, brokers: "$bootstrap", topics: [asim], group: bench, format: asim,
     properties: {session.timeout.ms: "6000", fetch.max.bytes: "52428800", max.partition.fetch.bytes: "4194304"}}
outputs:
  - {type: kafka, name: alerts, brokers: "$bootstrap", topic: alerts}
metrics: {listen: "127.0.0.1:0"}
YAML
start=$(date +%s.%N)
"$portscand" run --config "$work/p.yaml" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*metrics on .*(port \([0-9]*\)).*/\1/p' "$work/daemon.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
scrape() { curl -s "http://127.0.0.1:$port/metrics"; }
sum_of() { awk -v m="$1" '$1 ~ "^"m"({|$)" {s += $NF} END {printf "%d", s}'; }

: >"$work/samples"
last_parsed=-1 stable=0
while [ $stable -lt 12 ]; do
  t=$(date +%s.%N)
  m=$(scrape)
  parsed=$(echo "$m" | sum_of portscand_records_parsed_total)
  rejected=$(echo "$m" | sum_of portscand_records_rejected_total)
  lag=$(echo "$m" | sum_of portscand_kafka_consumer_lag_messages)
  echo "$t $parsed $rejected $lag" >>"$work/samples"
  if [ "$parsed" -eq "$last_parsed" ] && [ "$parsed" -gt 0 ]; then stable=$((stable + 1)); else stable=0; fi
  last_parsed=$parsed
  sleep 0.25
done
alerts_expected=$(echo "$(scrape)" | sum_of portscand_alerts_total)
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
  got=$(kcat -C -b "$bootstrap" -t alerts -o beginning -e -q 2>/dev/null | wc -l)
  [ "$got" -ge "$alerts_expected" ] && [ "$got" -gt 0 ] && break
  sleep 0.5
done
alerts_at=$(date +%s.%N)
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$daemon_pid/status")
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=

echo "lag over time (seconds since start: records parsed, consumer lag):"
awk -v s="$start" '{t = int($1 - s); if (t != last) {printf "  %3ds  parsed=%-8d lag=%d\n", t, $2, $4; last = t}}' "$work/samples"
awk -v s="$start" -v n="$events" -v a="$alerts_at" -v rss="$rss_kb" -v alerts="$alerts_expected" '
  $2 > 0 && first == "" {first = $1; p0 = $2}
  $2 > prev {last = $1; plast = $2 + $3}
  {prev = $2}
  END {
    d = last - first
    printf "records: %d parsed+rejected of %d produced\n", plast, n
    printf "events/s (first to last record parsed, %.2f s): %.0f\n", d, (plast - p0) / (d > 0 ? d : 1)
    printf "alerts on the output topic: %d, %.1f s after start\n", alerts, a - s
    printf "peak RSS: %.1f MiB\n", rss / 1024
  }' "$work/samples"
