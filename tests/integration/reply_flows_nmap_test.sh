#!/usr/bin/env bash
# reply_flows_nmap_test.sh PORTSCAND
#
# Reply flows are not attempts (README "Reply flows"), with a real scan and a real exporter:
#   - two network namespaces joined by a veth pair: the scanner 198.51.100.1 and the victim
#     198.51.100.2 (TEST-NET-2: both are candidate sources), one port open on the victim;
#   - pmacctd (pmacct) captures the victim's interface and prints flows as JSON with the
#     `tcpflags` primitive, ORed per aggregate as NetFlow does: both directions of every
#     connection become records;
#   - nmap connect scan (-sT) of ports 1-200 from the scanner;
#   - `portscand replay` over pmacct's file:
#       default mode: the scanner alerts (>50 ports), the victim does not (its RST+ACK
#         answers are reply flows, counted in portscand_records_filtered_total
#         {reason="reply_flow"});
#       `reply_flows: count` in default mode, and `sentinel` mode: the victim alerts too,
#         on the scanner's ephemeral ports. So the option is what makes the difference.
# Needs root (network namespaces), iproute2, nmap, socat, pmacctd, jq: without them the test
# FAILS (deploy/install-deps.sh installs the packages); it never passes without the scan.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 PORTSCAND" >&2; exit 2; }
portscand=$1
die() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$portscand" ] || die "missing executable $portscand"
[ "$(id -u)" -eq 0 ] || die "needs root for network namespaces"
for tool in ip nmap socat pmacctd jq; do
  command -v "$tool" >/dev/null || die "$tool is not installed (deploy/install-deps.sh installs it)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/reply_flows.XXXXXX")
# Names unique per run, so parallel runs (two presets) do not collide; interface names
# stay within IFNAMSIZ (15).
tag=$$
ns_scan=psrf-scan-$tag
ns_victim=psrf-victim-$tag
if_scan=rfs$tag
if_victim=rfv$tag
pmacct_pid=
listener_pid=
cleanup() {
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
  [ -n "$pmacct_pid" ] && kill "$pmacct_pid" 2>/dev/null
  wait 2>/dev/null
  ip netns del "$ns_scan" 2>/dev/null
  ip netns del "$ns_victim" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns_scan" || die "cannot create a network namespace (ip netns add)"
ip netns add "$ns_victim" || die "cannot create a network namespace (ip netns add)"
ip link add "$if_scan" type veth peer name "$if_victim" || die "cannot create a veth pair"
ip link set "$if_scan" netns "$ns_scan" && ip link set "$if_victim" netns "$ns_victim" ||
  die "cannot move the veth ends into the namespaces"
ip -n "$ns_scan" addr add 198.51.100.1/24 dev "$if_scan"
ip -n "$ns_victim" addr add 198.51.100.2/24 dev "$if_victim"
for ns in "$ns_scan" "$ns_victim"; do ip -n "$ns" link set lo up; done
ip -n "$ns_scan" link set "$if_scan" up
ip -n "$ns_victim" link set "$if_victim" up

# pmacct: one record per (5-tuple, flags ORed, start second); the print plugin appends JSON
# lines every second and once more when it stops.
cat >"$work/pmacctd.conf" <<EOF
daemonize: false
pcap_interface: $if_victim
aggregate: src_host, dst_host, src_port, dst_port, proto, tcpflags, timestamp_start
timestamps_secs: true
timestamps_since_epoch: true
plugins: print
print_output: json
print_output_file: $work/flows.json
print_output_file_append: true
print_refresh_time: 1
EOF
ip netns exec "$ns_victim" pmacctd -f "$work/pmacctd.conf" >"$work/pmacctd.log" 2>&1 &
pmacct_pid=$!
ip netns exec "$ns_victim" socat TCP-LISTEN:80,bind=198.51.100.2,reuseaddr,fork /dev/null \
  >/dev/null 2>&1 &
listener_pid=$!

# pmacctd is capturing once it has written its first flows (IPv6 neighbour discovery on the
# new link) or said so in its log; then the listener must accept.
for _ in $(seq 1 100); do
  grep -q "Successfully connected Pcap\|link type is" "$work/pmacctd.log" 2>/dev/null && break
  [ -s "$work/flows.json" ] && break
  kill -0 "$pmacct_pid" 2>/dev/null || { cat "$work/pmacctd.log" >&2; die "pmacctd exited"; }
  sleep 0.1
done
sleep 1
for _ in $(seq 1 50); do
  ip netns exec "$ns_scan" bash -c 'exec 3<>/dev/tcp/198.51.100.2/80' 2>/dev/null && break
  sleep 0.1
done

ip netns exec "$ns_scan" nmap -n -Pn -sT -p 1-200 --max-retries 0 -oG "$work/nmap.txt" \
  198.51.100.2 >/dev/null || die "nmap failed"
grep -q "80/open/tcp" "$work/nmap.txt" || die "nmap did not see the victim's open port 80"

# Stop pmacctd: it writes what its cache still holds, then exits.
sleep 1.5
kill -INT "$pmacct_pid"
for _ in $(seq 1 100); do kill -0 "$pmacct_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pmacct_pid" 2>/dev/null && die "pmacctd did not stop on SIGINT"
pmacct_pid=

flows=$work/flows.json
[ -s "$flows" ] || die "pmacctd wrote no flows"
# The exporter saw both directions: the victim's answers are records of their own.
from_victim=$(jq -s '[.[] | select(.ip_src == "198.51.100.2" and .ip_proto == "tcp")] | length' "$flows")
from_scanner=$(jq -s '[.[] | select(.ip_src == "198.51.100.1" and .ip_proto == "tcp")] | length' "$flows")
[ "$from_victim" -ge 150 ] && [ "$from_scanner" -ge 200 ] ||
  die "expected both directions of >= 200 connections, got $from_scanner flows from the scanner, $from_victim from the victim"

failures=0
failed() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
sources() { jq -r '.SrcIpAddr' "$1" | sort | tr '\n' ' '; }

# 1. default mode: reply flows are skipped.
"$portscand" replay --format flow-json "$flows" >"$work/default.jsonl" 2>"$work/default.txt" ||
  failed "replay (default) exited $?"
got=$(sources "$work/default.jsonl")
[ "$got" = "198.51.100.1 " ] || failed "default mode alerted on '$got', expected the scanner only"
ports=$(jq -r 'select(.SrcIpAddr == "198.51.100.1") | .AttemptedPortsCount' "$work/default.jsonl")
[ "${ports:-0}" -gt 50 ] || failed "the scanner's alert counts ${ports:-no} ports"
skipped=$(sed -n 's/.*reason="reply_flow"} \([0-9]*\)$/\1/p' "$work/default.txt")
[ "${skipped:-0}" -ge 150 ] ||
  failed "reply flows skipped: '${skipped:-none}', expected the victim's closed-port answers (summary: $(cat "$work/default.txt"))"

# 2. the option off in default mode: the victim "scans" the scanner's ephemeral ports.
printf 'reply_flows: count\nstate_dir: %s/state\n' "$work" >"$work/count.yaml"
"$portscand" replay --config "$work/count.yaml" --format flow-json "$flows" \
  >"$work/count.jsonl" 2>"$work/count.txt" || failed "replay (reply_flows: count) exited $?"
got=$(sources "$work/count.jsonl")
[ "$got" = "198.51.100.1 198.51.100.2 " ] ||
  failed "reply_flows: count alerted on '$got', expected the scanner and the victim"
grep -q 'reason="reply_flow"' "$work/count.txt" && failed "reply_flows: count still skipped records"

# 3. sentinel mode keeps the rule's behaviour: the victim alerts as in Sentinel.
"$portscand" replay --mode sentinel --format flow-json "$flows" >"$work/sentinel.jsonl" \
  2>"$work/sentinel.txt" || failed "replay (sentinel) exited $?"
got=$(sources "$work/sentinel.jsonl")
[ "$got" = "198.51.100.1 198.51.100.2 " ] ||
  failed "sentinel mode alerted on '$got', expected the scanner and the victim"

# 4. `portscand parse` shows the side and why a reply is not counted.
"$portscand" parse --format flow-json "$flows" 2>/dev/null >"$work/parse.jsonl"
replies=$(jq -s '[.[] | select(.side == "reply" and .not_counted == "reply_flow" and .src == "198.51.100.2")] | length' "$work/parse.jsonl")
[ "$replies" -ge 150 ] || failed "parse shows $replies victim records as skipped replies"

if [ "$failures" -ne 0 ]; then
  echo "pmacct flows kept in $work.flows.json" >&2
  cp "$flows" "$work.flows.json"
  exit 1
fi
echo "PASS: scanner alerts, victim does not ($skipped reply flows skipped); with reply_flows: count and in sentinel mode the victim alerts"
