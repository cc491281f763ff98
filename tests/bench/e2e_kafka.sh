#!/usr/bin/env bash
# e2e_kafka.sh [BUILD_DIR] — end-to-end throughput of `portscand run` through librdkafka's
# mock cluster (tests/tools/mock_broker): a generated ASIM workload is produced to a
# 64-partition input topic first (a backlog), then the daemon (2 shards, schedule on_close)
# consumes it, evaluates, and publishes alerts to an output topic. Every 50 ms the script
# scrapes /metrics for records parsed and the consumer lag, and prints:
#   - the lag over time (a line per second),
#   - events/s: all records over the time from the last scrape before the first record was
#     parsed to the first scrape that saw the last one (a lower bound: up to two scrape
#     periods too long; the group join is not counted),
#   - the time until every expected alert is on the output topic,
#   - the daemon's peak RSS (VmHWM).
# The mock cluster keeps at most ~5 MiB per partition: EVENTS (default 1000000, ~200 bytes
# each) over 64 partitions stays under that.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
events=${EVENTS:-1000000}
partitions=64
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

"$mock" --brokers 1 --topic asim:$partitions --topic alerts:1 </dev/null >"$work/broker.out" 2>/dev/null &
broker_pid=$!
for _ in $(seq 100); do [ -s "$work/broker.out" ] && break; sleep 0.1; done
bootstrap=$(head -1 "$work/broker.out")

"$gen" --events "$events" --sources $((events / 20)) --scans 40 --seed 5 --duration-min 60 >"$work/w.jsonl" 2>/dev/null
echo "producing $events records ($(du -h "$work/w.jsonl" | cut -f1)) to $partitions partitions" >&2
# Round robin, in file order: the mock cluster trims anything beyond ~5 MiB per partition.
awk -v n=$partitions -v dir="$work" '{print > (dir "/part." ((NR - 1) % n))}' "$work/w.jsonl"
for p in $(seq 0 $((partitions - 1))); do
  kcat -P -b "$bootstrap" -t asim -p "$p" -l "$work/part.$p" -X queue.buffering.max.messages=1000000
done
rm -f "$work"/part.*

# Consumer properties (both the daemon and the kcat ceiling below use them): keep up to 1M
# messages prefetched (librdkafka's default is 100k per partition), and a short fetch wait,
# because the mock cluster holds a fetch for fetch.wait.max.ms whenever one of the
# requested partitions has nothing new, where a real broker answers as soon as any has.
fetch_props='queued.min.messages: "1000000", fetch.wait.max.ms: "5", socket.receive.buffer.bytes: "4194304"'
kcat_props=(-X queued.min.messages=1000000 -X fetch.wait.max.ms=5 -X socket.receive.buffer.bytes=4194304)

cat >"$work/p.yaml" <<YAML
evaluation: {schedule: on_close, allowed_lateness: 10m, idle_timeout: 2s}
shards: 2
state_dir: $work/state
checkpoint_interval: 10s
inputs:
  - {type: kafka, name: asim, brokers: "$bootstrap", topics: [asim], group: bench, format: asim,
     properties: {session.timeout.ms: "6000", $fetch_props}}
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
while [ $stable -lt 60 ]; do
  # One curl and one awk per sample, and bash's own clock: the sampling must not take the
  # CPU the daemon is being measured on.
  t=$EPOCHREALTIME
  read -r parsed rejected lag < <(scrape | awk '
    $1 ~ /^portscand_records_parsed_total({|$)/ {p += $NF}
    $1 ~ /^portscand_records_rejected_total({|$)/ {r += $NF}
    $1 ~ /^portscand_kafka_consumer_lag_messages({|$)/ {l += $NF}
    END {printf "%d %d %d\n", p, r, l}')
  echo "$t $parsed $rejected $lag" >>"$work/samples"
  if [ "$parsed" -eq "$last_parsed" ] && [ "$parsed" -gt 0 ]; then stable=$((stable + 1)); else stable=0; fi
  last_parsed=$parsed
  sleep 0.05
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

# The ceiling: librdkafka alone (kcat, no parsing) reading the same topic with the same
# properties.
k0=$(date +%s.%N)
kcat -C -b "$bootstrap" -t asim -o beginning -e -q "${kcat_props[@]}" | wc -l >"$work/kcat.count"
k1=$(date +%s.%N)

echo "lag over time (seconds since start: records parsed, consumer lag):"
awk -v s="$start" '{t = int($1 - s); if (t != last) {printf "  %3ds  parsed=%-8d lag=%d\n", t, $2, $4; last = t}}' "$work/samples"
awk -v s="$start" -v n="$events" -v a="$alerts_at" -v rss="$rss_kb" -v alerts="$alerts_expected" '
  {t[NR] = $1; done_[NR] = $2 + $3}
  END {
    final = done_[NR]
    first = t[1]; last = t[NR]
    for (i = 1; i <= NR; i++) if (done_[i] == 0) first = t[i]
    for (i = NR; i >= 1; i--) if (done_[i] == final) last = t[i]
    d = last - first
    printf "records: %d parsed+rejected of %d produced\n", final, n
    printf "events/s (last scrape before the first record to first scrape after the last, %.2f s): %.0f\n", d, final / (d > 0 ? d : 1)
    printf "alerts on the output topic: %d, %.1f s after start\n", alerts, a - s
    printf "peak RSS: %.1f MiB\n", rss / 1024
  }' "$work/samples"
awk -v n="$(cat "$work/kcat.count")" -v a="$k0" -v b="$k1" \
  'BEGIN {d = b - a; printf "ceiling, kcat consuming the same topic without parsing: %d messages in %.2f s, %.0f messages/s\n", n, d, n / d}'
