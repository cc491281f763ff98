#!/usr/bin/env bash
# shippers_kafka_test.sh PORTSCAND MOCK_BROKER FIXTURES_DIR SHIPPER
#
# A real log shipper produces device lines to Kafka (the mock cluster of
# tests/tools/mock_broker) in its stock shapes, and `portscand run` (a Kafka input with
# `envelope: auto`, `format: auto`) reads every shape to the same alerts as the bare lines.
# SHIPPER:
#
#   rsyslog    rsyslogd (imfile tails the device files, omkafka produces), one topic per shape:
#                raw       a string template "%rawmsg%": the line as read
#                json      a JSON list template (rawmsg, timereported, hostname, fromhost-ip)
#                jsonmesg  a string template "%jsonmesg%": every message property as JSON
#                default   no template: omkafka's default RSYSLOG_FileFormat
#                          (`<RFC 3339 read time> <host> <tag> <line>` and a line feed)
#   syslog-ng  syslog-ng (wildcard-file with flags(no-parse) tails them, the kafka-c()
#              destination produces):
#                raw       message("$MSG"): the line as read
#                json      message("$(format-json --scope rfc5424)")
#                default   no message(): kafka-c's default "$ISODATE $HOST $MSGHDR$MSG"
#                bsd       message("<$PRI>$DATE $HOST $MSGHDR$MSG"): a BSD syslog header in
#                          front of the line
#
# Every shape carries every vendor's lines. In the shapes that put the shipper's own header
# (its read time) in front of the line, a Cisco ASA line's time is still its own leading
# timestamp (`Dec 06 2026 10:01:00: %ASA-...`), not the header's: the ASA records land in
# the planted minute's bin, as bare. The README's worked examples show these templates.
#
# The device lines: the bare files of tests/fixtures/envelopes (Check Point CEF, Cisco ASA,
# FortiGate, PAN-OS; the vendors' sample lines and, in each, a planted scan of 60 ports
# 1001..1060 from one documentation address within one minute of 2026-12-06 10:00 UTC), and
# for each vendor a noise source made from its first 50 planted lines under another address:
# 50 distinct ports in the same bin, at the rule's threshold (alerts need more than 50).
#
# Expected, worked out by hand: one alert per planted source, each with
# ports 1001..1060, 60 events, bin 2026-12-06 10:00 UTC, first and last seen the planted
# minute (10:00, 10:01, 10:02, 10:03 for CEF, ASA, FortiGate, PAN-OS); no noise source
# alerts. The same files through `portscand replay` (the bare lines) must give these alerts,
# and every shape alerts equal to the bare lines' on every field but detected_at, with the
# same records parsed, rejected, skipped and filtered; the JSON shapes count every record as
# unwrapped, the others none.
#
# Before portscand starts, each topic's record count is checked against the lines the
# shipper read (and the raw topic's records against the lines themselves): a record the
# shipper or the mock cluster lost is reported as a harness failure, never as the daemon's.
#
# Fails, never skips, when anything it needs is missing; keeps its work directory on
# failure. The shipper runs in the foreground with its own configuration, state and pid
# files under the work directory; the system's logging service is never touched. syslog-ng
# is looked for under SYSLOG_NG_ROOT (default /opt/portscand-tests/syslog-ng, where
# deploy/install-deps.sh unpacks it), then in /.
set -uo pipefail

[ $# -eq 4 ] || { echo "usage: $0 PORTSCAND MOCK_BROKER FIXTURES_DIR rsyslog|syslog-ng" >&2; exit 2; }
portscand=$1 mock=$2 fixtures=$3 shipper=$4

die() { echo "FAIL ($shipper): $*" >&2; exit 1; }
for x in "$portscand" "$mock"; do [ -x "$x" ] || die "missing executable $x"; done
for c in kcat jq curl; do command -v "$c" >/dev/null || die "$c is not installed (deploy/install-deps.sh)"; done

case "$shipper" in
  rsyslog)
    shapes=(raw json jsonmesg default)
    rsyslogd=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
    [ -x "$rsyslogd" ] || die "rsyslogd not found: install rsyslog (deploy/install-deps.sh)"
    "$rsyslogd" -v >/dev/null 2>&1 || die "$rsyslogd does not run"
    omkafka=$(find /usr/lib/*/rsyslog /usr/lib/rsyslog -name omkafka.so 2>/dev/null | head -1)
    [ -n "$omkafka" ] || die "rsyslog's omkafka module is missing: install rsyslog-kafka (deploy/install-deps.sh)"
    ;;
  syslog-ng)
    shapes=(raw json default bsd)
    # Debian's syslog-ng-core conflicts with rsyslog (both are the system-log-daemon), so
    # deploy/install-deps.sh unpacks syslog-ng-core and syslog-ng-mod-rdkafka under
    # SYSLOG_NG_ROOT instead of installing them; a system syslog-ng is used when present.
    sng_root=
    for r in "${SYSLOG_NG_ROOT:-/opt/portscand-tests/syslog-ng}" /; do
      if [ -x "$r/usr/sbin/syslog-ng" ] && compgen -G "$r/usr/lib/syslog-ng/3.*/libkafka.so" >/dev/null; then
        sng_root=${r%/}
        break
      fi
    done
    [ -n "$sng_root" ] || die "syslog-ng with its Kafka module not found (deploy/install-deps.sh unpacks it)"
    sng_modules=$(dirname "$(compgen -G "$sng_root/usr/lib/syslog-ng/3.*/libkafka.so" | head -1)")
    # env execs syslog-ng: started in the background, $! is syslog-ng itself.
    syslog_ng=(env "LD_LIBRARY_PATH=$sng_root/usr/lib/syslog-ng${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      "$sng_root/usr/sbin/syslog-ng" --module-path="$sng_modules")
    "${syslog_ng[@]}" -V >/dev/null 2>&1 || die "$sng_root/usr/sbin/syslog-ng does not run (its libraries: deploy/install-deps.sh)"
    ;;
  *) die "unknown shipper (rsyslog or syslog-ng)" ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/shippers_$shipper.XXXXXX") || die "mktemp failed"
declare -A daemon_pids=()
shipper_pid=
broker_pid=
stop_pid() {  # stop_pid PID: SIGTERM, up to 5 s, then SIGKILL; reaps it
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
cleanup() {
  local p
  for p in "${daemon_pids[@]}"; do kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  [ -n "$shipper_pid" ] && stop_pid "$shipper_pid"
  exec 7>&- 2>/dev/null
  [ -n "$broker_pid" ] && stop_pid "$broker_pid"
}
trap cleanup EXIT
trap 'exit 1' TERM INT  # a ctest timeout still stops the shipper, broker and daemon
failures=0
failed() {  # a check that failed; the other shapes are still run
  echo "FAIL ($shipper): $*" >&2
  failures=$((failures + 1))
}
fail() {
  echo "FAIL ($shipper): $*" >&2
  echo "work directory kept: $work" >&2
  for f in "$work"/daemon-*.log; do
    [ -f "$f" ] && { echo "--- $f (last 15 lines)" >&2; tail -15 "$f" >&2; }
  done
  [ -s "$work/shipper.out" ] && { echo "--- shipper.out (last 20 lines)" >&2; tail -20 "$work/shipper.out" >&2; }
  exit 1
}

# ---- the device lines ----------------------------------------------------------------------------
mkdir -p "$work/in" "$work/state"
# vendor bare-file planted-source noise-source first-minute
vendors=(
  "cef cef 203.0.113.66 198.51.100.166 10:00"
  "asa cisco-asa 203.0.113.67 198.51.100.167 10:01"
  "fortigate fortigate 203.0.113.68 198.51.100.168 10:02"
  "panos panos 203.0.113.69 198.51.100.169 10:03"
)
for v in "${vendors[@]}"; do
  read -r name bare src noise _ <<<"$v"
  f=$fixtures/envelopes/bare/$bare.log
  [ -f "$f" ] || die "missing fixture $f"
  {
    cat "$f"
    grep -F "$src" "$f" | head -n 50 | sed "s/${src//./\\.}/$noise/g"
  } >"$work/in/$name.log"
  [ "$(grep -cF "$src" "$work/in/$name.log")" -eq 60 ] || die "$f: the planted scan is not 60 lines"
  [ "$(grep -cF "$noise" "$work/in/$name.log")" -eq 50 ] || die "$name: the noise source is not 50 lines"
done
# Nothing blank: each line is one record for the shippers and for portscand.
[ "$(cat "$work"/in/*.log | grep -c '^$')" -eq 0 ] || die "blank lines in the device files"
lines=$(cat "$work"/in/*.log | wc -l)

# ---- the bare lines through portscand replay ------------------------------------------------------
# counts FILE: "parsed rejected skipped filtered" from a metrics dump (sums over label sets).
counts() {
  awk '{ sub(/^ +/, "") }
       $1 ~ /^portscand_records_parsed_total[{]/ { p += $2 }
       $1 ~ /^portscand_records_rejected_total[{]/ { r += $2 }
       $1 ~ /^portscand_records_skipped_total[{]/ { s += $2 }
       $1 ~ /^portscand_records_filtered_total[{]/ { f += $2 }
       END { printf "%d %d %d %d\n", p, r, s, f }' "$1"
}
# The hand-worked alerts: one per planted source, each its 60 ports in the 2026-12-06 10:00
# bin, first and last seen its planted minute; nothing else (no noise source).
check_expected() {  # check_expected ALERTS_FILE WHAT
  jq -e -s '
    def ports: [range(1001; 1061)];
    def want: {"203.0.113.66": "10:00", "203.0.113.67": "10:01", "203.0.113.68": "10:02",
               "203.0.113.69": "10:03"};
    length == (want | length) and
    ([.[].SrcIpAddr] | sort) == (want | keys) and
    all(.[]; .AttemptedPorts == ports and .AttemptedPortsCount == 60 and .event_count == 60 and
             .TimeGenerated == "2026-12-06T10:00:00Z" and
             .window == {start: "2026-12-06T10:00:00Z", end: "2026-12-06T10:05:00Z"} and
             .first_seen == "2026-12-06T\(want[.SrcIpAddr]):00Z" and
             .last_seen == "2026-12-06T\(want[.SrcIpAddr]):59Z")' "$1" >/dev/null ||
    failed "$2: the alerts are not the planted scans: $(jq -c '{SrcIpAddr, AttemptedPortsCount, TimeGenerated, first_seen, last_seen, event_count}' "$1" 2>&1 | tr '\n' ' ')"
}
"$portscand" replay --threads 1 "$work"/in/*.log >"$work/bare.alerts" 2>"$work/bare.stderr" ||
  fail "portscand replay of the bare lines exited non-zero (see $work/bare.stderr)"
summary=$(sed -n 's/^portscand replay: //p' "$work/bare.stderr")
[ -n "$summary" ] || fail "portscand replay printed no summary"
# replay prints the non-zero counters but not the parsed ones: take those from its summary.
read -r _ r s f <<<"$(counts "$work/bare.stderr")"
echo "${summary%% records parsed*} $r $s $f" >"$work/bare.counts"
check_expected "$work/bare.alerts" "the bare lines"
jq -S -c 'del(.detected_at)' "$work/bare.alerts" | sort >"$work/bare.norm"
echo "bare lines: $lines lines; replay: $summary"
[ "$failures" -eq 0 ] || fail "the bare lines do not give the planted scans"

# ---- the broker and the shipper -------------------------------------------------------------------
# Two partitions per topic, as a real topic has several (the shippers send unkeyed messages,
# and a burst lands in one partition: the other stays empty, which idle_timeout covers).
mkfifo "$work/ctl"
topic_args=()
for s in "${shapes[@]}"; do topic_args+=(--topic "$s:2"); done
"$mock" "${topic_args[@]}" --exit-on-stdin-eof <"$work/ctl" >"$work/broker.out" 2>"$work/broker.log" &
broker_pid=$!
exec 7>"$work/ctl"
for _ in $(seq 100); do [ -s "$work/broker.out" ] && break; sleep 0.1; done
bootstrap=$(head -1 "$work/broker.out")
[ -n "$bootstrap" ] || fail "the mock broker printed no bootstrap address"

case "$shipper" in
  rsyslog)
    mkdir -p "$work/rsyslog"
    cat >"$work/shipper.conf" <<CONF
global(workDirectory="$work/rsyslog")
module(load="imfile")
module(load="omkafka")
template(name="portscand_raw" type="string" string="%rawmsg%")
template(name="portscand_json" type="list" option.jsonf="on") {
  property(outname="rawmsg" name="rawmsg" format="jsonf")
  property(outname="timereported" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="fromhost-ip" name="fromhost-ip" format="jsonf")
}
template(name="portscand_jsonmesg" type="string" string="%jsonmesg%")
ruleset(name="devices") {
  action(type="omkafka" broker=["$bootstrap"] topic="raw" template="portscand_raw")
  action(type="omkafka" broker=["$bootstrap"] topic="json" template="portscand_json")
  action(type="omkafka" broker=["$bootstrap"] topic="jsonmesg" template="portscand_jsonmesg")
  action(type="omkafka" broker=["$bootstrap"] topic="default")
}
input(type="imfile" File="$work/in/*.log" Tag="fw" ruleset="devices")
CONF
    "$rsyslogd" -N1 -f "$work/shipper.conf" >"$work/shipper-check.out" 2>&1 ||
      fail "rsyslogd -N1 refused the config: $(tail -5 "$work/shipper-check.out")"
    "$rsyslogd" -n -f "$work/shipper.conf" -i "$work/rsyslog/rsyslogd.pid" >"$work/shipper.out" 2>&1 &
    shipper_pid=$!
    ;;
  syslog-ng)
    mkdir -p "$work/syslog-ng"
    cat >"$work/shipper.conf" <<CONF
@version: 3.38
options { stats-freq(0); };
source s_devices {
  wildcard-file(base-dir("$work/in") filename-pattern("*.log") flags(no-parse) follow-freq(1));
};
destination d_raw { kafka-c(bootstrap-servers("$bootstrap") topic("raw") message("\$MSG")); };
destination d_json {
  kafka-c(bootstrap-servers("$bootstrap") topic("json") message("\$(format-json --scope rfc5424)"));
};
destination d_default { kafka-c(bootstrap-servers("$bootstrap") topic("default")); };
destination d_bsd {
  kafka-c(bootstrap-servers("$bootstrap") topic("bsd") message("<\$PRI>\$DATE \$HOST \$MSGHDR\$MSG"));
};
log { source(s_devices); destination(d_raw); destination(d_json); destination(d_default); destination(d_bsd); };
CONF
    "${syslog_ng[@]}" --syntax-only -f "$work/shipper.conf" >"$work/shipper-check.out" 2>&1 ||
      fail "syslog-ng --syntax-only refused the config: $(tail -5 "$work/shipper-check.out")"
    "${syslog_ng[@]}" -F --no-caps -f "$work/shipper.conf" -R "$work/syslog-ng/persist" \
      -p "$work/syslog-ng/pid" -c "$work/syslog-ng/ctl" >"$work/shipper.out" 2>&1 &
    shipper_pid=$!
    ;;
esac

# ---- what the topics hold, before portscand reads them -------------------------------------------
held() { kcat -C -b "$bootstrap" -t "$1" -o beginning -e -q -f '%p:%o\n' 2>/dev/null | wc -l; }
deadline=$((SECONDS + 30))
for s in "${shapes[@]}"; do
  while [ "$(held "$s")" -lt "$lines" ] && [ $SECONDS -lt $deadline ]; do
    kill -0 "$shipper_pid" 2>/dev/null || fail "$shipper exited while producing"
    sleep 0.3
  done
done
sleep 1  # a record produced twice would show in the counts below
for s in "${shapes[@]}"; do
  n=$(held "$s")
  [ "$n" -eq "$lines" ] ||
    fail "harness, not portscand: topic $s holds $n records of the $lines lines $shipper read (the shipper or the mock cluster lost or doubled some; portscand was not run)"
done
# The raw shape is the line as read: the topic must hold exactly the device lines.
kcat -C -b "$bootstrap" -t raw -o beginning -e -q -f '%s\n' 2>/dev/null | sort >"$work/raw.topic"
cat "$work"/in/*.log | sort >"$work/lines.sorted"
cmp -s "$work/raw.topic" "$work/lines.sorted" ||
  fail "harness, not portscand: topic raw does not hold the device lines as read (diff $work/raw.topic $work/lines.sorted)"
stop_pid "$shipper_pid"
shipper_pid=
echo "$shipper produced every line read to ${shapes[*]} (counted with kcat), e.g.:"
for s in "${shapes[@]}"; do
  echo "  $s: $(kcat -C -b "$bootstrap" -t "$s" -o beginning -e -q -c 1 -f '%s' 2>/dev/null | head -c 150)"
done

# ---- portscand run, one per shape, all at once --------------------------------------------------
# Each its own consumer group, state directory, metrics port and alert file.
for s in "${shapes[@]}"; do
  cat >"$work/portscand-$s.yaml" <<YAML
mode: default
evaluation: {schedule: on_close, allowed_lateness: 0s, idle_timeout: 1s}
shards: 2
state_dir: $work/state/$s
log_level: info
inputs:
  - type: kafka
    name: $s
    brokers: "$bootstrap"
    topics: [$s]
    group: portscand-$s
    envelope: auto
    format: auto
    properties: {session.timeout.ms: "6000", heartbeat.interval.ms: "500", fetch.wait.max.ms: "50"}
outputs:
  - {type: file, name: alerts, path: "$work/alerts-$s.jsonl"}
metrics: {listen: "127.0.0.1:0"}
YAML
  "$portscand" check-config --config "$work/portscand-$s.yaml" >/dev/null 2>"$work/check-$s.log" ||
    fail "check-config refused the $s config: $(cat "$work/check-$s.log")"
  "$portscand" run --config "$work/portscand-$s.yaml" >"$work/daemon-$s.log" 2>&1 &
  daemon_pids[$s]=$!
done
declare -A metrics_port
for s in "${shapes[@]}"; do
  for _ in $(seq 100); do
    kill -0 "${daemon_pids[$s]}" 2>/dev/null || fail "$s: portscand run exited at startup"
    metrics_port[$s]=$(grep -o 'metrics on http://[^ ]* (port [0-9]*)' "$work/daemon-$s.log" | grep -o '[0-9]*)$' | tr -d ')')
    [ -n "${metrics_port[$s]}" ] && break
    sleep 0.1
  done
  [ -n "${metrics_port[$s]}" ] || fail "$s: the daemon did not log its metrics port"
done
scrape() { curl -fsS "http://127.0.0.1:${metrics_port[$1]}/metrics" >"$work/metrics-$1.txt" 2>/dev/null; }
metric_sum() { awk -v n="$2" '$1 ~ "^"n"[{]" { v += $2 } END { print v + 0 }' "$work/metrics-$1.txt"; }
alerts() { if [ -f "$work/alerts-$1.jsonl" ]; then wc -l <"$work/alerts-$1.jsonl"; else echo 0; fi; }
# Until every daemon consumed its whole topic and wrote as many alerts as the bare lines gave.
deadline=$((SECONDS + 40))
nwant=$(wc -l <"$work/bare.alerts")
for s in "${shapes[@]}"; do
  while [ $SECONDS -lt $deadline ]; do
    kill -0 "${daemon_pids[$s]}" 2>/dev/null || fail "$s: portscand run died"
    scrape "$s" && [ "$(metric_sum "$s" portscand_kafka_messages_total)" -ge "$lines" ] &&
      [ "$(alerts "$s")" -ge "$nwant" ] && break
    sleep 0.2
  done
done
sleep 1  # an alert beyond the expected ones would come with them (every bin closes at once)
for s in "${shapes[@]}"; do
  scrape "$s" || fail "$s: GET /metrics failed"
  kill -TERM "${daemon_pids[$s]}"
done
for s in "${shapes[@]}"; do
  for _ in $(seq 300); do kill -0 "${daemon_pids[$s]}" 2>/dev/null || break; sleep 0.1; done
  kill -0 "${daemon_pids[$s]}" 2>/dev/null && fail "$s: the daemon did not stop within 30 s of SIGTERM"
  wait "${daemon_pids[$s]}"
  rc=$?
  unset "daemon_pids[$s]"
  [ "$rc" -eq 0 ] || fail "$s: SIGTERM: exit code $rc (want 0)"
done

# ---- each shape against the hand-worked alerts and the bare lines --------------------------------
for s in "${shapes[@]}"; do
  before=$failures
  consumed=$(metric_sum "$s" portscand_kafka_messages_total)
  [ "$consumed" -eq "$lines" ] || failed "$s: portscand consumed $consumed of the $lines records on the topic"
  [ -f "$work/alerts-$s.jsonl" ] || : >"$work/alerts-$s.jsonl"
  check_expected "$work/alerts-$s.jsonl" "$s"
  jq -S -c 'del(.detected_at)' "$work/alerts-$s.jsonl" | sort >"$work/$s.norm"
  cmp -s "$work/bare.norm" "$work/$s.norm" ||
    failed "$s: the alerts differ from the bare lines' (diff $work/bare.norm $work/$s.norm)"
  got=$(counts "$work/metrics-$s.txt")
  [ "$got" = "$(cat "$work/bare.counts")" ] ||
    failed "$s: parsed/rejected/skipped/filtered $got, the bare lines $(cat "$work/bare.counts")"
  unwrapped=$(metric_sum "$s" portscand_records_unwrapped_total)
  case "$s" in
    json | jsonmesg) [ "$unwrapped" -eq "$lines" ] || failed "$s: $unwrapped of $lines records unwrapped" ;;
    *) [ "$unwrapped" -eq 0 ] || failed "$s: $unwrapped bare lines counted as unwrapped" ;;
  esac
  [ "$failures" -eq "$before" ] &&
    echo "  $s: $nwant alerts, equal to the bare lines'; parsed/rejected/skipped/filtered $got; $unwrapped unwrapped"
done
[ "$failures" -eq 0 ] || fail "$failures check(s) failed (above)"
rm -rf "$work"
echo "PASS ($shipper): every shape yields the bare lines' alerts"
