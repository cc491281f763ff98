#!/usr/bin/env bash
# e2e_scale_out.sh [BUILD_DIR] — end-to-end throughput of `portscand run` with `scale_out`
# through librdkafka's mock cluster (tests/tools/mock_broker), with INSTANCES instances
# (default 1) of one shard each ("one core's worth of threads"): a generated ASIM workload is
# produced to a 64-partition input topic first (a backlog), then the instances read it
# (stage 1), forward it to a by-source topic of BY_SOURCE_PARTITIONS partitions (default 32)
# and consume that (stage 2). Prints:
#   - events/s: input records over the time from the last scrape before the first record
#     was read to the first scrape at which stage 2 of all instances had read every forwarded
#     record (every 100 ms; a lower bound);
#   - bytes per record on the by-source topic: what the producers sent to the brokers
#     (lz4-compressed batches with their request framing) over the records forwarded, and
#     the key + value bytes before compression;
#   - the handover (INSTANCES=2 only): instance 1 is stopped (HANDOVER=TERM, the default, or
#     HANDOVER=KILL for kill -9) and instance 2 takes its partitions. Printed from the stop:
#     when they were opened there, and when they were re-read whole (the consumer lag of each
#     moved partition back to 0 on instance 2) with the (source, bin) keys rebuilt (instance
#     2's tracked keys up by what instance 1 held). Before the stop the script checks that
#     the mock cluster still holds every by-source record from offset 0 (it trims a
#     partition beyond ~5 MiB), so a short re-read is never the harness's loss.
# The idle timeout is 10 minutes, so no bin closes by the wall clock during a run: at the
# handover the partitions hold every bin of the workload's hour.
# The mock cluster keeps at most ~5 MiB per partition: EVENTS (default 500000, ~200 bytes
# each; up to 1500000) over 64 input partitions stays under that, as do the by-source
# topic's ~32 bytes per record over 32.
# One partition of ~100k keys: BY_SOURCE_PARTITIONS=2 with sources that rarely repeat in a
# bin (SOURCES, default EVENTS/4); the ~150k messages of such a partition come close to the
# mock cluster's limit, so this is about the largest it can hold:
#   INSTANCES=2 BY_SOURCE_PARTITIONS=2 EVENTS=340000 SOURCES=1000000 tests/bench/e2e_scale_out.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
events=${EVENTS:-500000}
instances=${INSTANCES:-1}
sources=${SOURCES:-$((events / 4))}
partitions=64  # input topic
by_source=${BY_SOURCE_PARTITIONS:-32}
handover=${HANDOVER:-TERM}
case $handover in TERM | KILL) ;; *) echo "HANDOVER must be TERM or KILL" >&2; exit 1 ;; esac
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

"$mock" --brokers 1 --topic asim:$partitions --topic alerts:1 --topic by-source:$by_source \
  </dev/null >"$work/broker.out" 2>/dev/null &
broker_pid=$!
for _ in $(seq 100); do [ -s "$work/broker.out" ] && break; sleep 0.1; done
bootstrap=$(head -1 "$work/broker.out")

"$gen" --events "$events" --sources "$sources" --scans 40 --seed 5 --duration-min 60 >"$work/w.jsonl" 2>/dev/null
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
  # Handover: stop instance 1; instance 2 takes its by-source partitions and rebuilds them
  # from the committed resume points (re-reading the records of the bins they hold).
  scrape() { curl -s "http://127.0.0.1:$1/metrics"; }
  # The by-source partitions an instance owns, from the metrics text on stdin.
  owned() {
    awk '$1 ~ /^portscand_kafka_partition_assigned\{input="scale_out"/ && $NF == 1 {
           match($1, /partition="[0-9]+"/); print substr($1, RSTART + 11, RLENGTH - 12)}'
  }
  keys() { awk '$1 ~ /^portscand_tracked_keys\{/ {k += $NF} END {print k + 0}'; }
  # The daemon's own measure of a re-read: count and sum of
  # portscand_kafka_catch_up_seconds{input="scale_out"}.
  catch_up() {
    awk '$1 == "portscand_kafka_catch_up_seconds_count{input=\"scale_out\"}" {n = $NF}
         $1 == "portscand_kafka_catch_up_seconds_sum{input=\"scale_out\"}" {s = $NF}
         END {printf "%d %.6f\n", n, s}'
  }
  m1=$(scrape "${ports[0]}")
  m2=$(scrape "${ports[1]}")
  moved=$(owned <<<"$m1" | sort -n | tr '\n' ' ')
  [ -n "$moved" ] || { echo "instance 1 owns no by-source partition: nothing to hand over" >&2; exit 1; }
  keys1=$(keys <<<"$m1")
  keys2=$(keys <<<"$m2")
  opened0=$(awk '$1 == "portscand_scale_out_partitions_opened_total" {print int($NF)}' <<<"$m2")
  read -r cu_n0 cu_s0 < <(catch_up <<<"$m2")
  received() { awk '$1 == "portscand_records_received_total{input=\"scale_out\"}" {print int($NF)}'; }
  recv0=$(received <<<"$m2")
  # What the mock cluster still holds: a partition trimmed beyond its ~5 MiB would be re-read
  # short, and that would be the harness's loss, not the daemon's.
  for p in $moved; do
    read -r first count < <(kcat -C -b "$bootstrap" -t by-source -p "$p" -o beginning -e -q \
      -f '%o\n' | awk 'NR == 1 {f = $1} END {print f + 0, NR}')
    if [ "$first" -ne 0 ]; then
      echo "the mock cluster trimmed by-source partition $p (first offset $first): no handover figure" >&2
      exit 1
    fi
    echo "by-source partition $p: $count messages held from offset 0 (records, marks, ticks)" >&2
  done
  nmoved=$(wc -w <<<"$moved")
  h0=$EPOCHREALTIME
  kill "-$handover" "${pids[1]}"
  wait "${pids[1]}" || true
  unset 'pids[1]'
  h1=$EPOCHREALTIME
  # Done when every moved partition is opened and assigned on instance 2, has been read up to
  # the end it had when it was assigned there (its catch-up observed), its lag there is 0,
  # and instance 2 tracks the keys instance 1 held.
  t_open= done_at= max_lag=0 keys=0
  deadline=$(awk -v t="$h1" 'BEGIN {printf "%.3f", t + 180}')
  while :; do
    t=$EPOCHREALTIME
    m=$(scrape "${ports[1]}")
    opened=$(awk '$1 == "portscand_scale_out_partitions_opened_total" {print int($NF)}' <<<"$m")
    keys=$(keys <<<"$m")
    read -r cu_n cu_s < <(catch_up <<<"$m")
    [ -z "$t_open" ] && [ "$opened" -ge $((opened0 + nmoved)) ] && t_open=$t
    if [ -n "$t_open" ]; then
      read -r assigned lag_max lag_sum < <(awk -v moved="$moved" '
        BEGIN {n = split(moved, ps, " "); for (i = 1; i <= n; i++) want[ps[i]] = 1}
        { if (!match($1, /partition="[0-9]+"/)) next
          p = substr($1, RSTART + 11, RLENGTH - 12); if (!(p in want)) next }
        $1 ~ /^portscand_kafka_partition_assigned\{input="scale_out"/ && $NF == 1 {a++}
        $1 ~ /^portscand_kafka_consumer_lag_messages\{input="scale_out"/ {
          seen[p] = 1; s += $NF; if ($NF > mx) mx = $NF }
        END {for (p in want) if (!(p in seen)) s = -1; print a + 0, mx + 0, s}' <<<"$m")
      [ "$lag_max" -gt "$max_lag" ] && max_lag=$lag_max
      if [ "$assigned" -eq "$nmoved" ] && [ "$cu_n" -ge $((cu_n0 + nmoved)) ] &&
        [ "$lag_sum" -eq 0 ] && [ "$keys" -ge $((keys1 + keys2)) ]; then
        done_at=$t
        break
      fi
    fi
    if awk -v a="$t" -v d="$deadline" 'BEGIN {exit !(a > d)}'; then
      echo "handover not complete 180 s after the stop: opened ${t_open:+yes}, keys $keys of $((keys1 + keys2))" >&2
      exit 1
    fi
    sleep 0.05
  done
  awk -v a="$h0" -v b="$h1" -v o="$t_open" -v c="$done_at" -v s="$handover" -v p="$moved" \
    -v n="$nmoved" -v k1="$keys1" -v k="$((keys - keys2))" -v l="$max_lag" \
    -v cn="$((cu_n - cu_n0))" -v cs="$cu_s" -v cs0="$cu_s0" -v r="$(($(received <<<"$m") - recv0))" '
    BEGIN {
      printf "handover (%s): instance 1 gone after %.2f s; %d by-source partition(s) (%s) held %d (source, bin) keys there\n", s, b - a, n, p, k1
      printf "handover (%s): opened on instance 2 %.2f s after the stop; re-read whole (lag 0, %d keys rebuilt) %.2f s after the stop; largest lag seen there: %d messages\n", s, o - a, k, c - a, l
      printf "handover (%s): the re-read as instance 2 measured it (portscand_kafka_catch_up_seconds): %.2f s per partition from its assignment; instance 2 read %d by-source messages since the stop\n", s, (cs - cs0) / cn, r
    }'
fi
for i in "${!pids[@]}"; do kill -TERM "${pids[$i]}"; wait "${pids[$i]}" || true; done
pids=()
