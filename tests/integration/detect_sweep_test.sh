#!/usr/bin/env bash
# detect_sweep_test.sh PORTSCAND GEN_WORKLOAD
#
# The port-sweep rule (more than N distinct destination addresses for one source and
# destination port in a 5-minute bin) against the DuckDB oracle (tests/oracle,
# sweep_alerts.sql), on one gen_workload file with planted scans and sweeps:
#   1. the oracle's alerts, scan and sweep, hold to the planted cases of the manifest
#      (check_planted.mjs --sweeps), and its scan alerts are the scan rule's alone;
#   2. `portscand replay` with both built-in rules equals the oracle with
#      --sweep-threshold 50: every field, the order (bin, source, the scan alert, then the
#      sweep alerts by port), and the planted cases again;
#   3. a portscand rule file of kind sweep with threshold 80 equals --sweep-threshold 80;
#   4. suppression of 90 minutes equals the oracle's post-filter, per rule and source;
#   5. IPv6 /64 prefixes and exclusions (a source block, a port) equal the oracle's.
#
# Fails, never skips, when anything it needs is missing. Keeps its work directory when it
# fails (the path is printed), removes it when it passes.
set -uo pipefail

. "$(dirname "$0")/oracle_common.sh" detect_sweep "$@"

workload=$work/workload.jsonl
manifest=$work/manifest.json
# 3 hours: the planted sweeper's third round (the last bin) is more than 90 minutes after its
# first, so suppression keeps it.
"$gen" --events 200000 --sources 20000 --seed 20261208 --start 2026-01-15T10:00:00Z \
  --scans 30 --sweeps 24 --bad-lines 40 --duration-min 180 --manifest "$manifest" >"$workload" ||
  die "gen_workload failed"

# --- 1. The oracle against the manifest.
node "$oracle/oracle.mjs" --mode default --rejects-out "$work/rejects.json" --sweep-threshold 50 \
  "$workload" >"$work/sweep50.oracle.jsonl" || die "the oracle failed with --sweep-threshold 50"
node "$oracle/check_planted.mjs" --mode default --sweeps --rejects "$work/rejects.json" \
  "$manifest" "$work/sweep50.oracle.jsonl" || failed "the oracle's alerts break the planted cases"
node "$oracle/oracle.mjs" --mode default --no-rejects "$workload" >"$work/scan.oracle.jsonl" ||
  die "the oracle failed without --sweep-threshold"
# The merged stream without its sweep alerts is the scan rule's output, byte for byte.
grep -v '"DstPortNumber":' "$work/sweep50.oracle.jsonl" >"$work/sweep50.scans.jsonl"
cmp -s "$work/scan.oracle.jsonl" "$work/sweep50.scans.jsonl" ||
  failed "the oracle's scan alerts change when the sweep rule is added"
sweeps=$(grep -c '"DstPortNumber":' "$work/sweep50.oracle.jsonl")
[ "$sweeps" -ge 30 ] || die "the oracle expects only $sweeps sweep alerts"

# check NAME YAML ORACLE-ARGS...: replay with the configuration YAML against the oracle with
# its arguments, over $workload; both must agree. The oracle's output is reused when a step
# before made it ($work/NAME.oracle.jsonl).
check() {
  local name=$1 yaml=$2
  shift 2
  printf '%s\n' "$yaml" >"$work/$name.yaml"
  if [ ! -s "$work/$name.oracle.jsonl" ] && ! node "$oracle/oracle.mjs" --mode default --no-rejects \
    "$@" "$workload" >"$work/$name.oracle.jsonl" 2>"$work/$name.oracle.stderr"; then
    failed "$name: the oracle failed: $(tail -3 "$work/$name.oracle.stderr")"
    return 1
  fi
  if ! "$portscand" replay --config "$work/$name.yaml" --format asim --shards 3 "$workload" \
    >"$work/$name.replay.jsonl" 2>"$work/$name.replay.stderr"; then
    failed "$name: replay failed: $(tail -3 "$work/$name.replay.stderr")"
    return 1
  fi
  if ! node "$oracle/compare.mjs" --names "oracle,replay" "$work/$name.oracle.jsonl" \
    "$work/$name.replay.jsonl"; then
    failed "$name: replay differs from the oracle"
    return 1
  fi
  echo "ok: $name: $(grep -c '"DstPortNumber":' "$work/$name.replay.jsonl") sweep alerts," \
    "$(grep -vc '"DstPortNumber":' "$work/$name.replay.jsonl") scan alerts"
}

# --- 2. Both built-in rules; the daemon's output holds to the planted cases too.
if check sweep50 'rules: [builtin:port-scan, builtin:port-sweep]' --sweep-threshold 50; then
  node "$oracle/check_planted.mjs" --mode default --sweeps "$manifest" "$work/sweep50.replay.jsonl" ||
    failed "sweep50: replay's alerts break the planted cases"
fi

# --- 3. A sweep rule file with its own threshold (the built-in rule's id and texts, so the
# alert ids are the ones the oracle computes).
cat >"$work/sweep80.rule.yaml" <<'YAML'
kind: sweep
id: 842a5b8e-315e-42ef-bb51-ef4a30b32fce
name: Port sweep detected (portscand)
version: 1.0.0
severity: Medium
tactics: [Discovery]
techniques: [T1046]
threshold: 80
max_targets: 100
title: "Potential port sweep of port {{DstPortNumber}} from {{SrcIpAddr}}"
description: "Source {{SrcIpAddr}} tried destination port {{DstPortNumber}} on {{TargetCount}} distinct destination addresses within one 5-minute window, a pattern typical of a horizontal scan for one service."
YAML
node "$oracle/oracle.mjs" --mode default --no-rejects --sweep-threshold 80 "$workload" \
  >"$work/sweep80.oracle.jsonl" || failed "sweep80: the oracle failed"
sweeps80=$(grep -c '"DstPortNumber":' "$work/sweep80.oracle.jsonl")
# The planted sweeps of 51..80 destinations must drop out, the larger ones stay.
if [ "$sweeps80" -le 10 ] || [ "$sweeps80" -ge "$sweeps" ]; then
  failed "sweep80: $sweeps80 sweep alerts at threshold 80, $sweeps at 50: the threshold changes nothing"
fi
grep -q '"SrcIpAddr":"203.0.113.200","TimeGenerated":"[^"]*","DstPortNumber":445,' "$work/sweep80.oracle.jsonl" &&
  failed "sweep80: the oracle keeps the 51-destination sweep at threshold 80"
check sweep80 "rules: [builtin:port-scan, $work/sweep80.rule.yaml]" --sweep-threshold 80

# --- 4. Suppression per (rule, source): the sweeper's second round (10 minutes after its
# first) and its second port in one bin are suppressed, its third round (more than 90
# minutes on) is not, and the scan alert beside a sweep is never suppressed by it.
node "$oracle/oracle.mjs" --mode default --no-rejects --sweep-threshold 50 --suppression 5400 \
  "$workload" >"$work/suppression_90m.oracle.jsonl" || failed "suppression: the oracle failed"
# shellcheck disable=SC2016 # JavaScript: its ${...} are not the shell's
node -e '
  const fs = require("fs");
  const m = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const alerts = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map(JSON.parse);
  const has = (name) => {
    const c = m.sweep_cases.find((x) => x.name === name);
    return alerts.some((a) => a.SrcIpAddr === c.SrcIpAddr && a.TimeGenerated === c.TimeGenerated &&
                              a.DstPortNumber === c.DstPortNumber);
  };
  const scan = m.cases.find((x) => x.name === "sweep_and_scan");
  const problems = [];
  for (const name of ["sweep_rounds_1", "sweep_rounds_3", "sweep_two_ports_23", "sweep_and_scan_5900"])
    if (!has(name)) problems.push(`${name} suppressed`);
  for (const name of ["sweep_rounds_2", "sweep_two_ports_2323"])
    if (has(name)) problems.push(`${name} kept`);
  if (!alerts.some((a) => a.SrcIpAddr === scan.SrcIpAddr && a.TimeGenerated === scan.TimeGenerated &&
                          a.DstPortNumber === undefined))
    problems.push("the scan alert of sweep_and_scan suppressed");
  if (problems.length) { console.error(problems.join("; ")); process.exit(1); }
' "$manifest" "$work/suppression_90m.oracle.jsonl" ||
  failed "suppression: the oracle does not suppress per rule and source as designed"
check suppression_90m 'rules: [builtin:port-scan, builtin:port-sweep]
suppression: {duration: 90m}' --sweep-threshold 50 --suppression 5400

# --- 5. IPv6 prefixes and exclusions apply to the sweep rule as to the scan rule: sources
# per /64, a block of sweepers and one port taken out of the count.
cat >"$work/exclusions.json" <<'JSON'
[{"name": "sweepers", "sources": ["203.0.113.128/28"]}, {"name": "telnet", "ports": [23]}]
JSON
if check prefix_exclusions 'rules: [builtin:port-scan, builtin:port-sweep]
ipv6_prefix: 64
exclusions:
  - {name: sweepers, reason: known scanners, sources: [203.0.113.128/28]}
  - {name: telnet, reason: honeypot noise, ports: [23]}' --sweep-threshold 50 --ipv6-prefix 64 \
  --exclusions "$work/exclusions.json"; then
  cmp -s "$work/sweep50.oracle.jsonl" "$work/prefix_exclusions.oracle.jsonl" &&
    failed "prefix_exclusions: the options change nothing on this workload (nothing proved)"
  grep -q '"DstPortNumber":23,' "$work/prefix_exclusions.replay.jsonl" &&
    failed "prefix_exclusions: a sweep of the excluded port 23 alerted"
fi

if [ "$failures" -eq 0 ]; then
  rm -rf "$work"
  echo "PASS: the port-sweep rule agrees with the oracle and the planted sweeps"
  exit 0
fi
echo "FAIL: $failures problem(s); inputs and outputs kept in $work" >&2
exit 1
