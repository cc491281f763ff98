#!/usr/bin/env bash
# e2e_scale_out.sh [BUILD_DIR] — end-to-end throughput of `portscand run` with `scale_out`
# through librdkafka's mock cluster (tests/tools/mock_broker), with INSTANCES instances
# (default 1) of one shard each ("one core's worth of threads"): a generated ASIM workload is
# produced to a 64-partition input topic first (a backlog), then the instances read it
# (stage 1), forward it to a 32-partition by-source topic and consume that (stage 2). Prints:
#   - events/s: input records over the time from the last scrape before the first record
#     was read to the first scrape at which stage 2 of all instances had read every forwarded
#     record (every 100 ms; a lower bound);
#   - bytes per record on the by-source topic: what the producers sent to the brokers
#     (lz4-compressed batches with their request framing) over the records forwarded, and
#     the key + value bytes before compression;
#   - the handover: one instance is stopped (SIGTERM) and the time until the other has
#     rebuilt its partitions from the topic (INSTANCES=2 only).
# The idle timeout is 10 minutes, so no bin closes by the wall clock during a run: at the
# handover the partitions hold every bin of the workload's hour.
# The mock cluster keeps at most ~5 MiB per partition: EVENTS (default 500000, ~200 bytes
# each; up to 1500000) over 64 input partitions stays under that, as do the by-source
# topic's ~32 bytes per record over 32.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
events=${EVENTS:-500000}
instances=${INSTANCES:-1}
partitions=64  # input topic; the by-source topic has 32
portscand=$build/daemon/portscand
gen=$build/tests/tools/gen_workload
mock=$build/tests/tools/mock_broker
for x in "$portscand" "$gen" "$mock"; do [ -x "$x" ] || { echo "missing $x" >&2; exit 1; }; done
command -v kcat >/dev/null && command -v curl >/dev/null || { echo "needs kcat and curl" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/e2e_scale_out.XXXXXX")
broker_pid=
declare -A pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$mock" --brokers 1 --topic asim:$partitions --topic alerts:1 --topic by-source:32 \
  </dev/null >"$work/broker.out" 2>/dev/null &
broker_pid=$!
for _ in $(seq 100); do [ -s "$work/broker.out" ] && break; sleep 0.1; done
bootstrap=$(head -1 "$work/broker.out")

"$gen" --events "$events" --sources $((events / 4)) --scans 40 --seed 5 --duration-min 60 >"$work/w.jsonl" 2>/dev/null
echo "producing $events records ($(du -h "$work/w.jsonl" | cut -f1)) to $partitions partitions" >&2
awk -v n=$partitions -v dir="$work" '{print > (dir "/part." ((NR - 1) % n))}' "$work/w.jsonl"
for p in $(seq 0 $((partitions - 1))); do
  kcat -P -b "$bootstrap" -t asim -p "$p" -l "$work/part.$p" -X queue.buffering.max.messages=1000000
done
rm -f "$work"/part.* "$work/w.jsonl"

# As in e2e_kafka.sh: a large prefetch and a short fetch wait for the mock cluster.
fetch_props='queued.min.messages: "1000000", fetch.wait.max.ms: "5", socket.receive.buffer.bytes: "4194304"'
for i in $(seq "$instances"); do
  cat >"$work/p$i.yaml" <<YAML
evaluation: {schedule: on_close, allowed_lateness: 10m, idle_timeout: 10m}
shards: 1
state_dir: $work/state$i
checkpoint_interval: 5s
inputs:
  - {type: kafka, name: asim, brokers: "$bootstrap", topics: [asim], group: bench, format: asim,
     properties: {session.timeout.ms: "6000", $fetch_props}}
scale_out: {topic: by-source, group: bench.by-source}
outputs:
  - {type: kafka, name: alerts, brokers: "$bootstrap", topic: alerts}
metrics: {listen: "127.0.0.1:0"}
YAML
done
start=$(date +%s.%N)
for i in $(seq "$instances"); do
  "$portscand" run --config "$work/p$i.yaml" >"$work/daemon$i.log" 2>&1 &
  pids[$i]=$!
done
ports=()
for i in $(seq "$instances"); do
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's/.*metrics on .*(port \([0-9]*\)).*/\1/p' "$work/daemon$i.log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  ports+=("$port")
done
# Sums over the instances: input units read, records forwarded, by-source units read (records,
# marks and ticks), ticks and marks produced, wire bytes, key+value bytes.
sample() {
  for port in "$@"; do curl -s "http://127.0.0.1:$port/metrics"; done | awk '
    $1 == "portscand_records_received_total{input=\"asim\"}" {a += $NF}
    $1 == "portscand_scale_out_records_produced_total" {f += $NF}
    $1 == "portscand_records_received_total{input=\"scale_out\"}" {s += $NF}
    $1 == "portscand_scale_out_ticks_total" {t += $NF}
    $1 == "portscand_scale_out_marks_total" {m += $NF}
    $1 == "portscand_scale_out_wire_bytes_total" {w += $NF}
    $1 == "portscand_scale_out_bytes_delivered_total" {b += $NF}
    END {printf "%d %d %d %d %d %d %d\n", a, f, s, t, m, w, b}'
}
first= last=
while :; do
  t=$EPOCHREALTIME
  read -r read_in fwd stage2 ticks marks wire kv < <(sample "${ports[@]}")
  [ "$read_in" -eq 0 ] && first=$t
  # Stage 2 has read every record once it read what was forwarded plus the marks and ticks
  # (each mark goes to every partition).
  if [ "$read_in" -ge "$events" ] && [ "$fwd" -gt 0 ] && [ "$stage2" -ge "$fwd" ]; then
    last=$t
    break
  fi
  sleep 0.1
done
awk -v a="$first" -v b="$last" -v n="$events" -v f="$fwd" -v i="$instances" \
  'BEGIN {d = b - a; printf "%d instance(s): %d events (%d forwarded) in %.2f s: %.0f events/s\n", i, n, f, d, n / d}'
sleep 6  # one more statistics interval for the wire bytes
read -r read_in fwd stage2 ticks marks wire kv < <(sample "${ports[@]}")
awk -v w="$wire" -v b="$kv" -v f="$fwd" \
  'BEGIN {printf "by-source topic: %.1f bytes per record on the wire (lz4 batches + framing), %.1f key+value bytes before compression\n", w / f, b / f}'

if [ "$instances" -ge 2 ]; then
  # Handover: stop instance 1; instance 2 takes its partitions and rebuilds them from the
  # committed resume points (re-reading the records of the bins they hold).
  m=$(curl -s "http://127.0.0.1:${ports[1]}/metrics")
  opened0=$(awk '$1 == "portscand_scale_out_partitions_opened_total" {print int($NF)}' <<<"$m")
  keys0=$(awk '$1 ~ /^portscand_tracked_keys\{/ {k += $NF} END {print k}' <<<"$m")
  h0=$EPOCHREALTIME
  kill -TERM "${pids[1]}"
  wait "${pids[1]}" || true
  unset 'pids[1]'
  h1=$EPOCHREALTIME
  while :; do
    m=$(curl -s "http://127.0.0.1:${ports[1]}/metrics")
    opened=$(awk '$1 == "portscand_scale_out_partitions_opened_total" {print int($NF)}' <<<"$m")
    lag=$(awk '$1 ~ /^portscand_kafka_consumer_lag_messages\{input="scale_out"/ {l += $NF} END {print l + 0}' <<<"$m")
    [ "$opened" -gt "$opened0" ] && [ "$lag" -eq 0 ] && break
    sleep 0.05
  done
  h2=$EPOCHREALTIME
  keys=$(curl -s "http://127.0.0.1:${ports[1]}/metrics" | awk '$1 ~ /^portscand_tracked_keys\{/ {k += $NF} END {print k}')
  awk -v a="$h0" -v b="$h1" -v c="$h2" -v k="$((keys - keys0))" -v o="$((opened - opened0))" \
    'BEGIN {printf "handover: SIGTERM took %.2f s; %d partition(s) with %d (source, bin) keys rebuilt %.2f s after the stop\n", b - a, o, k, c - b}'
fi
for i in "${!pids[@]}"; do kill -TERM "${pids[$i]}"; wait "${pids[$i]}" || true; done
pids=()
