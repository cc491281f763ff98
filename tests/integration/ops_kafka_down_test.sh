#!/usr/bin/env bash
# ops_kafka_down_test.sh PORTSCAND
#
# A Kafka input whose brokers cannot be reached (bootstrap 127.0.0.1:1, nothing listens)
# must not look healthy: within seconds /readyz answers 503 naming the input and the reason,
# portscand_ready and portscand_kafka_input_up are 0, the connection failures are counted by
# kind, the exposition stays promtool-clean, and SIGTERM still exits 0 promptly (nothing in
# the shutdown waits for the unreachable broker).
#
# Fails, never skips, when anything it needs is missing.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 PORTSCAND" >&2; exit 2; }
portscand=$1
die() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$portscand" ] || die "missing executable $portscand"
command -v curl >/dev/null || die "curl is not installed (deploy/install-deps.sh installs it)"
command -v promtool >/dev/null || die "promtool is not installed (deploy/install-deps.sh installs prometheus)"

work=$(mktemp -d "${TMPDIR:-/tmp}/ops_kafka_down.XXXXXX")
daemon_pid=
cleanup() { [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null; }
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "work directory kept: $work" >&2
  tail -20 "$work/daemon.log" >&2
  exit 1
}

cat >"$work/portscand.yaml" <<YAML
shards: 1
state_dir: $work/state
inputs:
  - {type: kafka, name: siem, brokers: "127.0.0.1:1", topics: [asim], group: portscand, format: asim}
outputs:
  - {type: file, name: alerts, path: $work/alerts.jsonl}
metrics: {listen: "127.0.0.1:0"}
YAML

"$portscand" run --config "$work/portscand.yaml" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do grep -q 'metrics on http' "$work/daemon.log" && break; sleep 0.1; done
port=$(sed -n 's/.*metrics on http:.*(port \([0-9]*\)).*/\1/p' "$work/daemon.log" | head -1)
[ -n "$port" ] || fail "the daemon did not announce its metrics port"

# librdkafka reports statistics every second; give it a few.
sleep 4
code=$(curl -s -o "$work/readyz.txt" -w '%{http_code}' "http://127.0.0.1:$port/readyz")
[ "$code" = 503 ] || fail "/readyz answered $code with the brokers unreachable (want 503)"
grep -q 'input siem: the consumer cannot fetch' "$work/readyz.txt" || fail "/readyz does not name the input: $(cat "$work/readyz.txt")"
grep -q 'coordinator' "$work/readyz.txt" || fail "/readyz does not say why: $(cat "$work/readyz.txt")"

curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics.txt" || fail "/metrics does not answer"
promtool check metrics <"$work/metrics.txt" >"$work/promtool.log" 2>&1 || fail "promtool: $(cat "$work/promtool.log")"
grep -qx 'portscand_ready 0' "$work/metrics.txt" || fail "portscand_ready is not 0"
grep -qx 'portscand_kafka_input_up{input="siem"} 0' "$work/metrics.txt" || fail "portscand_kafka_input_up is not 0"
errors=$(awk '$1 ~ /^portscand_kafka_consumer_errors_total\{input="siem",kind="broker"\}/ {print $2}' "$work/metrics.txt")
[ "${errors:-0}" -ge 1 ] || fail "no broker error counted: $(grep consumer_errors "$work/metrics.txt")"

t0=$SECONDS
kill -TERM "$daemon_pid"
wait "$daemon_pid"
rc=$?
daemon_pid=
[ $rc -eq 0 ] || fail "exit code $rc after SIGTERM (want 0)"
[ $((SECONDS - t0)) -le 20 ] || fail "SIGTERM took $((SECONDS - t0)) s with the brokers unreachable"
rm -rf "$work"
echo "PASS"
