#!/usr/bin/env bash
# run_kafka_test.sh PORTSCAND GEN_WORKLOAD MOCK_BROKER SCENARIO [NOTIFY_LISTENER]
#
# `portscand run` against librdkafka's mock cluster (a real Kafka-protocol broker in
# process of tests/tools/mock_broker): a generated workload with planted scans is produced
# to a 4-partition input topic with kcat, the daemon consumes it (schedule on_close),
# publishes alerts to the output topic, and the alerts read back with kcat must equal the
# DuckDB oracle's on every field (duplicates allowed, with identical content).
#
# SCENARIO:
#   plain     one run, stopped with SIGTERM at the end (exit code 0, checkpoint written)
#   kill9     kill -9 at several points mid-stream (before the first checkpoint, between
#             checkpoints, while publishing), restarting each time
#   faults    a broker down and up while consuming and while publishing, injected produce
#             errors (retriable, then a topic authorization failure) on the alert topic
#   corrupt   kill -9 as soon as two checkpoint generations exist, then one byte of the
#             newest generation's shard-0 file flipped and CURRENT deleted: the shard comes
#             back from the older generation, the input is read again from its offsets, and
#             no alert is lost
#   outage    the alert topic has no leader for a minute (an output outage): under a
#             systemd-style watchdog (WATCHDOG_USEC=4s, pings observed on a real
#             notification socket) the pings never stop, the checkpoints that cannot
#             complete are skipped and counted, SIGTERM in the outage exits 0 within 30 s,
#             and after a restart with the output back every alert arrives
#
# Every scenario is also the backlog case: the workload's event times lie months before the
# wall clock, so the daemon catches up on old data and must still evaluate by event time.
#
# Fails, never skips, when anything it needs is missing.
set -uo pipefail

[ $# -eq 4 ] || [ $# -eq 5 ] || { echo "usage: $0 PORTSCAND GEN_WORKLOAD MOCK_BROKER SCENARIO [NOTIFY_LISTENER]" >&2; exit 2; }
portscand=$1 gen=$2 mock=$3 scenario=$4 listener=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
oracle=$here/../oracle

die() { echo "FAIL: $*" >&2; exit 1; }
for x in "$portscand" "$gen" "$mock"; do [ -x "$x" ] || die "missing executable $x"; done
command -v kcat >/dev/null || die "kcat is not installed (deploy/install-deps.sh installs it)"
command -v node >/dev/null || die "node is not installed"
[ -d "$oracle/node_modules/@duckdb/node-api" ] || die "the DuckDB oracle is not installed (cd tests/oracle && npm ci)"

work=$(mktemp -d "${TMPDIR:-/tmp}/run_kafka_$scenario.XXXXXX")
daemon_pid=
broker_pid=
listener_pid=
cleanup() {
  [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
  exec 7>&- 2>/dev/null
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
}
trap cleanup EXIT
fail() {
  echo "FAIL ($scenario): $*" >&2
  echo "work directory kept: $work" >&2
  [ -f "$work/daemon.log" ] && tail -30 "$work/daemon.log" >&2
  exit 1
}

# The broker: its stdin is our control channel (fd 7), its first output line the bootstrap.
mkfifo "$work/ctl"
"$mock" --brokers 3 --topic asim:4 --topic alerts:1 --exit-on-stdin-eof <"$work/ctl" >"$work/broker.out" 2>"$work/broker.log" &
broker_pid=$!
exec 7>"$work/ctl"
for _ in $(seq 100); do [ -s "$work/broker.out" ] && break; sleep 0.1; done
bootstrap=$(head -1 "$work/broker.out")
[ -n "$bootstrap" ] || fail "the mock broker printed no bootstrap address"
broker() { echo "$*" >&7; }

# The workload and its expected alerts.
"$gen" --events 60000 --sources 8000 --scans 30 --seed 23 --duration-min 60 --bad-lines 20 \
  --manifest "$work/manifest.json" >"$work/workload.jsonl" || fail "gen_workload failed"
node "$oracle/oracle.mjs" --rejects-out "$work/oracle-rejects.json" "$work/workload.jsonl" >"$work/expected.jsonl" \
  || fail "the oracle failed"
expected=$(wc -l <"$work/expected.jsonl")
[ "$expected" -gt 10 ] || fail "the oracle expects only $expected alerts: the workload is too small to prove anything"

# Round robin over the 4 partitions, in file order: the mock cluster keeps only ~5 MiB per
# partition and silently trims the oldest data beyond that, so the spread must be even.
for p in 0 1 2 3; do
  awk -v p=$p 'NR % 4 == p' "$work/workload.jsonl" >"$work/part$p.jsonl"
  kcat -P -b "$bootstrap" -t asim -p $p -l "$work/part$p.jsonl" 2>>"$work/kcat-produce.log" \
    || fail "kcat could not produce the workload"
done

cat >"$work/portscand.yaml" <<YAML
mode: default
evaluation: {schedule: on_close, allowed_lateness: 10m, idle_timeout: 2s}
shards: 2
state_dir: $work/state
checkpoint_interval: 1s
log_level: info
inputs:
  - type: kafka
    name: asim
    brokers: "$bootstrap"
    topics: [asim]
    group: portscand-test
    format: asim
    properties: {session.timeout.ms: "6000", heartbeat.interval.ms: "500", fetch.wait.max.ms: "50"}
outputs:
  - type: kafka
    name: alerts
    brokers: "$bootstrap"
    topic: alerts
    properties: {message.timeout.ms: "300000", retry.backoff.ms: "100"}
metrics: {listen: "127.0.0.1:0"}
YAML
"$portscand" check-config --config "$work/portscand.yaml" >/dev/null 2>"$work/check.log" || fail "check-config refused the test config: $(cat "$work/check.log")"

start_daemon() {
  "$portscand" run --config "$work/portscand.yaml" >>"$work/daemon.log" 2>&1 &
  daemon_pid=$!
}
alerts_so_far() {  # distinct alert ids: a restart re-publishes what no checkpoint covered
  kcat -C -b "$bootstrap" -t alerts -o beginning -e -q 2>/dev/null |
    grep -o '"alert_id":"[^"]*"' | sort -u | wc -l
}
wait_for_alerts() {  # wait_for_alerts SECONDS: until the topic holds $expected distinct alerts
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(alerts_so_far)" -ge "$expected" ] && return 0
    sleep 1
  done
  return 1
}

case "$scenario" in
  plain)
    start_daemon
    wait_for_alerts 120 || fail "only $(alerts_so_far) of $expected alerts after 120 s"
    kill -TERM "$daemon_pid"
    wait "$daemon_pid"
    rc=$?
    daemon_pid=
    [ $rc -eq 0 ] || fail "SIGTERM: exit code $rc (want 0)"
    ls "$work"/state/ckpt-* >/dev/null 2>&1 || fail "no checkpoint after a graceful stop"
    ;;
  kill9)
    for delay in 0.3 2.5 4; do
      start_daemon
      sleep "$delay"
      kill -9 "$daemon_pid"
      wait "$daemon_pid" 2>/dev/null
      daemon_pid=
      echo "killed after ${delay}s: $(alerts_so_far) alerts published so far" >&2
    done
    # While publishing: as soon as the first alerts are on the topic.
    start_daemon
    deadline=$((SECONDS + 120))
    while [ $SECONDS -lt $deadline ] && [ "$(alerts_so_far)" -eq 0 ]; do sleep 0.2; done
    kill -9 "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null
    daemon_pid=
    echo "killed while publishing: $(alerts_so_far) alerts published so far" >&2
    start_daemon
    wait_for_alerts 180 || fail "only $(alerts_so_far) of $expected alerts after the restarts"
    kill -TERM "$daemon_pid"
    wait "$daemon_pid"
    daemon_pid=
    ;;
  faults)
    broker "broker down 2"
    start_daemon
    sleep 3
    broker "broker up 2"
    # Produce errors on the alert topic: retriable first, then an authorization failure.
    broker "error PRODUCE 7 5"    # REQUEST_TIMED_OUT
    sleep 2
    broker "error PRODUCE 29 20"  # TOPIC_AUTHORIZATION_FAILED
    sleep 5
    broker "clear"
    broker "broker down 1"
    sleep 3
    broker "broker up 1"
    wait_for_alerts 240 || fail "only $(alerts_so_far) of $expected alerts after the broker faults"
    kill -TERM "$daemon_pid"
    wait "$daemon_pid"
    daemon_pid=
    ;;
  corrupt)
    start_daemon
    deadline=$((SECONDS + 120))
    while [ $SECONDS -lt $deadline ] && [ "$(find "$work/state" -maxdepth 1 -name 'ckpt-[0-9]*' ! -name '*.tmp' 2>/dev/null | wc -l)" -lt 2 ]; do
      sleep 0.05
    done
    kill -9 "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null
    daemon_pid=
    newest=$(find "$work/state" -maxdepth 1 -name 'ckpt-[0-9]*' ! -name '*.tmp' | sort -t- -k2 -n | tail -1)
    [ -n "$newest" ] && [ -s "$newest/shard-0.bin" ] || fail "no checkpoint with a non-empty shard-0 file to damage"
    echo "killed with $(alerts_so_far) alerts published; damaging $(basename "$newest")/shard-0.bin" >&2
    # One byte flipped in the middle, same size: only the checksum can tell.
    size=$(stat -c %s "$newest/shard-0.bin")
    byte=$(dd if="$newest/shard-0.bin" bs=1 skip=$((size / 2)) count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
    printf "$(printf '\\%03o' $(((byte + 1) % 256)))" |
      dd of="$newest/shard-0.bin" bs=1 seek=$((size / 2)) count=1 conv=notrunc 2>/dev/null
    rm -f "$work/state/CURRENT"
    start_daemon
    wait_for_alerts 180 || fail "only $(alerts_so_far) of $expected alerts after the damaged checkpoint"
    grep -q 'shard 0: restored from the older checkpoint' "$work/daemon.log" ||
      fail "shard 0 was not restored from the older generation"
    kill -TERM "$daemon_pid"
    wait "$daemon_pid"
    daemon_pid=
    ;;
  outage)
    [ -x "$listener" ] || die "the outage scenario needs NOTIFY_LISTENER"
    broker "leader alerts 0 -1"
    # Every notification with the time it arrived (microseconds), as systemd would see it.
    ( "$listener" "$work/notify.sock" --timeout 300 | while IFS= read -r line; do
        printf '%s %s\n' "${EPOCHREALTIME/./}" "$line"
      done ) >"$work/notify.log" 2>"$work/listener.err" &
    listener_pid=$!
    for _ in $(seq 100); do [ -S "$work/notify.sock" ] && break; sleep 0.1; done
    [ -S "$work/notify.sock" ] || fail "notify_listener did not create its socket"
    (
      export NOTIFY_SOCKET=$work/notify.sock WATCHDOG_USEC=4000000 WATCHDOG_PID=$BASHPID
      exec "$portscand" run --config "$work/portscand.yaml"
    ) >>"$work/daemon.log" 2>&1 &
    daemon_pid=$!
    for _ in $(seq 300); do grep -q 'metrics on http' "$work/daemon.log" && break; sleep 0.1; done
    port=$(sed -n 's/.*metrics on http:.*(port \([0-9]*\)).*/\1/p' "$work/daemon.log" | head -1)
    [ -n "$port" ] || fail "the daemon did not announce its metrics port"
    skipped() {
      curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null |
        awk '$1 ~ /^portscand_checkpoint_failures_total\{step="drain"\}/ {n += $2} END {print n + 0}'
    }
    # Each checkpoint waits at most 10 s for the outputs; two skipped ones prove the loop
    # went on through them.
    deadline=$((SECONDS + 90))
    while [ $SECONDS -lt $deadline ] && [ "$(skipped)" -lt 2 ]; do sleep 1; done
    [ "$(skipped)" -ge 2 ] || fail "no checkpoint was skipped for unconfirmed alerts in 90 s: $(skipped)"
    max_gap=$(grep 'WATCHDOG=1' "$work/notify.log" | awk 'NR > 1 {g = $1 - prev; if (g > m) m = g} {prev = $1} END {print int(m / 1000)}')
    pings=$(grep -c 'WATCHDOG=1' "$work/notify.log")
    echo "outage: $pings watchdog pings, longest gap ${max_gap} ms, $(skipped) checkpoints skipped" >&2
    [ "$pings" -ge 10 ] || fail "only $pings watchdog pings during the outage"
    [ "$max_gap" -lt 4000 ] || fail "the watchdog went unpinged for ${max_gap} ms (WATCHDOG_USEC=4s): systemd would restart the daemon"
    t0=$SECONDS
    kill -TERM "$daemon_pid"
    wait "$daemon_pid"
    rc=$?
    daemon_pid=
    [ $rc -eq 0 ] || fail "SIGTERM during the outage: exit code $rc (want 0)"
    [ $((SECONDS - t0)) -le 30 ] || fail "SIGTERM during the outage took $((SECONDS - t0)) s"
    grep -q 'STOPPING=1' "$work/notify.log" || fail "no STOPPING=1 on SIGTERM"
    # The output is back: what the last durable checkpoint did not cover is evaluated again.
    broker "leader alerts 0 1"
    start_daemon
    wait_for_alerts 180 || fail "only $(alerts_so_far) of $expected alerts after the outage"
    kill -TERM "$daemon_pid"
    wait "$daemon_pid"
    daemon_pid=
    ;;
  *) die "unknown scenario $scenario" ;;
esac

kcat -C -b "$bootstrap" -t alerts -o beginning -e -q >"$work/published.jsonl" 2>/dev/null
summary=$(node "$here/dedupe_alerts.mjs" "$work/published.jsonl" "$work/actual.jsonl") || fail "an alert id was published with different content"
echo "$scenario: $summary (expected $expected)"
node "$oracle/compare.mjs" --names oracle,daemon "$work/expected.jsonl" "$work/actual.jsonl" >"$work/compare.log" 2>&1 \
  || fail "alerts differ from the oracle: $(head -20 "$work/compare.log")"
rm -rf "$work"
echo "PASS ($scenario)"
