#!/usr/bin/env bash
# e2e_early_latency.sh [BUILD_DIR] — latency of early alerts (README "Early alerts") through
# librdkafka's mock cluster (tests/tools/mock_broker): from the record that takes a source
# over the threshold arriving on the input topic to its early alert arriving on the output
# topic, p50 / p99 / max.
#
# The daemon runs as a user would run it: `early_alerts: {enabled: true}`, the hourly
# schedule, an input and an output on the mock cluster. A paced producer (kcat, one record
# per message, linger.ms 0) sends RATE records/s (default 4000) for SCANS scanners (default
# 300, one starting every 0.1 s, each trying 60 ports over about 6 s) mixed with benign
# traffic (one port per source). A consumer on the output topic stamps each alert with the
# local clock the moment it reads it; the crossing record's arrival is its message
# timestamp (CreateTime, set by the producer as it sends) on the input topic, read back
# afterwards. Both clocks are this machine's.
#
# The mock cluster holds a fetch for fetch.wait.max.ms when a requested partition has
# nothing new, where a real broker answers as soon as data arrives: the daemon's input and
# the measuring consumer use fetch.wait.max.ms 10 so that the mock's wait does not dominate
# the figure (README Performance says so beside it).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
scans=${SCANS:-300}
rate=${RATE:-4000}
portscand=$build/daemon/portscand
mock=$build/tests/tools/mock_broker
for x in "$portscand" "$mock"; do [ -x "$x" ] || { echo "missing $x" >&2; exit 1; }; done
for c in kcat curl python3; do command -v $c >/dev/null || { echo "needs $c" >&2; exit 1; }; done

work=$(mktemp -d "${TMPDIR:-/tmp}/e2e_early_latency.XXXXXX")
broker_pid= daemon_pid= consumer_pid=
cleanup() {
  [ -n "$consumer_pid" ] && kill "$consumer_pid" 2>/dev/null
  [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$mock" --brokers 1 --topic records:8 --topic alerts:1 </dev/null >"$work/broker.out" 2>/dev/null &
broker_pid=$!
for _ in $(seq 100); do [ -s "$work/broker.out" ] && break; sleep 0.1; done
bootstrap=$(head -1 "$work/broker.out")

cat >"$work/p.yaml" <<YAML
early_alerts: {enabled: true}
shards: 2
state_dir: $work/state
inputs:
  - {type: kafka, name: records, brokers: "$bootstrap", topics: [records], group: latency,
     format: asim, properties: {fetch.wait.max.ms: "10"}}
outputs:
  - {type: kafka, name: alerts, brokers: "$bootstrap", topic: alerts}
metrics: {listen: "127.0.0.1:0"}
YAML
"$portscand" run --config "$work/p.yaml" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*metrics on .*(port \([0-9]*\)).*/\1/p' "$work/daemon.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "the daemon did not start:" >&2; cat "$work/daemon.log" >&2; exit 1; }
# Ready once the group gave it the partition (its lag is exported from then on).
for _ in $(seq 300); do
  curl -s "http://127.0.0.1:$port/metrics" | grep -q '^portscand_kafka_consumer_lag_messages{' && break
  sleep 0.1
done

# The measuring consumer: one line per alert, "<arrival epoch seconds> <alert json>".
kcat -C -b "$bootstrap" -t alerts -o end -u -q -X fetch.wait.max.ms=10 -f '%s\n' 2>/dev/null |
  python3 -u -c '
import sys, time
for line in sys.stdin:
    print(f"{time.time():.6f} {line}", end="", flush=True)
' >"$work/arrivals" &
consumer_pid=$!
sleep 1  # the consumer's own assignment

# The paced producer: SCANS scanners from 203.0.113.0/24 and 198.18.0.0/15 (public
# addresses of documentation and benchmarking ranges, which the source filter keeps), each
# 60 ports one record at a time, and benign sources, RATE records/s in all, with the real
# time as TimeGenerated. Keyed by source: 8 partitions (the mock keeps ~5 MiB of each),
# a source's records in one of them, in order.
python3 - "$scans" "$rate" <<'PY' | kcat -P -b "$bootstrap" -t records -K $'\t' -X linger.ms=0
import json, sys, time
scans, rate = int(sys.argv[1]), int(sys.argv[2])
def source(i):
    return f"198.18.{i // 250}.{i % 250 + 1}"
def record(src, port, n):
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1e6) % 1000000:06d}Z"
    return src + "\t" + json.dumps({"TimeGenerated": t, "SrcIpAddr": src, "DstIpAddr": f"203.0.113.{n % 200 + 1}",
                       "DstPortNumber": port, "EventVendor": "Fortinet", "EventProduct": "FortiGate"})
active, started, benign, sent = [], 0, 0, 0
t0 = time.time()
while started < scans or active:
    now = time.time()
    if started < scans and now - t0 >= started * 0.1:
        active.append([source(started), 0])
        started += 1
    # One record of each active scanner every 0.1 s (60 ports in 6 s), benign traffic between.
    for s in list(active):
        print(record(s[0], 1000 + s[1], s[1]))
        s[1] += 1
        sent += 1
        if s[1] == 60:
            active.remove(s)
    while sent < (time.time() - t0 + 0.1) * rate:
        print(record(f"192.0.2.{benign % 250 + 1}" if benign % 2 else f"198.19.{benign % 200}.{benign % 250 + 1}",
                     443, benign))
        benign += 1
        sent += 1
    sys.stdout.flush()
    time.sleep(max(0.0, t0 + (time.time() - t0) // 0.1 * 0.1 + 0.1 - time.time()))
print(f"produced {sent} records, {scans} scans, in {time.time() - t0:.1f} s", file=sys.stderr)
PY
# Let the last alerts arrive.
for _ in $(seq 100); do
  [ "$(grep -c '"early":true' "$work/arrivals" || true)" -ge "$scans" ] && break
  sleep 0.1
done
kill "$consumer_pid" 2>/dev/null || true
consumer_pid=
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=

# What the input topic holds (the mock may keep less than was sent): each record with its
# CreateTime, each partition in offset order (so each source's records in order).
kcat -C -b "$bootstrap" -t records -o beginning -e -q -f '%T %s\n' >"$work/records"
python3 - "$work/records" "$work/arrivals" "$scans" <<'PY'
import json, sys
records, arrivals, scans = sys.argv[1], sys.argv[2], int(sys.argv[3])
ports, crossing, held = {}, {}, 0
for line in open(records):
    ts, body = line.split(" ", 1)
    held += 1
    r = json.loads(body)
    s = ports.setdefault(r["SrcIpAddr"], set())
    if r["DstPortNumber"] in s:
        continue
    s.add(r["DstPortNumber"])
    if len(s) == 51:
        crossing[r["SrcIpAddr"]] = int(ts) / 1000.0
lat = []
for line in open(arrivals):
    t, body = line.split(" ", 1)
    a = json.loads(body)
    if a.get("early") and a["SrcIpAddr"] in crossing:
        lat.append(float(t) - crossing[a["SrcIpAddr"]])
lat.sort()
print(f"input topic holds {held} records, {len(crossing)} crossings; {len(lat)} early alerts received")
if len(crossing) != scans or len(lat) != len(crossing):
    print("not every planted scan was seen on both topics", file=sys.stderr)
    sys.exit(1)
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"latency, crossing record on the input topic -> early alert read from the output topic: "
      f"p50 {q(0.50) * 1000:.0f} ms, p99 {q(0.99) * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms")
PY
