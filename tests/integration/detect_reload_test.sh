#!/usr/bin/env bash
# detect_reload_test.sh PORTSCAND
#
# Exclusions reload with SIGHUP (README "Exclusions"): `portscand run` with a syslog TCP input
# and an exclusion; records of the excluded source do not alert and are counted under the
# entry's name; after the configuration is rewritten and SIGHUP sent, the new entry applies
# to the records that arrive next and the removed one no longer does; a reload with a broken
# entry is refused and the running exclusions stay. The scrape must pass `promtool check
# metrics` without a finding.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 PORTSCAND" >&2; exit 2; }
portscand=$1
die() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$portscand" ] || die "no portscand binary at $portscand"
for c in curl promtool; do command -v $c >/dev/null || die "$c is not installed (deploy/install-deps.sh installs it)"; done

work=$(mktemp -d "${TMPDIR:-/tmp}/detect_reload.XXXXXX")
daemon_pid=
cleanup() { [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null; }
trap cleanup EXIT
failures=0
failed() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
fail() {
  failed "$*"
  echo "work directory kept: $work" >&2
  [ -f "$work/daemon.log" ] && tail -30 "$work/daemon.log" >&2
  exit 1
}

# write_config EXCLUSIONS-YAML
write_config() {
  cat >"$work/portscand.yaml.tmp" <<YAML
evaluation: {schedule: on_close, allowed_lateness: 0s, idle_timeout: 1s}
shards: 2
state_dir: $work/state
inputs:
  - {type: syslog, name: tcp, listen: "tcp://127.0.0.1:0", format: asim}
outputs:
  - {type: file, name: alerts, path: $work/alerts.jsonl}
metrics: {listen: "127.0.0.1:0"}
$1
YAML
  mv "$work/portscand.yaml.tmp" "$work/portscand.yaml"
}
write_config 'exclusions: [{name: before, reason: "scanner A", sources: [203.0.113.7/32]}]'

"$portscand" run --config "$work/portscand.yaml" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
port= metrics_port=
for _ in $(seq 100); do
  port=$(grep -o 'syslog listener on port [0-9]*' "$work/daemon.log" | awk '{print $NF}' | head -1)
  metrics_port=$(sed -n 's/.*metrics on http:.*(port \([0-9]*\)).*/\1/p' "$work/daemon.log" | head -1)
  [ -n "$port" ] && [ -n "$metrics_port" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited at start"
  sleep 0.1
done
[ -n "$port" ] && [ -n "$metrics_port" ] || fail "no listener or metrics port in the log"

# Three 5-minute bins well in the past (inside the 70 min retention): each phase uses its own.
base=$(( ($(date +%s) / 300) * 300 - 1800 ))
# send BIN-START SOURCE...: 60 distinct ports from each source, one LF-framed JSON line each.
send() {
  local start=$1 src p
  shift
  exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to the syslog listener"
  for src in "$@"; do
    for p in $(seq 1 60); do
      printf '{"TimeGenerated":"%s","SrcIpAddr":"%s","DstIpAddr":"198.18.0.1","DstPortNumber":%d,"EventVendor":"Test","EventProduct":"Reload"}\n' \
        "$(date -u -d "@$((start + p))" +%Y-%m-%dT%H:%M:%SZ)" "$src" "$p" >&3
    done
  done
  exec 3>&-
}
alerted() {
  if [ -f "$work/alerts.jsonl" ]; then grep -c "\"SrcIpAddr\":\"$1\"" "$work/alerts.jsonl"; else echo 0; fi
}
wait_alert() {  # wait_alert SOURCE COUNT
  local deadline=$((SECONDS + 60))
  while [ "$(alerted "$1")" -lt "$2" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  [ "$(alerted "$1")" -ge "$2" ] || fail "no alert #$2 for $1 within 60 s"
}
scrape() { curl -fsS "http://127.0.0.1:$metrics_port/metrics" >"$work/scrape.txt" || fail "GET /metrics failed"; }
excluded() {  # excluded NAME: the entry's counter, or "absent"
  awk -v want="portscand_records_excluded_total{exclusion=\"$1\"}" '$1 == want { print $2; f = 1 } END { if (!f) print "absent" }' "$work/scrape.txt"
}
wait_reload() {  # wait_reload N: the N-th reload line (done or refused) in the log
  local deadline=$((SECONDS + 30))
  while [ "$(grep -c -E 'reloaded:|reload refused' "$work/daemon.log")" -lt "$1" ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  [ "$(grep -c -E 'reloaded:|reload refused' "$work/daemon.log")" -ge "$1" ] || fail "reload #$1 not logged within 30 s"
}

# Phase 1: .7 is excluded by "before", .8 alerts (it proves the bin was evaluated).
send "$base" 203.0.113.7 203.0.113.8
wait_alert 203.0.113.8 1
scrape
[ "$(excluded before)" = 60 ] || failed "phase 1: excluded{before} = $(excluded before), want 60"
[ "$(alerted 203.0.113.7)" = 0 ] || failed "phase 1: the excluded source 203.0.113.7 alerted"

# Phase 2: reload replaces "before" by "after" (203.0.113.9); .7 now alerts, .9 does not.
write_config 'exclusions: [{name: after, reason: "scanner B", sources: [203.0.113.9/32]}]'
kill -HUP "$daemon_pid"
wait_reload 1
grep -q 'reloaded:.* 1 exclusions' "$work/daemon.log" || failed "phase 2: the reload line does not name 1 exclusion"
send "$((base + 300))" 203.0.113.7 203.0.113.9 203.0.113.8
wait_alert 203.0.113.7 1
wait_alert 203.0.113.8 2
scrape
[ "$(excluded after)" = 60 ] || failed "phase 2: excluded{after} = $(excluded after), want 60"
[ "$(excluded before)" = 60 ] || failed "phase 2: excluded{before} = $(excluded before), want still 60"
[ "$(alerted 203.0.113.9)" = 0 ] || failed "phase 2: the newly excluded source 203.0.113.9 alerted"

# Phase 3: a reload with an entry without a reason is refused; "after" stays in force.
write_config 'exclusions: [{name: broken, sources: [203.0.113.9/32]}]'
kill -HUP "$daemon_pid"
wait_reload 2
grep -q 'reload refused' "$work/daemon.log" || failed "phase 3: a broken reload was not refused"
grep -q 'exclusions\[0\].reason' "$work/daemon.log" || failed "phase 3: the refusal does not name exclusions[0].reason"
send "$((base + 600))" 203.0.113.9 203.0.113.8
wait_alert 203.0.113.8 3
scrape
[ "$(excluded after)" = 120 ] || failed "phase 3: excluded{after} = $(excluded after), want 120"
[ "$(alerted 203.0.113.9)" = 0 ] || failed "phase 3: 203.0.113.9 alerted after a refused reload"

if ! promtool check metrics <"$work/scrape.txt" >"$work/promtool.out" 2>&1 || [ -s "$work/promtool.out" ]; then
  failed "promtool check metrics has findings:"
  cat "$work/promtool.out" >&2
fi

kill -TERM "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
daemon_pid=
if [ "$failures" -eq 0 ]; then
  rm -rf "$work"
  echo "PASS: exclusions reload with SIGHUP"
  exit 0
fi
echo "FAIL: $failures problem(s); work directory kept: $work" >&2
exit 1
