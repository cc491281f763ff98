#!/usr/bin/env bash
# run_syslog_test.sh PORTSCAND
#
# `portscand run` fed by real syslog senders, end to end: three syslog inputs (UDP, TCP, TLS
# with client certificates), `format: auto`, on_close evaluation, a file output. Each sender
# carries one planted scan (a documentation-range source trying 60 distinct ports), background
# sources below the threshold and a private-range scanner the rule ignores:
#
#   UDP  util-linux logger --udp --rfc5424=notq            ASIM JSON bodies
#   TCP  util-linux logger --tcp --octet-count --rfc5424=notq  CEF bodies (PAN-OS, FortiGate,
#        a generic vendor), their time in rt= (epoch ms)
#   TLS  rsyslogd (imfile on a file this script appends to, omfwd with the ossl stream
#        driver, mutual TLS, octet-counted)                ASIM JSON bodies
#
# Every record carries its own event time, about 20 minutes before now, so the bin closes as
# soon as the inputs are idle (idle_timeout 1s, allowed_lateness 0s) instead of when the wall
# clock passes the bin end (which a header-only time such as iptables' would need).
#
# Expected: exactly the three planted scans alert (source set, AttemptedPortsCount 60, the
# exact ports, ReportedBy from the bodies, TimeGenerated = the bin start) within 30 s of the
# last send; every message arrived once (metrics); SIGTERM stops the daemon with exit code 0.
#
# Fails, never skips, when anything it needs is missing. On failure the work directory is
# kept (daemon log, rsyslogd output, the sent lines, the alerts).
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 PORTSCAND" >&2; exit 2; }
portscand=$1

die() { echo "FAIL: $*" >&2; exit 1; }
# Tools may live in sbin directories that a non-root PATH lacks (rsyslogd).
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
openssl=$(find_tool openssl) || die "openssl not found: install the openssl package (deploy/install-deps.sh)"
node=$(find_tool node) || die "node not found: install the nodejs package (deploy/install-deps.sh)"
timeout=$(find_tool timeout) || die "timeout not found: install the coreutils package"
have_ossl=
for d in /usr/lib/x86_64-linux-gnu/rsyslog /usr/lib/aarch64-linux-gnu/rsyslog /usr/lib/rsyslog /usr/lib64/rsyslog; do
  [ -r "$d/lmnsd_ossl.so" ] && have_ossl=1
done
[ -n "$have_ossl" ] || die "rsyslog's ossl stream driver (lmnsd_ossl.so) not found: install the rsyslog-openssl package"
# logger's --octet-count and --rfc5424=notq appeared in util-linux 2.26 / 2.25.
"$logger" --help 2>&1 | grep -q -- '--octet-count' || die "$logger has no --octet-count: util-linux >= 2.26 (bsdutils) needed"

work=$(mktemp -d "${TMPDIR:-/tmp}/run_syslog.XXXXXX") || die "mktemp failed"
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

# ---- PKI: a CA, a server certificate for the daemon, a client certificate for rsyslog --------
# `openssl req -x509` applies the default config's v3_ca section (a "leaf" would be CA:TRUE):
# an empty config and explicit basicConstraints avoid that (lib/ingest/README.md, traps).
printf '[req]\ndistinguished_name = dn\n[dn]\n' >"$work/min.cnf"
pki() {
  "$timeout" 30 "$openssl" req -x509 -config "$work/min.cnf" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -days 2 "$@" >>"$work/openssl.log" 2>&1 || fail "openssl req $* failed: $(tail -5 "$work/openssl.log")"
}
pki -keyout "$work/ca.key" -out "$work/ca.pem" -subj "/CN=portscand syslog test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
for who in server client; do
  pki -keyout "$work/$who.key" -out "$work/$who.pem" -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" \
    -CA "$work/ca.pem" -CAkey "$work/ca.key"
done

# ---- the messages ------------------------------------------------------------------------------
# One 5-minute bin about 20 minutes ago; every record lies in its first 100 seconds.
now=$(date +%s)
bin_start=$(( (now - 1200) / 300 * 300 ))
iso() { TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T' "$1"; }
asim() {  # asim SRC PORT VENDOR PRODUCT SECOND_IN_BIN
  printf '{"TimeGenerated":"%s","SrcIpAddr":"%s","DstIpAddr":"192.0.2.10","DstPortNumber":%d,"NetworkProtocol":"TCP","DvcAction":"Drop","EventVendor":"%s","EventProduct":"%s"}\n' \
    "$(iso $((bin_start + $5)))" "$1" "$2" "$3" "$4"
}
cef() {  # cef VENDOR PRODUCT NAME EXTRA SRC DST PORT SECOND_IN_BIN (DST may be empty)
  local dst=${6:+ dst=$6}
  printf 'CEF:0|%s|%s|10.2.4|end|%s|3|rt=%d000 src=%s%s dpt=%d proto=TCP %s\n' \
    "$1" "$2" "$3" $((bin_start + $8)) "$5" "$dst" "$7" "$4"
}

# UDP (ASIM JSON): scanner 203.0.113.10 -> ports 2000..2059, plus 10 repeated ports (distinct
# ports count, not events); 198.51.100.31 -> exactly 50 ports (the rule wants > 50); a few
# from 203.0.113.31; the private scanner 10.1.2.3 -> 60 ports.
{
  for i in $(seq 0 59); do
    asim 203.0.113.10 $((2000 + i)) Contoso EdgeFirewall $((i % 90))
    [ $((i % 6)) -eq 0 ] && asim 203.0.113.10 $((2000 + i)) Contoso EdgeFirewall $((i % 90 + 1))
    [ "$i" -lt 50 ] && asim 198.51.100.31 $((3000 + i)) Contoso EdgeFirewall $((i % 90))
    [ "$i" -lt 5 ] && asim 203.0.113.31 443 Contoso EdgeFirewall $((i * 3))
    asim 10.1.2.3 $((4000 + i)) Contoso EdgeFirewall $((i % 90))
  done
} >"$work/udp.lines"

# TCP (CEF): scanner 198.51.100.20 -> 8000..8029 through PAN-OS, 8030..8059 through FortiGate;
# 198.51.100.32 -> 45 ports from a generic vendor with src and dst, and 15 more ports in
# generic lines without dst (skipped: a generic CEF record needs both) -> 45 counted; the
# private scanner 172.16.5.5 -> 60 ports through PAN-OS.
{
  for i in $(seq 0 59); do
    if [ "$i" -lt 30 ]; then
      cef "Palo Alto Networks" PAN-OS TRAFFIC "act=deny" 198.51.100.20 192.0.2.20 $((8000 + i)) $((i + 5))
    else
      cef Fortinet Fortigate "traffic:forward deny" "cat=traffic:forward act=deny" 198.51.100.20 192.0.2.20 $((8000 + i)) $((i + 5))
    fi
    [ "$i" -lt 45 ] && cef Contoso NetGuard "connection denied" "act=blocked" 198.51.100.32 192.0.2.21 $((5000 + i)) $((i + 5))
    [ "$i" -ge 45 ] && cef Contoso NetGuard "connection denied" "act=blocked" 198.51.100.32 "" $((5000 + i)) $((i + 5))
    cef "Palo Alto Networks" PAN-OS TRAFFIC "act=deny" 172.16.5.5 192.0.2.20 $((6000 + i)) $((i + 5))
  done
} >"$work/tcp.lines"

# TLS through rsyslog (ASIM JSON): scanner 203.0.113.30 -> 30000..30059 reported by two
# products; 198.51.100.33 -> 10 ports; the private scanner 192.168.7.7 -> 60 ports.
{
  for i in $(seq 0 59); do
    if [ $((i % 2)) -eq 0 ]; then product=NetSensor; else product=CoreFW; fi
    asim 203.0.113.30 $((30000 + i)) Fabrikam $product $((i + 30))
    [ "$i" -lt 10 ] && asim 198.51.100.33 $((7000 + i)) Fabrikam NetSensor $((i + 30))
    asim 192.168.7.7 $((9000 + i)) Fabrikam NetSensor $((i + 30))
  done
} >"$work/tls.lines"

n_udp=$(wc -l <"$work/udp.lines") n_tcp=$(wc -l <"$work/tcp.lines") n_tls=$(wc -l <"$work/tls.lines")

# What must alert: source -> AttemptedPorts (first..last) and ReportedBy.
cat >"$work/expected.json" <<JSON
{
  "203.0.113.10": {"ports": [2000, 2059], "reportedBy": ["Contoso/EdgeFirewall"], "events": 70},
  "198.51.100.20": {"ports": [8000, 8059], "reportedBy": ["Fortinet/Fortigate", "Palo Alto/PanOS"], "events": 60},
  "203.0.113.30": {"ports": [30000, 30059], "reportedBy": ["Fabrikam/CoreFW", "Fabrikam/NetSensor"], "events": 60}
}
JSON

# ---- the daemon ----------------------------------------------------------------------------------
cat >"$work/portscand.yaml" <<YAML
mode: default
evaluation: {schedule: on_close, allowed_lateness: 0s, idle_timeout: 1s}
shards: 2
state_dir: $work/state
checkpoint_interval: 30s
log_level: info
inputs:
  - {type: syslog, name: syslog-udp, listen: "udp://127.0.0.1:0", format: auto}
  - {type: syslog, name: syslog-tcp, listen: "tcp://127.0.0.1:0", format: auto}
  - type: syslog
    name: syslog-tls
    listen: "tls://127.0.0.1:0"
    format: auto
    tls: {certificate: "$work/server.pem", key: "$work/server.key", ca: "$work/ca.pem", verify_client: true}
outputs:
  - {type: file, name: alerts, path: "$work/alerts.jsonl"}
metrics: {listen: "127.0.0.1:0"}
YAML
"$portscand" check-config --config "$work/portscand.yaml" >/dev/null 2>"$work/check.log" \
  || fail "check-config refused the test config: $(cat "$work/check.log")"

"$portscand" run --config "$work/portscand.yaml" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
# Port 0 everywhere: the daemon logs "syslog listener on port N" per listener in input order.
ports=()
for _ in $(seq 100); do
  kill -0 "$daemon_pid" 2>/dev/null || fail "portscand run exited at startup"
  grep -q 'running: ' "$work/daemon.log" && break
  sleep 0.1
done
grep -q 'running: ' "$work/daemon.log" || fail "portscand run did not report running within 10 s"
mapfile -t ports < <(grep -o 'syslog listener on port [0-9]*' "$work/daemon.log" | awk '{print $NF}')
[ ${#ports[@]} -eq 3 ] || fail "expected 3 'syslog listener on port N' lines, got ${#ports[@]}"
metrics_port=$(grep -o 'metrics on http://[^ ]* (port [0-9]*)' "$work/daemon.log" | grep -o '[0-9]*)$' | tr -d ')')
[ -n "$metrics_port" ] || fail "the daemon did not log its metrics port"
udp_port=${ports[0]} tcp_port=${ports[1]} tls_port=${ports[2]}
echo "portscand: udp $udp_port, tcp $tcp_port, tls $tls_port, metrics $metrics_port; bin $(iso "$bin_start")"

metrics() {  # the Prometheus text, through bash's /dev/tcp (no curl needed)
  "$timeout" 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 && cat <&3' \
    _ "$metrics_port" 2>/dev/null | tr -d '\r'
}
metric() {  # metric NAME INPUT: the sample's value, or 0
  metrics | awk -v n="$1" -v i="input=\"$2\"" '$1 ~ "^"n"[{]" && index($1, i) { v += $2 } END { print v + 0 }'
}

alerted() {  # how many distinct sources alerted so far
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

# ---- the senders -----------------------------------------------------------------------------------
# logger (util-linux): one message per line of -f FILE, one connection for TCP.
"$timeout" 30 "$logger" --server 127.0.0.1 --port "$udp_port" --udp --rfc5424=notq -t edgefw -f "$work/udp.lines" \
  >"$work/logger-udp.out" 2>&1 || fail "logger --udp failed: $(cat "$work/logger-udp.out")"
"$timeout" 30 "$logger" --server 127.0.0.1 --port "$tcp_port" --tcp --octet-count --rfc5424=notq -t cef -f "$work/tcp.lines" \
  >"$work/logger-tcp.out" 2>&1 || fail "logger --tcp --octet-count failed: $(cat "$work/logger-tcp.out")"
last_send=$SECONDS
# Both inputs go idle after 1 s: the wall clock then closes the bin and the two scans alert.
# rsyslog's records for the same bin come after that evaluation, so they re-open the bin:
# the path every slow or late sender takes, exercised on purpose rather than by chance.
wait_alerts 2

# rsyslogd as a plain process: its own pid file and work directory, no imuxsock/imklog, imfile
# on a file we append to, omfwd over TLS (ossl) with a client certificate, octet-counted.
mkdir -p "$work/rsyslog"
: >"$work/rsyslog-in.log"
cat >"$work/rsyslog.conf" <<CONF
global(workDirectory="$work/rsyslog"
       DefaultNetstreamDriverCAFile="$work/ca.pem"
       DefaultNetstreamDriverCertFile="$work/client.pem"
       DefaultNetstreamDriverKeyFile="$work/client.key")
module(load="imfile")
input(type="imfile" file="$work/rsyslog-in.log" tag="netsensor:" freshStartTail="off")
action(type="omfwd" target="127.0.0.1" port="$tls_port" protocol="tcp"
       StreamDriver="ossl" StreamDriverMode="1" StreamDriverAuthMode="x509/name"
       StreamDriverPermittedPeers="localhost" TCP_Framing="octet-counted"
       action.resumeRetryCount="-1" action.resumeInterval="1")
CONF
"$rsyslogd" -N1 -f "$work/rsyslog.conf" >"$work/rsyslogd-check.out" 2>&1 \
  || fail "rsyslogd -N1 refused the config: $(tail -5 "$work/rsyslogd-check.out")"
"$rsyslogd" -n -f "$work/rsyslog.conf" -i "$work/rsyslogd.pid" >"$work/rsyslogd.out" 2>&1 &
rsyslog_pid=$!
sleep 0.5
kill -0 "$rsyslog_pid" 2>/dev/null || { rsyslog_pid=; fail "rsyslogd exited at startup"; }
cat "$work/tls.lines" >>"$work/rsyslog-in.log"
last_send=$SECONDS

# ---- the alerts ----------------------------------------------------------------------------------
wait_alerts 3

# Every message arrived exactly once (UDP included: nothing else sends to these ports). A
# sender may still be finishing a batch: up to 10 s for the count to reach what was sent.
while read -r transport sent; do
  for _ in $(seq 50); do
    got=$(metric portscand_syslog_messages_received_total "syslog-$transport")
    [ "$got" -ge "$sent" ] && break
    sleep 0.2
  done
  echo "syslog-$transport: sent $sent messages, received $got"
  [ "$got" = "$sent" ] || fail "syslog-$transport: received $got messages, sent $sent"
done <<EOF2
udp $n_udp
tcp $n_tcp
tls $n_tls
EOF2
metrics | grep -E '^portscand_(records_(parsed|rejected|skipped|filtered|late|dropped)_total|syslog_(messages_rejected|connections_refused)_total)' \
  | grep -v ' 0$' | sed 's/^/  /'

# A little longer, so a wrong alert (a private scanner, a background source) would show too.
sleep 3
stop_pid "$rsyslog_pid"
rsyslog_pid=
kill -TERM "$daemon_pid"
rc=
for _ in $(seq 300); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$daemon_pid" 2>/dev/null && fail "the daemon did not stop within 30 s of SIGTERM"
wait "$daemon_pid"
rc=$?
daemon_pid=
[ "$rc" -eq 0 ] || fail "SIGTERM: exit code $rc (want 0)"

echo "received alerts:"
"$node" - "$work/alerts.jsonl" "$work/expected.json" "$bin_start" >"$work/check.out" 2>&1 <<'JS'
const fs = require('fs');
const [alertsFile, expectedFile, binStart] = process.argv.slice(2);
const alerts = fs.readFileSync(alertsFile, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l));
const expected = JSON.parse(fs.readFileSync(expectedFile, 'utf8'));
const problems = [];
for (const a of alerts)
  console.log(`  ${a.SrcIpAddr} ${a.TimeGenerated} ports=${a.AttemptedPortsCount} events=${a.event_count} ` +
              `ReportedBy=${JSON.stringify(a.ReportedBy)} id=${a.alert_id}`);
const got = [...new Set(alerts.map(a => a.SrcIpAddr))].sort();
const want = Object.keys(expected).sort();
if (JSON.stringify(got) !== JSON.stringify(want))
  problems.push(`alerted sources ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
if (alerts.length !== want.length) problems.push(`${alerts.length} alerts, want ${want.length} (one per scan)`);
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
  check('event_count', a.event_count, e.events);
  check('TimeGenerated', Date.parse(a.TimeGenerated) / 1000, Number(binStart));
}
for (const p of problems) console.log(`PROBLEM: ${p}`);
process.exit(problems.length ? 1 : 0);
JS
node_rc=$?
cat "$work/check.out"
[ $node_rc -eq 0 ] || fail "the alerts are not the planted scans"
rm -rf "$work"
echo "PASS"
