#!/usr/bin/env bash
# ops_check_config_test.sh PORTSCAND
#
# `portscand check-config` refuses what `portscand run` refuses at start, and run's exit
# status says which kind of failure it was (issue 11). The Debian postinst starts the service
# only when check-config accepts the configuration, and the unit never restarts after exit 3
# (RestartPreventExitStatus=), so:
#   1. every bad configuration below (one defect each, the rest valid): check-config exits 3
#      and prints "FILE: PATH: problem" with the defect's YAML path and words naming it; run
#      exits 3 as well, before it binds anything; a secret's value is never printed;
#   2. the valid bases of those cases (a syslog listener, a Kafka output, a file output)
#      pass check-config: the refusals come from the defects, not from the bases;
#   3. a valid configuration whose syslog port (TCP, then UDP) another process holds passes
#      check-config, and run exits 1 (an environment failure, restarted by systemd), not 3.
#      The other process is a portscand holding the ports, so no tool beyond the binary is
#      needed.
# Every run is bounded by `timeout 20`; ports are ephemeral.
#
# Fails, never skips, when anything it needs is missing.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 PORTSCAND" >&2; exit 2; }
portscand=$1
die() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$portscand" ] || die "missing executable $portscand"
command -v timeout >/dev/null || die "timeout is not installed (coreutils)"

work=$(mktemp -d "${TMPDIR:-/tmp}/ops_check_config.XXXXXX")
holder_pid=
cleanup() { [ -n "$holder_pid" ] && kill -9 "$holder_pid" 2>/dev/null; }
trap cleanup EXIT
failures=0
failed() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

mkdir -p "$work/state"
printf 'x\n' >"$work/plain-file"
printf 'not a certificate\n' >"$work/garbage.crt"
# A secret that must never be printed, in a configuration that check-config refuses.
export PORTSCAND_TEST_SECRET=s3cret-never-printed

# The valid base: every case below adds or changes one thing.
base() {
  cat <<YAML
state_dir: $work/state
metrics: {listen: "127.0.0.1:0"}
YAML
}
stdout_output='outputs: [{type: stdout}]'

# refused NAME PATH SAYS: $work/NAME.yaml must be refused by check-config (exit 3, the line
# "FILE: PATH: ...SAYS...") and by run (exit 3).
refused() {
  local name=$1 path=$2 says=$3 file=$work/$1.yaml rc
  timeout 20 "$portscand" check-config --config "$file" >"$work/$name.check" 2>&1
  rc=$?
  [ $rc -eq 3 ] || failed "$name: check-config exits $rc, want 3: $(cat "$work/$name.check")"
  grep -qF -- "$file: $path: " "$work/$name.check" ||
    failed "$name: check-config does not name $path: $(cat "$work/$name.check")"
  grep -F -- "$file: $path: " "$work/$name.check" | grep -qF -- "$says" ||
    failed "$name: check-config's line for $path does not say '$says': $(cat "$work/$name.check")"
  grep -q "$PORTSCAND_TEST_SECRET" "$work/$name.check" && failed "$name: check-config printed a secret"
  timeout 20 "$portscand" run --config "$file" >"$work/$name.run" 2>&1
  rc=$?
  [ $rc -eq 3 ] || failed "$name: run exits $rc, want 3 (invalid configuration): $(tail -5 "$work/$name.run")"
}

# accepted NAME: the base of a case, without its defect, passes check-config.
accepted() {
  local name=$1 rc
  timeout 20 "$portscand" check-config --config "$work/$name.yaml" >"$work/$name.check" 2>&1
  rc=$?
  [ $rc -eq 0 ] || failed "$name: check-config exits $rc, want 0: $(cat "$work/$name.check")"
}

# 1. and 2. One defect each.
{ base; echo "$stdout_output"; echo "inputs: [{type: syslog, listen: 'tcp://127.0.0.1:0'}]"; } >"$work/good-syslog.yaml"
accepted good-syslog
{ base; echo "$stdout_output"; echo "inputs: [{type: syslog, listen: 'tcp://0.0.0.0:99999'}]"; } >"$work/syslog-port.yaml"
refused syslog-port 'inputs[0].listen' "bad port '99999'"

{ base; echo "$stdout_output"; echo "metrics: {listen: '127.0.0.1:70000'}"; } | sed '/^metrics: {listen: "127/d' >"$work/metrics-port.yaml"
refused metrics-port 'metrics.listen' "bad port '70000'"

{ base; echo "$stdout_output"; echo "inputs: [{type: syslog, listen: 'tls://127.0.0.1:0', tls: {certificate: $work/none.crt, key: $work/none.key}}]"; } >"$work/tls-missing.yaml"
refused tls-missing 'inputs[0].tls.certificate' "cannot read tls.certificate '$work/none.crt'"
refused tls-missing 'inputs[0].tls.key' "cannot read tls.key '$work/none.key'"
{ base; echo "$stdout_output"; echo "inputs: [{type: syslog, listen: 'tls://127.0.0.1:0', tls: {certificate: $work/garbage.crt, key: $work/garbage.crt}}]"; } >"$work/tls-garbage.yaml"
refused tls-garbage 'inputs[0].tls.certificate' "tls.certificate '$work/garbage.crt': "

kafka_output() {  # kafka_output 'PROPERTIES': a Kafka output; check-config connects to nothing
  echo "outputs: [{type: kafka, brokers: '127.0.0.1:1', topic: alerts, properties: {$1}}]"
}
{ base; kafka_output 'acks: all, linger.ms: "5"'; } >"$work/good-kafka.yaml"
accepted good-kafka
{ base; kafka_output 'acks: "1"'; } >"$work/acks.yaml"
refused acks 'outputs[0].properties.acks' "must be 'all'"
{ base; kafka_output 'enable.idempotence: false'; } >"$work/idempotence.yaml"
refused idempotence 'outputs[0].properties.enable.idempotence' "cannot be disabled"
{ base; kafka_output 'linger.ms: soon'; } >"$work/output-property.yaml"
refused output-property 'outputs[0].properties.linger.ms' "librdkafka refuses it: Invalid value"
# ssl_key (librdkafka's internal key object) looks secret and cannot be set from a string.
{ base; echo "$stdout_output"; echo "inputs: [{type: kafka, brokers: '127.0.0.1:1', topics: [t], properties: {ssl_key: '\${env:PORTSCAND_TEST_SECRET}', no.such.property: '1'}}]"; } >"$work/input-property.yaml"
refused input-property 'inputs[0].properties.no.such.property' 'No such configuration property'
refused input-property 'inputs[0].properties.ssl_key' 'librdkafka refuses it'

base >"$work/no-outputs.yaml"
refused no-outputs 'outputs' 'no outputs configured'
{ base; echo "outputs: []"; } >"$work/empty-outputs.yaml"
refused empty-outputs 'outputs' 'no outputs configured'

{ base | sed "s#^state_dir: .*#state_dir: $work/plain-file#"; echo "$stdout_output"; } >"$work/state-file.yaml"
refused state-file 'state_dir' 'exists but is not a directory'
{ base | sed "s#^state_dir: .*#state_dir: $work/plain-file/state#"; echo "$stdout_output"; } >"$work/state-uncreatable.yaml"
refused state-uncreatable 'state_dir' 'cannot be created'

{ base; echo "outputs: [{type: file, path: $work/alerts.jsonl}]"; } >"$work/good-file.yaml"
accepted good-file
{ base; echo "outputs: [{type: file, path: $work/no-such-dir/alerts.jsonl}]"; } >"$work/file-parent.yaml"
refused file-parent 'outputs[0].path' "the directory '$work/no-such-dir' of"

{ base; echo "$stdout_output"; echo 'shards: 2'; echo 'shards: 4'; } >"$work/duplicate.yaml"
refused duplicate 'shards' "duplicate key 'shards'"
{ base; cat <<'YAML'; } >"$work/duplicate-property.yaml"
outputs:
  - type: kafka
    brokers: 127.0.0.1:1
    topic: alerts
    properties:
      acks: all
      acks: "1"
YAML
refused duplicate-property 'outputs[0].properties.acks' "duplicate key 'acks'"

# An unknown key is what exit 3 was always for: run still refuses it with 3.
{ base; echo "$stdout_output"; echo 'shard: 2'; } >"$work/unknown-key.yaml"
refused unknown-key 'shard' 'unknown key'

# 3. Ports another process holds: environment, not configuration.
{ base; echo "$stdout_output"; cat <<'YAML'; } >"$work/holder.yaml"
inputs:
  - {type: syslog, name: tcp, listen: "tcp://127.0.0.1:0"}
  - {type: syslog, name: udp, listen: "udp://127.0.0.1:0"}
YAML
sed -i "s#^state_dir: .*#state_dir: $work/holder-state#" "$work/holder.yaml"
timeout 60 "$portscand" run --config "$work/holder.yaml" >"$work/holder.log" 2>&1 &
holder_pid=$!
tcp_port= udp_port=
for _ in $(seq 100); do
  tcp_port=$(sed -n 's#.*listening on tcp://[^ ]*:\([0-9][0-9]*\).*#\1#p' "$work/holder.log" | head -1)
  udp_port=$(sed -n 's#.*listening on udp://[^ ]*:\([0-9][0-9]*\).*#\1#p' "$work/holder.log" | head -1)
  [ -n "$tcp_port" ] && [ -n "$udp_port" ] && break
  kill -0 "$holder_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$tcp_port" ] && [ -n "$udp_port" ] || die "the port holder did not start: $(tail -5 "$work/holder.log")"

for transport in tcp udp; do
  port=$tcp_port
  [ $transport = udp ] && port=$udp_port
  name=in-use-$transport
  { base; echo "$stdout_output"; echo "inputs: [{type: syslog, listen: '$transport://127.0.0.1:$port'}]"; } >"$work/$name.yaml"
  timeout 20 "$portscand" check-config --config "$work/$name.yaml" >"$work/$name.check" 2>&1 ||
    failed "$name: check-config refuses a valid configuration (a port in use is no configuration problem): $(cat "$work/$name.check")"
  timeout 20 "$portscand" run --config "$work/$name.yaml" >"$work/$name.run" 2>&1
  rc=$?
  [ $rc -eq 1 ] || failed "$name: run on a port in use exits $rc, want 1 (3 would stop systemd from restarting it): $(tail -3 "$work/$name.run")"
  grep -q 'Address already in use' "$work/$name.run" ||
    failed "$name: run does not say the address is in use: $(tail -3 "$work/$name.run")"
done

kill -TERM "$holder_pid"
wait "$holder_pid"
rc=$?
holder_pid=
[ $rc -eq 0 ] || failed "the port holder exits $rc after SIGTERM, want 0"

if [ $failures -ne 0 ]; then
  echo "work directory kept: $work" >&2
  exit 1
fi
rm -rf "$work"
echo "check-config and run refuse the same configurations (exit 3); a port in use exits 1"
echo "PASS"
