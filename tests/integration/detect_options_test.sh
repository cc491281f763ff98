#!/usr/bin/env bash
# detect_options_test.sh PORTSCAND GEN_WORKLOAD
#
# The detection options (README "Exclusions", "Suppression", "IPv6 prefixes", "Incidents",
# "What an alert carries") against the
# DuckDB oracle (tests/oracle): `portscand replay --config` with each option, and the oracle
# with the same option written its own way (exclusions as a WHERE clause, suppression as a
# post-filter over the ordered alerts, IPv6 prefixes as a prefix expression), on one
# gen_workload file. Every alert field and the line order must agree, each option must
# change the outcome (else the comparison proves nothing), and without options the output
# must be the plain rule's.
#
# Fails, never skips, when anything it needs is missing. Keeps its work directory when it
# fails (the path is printed), removes it when it passes.
set -uo pipefail

. "$(dirname "$0")/oracle_common.sh" detect_options "$@"

workload=$work/workload.jsonl
"$gen" --events 200000 --sources 20000 --seed 20261128 --start 2026-01-15T10:00:00Z \
  --scans 40 --bad-lines 60 --duration-min 60 --manifest "$work/manifest.json" >"$workload" ||
  die "gen_workload failed"
node "$oracle/oracle.mjs" --mode default --no-rejects "$workload" >"$work/plain.jsonl" ||
  die "the oracle failed without options"
plain=$(wc -l <"$work/plain.jsonl")
[ "$plain" -gt 20 ] || die "the oracle expects only $plain alerts without options"

# check NAME YAML ORACLE-ARGS...: replay with the configuration YAML (and $replay_args)
# against the oracle with its arguments, over $workload; both must agree, and differ from
# the plain rule's alerts ($plain_alerts).
replay_args=
plain_alerts=$work/plain.jsonl
check() {
  local name=$1 yaml=$2
  shift 2
  printf '%s\n' "$yaml" >"$work/$name.yaml"
  if ! node "$oracle/oracle.mjs" --mode default --no-rejects "$@" "$workload" \
    >"$work/$name.oracle.jsonl" 2>"$work/$name.oracle.stderr"; then
    failed "$name: the oracle failed: $(tail -3 "$work/$name.oracle.stderr")"
    return 1
  fi
  # shellcheck disable=SC2086 # replay_args: words
  if ! "$portscand" replay --config "$work/$name.yaml" --format asim --shards 3 $replay_args "$workload" \
    >"$work/$name.replay.jsonl" 2>"$work/$name.replay.stderr"; then
    failed "$name: replay failed: $(tail -3 "$work/$name.replay.stderr")"
    return 1
  fi
  node "$oracle/compare.mjs" --names "oracle,replay" "$work/$name.oracle.jsonl" \
    "$work/$name.replay.jsonl" || failed "$name: replay differs from the oracle"
  if cmp -s "$plain_alerts" "$work/$name.oracle.jsonl"; then
    failed "$name: the option changes nothing on this workload (the comparison proves nothing)"
  fi
  echo "ok: $name: $(wc -l <"$work/$name.replay.jsonl") alerts (plain rule: $(wc -l <"$plain_alerts"))"
}

# --- Exclusions: sources (IPv4 and IPv6 blocks), destinations with ports, ports only with
# an expiry in the middle of the workload, source with ports; an unnamed entry is labelled
# by its index.
exclusions_yaml='exclusions:
  - name: research
    reason: research scanner, ticket SEC-1
    sources: [198.51.100.0/28, "2001:db8:5ca0::10/126"]
  - name: lb
    reason: load balancer health checks
    destinations: [198.18.64.0/18]
    ports: ["1-1024"]
  - name: rdp-and-alt-http
    reason: temporary, change CHG-7
    ports: [3389, "8000-8100"]
    expires: "2026-01-15T10:30:00Z"
  - reason: low ports from the partner range
    sources: [203.0.113.0/24]
    ports: ["1-30"]'
cat >"$work/exclusions.json" <<'JSON'
[{"name": "research", "sources": ["198.51.100.0/28", "2001:db8:5ca0::10/126"]},
 {"name": "lb", "destinations": ["198.18.64.0/18"], "ports": ["1-1024"]},
 {"name": "rdp-and-alt-http", "ports": [3389, "8000-8100"], "expires": "2026-01-15T10:30:00Z"},
 {"sources": ["203.0.113.0/24"], "ports": ["1-30"]}]
JSON
if check exclusions "$exclusions_yaml" --exclusions "$work/exclusions.json" \
  --excluded-out "$work/excluded.json"; then
  # Each entry's counter (replay's summary) must say what the oracle counted for it.
  node -e '
    const fs = require("fs");
    const want = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const got = {};
    for (const m of fs.readFileSync(process.argv[2], "utf8").matchAll(
             /portscand_records_excluded_total\{exclusion="([^"]*)"\} (\d+)/g))
      got[m[1]] = Number(m[2]);
    if (Object.keys(want).length !== 4) { console.error("oracle: not every entry took records", want); process.exit(1); }
    if (JSON.stringify(Object.entries(want).sort()) !== JSON.stringify(Object.entries(got).sort())) {
      console.error("excluded records per entry: oracle", want, "replay", got);
      process.exit(1);
    }' "$work/excluded.json" "$work/exclusions.replay.stderr" ||
    failed "exclusions: the per-entry counts differ from the oracle's"
  grep -q '"SrcIpAddr":"198.51.100.5"' "$work/exclusions.replay.jsonl" &&
    failed "exclusions: the excluded research source 198.51.100.5 alerted"
fi

# --- IPv6 prefixes: the planted rotating scanner of 2001:db8:5ca0::/64 (many addresses,
# each alerting alone) becomes one key; the oracle names the prefix with its own masking
# and RFC 5952 text, and derives the alert id from that text.
check ipv6_prefix_64 'ipv6_prefix: 64' --ipv6-prefix 64
grep -q '"SrcIpAddr":"2001:db8:5ca0::/64"' "$work/ipv6_prefix_64.replay.jsonl" ||
  failed "ipv6_prefix: no alert for 2001:db8:5ca0::/64"
check ipv6_prefix_48 'ipv6_prefix: 48' --ipv6-prefix 48
# With exclusions: matched against whole addresses, before the prefix is taken.
check ipv6_prefix_64_exclusions "ipv6_prefix: 64
$exclusions_yaml" --ipv6-prefix 64 --exclusions "$work/exclusions.json"

# --- Suppression: the same generator run again from 11:20 after the first hour, so every
# planted scanner alerts again 80 minutes later (and 203.0.113.60 twice within the first
# hour, 5 minutes apart). 90m suppresses the second round and the 5-minute repeat; 75m only
# the repeat; both are compared with the oracle's post-filter.
"$gen" --events 200000 --sources 20000 --seed 20261128 --start 2026-01-15T11:20:00Z \
  --scans 40 --bad-lines 60 --duration-min 60 >"$work/second.jsonl" || die "gen_workload failed"
cat "$work/workload.jsonl" "$work/second.jsonl" >"$work/two_rounds.jsonl"
workload=$work/two_rounds.jsonl
node "$oracle/oracle.mjs" --mode default --no-rejects "$workload" >"$work/plain2.jsonl" ||
  die "the oracle failed on the two rounds"
plain_alerts=$work/plain2.jsonl
check suppression_90m 'suppression: {duration: 90m}' --suppression 5400
check suppression_75m 'suppression: {duration: 75m}' --suppression 4500
n90=$(wc -l <"$work/suppression_90m.oracle.jsonl") n75=$(wc -l <"$work/suppression_75m.oracle.jsonl")
[ "$n90" -lt "$n75" ] || failed "suppression: 90m leaves $n90 alerts, 75m $n75: the longer must suppress more"
grep -q 'portscand_alerts_suppressed_total' "$work/suppression_90m.replay.stderr" ||
  failed "suppression: replay's summary does not count the suppressed alerts"

# --- Incidents (README "Incidents"), on the two rounds: by default (24 h) a scanner's second
# round, 80 minutes on, joins the incident of its first; with a 1 h grouping it opens a
# second incident; with 0 every alert is its own. The oracle chains the incidents itself.
node -e '
  const fs = require("fs");
  const bySource = new Map();
  for (const line of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
    if (line === "") continue;
    const a = JSON.parse(line);
    if (!bySource.has(a.SrcIpAddr)) bySource.set(a.SrcIpAddr, new Set());
    bySource.get(a.SrcIpAddr).add(a.incident_id);
  }
  const spanning = [...bySource.values()].filter((ids) => ids.size === 1).length;
  if (spanning < 20) { console.error(`only ${spanning} sources keep one incident`); process.exit(1); }
' "$work/plain2.jsonl" || failed "incidents: the oracle does not keep one incident per scanner"
replay_plain2=$work/incidents_default.replay.jsonl
"$portscand" replay --format asim --shards 3 "$workload" >"$replay_plain2" 2>/dev/null ||
  failed "incidents: replay without options failed"
node "$oracle/compare.mjs" --names oracle,replay "$work/plain2.jsonl" "$replay_plain2" ||
  failed "incidents: the default grouping differs from the oracle"
check incidents_1h 'incidents: {grouping: 1h}' --incident-grouping 3600
check incidents_off 'incidents: {grouping: 0s}' --incident-grouping 0

# --- Early alerts (README "Early alerts"), on the two rounds: before each alert its early
# alert, with the evidence up to the crossing record in file order (one parse thread keeps
# each source's records in that order) and the incident its final alert joins (the second
# round's crossings come after the first round's alerts). The final alerts stay as they are.
replay_args="--threads 1"
if check early_alerts 'early_alerts: {enabled: true}' --early-alerts; then
  grep -v '"early":true' "$work/early_alerts.replay.jsonl" >"$work/early_alerts.finals.jsonl"
  node "$oracle/compare.mjs" --names oracle,replay "$work/plain2.jsonl" \
    "$work/early_alerts.finals.jsonl" || failed "early_alerts: the final alerts changed"
  # The evidence so far must be short of the final one for most keys, or the comparison
  # could not tell the two apart.
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
    const early = lines.filter((a) => a.early), finals = lines.filter((a) => !a.early);
    const shorter = early.filter((e, i) => e.event_count < finals[i].event_count).length;
    if (early.length !== finals.length || shorter < early.length / 2) {
      console.error(`${early.length} early, ${finals.length} final alerts, ${shorter} with less evidence`);
      process.exit(1);
    }' "$work/early_alerts.replay.jsonl" || failed "early_alerts: the early evidence is not the partial one"
fi
replay_args=

# --- Targets kept per alert (README "What an alert carries").
check max_targets_3 'evidence: {max_targets: 3}' --max-targets 3
check max_targets_0 'evidence: {max_targets: 0}' --max-targets 0
workload=$work/workload.jsonl
plain_alerts=$work/plain.jsonl

if [ "$failures" -eq 0 ]; then
  rm -rf "$work"
  echo "PASS: every option agrees with the oracle"
  exit 0
fi
echo "FAIL: $failures problem(s); inputs and outputs kept in $work" >&2
exit 1
