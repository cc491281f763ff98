#!/usr/bin/env bash
# run_syslog_sd_test.sh PORTSCAND
#
# `portscand run` fed by real senders that use RFC 5424 structured data, end to end. util-linux
# logger with its DEFAULT options sends `<13>1 TIME HOST TAG - - [timeQuality tzKnown="1"
# isSynced="0"] MSG`; rsyslog relays RFC 5424 with the sender's structured data kept. Four
# syslog inputs, `format: auto` everywhere, on_close evaluation, a file output:
#
#   UDP             logger --udp (default options, plus a second SD element with escaped
#                   quote and bracket: --sd-id/--sd-param)       ASIM JSON bodies
#   TCP, LF         logger --tcp (default options)               FortiGate CEF bodies, their
#                   time only in FTNTFGTeventtime (no rt), as FortiOS sends them
#   TCP, octets     logger --tcp --octet-count (default options) Cisco ASA bodies (%ASA-4-
#                   106023), no time of their own: the header's time bins them
#   TCP, octets     logger --socket (RFC 5424) -> rsyslogd (imuxsock, RFC 5424 parser) ->
#                   omfwd RSYSLOG_SyslogProtocol23Format         ASIM JSON bodies
#
# The ASIM and CEF records carry their own times, in one 5-minute bin about 20 minutes ago.
# The ASA records are binned on logger's header time, i.e. now: after they are sent, one
# more record (an ASIM record of a background source, its time just past the current bin's
# end) moves the event-time watermark past that bin so that it closes at once instead of
# when the wall clock gets there.
#
# Expected (worked out by hand from what is sent, below): exactly the four planted scans
# alert, each with its 60 ports, its ReportedBy and its bin; every message arrived once;
# nothing was rejected; SIGTERM stops the daemon with exit code 0.
#
# Fails, never skips, when anything it needs is missing. On failure the work directory is
# kept.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 PORTSCAND" >&2; exit 2; }
portscand=$1

die() { echo "FAIL: $*" >&2; exit 1; }
find_tool() {
  local d
  for d in ${PATH//:/ } /usr/sbin /sbin /usr/bin /bin; do
    [ -x "$d/$1" ] && { echo "$d/$1"; return 0; }
  done
  return 1
}
[ -x "$portscand" ] || die "missing executable $portscand"
logger=$(find_tool logger) || die "logger not found: install the bsdutils package (deploy/install-deps.sh)"
rsyslogd=$(find_tool rsyslogd) || die "rsyslogd not found: install the rsyslog package (deploy/install-deps.sh)"
node=$(find_tool node) || die "node not found: install the nodejs package (deploy/install-deps.sh)"
timeout=$(find_tool timeout) || die "timeout not found: install the coreutils package"
"$logger" --help 2>&1 | grep -q -- '--sd-param' || die "$logger has no --sd-param: util-linux >= 2.26 (bsdutils) needed"

work=$(mktemp -d "${TMPDIR:-/tmp}/run_syslog_sd.XXXXXX") || die "mktemp failed"
daemon_pid=
rsyslog_pid=
stop_pid() {  # stop_pid PID: SIGTERM, up to 5 s, then SIGKILL; reaps it
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
cleanup() {
  [ -n "$rsyslog_pid" ] && stop_pid "$rsyslog_pid"
  [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "work directory kept: $work" >&2
  if [ -f "$work/daemon.log" ]; then echo "--- daemon.log (last 30 lines)" >&2; tail -30 "$work/daemon.log" >&2; fi
  if [ -s "$work/rsyslogd.out" ]; then echo "--- rsyslogd.out (last 20 lines)" >&2; tail -20 "$work/rsyslogd.out" >&2; fi
  if [ -s "$work/alerts.jsonl" ]; then echo "--- alerts.jsonl" >&2; cat "$work/alerts.jsonl" >&2; fi
  exit 1
}

# ---- the messages ------------------------------------------------------------------------------
now=$(date +%s)
old_bin=$(( (now - 1200) / 300 * 300 ))  # the records with their own time: ~20 minutes ago
iso() { TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T' "$1"; }
asim() {  # asim SRC PORT VENDOR PRODUCT EPOCH
  printf '{"TimeGenerated":"%s","SrcIpAddr":"%s","DstIpAddr":"192.0.2.10","DstPortNumber":%d,"NetworkProtocol":"TCP","DvcAction":"Drop","EventVendor":"%s","EventProduct":"%s"}\n' \
    "$(iso "$5")" "$1" "$2" "$3" "$4"
}
# FortiOS's CEF traffic record as its log message reference shows it (no rt; the time is
# FTNTFGTeventtime, epoch seconds), with our source, port and time.
fgt_cef() {  # fgt_cef SRC PORT EPOCH
  printf 'CEF:0|Fortinet|Fortigate|v6.0.3|00013|traffic:forward deny|3|deviceExternalId=FGT5HD3915800610 FTNTFGTlogid=0000000013 cat=traffic:forward FTNTFGTsubtype=forward FTNTFGTlevel=notice FTNTFGTvd=vdom1 FTNTFGTeventtime=%d src=%s spt=54190 deviceInboundInterface=port12 dst=192.0.2.20 dpt=%d deviceOutboundInterface=port11 proto=6 act=deny\n' \
    "$3" "$1" "$2"
}
# Cisco ASA 106023 as in the vendor sample (tests/fixtures/cisco-asa), with our addresses.
asa() {  # asa SRC PORT
  printf '%%ASA-4-106023: Deny tcp src outside:%s/40000 dst inside:192.0.2.30/%d by access-group "outside_in" [0x0, 0x0]\n' "$1" "$2"
}

# UDP (ASIM): scanner 203.0.113.60 -> 2000..2059; 198.51.100.60 -> 50 ports (no alert); the
# private 10.9.9.9 -> 60 ports (filtered).
{
  for i in $(seq 0 59); do
    asim 203.0.113.60 $((2000 + i)) Contoso EdgeFirewall $((old_bin + i))
    [ "$i" -lt 50 ] && asim 198.51.100.60 $((3000 + i)) Contoso EdgeFirewall $((old_bin + i))
    asim 10.9.9.9 $((4000 + i)) Contoso EdgeFirewall $((old_bin + i))
  done
} >"$work/udp.lines"
# TCP LF (FortiGate CEF): scanner 198.51.100.61 -> 8000..8059, eventtime in the old bin.
for i in $(seq 0 59); do fgt_cef 198.51.100.61 $((8000 + i)) $((old_bin + 100 + i)); done >"$work/tcp.lines"
# TCP octet-counted (ASA): scanner 203.0.113.62 -> 9000..9059, binned on the header time.
for i in $(seq 0 59); do asa 203.0.113.62 $((9000 + i)); done >"$work/oc.lines"
# rsyslog relay (ASIM): scanner 203.0.113.63 -> 30000..30059; 198.51.100.63 -> 5 ports.
{
  for i in $(seq 0 59); do
    asim 203.0.113.63 $((30000 + i)) Fabrikam NetSensor $((old_bin + 200 + i))
    [ "$i" -lt 5 ] && asim 198.51.100.63 $((7000 + i)) Fabrikam NetSensor $((old_bin + 200 + i))
  done
} >"$work/relay.lines"

# ---- the daemon ----------------------------------------------------------------------------------
cat >"$work/portscand.yaml" <<YAML
mode: default
evaluation: {schedule: on_close, allowed_lateness: 0s, idle_timeout: 1s, max_future_skew: 6m}
shards: 2
state_dir: $work/state
log_level: info
inputs:
  - {type: syslog, name: syslog-udp, listen: "udp://127.0.0.1:0", format: auto}
  - {type: syslog, name: syslog-tcp, listen: "tcp://127.0.0.1:0", format: auto}
  - {type: syslog, name: syslog-oc, listen: "tcp://127.0.0.1:0", format: auto}
  - {type: syslog, name: syslog-relay, listen: "tcp://127.0.0.1:0", format: auto}
outputs:
  - {type: file, name: alerts, path: "$work/alerts.jsonl"}
metrics: {listen: "127.0.0.1:0"}
YAML
"$portscand" check-config --config "$work/portscand.yaml" >/dev/null 2>"$work/check.log" \
  || fail "check-config refused the test config: $(cat "$work/check.log")"
"$portscand" run --config "$work/portscand.yaml" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
  kill -0 "$daemon_pid" 2>/dev/null || fail "portscand run exited at startup"
  grep -q 'running: ' "$work/daemon.log" && break
  sleep 0.1
done
grep -q 'running: ' "$work/daemon.log" || fail "portscand run did not report running within 10 s"
mapfile -t ports < <(grep -o 'syslog listener on port [0-9]*' "$work/daemon.log" | awk '{print $NF}')
[ ${#ports[@]} -eq 4 ] || fail "expected 4 'syslog listener on port N' lines, got ${#ports[@]}"
metrics_port=$(grep -o 'metrics on http://[^ ]* (port [0-9]*)' "$work/daemon.log" | grep -o '[0-9]*)$' | tr -d ')')
[ -n "$metrics_port" ] || fail "the daemon did not log its metrics port"
udp_port=${ports[0]} tcp_port=${ports[1]} oc_port=${ports[2]} relay_port=${ports[3]}
echo "portscand: udp $udp_port, tcp $tcp_port, octet-counted $oc_port, relay $relay_port; old bin $(iso "$old_bin")"

metrics() {
  "$timeout" 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 && cat <&3' \
    _ "$metrics_port" 2>/dev/null | tr -d '\r'
}
metric() {  # metric NAME INPUT: the sample's value (summed over label sets), or 0
  metrics | awk -v n="$1" -v i="input=\"$2\"" '$1 ~ "^"n"[{]" && index($1, i) { v += $2 } END { print v + 0 }'
}
alerted() {
  [ -f "$work/alerts.jsonl" ] || { echo 0; return; }
  { grep -o '"SrcIpAddr":"[^"]*"' "$work/alerts.jsonl" || true; } | sort -u | wc -l
}
wait_alerts() {  # wait_alerts N: until N sources alerted, at most 30 s after the last send
  local deadline=$((last_send + 30))
  while [ $SECONDS -lt $deadline ] && [ "$(alerted)" -lt "$1" ]; do
    kill -0 "$daemon_pid" 2>/dev/null || fail "portscand run died"
    sleep 0.2
  done
  [ "$(alerted)" -ge "$1" ] || fail "only $(alerted) of $1 planted scans alerted within 30 s of the last send"
  echo "$1 scans alerted $((SECONDS - last_send)) s after the last send"
}

# ---- the senders: logger with its default options (RFC 5424 with the timeQuality element) -----
"$timeout" 30 "$logger" --server 127.0.0.1 --port "$udp_port" --udp -t edgefw \
  --sd-id exampleSDID@32473 --sd-param 'iut="3"' --sd-param 'note="say \"hi\" \]"' -f "$work/udp.lines" \
  >"$work/logger-udp.out" 2>&1 || fail "logger --udp failed: $(cat "$work/logger-udp.out")"
"$timeout" 30 "$logger" --server 127.0.0.1 --port "$tcp_port" --tcp -t fortigate -f "$work/tcp.lines" \
  >"$work/logger-tcp.out" 2>&1 || fail "logger --tcp failed: $(cat "$work/logger-tcp.out")"
# The ASA records take logger's header time: keep the 60 of them in one bin.
while [ $(( $(date +%s) % 300 )) -gt 294 ]; do sleep 1; done
asa_sent=$(date +%s)
"$timeout" 30 "$logger" --server 127.0.0.1 --port "$oc_port" --tcp --octet-count -t asa -f "$work/oc.lines" \
  >"$work/logger-oc.out" 2>&1 || fail "logger --tcp --octet-count failed: $(cat "$work/logger-oc.out")"
asa_bin=$(( asa_sent / 300 * 300 ))

# rsyslogd as a plain process: imuxsock on its own socket with the RFC 5424 parser (not the
# special local parser), omfwd in RFC 5424 (RSYSLOG_SyslogProtocol23Format), octet-counted.
mkdir -p "$work/rsyslog"
cat >"$work/rsyslog.conf" <<CONF
global(workDirectory="$work/rsyslog")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$work/rsyslog/log.sock" UseSpecialParser="off" ParseHostname="on"
      CreatePath="on")
action(type="omfwd" target="127.0.0.1" port="$relay_port" protocol="tcp" TCP_Framing="octet-counted"
       template="RSYSLOG_SyslogProtocol23Format" action.resumeRetryCount="-1" action.resumeInterval="1")
CONF
"$rsyslogd" -N1 -f "$work/rsyslog.conf" >"$work/rsyslogd-check.out" 2>&1 \
  || fail "rsyslogd -N1 refused the config: $(tail -5 "$work/rsyslogd-check.out")"
"$rsyslogd" -n -f "$work/rsyslog.conf" -i "$work/rsyslogd.pid" >"$work/rsyslogd.out" 2>&1 &
rsyslog_pid=$!
for _ in $(seq 50); do [ -S "$work/rsyslog/log.sock" ] && break; sleep 0.1; done
[ -S "$work/rsyslog/log.sock" ] || fail "rsyslogd did not create its socket"
"$timeout" 30 "$logger" --socket "$work/rsyslog/log.sock" --rfc5424 -t netsensor -f "$work/relay.lines" \
  >"$work/logger-relay.out" 2>&1 || fail "logger --socket failed: $(cat "$work/logger-relay.out")"
n_udp=$(wc -l <"$work/udp.lines") n_tcp=$(wc -l <"$work/tcp.lines") n_oc=$(wc -l <"$work/oc.lines")
n_relay=$(wc -l <"$work/relay.lines")
for _ in $(seq 100); do
  [ "$(metric portscand_syslog_messages_received_total syslog-relay)" -ge "$n_relay" ] && break
  sleep 0.1
done

# The ASA bin is the current one: a record just past its end, from a background source on the
# UDP input, moves the watermark past it.
closer=$(( asa_bin + 300 + 1 ))
[ $((closer - $(date +%s))) -lt 360 ] || fail "the closing record would be more than max_future_skew ahead"
asim 198.51.100.69 443 Contoso EdgeFirewall "$closer" >"$work/closer.line"
sleep 1.5  # every other input idle, so that this input alone holds the watermark
"$timeout" 30 "$logger" --server 127.0.0.1 --port "$udp_port" --udp -t edgefw -f "$work/closer.line" \
  >>"$work/logger-udp.out" 2>&1 || fail "logger --udp (closer) failed"
n_udp=$((n_udp + 1))
last_send=$SECONDS

cat >"$work/expected.json" <<JSON
{
  "203.0.113.60": {"ports": [2000, 2059], "reportedBy": ["Contoso/EdgeFirewall"], "bin": $old_bin},
  "198.51.100.61": {"ports": [8000, 8059], "reportedBy": ["Fortinet/Fortigate"], "bin": $old_bin},
  "203.0.113.62": {"ports": [9000, 9059], "reportedBy": ["Cisco/ASA"], "bin": $asa_bin},
  "203.0.113.63": {"ports": [30000, 30059], "reportedBy": ["Fabrikam/NetSensor"], "bin": $old_bin}
}
JSON

wait_alerts 4

while read -r input sent; do
  for _ in $(seq 50); do
    got=$(metric portscand_syslog_messages_received_total "$input")
    [ "$got" -ge "$sent" ] && break
    sleep 0.2
  done
  echo "$input: sent $sent messages, received $got"
  [ "$got" = "$sent" ] || fail "$input: received $got messages, sent $sent"
  rejected=$(metric portscand_records_rejected_total "$input")
  [ "$rejected" = 0 ] || fail "$input: $rejected records rejected: $(metrics | grep '^portscand_records_rejected_total' | grep "$input")"
done <<EOF2
syslog-udp $n_udp
syslog-tcp $n_tcp
syslog-oc $n_oc
syslog-relay $n_relay
EOF2
metrics | grep -E '^portscand_(records_(parsed|rejected|skipped|filtered|late|dropped)_total|record_fields_ignored_total)' \
  | grep -v ' 0$' | sed 's/^/  /'

sleep 2
stop_pid "$rsyslog_pid"
rsyslog_pid=
kill -TERM "$daemon_pid"
for _ in $(seq 300); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$daemon_pid" 2>/dev/null && fail "the daemon did not stop within 30 s of SIGTERM"
wait "$daemon_pid"
rc=$?
daemon_pid=
[ "$rc" -eq 0 ] || fail "SIGTERM: exit code $rc (want 0)"

echo "received alerts:"
"$node" - "$work/alerts.jsonl" "$work/expected.json" >"$work/check.out" 2>&1 <<'JS'
const fs = require('fs');
const [alertsFile, expectedFile] = process.argv.slice(2);
const alerts = fs.readFileSync(alertsFile, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l));
const expected = JSON.parse(fs.readFileSync(expectedFile, 'utf8'));
const problems = [];
for (const a of alerts)
  console.log(`  ${a.SrcIpAddr} ${a.TimeGenerated} ports=${a.AttemptedPortsCount} events=${a.event_count} ` +
              `ReportedBy=${JSON.stringify(a.ReportedBy)}`);
const got = [...new Set(alerts.map(a => a.SrcIpAddr))].sort();
const want = Object.keys(expected).sort();
if (JSON.stringify(got) !== JSON.stringify(want))
  problems.push(`alerted sources ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
if (alerts.length !== want.length) problems.push(`${alerts.length} alerts, want ${want.length}`);
for (const a of alerts) {
  const e = expected[a.SrcIpAddr];
  if (!e) continue;
  const ports = [];
  for (let p = e.ports[0]; p <= e.ports[1]; ++p) ports.push(p);
  const check = (what, g, w) => {
    if (JSON.stringify(g) !== JSON.stringify(w))
      problems.push(`${a.SrcIpAddr}: ${what} ${JSON.stringify(g)}, want ${JSON.stringify(w)}`);
  };
  check('AttemptedPortsCount', a.AttemptedPortsCount, 60);
  check('AttemptedPorts', a.AttemptedPorts, ports);
  check('ReportedBy', a.ReportedBy, e.reportedBy);
  check('event_count', a.event_count, 60);
  check('TimeGenerated', Date.parse(a.TimeGenerated) / 1000, e.bin);
}
for (const p of problems) console.log(`PROBLEM: ${p}`);
process.exit(problems.length ? 1 : 0);
JS
node_rc=$?
cat "$work/check.out"
[ $node_rc -eq 0 ] || fail "the alerts are not the planted scans"
rm -rf "$work"
echo "PASS"
