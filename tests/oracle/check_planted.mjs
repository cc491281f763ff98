#!/usr/bin/env node
// check_planted.mjs — checks a file of alert JSON lines (the oracle's or replay's) against
// the manifest gen_workload wrote: each planted case by name, with the outcome the
// generator promises for the mode, and the exact figures of the cases whose source the
// background never touches. It also applies SPEC §1's source filter once more, in plain
// JavaScript, to every alert. A broken oracle therefore cannot pass just by agreeing with
// a broken daemon.
//
// usage: node check_planted.mjs --mode default|sentinel [--window tumbling|sliding]
//                               [--sweeps] [--rejects FILE] [--metrics FILE] MANIFEST ALERTS
//   --sweeps        the alerts include the port-sweep rule's (threshold 50; oracle.mjs
//                   --sweep-threshold 50): each of the manifest's sweep cases (gen_workload
//                   --sweeps W) must alert or not as designed, with the planted figures and
//                   targets, and some figures are worked out here by hand again; every sweep
//                   alert gets the rule's shape checks. Without it a sweep alert is an error
//   --window sliding  the alerts are sliding-window ones (README "Sliding windows"): the
//                   manifest's sliding cases (gen_workload --sliding-cases 1) are checked,
//                   each source's alerts ending exactly where the generator worked out by
//                   hand; the per-bin cases are not (they promise tumbling outcomes)
//   --rejects FILE  the oracle's reject counts (oracle.mjs --rejects-out): must equal the
//                   manifest's malformed lines, reason by reason
//   --metrics FILE  text holding the daemon's Prometheus counters (replay's stderr
//                   summary): portscand_records_rejected_total, summed over inputs and
//                   formats, must equal the manifest's malformed lines, reason by reason
//                   (SPEC §4: no bad record is lost silently)

import fs from 'node:fs';

// The edge cases the test is about; a manifest without them fails, so a generator change
// cannot drop them unnoticed.
const REQUIRED = [
  'exact51', 'exact50', 'split30_first', 'split30_second', 'caps', 'big3000', 'port_edges',
  'portless_labels', 'dup_heavy51', 'dup_heavy50', 'twice_first', 'twice_second',
  'order_v6', 'order_dot9', 'order_dot10', 'mapped_merge', 'mapped_only', 'mapped_private',
  'mapped_loopback', 'v6_global', 'v6_two_runs', 'v6_loopback', 'v6_ula_low', 'v6_ula_high',
  'v6_below_ula', 'v6_link_local', 'v6_link_local_high', 'v6_above_link_local', 'v6_between',
  'private_10', 'private_172_high', 'private_192_low', 'near_172_low', 'near_172_high',
  'near_192_high', 'loopback_v4', 'loopback_other', 'cgnat', 'v4_link_local',
];

function usage(message) {
  if (message) process.stderr.write(`check_planted: ${message}\n`);
  process.stderr.write('usage: node check_planted.mjs --mode default|sentinel [--rejects FILE] [--metrics FILE] MANIFEST ALERTS\n');
  process.exit(2);
}

const args = process.argv.slice(2);
let mode = null;
let rejectsFile = null;
let metricsFile = null;
let windowKind = 'tumbling';
let sweeps = false;
const files = [];
for (let i = 0; i < args.length; ++i) {
  if (args[i] === '--mode' && i + 1 < args.length) mode = args[++i];
  else if (args[i] === '--rejects' && i + 1 < args.length) rejectsFile = args[++i];
  else if (args[i] === '--metrics' && i + 1 < args.length) metricsFile = args[++i];
  else if (args[i] === '--window' && i + 1 < args.length) windowKind = args[++i];
  else if (args[i] === '--sweeps') sweeps = true;
  else if (args[i].startsWith('--')) usage(`unknown option ${args[i]}`);
  else files.push(args[i]);
}
if (!['default', 'sentinel'].includes(mode) || files.length !== 2) usage();
if (!['tumbling', 'sliding'].includes(windowKind)) usage('--window must be tumbling or sliding');

const manifest = JSON.parse(fs.readFileSync(files[0], 'utf8'));
const allAlerts = fs.readFileSync(files[1], 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
// The port-sweep rule's alerts carry the swept port; the scan rule's do not.
const alerts = allAlerts.filter((a) => a.DstPortNumber === undefined);
const sweepAlerts = allAlerts.filter((a) => a.DstPortNumber !== undefined);
const byKey = new Map(alerts.map((a) => [`${a.SrcIpAddr}|${a.TimeGenerated}`, a]));

const failures = [];
const fail = (text) => failures.push(text);

// --- SPEC §1 source filter, a third time (after the SQL and the C++) --------------------
function v4Octets(s) {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  return m ? m.slice(1).map(Number) : null;
}
function v6FirstGroup(s) {
  // Canonical text only (alerts are canonical): "::..." starts with a zero group.
  return s.startsWith('::') ? 0 : parseInt(s.split(':')[0], 16);
}
function isCandidate(src) {
  const o = v4Octets(src);
  if (o !== null) {
    if (src === '127.0.0.1') return false;
    return !(o[0] === 10 || (o[0] === 172 && o[1] >= 16 && o[1] <= 31) || (o[0] === 192 && o[1] === 168));
  }
  if (mode === 'sentinel') return false;
  if (src === '::1') return false;
  const g = v6FirstGroup(src);
  return (g & 0xfe00) !== 0xfc00 && (g & 0xffc0) !== 0xfe80;
}

const byteOrder = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

for (const a of alerts) {
  const where = `${a.SrcIpAddr} @ ${a.TimeGenerated}`;
  if (!isCandidate(a.SrcIpAddr)) fail(`${where}: this source is not a candidate in ${mode} mode (SPEC §1), yet it alerted`);
  if (/^::ffff:/i.test(a.SrcIpAddr)) fail(`${where}: an IPv4-mapped source must be reported as IPv4`);
  if (!(a.AttemptedPortsCount > 50)) fail(`${where}: AttemptedPortsCount ${a.AttemptedPortsCount} is not above 50`);
  const ports = a.AttemptedPorts ?? [];
  if (ports.length !== Math.min(100, a.AttemptedPortsCount)) fail(`${where}: ${ports.length} AttemptedPorts for a count of ${a.AttemptedPortsCount}`);
  if (ports.some((p, i) => !Number.isInteger(p) || p < 0 || p > 65535 || (i > 0 && ports[i - 1] >= p))) fail(`${where}: AttemptedPorts not distinct ascending 0..65535`);
  const labels = a.ReportedBy ?? [];
  if (labels.length < 1 || labels.length > 20) fail(`${where}: ${labels.length} ReportedBy labels`);
  if (labels.some((l, i) => i > 0 && byteOrder(labels[i - 1], l) >= 0)) fail(`${where}: ReportedBy not distinct in byte order`);
  const start = Date.parse(a.TimeGenerated);
  if (windowKind === 'sliding') {
    // [start, end], both ends included, end = the crossing record = last_seen. Date.parse
    // keeps milliseconds only: sub-millisecond times are compared as text below.
    if (a.window?.start !== a.TimeGenerated || Date.parse(a.window?.end) - start !== 300000) fail(`${where}: window is not [TimeGenerated, +5 min]`);
    if (a.last_seen !== a.window?.end) fail(`${where}: last_seen is not the window end (the crossing record)`);
    if (!(Date.parse(a.first_seen) >= start && Date.parse(a.first_seen) <= Date.parse(a.last_seen))) fail(`${where}: first_seen outside the window`);
  } else {
    if (start % 300000 !== 0) fail(`${where}: TimeGenerated is not on a 5-minute boundary`);
    if (a.window?.start !== a.TimeGenerated || Date.parse(a.window?.end) - start !== 300000) fail(`${where}: window is not [TimeGenerated, +5 min)`);
    if (!(Date.parse(a.first_seen) >= start && Date.parse(a.last_seen) < start + 300000 && a.first_seen <= a.last_seen)) fail(`${where}: first/last seen outside the bin`);
  }
  if (!(a.event_count >= a.AttemptedPortsCount)) fail(`${where}: event_count ${a.event_count} below the port count`);
}

// --- the planted cases ---------------------------------------------------------------------
const cases = new Map(manifest.cases.map((c) => [c.name, c]));
for (const name of REQUIRED) if (!cases.has(name)) fail(`the manifest has no case '${name}'`);

const SLIDING_REQUIRED = ['slide_straddle', 'slide_out_of_order', 'slide_paced_over',
                          'slide_paced_under', 'slide_paced_long'];
let expectedPresent = 0;
if (windowKind === 'sliding') {
  const slidingCases = new Map((manifest.sliding_cases ?? []).map((c) => [c.name, c]));
  for (const name of SLIDING_REQUIRED)
    if (!slidingCases.has(name)) fail(`the manifest has no sliding case '${name}' (gen_workload --sliding-cases 1)`);
  for (const c of slidingCases.values()) {
    const ends = alerts.filter((a) => a.SrcIpAddr === c.SrcIpAddr).map((a) => a.window?.end).sort();
    const want = [...c.window_ends].sort();
    expectedPresent += want.length;
    if (JSON.stringify(ends) !== JSON.stringify(want))
      fail(`sliding case ${c.name} (${c.SrcIpAddr}): alert windows end at ${JSON.stringify(ends)}, expected ${JSON.stringify(want)}`);
  }
}
for (const c of windowKind === 'sliding' ? [] : manifest.cases) {
  const want = mode === 'default' ? c.alert_default : c.alert_sentinel;
  const a = byKey.get(`${c.SrcIpAddr}|${c.TimeGenerated}`);
  const where = `case ${c.name} (${c.SrcIpAddr} @ ${c.TimeGenerated})`;
  if (want) ++expectedPresent;
  if (want && a === undefined) { fail(`${where}: must alert in ${mode} mode, no alert`); continue; }
  if (!want && a !== undefined) { fail(`${where}: must not alert in ${mode} mode (${c.AttemptedPortsCount} ports planted), alerted with ${a.AttemptedPortsCount}`); continue; }
  if (!want || !c.exact) continue;
  for (const field of ['AttemptedPortsCount', 'event_count', 'first_seen', 'last_seen']) {
    if (a[field] !== c[field]) fail(`${where}: ${field} is ${JSON.stringify(a[field])}, planted ${JSON.stringify(c[field])}`);
  }
  if (a.ReportedBy.length !== Math.min(20, c.labels)) fail(`${where}: ${a.ReportedBy.length} ReportedBy labels, planted ${c.labels} distinct`);
}
if (alerts.length < expectedPresent) fail(`${alerts.length} alerts, fewer than the ${expectedPresent} planted ones`);

// --- port sweeps ----------------------------------------------------------------------------
const SWEEP_RULE_ID = '842a5b8e-315e-42ef-bb51-ef4a30b32fce';
const SWEEP_REQUIRED = [
  'sweep51', 'sweep300', 'sweep_v6', 'sweep_near50', 'sweep_split_first', 'sweep_split_second',
  'sweep_two_ports_23', 'sweep_two_ports_2323', 'sweep_repeats', 'sweep_two_labels',
  'sweep_and_scan_5900', 'sweep_dstless', 'sweep_dstless_near', 'sweep_portless', 'sweep_mapped',
  'sweep_rounds_1', 'sweep_rounds_2', 'sweep_rounds_3',
];
const v4Value = (s) => v4Octets(s).reduce((n, o) => n * 256 + o, 0);
let sweepExpected = 0;
if (!sweeps && sweepAlerts.length > 0) fail(`${sweepAlerts.length} port-sweep alerts, but --sweeps was not given`);
for (const a of sweeps ? sweepAlerts : []) {
  const where = `sweep ${a.SrcIpAddr} @ ${a.TimeGenerated} port ${a.DstPortNumber}`;
  if (!isCandidate(a.SrcIpAddr)) fail(`${where}: this source is not a candidate in ${mode} mode (SPEC §1), yet it alerted`);
  if (/^::ffff:/i.test(a.SrcIpAddr)) fail(`${where}: an IPv4-mapped source must be reported as IPv4`);
  const p = a.DstPortNumber;
  if (!Number.isInteger(p) || p < 0 || p > 65535) fail(`${where}: DstPortNumber is not a port`);
  if (a.rule?.id !== SWEEP_RULE_ID) fail(`${where}: rule id ${a.rule?.id}, not the port-sweep rule's`);
  if (a.AttemptedPortsCount !== 1 || JSON.stringify(a.AttemptedPorts) !== JSON.stringify([p])) fail(`${where}: AttemptedPorts is not [the port]`);
  if (!(a.TargetCount > 50)) fail(`${where}: TargetCount ${a.TargetCount} is not above 50`);
  if (JSON.stringify(a.custom_details) !== JSON.stringify({ DstPortNumber: p, TargetCount: a.TargetCount })) fail(`${where}: custom_details ${JSON.stringify(a.custom_details)}`);
  if (a.title !== `Potential port sweep of port ${p} from ${a.SrcIpAddr}`) fail(`${where}: title ${JSON.stringify(a.title)}`);
  const targets = a.targets ?? [];
  if (targets.length !== Math.min(100, a.TargetCount)) fail(`${where}: ${targets.length} targets listed for ${a.TargetCount}`);
  if (a.targets_truncated !== a.TargetCount > 100) fail(`${where}: targets_truncated ${a.targets_truncated} for ${a.TargetCount} targets`);
  if (targets.some((t, i) => v4Octets(t.address) === null || !(t.attempts >= 1) ||
                   (i > 0 && v4Value(targets[i - 1].address) >= v4Value(t.address))))
    fail(`${where}: targets are not distinct IPv4 addresses in ascending order with attempts`);
  const listed = targets.reduce((n, t) => n + t.attempts, 0);
  if (!(a.event_count >= a.TargetCount && a.event_count >= listed)) fail(`${where}: event_count ${a.event_count} below the targets`);
  const labels = a.ReportedBy ?? [];
  if (labels.length < 1 || labels.length > 20 || labels.some((l, i) => i > 0 && byteOrder(labels[i - 1], l) >= 0)) fail(`${where}: ReportedBy not 1..20 distinct labels in byte order`);
  const start = Date.parse(a.TimeGenerated);
  if (start % 300000 !== 0 || a.window?.start !== a.TimeGenerated || Date.parse(a.window?.end) - start !== 300000) fail(`${where}: not a 5-minute bin`);
  if (!(Date.parse(a.first_seen) >= start && Date.parse(a.last_seen) < start + 300000 && a.first_seen <= a.last_seen)) fail(`${where}: first/last seen outside the bin`);
}
if (sweeps) {
  const sweepCases = manifest.sweep_cases ?? [];
  const names = new Set(sweepCases.map((c) => c.name));
  for (const name of SWEEP_REQUIRED) if (!names.has(name)) fail(`the manifest has no sweep case '${name}' (gen_workload --sweeps)`);
  const bySweepKey = new Map(sweepAlerts.map((a) => [`${a.SrcIpAddr}|${a.TimeGenerated}|${a.DstPortNumber}`, a]));
  // Nothing but the planted cases sweeps from a planted sweeper in its bins.
  const planted = new Set(sweepCases.map((c) => `${c.SrcIpAddr}|${c.TimeGenerated}`));
  const wanted = new Set(sweepCases.filter((c) => (mode === 'default' ? c.alert_default : c.alert_sentinel))
    .map((c) => `${c.SrcIpAddr}|${c.TimeGenerated}|${c.DstPortNumber}`));
  for (const a of sweepAlerts) {
    const key = `${a.SrcIpAddr}|${a.TimeGenerated}|${a.DstPortNumber}`;
    if (planted.has(`${a.SrcIpAddr}|${a.TimeGenerated}`) && !wanted.has(key)) fail(`sweep ${key}: alerted, but no planted case says so`);
  }
  const found = new Map();
  for (const c of sweepCases) {
    const want = mode === 'default' ? c.alert_default : c.alert_sentinel;
    const a = bySweepKey.get(`${c.SrcIpAddr}|${c.TimeGenerated}|${c.DstPortNumber}`);
    const where = `sweep case ${c.name} (${c.SrcIpAddr} @ ${c.TimeGenerated} port ${c.DstPortNumber})`;
    if (want) ++sweepExpected;
    if (want && a === undefined) { fail(`${where}: must alert in ${mode} mode, no alert`); continue; }
    if (!want && a !== undefined) { fail(`${where}: must not alert in ${mode} mode (${c.TargetCount} destinations planted), alerted with ${a.TargetCount}`); continue; }
    if (!want) continue;
    found.set(c.name, a);
    for (const field of ['TargetCount', 'event_count', 'first_seen', 'last_seen']) {
      if (a[field] !== c[field]) fail(`${where}: ${field} is ${JSON.stringify(a[field])}, planted ${JSON.stringify(c[field])}`);
    }
    if (JSON.stringify(a.ReportedBy) !== JSON.stringify(c.labels.slice(0, 20))) fail(`${where}: ReportedBy ${JSON.stringify(a.ReportedBy)}, planted ${JSON.stringify(c.labels)}`);
    if (JSON.stringify(a.targets) !== JSON.stringify(c.targets)) fail(`${where}: the targets differ from the planted destinations`);
  }
  // Figures worked out by hand from how gen_workload plants the cases, not from its tally.
  const hand = (name, check, text) => {
    const a = found.get(name);
    if (a !== undefined && !check(a)) fail(`sweep case ${name}: ${text}`);
  };
  hand('sweep51', (a) => a.TargetCount === 51 && a.event_count === 51 && a.first_seen === a.TimeGenerated,
       '51 destinations in 51 records, the first at the bin start');
  hand('sweep300', (a) => a.TargetCount === 300 && a.event_count === 360 && a.targets.length === 100 && a.targets_truncated,
       '300 destinations in 360 records, 100 listed, truncated');
  hand('sweep_repeats', (a) => a.event_count === 136 && a.targets.every((t, i) => t.attempts === 1 + (i % 4)),
       'the i-th smallest destination has 1 + i % 4 records (136 in all)');
  hand('sweep_two_labels', (a) => JSON.stringify(a.ReportedBy) === '["Fortinet/FortiGate","Palo Alto Networks/PAN-OS"]',
       'ReportedBy is not the two labels in byte order');
  hand('sweep_dstless', (a) => a.TargetCount === 51 && a.event_count === 61 && a.ReportedBy.length === 2,
       '51 destinations, 61 records (10 without an address, with their own label)');
  hand('sweep_mapped', (a) => a.SrcIpAddr === '203.0.113.211' && a.TargetCount === 60 && a.event_count === 66,
       'the mapped and the plain spelling make one key of 60 destinations in 66 records');
  hand('sweep_two_ports_23', (a) => a.TargetCount === 60 && a.event_count === 60, '60 destinations, 60 records');
  hand('sweep_two_ports_2323', (a) => a.TargetCount === 70 && a.event_count === 70, '70 destinations, 70 records');
  const scan = byKey.get(`203.0.113.207|${sweepCases.find((c) => c.name === 'sweep_and_scan_5900')?.TimeGenerated}`);
  if (scan === undefined || scan.AttemptedPortsCount !== 61) fail('sweep case sweep_and_scan: the scan rule must also alert, with 61 ports (60 scanned + the swept one)');
  if (sweepAlerts.length < sweepExpected) fail(`${sweepAlerts.length} sweep alerts, fewer than the ${sweepExpected} planted ones`);
}

// --- rejects ------------------------------------------------------------------------------
if (rejectsFile !== null) {
  const got = JSON.parse(fs.readFileSync(rejectsFile, 'utf8'));
  const want = manifest.malformed;
  for (const reason of new Set([...Object.keys(want), ...Object.keys(got.by_reason)])) {
    if ((want[reason] ?? 0) !== (got.by_reason[reason] ?? 0))
      fail(`rejected lines '${reason}': oracle counted ${got.by_reason[reason] ?? 0}, the generator wrote ${want[reason] ?? 0}`);
  }
  if (got.rejected !== manifest.malformed_total) fail(`rejected ${got.rejected} lines, the generator wrote ${manifest.malformed_total} malformed`);
}

if (metricsFile !== null) {
  const counted = {};
  let seen = 0;
  for (const line of fs.readFileSync(metricsFile, 'utf8').split('\n')) {
    const m = /^\s*portscand_records_rejected_total\{([^}]*)\}\s+(\d+)\s*$/.exec(line);
    if (m === null) continue;
    const reason = /(?:^|,)reason="([^"]*)"/.exec(m[1]);
    if (reason === null) continue;
    counted[reason[1]] = (counted[reason[1]] ?? 0) + Number(m[2]);
    ++seen;
  }
  const want = manifest.malformed;
  if (seen === 0 && manifest.malformed_total > 0) {
    fail(`no portscand_records_rejected_total counter in ${metricsFile}, yet ${manifest.malformed_total} malformed lines were written`);
  } else {
    for (const reason of new Set([...Object.keys(want), ...Object.keys(counted)])) {
      if ((want[reason] ?? 0) !== (counted[reason] ?? 0))
        fail(`daemon rejected '${reason}': ${counted[reason] ?? 0}, the generator wrote ${want[reason] ?? 0}`);
    }
  }
}

if (failures.length > 0) {
  process.stdout.write(`check_planted (${mode}) ${files[1]}: ${failures.length} problems\n`);
  for (const f of failures.slice(0, 30)) process.stdout.write(`  ${f}\n`);
  if (failures.length > 30) process.stdout.write(`  ... ${failures.length - 30} more\n`);
  process.exit(1);
}
const checkedCases = windowKind === 'sliding' ? (manifest.sliding_cases ?? []).length : manifest.cases.length;
process.stdout.write(`check_planted (${mode}, ${windowKind}) ${files[1]}: ${checkedCases} planted cases as promised ` +
  `(${expectedPresent} alert), ${alerts.length} alerts pass the source filter and shape checks` +
  `${sweeps ? `, ${(manifest.sweep_cases ?? []).length} planted sweep cases as promised (${sweepExpected} alert, ` +
    `${sweepAlerts.length} sweep alerts pass the shape checks)` : ''}` +
  `${rejectsFile ? `, oracle rejects match (${manifest.malformed_total})` : ''}` +
  `${metricsFile ? `, daemon reject counters match (${manifest.malformed_total})` : ''}\n`);
