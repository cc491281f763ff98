#!/usr/bin/env node
// compare.mjs — compares two files of alert JSON lines (SPEC §2 native schema), e.g. the
// oracle's expected alerts with `portscand replay`'s output, field by field and line by
// line. Exit 0 only when both hold the same alerts, with the same values, in the same
// order, and there is at least one alert (an empty comparison proves nothing).
//
// usage: node compare.mjs [--names EXPECTED_NAME,ACTUAL_NAME] [--max N] [--ignore FIELD]...
//                         EXPECTED ACTUAL
//
// Compared, for each alert: alert_id, SrcIpAddr, TimeGenerated, window.start, window.end,
// AttemptedPortsCount, AttemptedPorts, ReportedBy, first_seen, last_seen, event_count;
// incident_id when the expected alert has one; and when the expected alert carries the
// case evidence (`outcomes`): the targets' addresses and attempts, targets_truncated,
// protocols and outcomes; early and final_alert_id when the expected alert is an early
// one. A port-sweep alert (one that carries DstPortNumber) is also compared on
// DstPortNumber, TargetCount, and on what the expected alert says of the rule: schema,
// rule (id, name, version, severity, tactics, techniques), title, description, entities
// and custom_details. Other fields (detected_at, and the scan alerts' rule metadata and
// texts) are not the oracle's business and are ignored. An alert is identified by
// (SrcIpAddr, TimeGenerated, early), plus the rule id and the port when it carries a
// DstPortNumber, so a sweep alert and a scan alert of one source and bin never collide.
// --ignore FIELD leaves one of the compared fields out (scale-out: a record forwarded twice
// after a crash may raise event_count, which its guarantee allows). Ignoring event_count
// also ignores the other record counts: targets.attempts and outcomes.

import fs from 'node:fs';

const ALL_FIELDS = [
  ['alert_id', (a) => a.alert_id],
  ['SrcIpAddr', (a) => a.SrcIpAddr],
  ['TimeGenerated', (a) => a.TimeGenerated],
  ['window.start', (a) => a.window?.start],
  ['window.end', (a) => a.window?.end],
  ['AttemptedPortsCount', (a) => a.AttemptedPortsCount],
  ['AttemptedPorts', (a) => a.AttemptedPorts],
  ['ReportedBy', (a) => a.ReportedBy],
  ['first_seen', (a) => a.first_seen],
  ['last_seen', (a) => a.last_seen],
  ['event_count', (a) => a.event_count],
  ['incident_id', (a) => a.incident_id, (e) => 'incident_id' in e],
  ['targets.address', (a) => a.targets?.map((t) => t.address), (e) => 'outcomes' in e],
  ['targets.attempts', (a) => a.targets?.map((t) => t.attempts), (e) => 'outcomes' in e],
  ['targets_truncated', (a) => a.targets_truncated, (e) => 'outcomes' in e],
  ['protocols', (a) => a.protocols, (e) => 'outcomes' in e],
  ['outcomes', (a) => a.outcomes, (e) => 'outcomes' in e],
  ['early', (a) => a.early, (e) => e.early === true],
  ['final_alert_id', (a) => a.final_alert_id, (e) => e.early === true],
  ['DstPortNumber', (a) => a.DstPortNumber, (e) => 'DstPortNumber' in e],
  ['TargetCount', (a) => a.TargetCount, (e) => 'TargetCount' in e],
  ['schema', (a) => a.schema, (e) => 'schema' in e],
  ...['id', 'name', 'version', 'severity', 'tactics', 'techniques'].map(
    (k) => [`rule.${k}`, (a) => a.rule?.[k], (e) => e.rule !== undefined && k in e.rule]),
  ['title', (a) => a.title, (e) => 'title' in e],
  ['description', (a) => a.description, (e) => 'description' in e],
  ['entities', (a) => a.entities, (e) => 'entities' in e],
  ['custom_details', (a) => a.custom_details, (e) => 'custom_details' in e],
];
// Never ignored: they identify the alert.
const IDENTITY = ['alert_id', 'SrcIpAddr', 'TimeGenerated', 'DstPortNumber', 'rule.id'];

function usage(message) {
  if (message) process.stderr.write(`compare: ${message}\n`);
  process.stderr.write('usage: node compare.mjs [--names A,B] [--max N] [--ignore FIELD]... EXPECTED ACTUAL\n');
  process.exit(2);
}

const args = process.argv.slice(2);
let names = ['expected', 'actual'];
let max = 10;
const ignored = new Set();
const files = [];
for (let i = 0; i < args.length; ++i) {
  if (args[i] === '--names' && i + 1 < args.length) names = args[++i].split(',');
  else if (args[i] === '--max' && i + 1 < args.length) max = Number(args[++i]);
  else if (args[i] === '--ignore' && i + 1 < args.length) ignored.add(args[++i]);
  else if (args[i].startsWith('--')) usage(`unknown option ${args[i]}`);
  else files.push(args[i]);
}
if (files.length !== 2 || names.length !== 2) usage();
for (const f of ignored)
  if (!ALL_FIELDS.some(([name]) => name === f) || IDENTITY.includes(f))
    usage(`cannot ignore ${f}`);
if (ignored.has('event_count')) ignored.add('targets.attempts').add('outcomes');
const FIELDS = ALL_FIELDS.filter(([name]) => !ignored.has(name));

const problems = [];
const report = (kind, text) => problems.push({ kind, text });

// Each line must be one JSON object; a line that is not counts as a difference.
function load(file, name) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    usage(`cannot read ${name} (${file}): ${e.message}`);
  }
  const alerts = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const a = JSON.parse(line);
      if (a === null || typeof a !== 'object' || Array.isArray(a)) throw new Error('not an object');
      const rule = a.DstPortNumber !== undefined ? ` rule ${a.rule?.id} port ${a.DstPortNumber}` : '';
      alerts.push({ line: i + 1, alert: a, key: `${a.SrcIpAddr} @ ${a.TimeGenerated}${rule}${a.early === true ? ' (early)' : ''}` });
    } catch (e) {
      report('unparseable', `${name}:${i + 1}: ${e.message}: ${line.slice(0, 120)}`);
    }
  });
  return alerts;
}

const expected = load(files[0], names[0]);
const actual = load(files[1], names[1]);

function index(list, name) {
  const m = new Map();
  for (const e of list) {
    if (m.has(e.key)) report('duplicate', `${name}:${e.line}: a second alert for ${e.key} (first at line ${m.get(e.key).line})`);
    else m.set(e.key, e);
  }
  return m;
}
const byKeyE = index(expected, names[0]);
const byKeyA = index(actual, names[1]);

const show = (v) => (v === undefined ? '(missing)' : JSON.stringify(v));

// A short description of how two values differ; for lists, the first differing position
// and the elements around it (a 100-port list in full would hide the point).
function describe(e, a) {
  if (Array.isArray(e) && Array.isArray(a)) {
    let i = 0;
    while (i < e.length && i < a.length && JSON.stringify(e[i]) === JSON.stringify(a[i])) ++i;
    const around = (l) => (l.length <= 24 ? show(l) : `[${i > 3 ? '..., ' : ''}${l.slice(Math.max(0, i - 3), i + 5).map(show).join(', ')}${i + 5 < l.length ? ', ...' : ''}]`);
    return `lengths ${e.length}/${a.length}, first difference at [${i}]: ` +
      `${show(e[i])} vs ${show(a[i])}\n      ${names[0]}: ${around(e)}\n      ${names[1]}: ${around(a)}`;
  }
  return `${show(e)} vs ${show(a)}`;
}

for (const e of expected) {
  const a = byKeyA.get(e.key);
  if (a === undefined) {
    report('missing', `${e.key} (${names[0]}:${e.line}) is not in ${names[1]}: ${JSON.stringify(e.alert).slice(0, 200)}`);
    continue;
  }
  for (const [field, get, applies] of FIELDS) {
    if (applies !== undefined && !applies(e.alert)) continue;
    const ev = get(e.alert);
    const av = get(a.alert);
    if (ev === undefined) report('field', `${e.key}: ${names[0]}:${e.line} has no ${field}`);
    else if (JSON.stringify(ev) !== JSON.stringify(av))
      report('field', `${e.key}: ${field}: ${describe(ev, av)}  (${names[0]}:${e.line}, ${names[1]}:${a.line})`);
  }
}
for (const a of actual) {
  if (!byKeyE.has(a.key))
    report('unexpected', `${a.key} (${names[1]}:${a.line}) is not in ${names[0]}: ${JSON.stringify(a.alert).slice(0, 200)}`);
}

// Order: the common alerts must come in the same sequence (SPEC: by TimeGenerated, then
// the address text; with sweeps, the scan alert, then the sweep alerts by port), and so
// must the whole files once nothing is missing.
const commonE = expected.filter((e) => byKeyA.has(e.key)).map((e) => e.key);
const commonA = actual.filter((a) => byKeyE.has(a.key)).map((a) => a.key);
for (let i = 0; i < Math.min(commonE.length, commonA.length); ++i) {
  if (commonE[i] !== commonA[i]) {
    report('order', `position ${i + 1} of the common alerts: ${names[0]} has ${commonE[i]}, ${names[1]} has ${commonA[i]}`);
    break;
  }
}

if (expected.length === 0) report('empty', `${names[0]} holds no alert: a comparison of nothing proves nothing`);

const counts = {};
for (const p of problems) counts[p.kind] = (counts[p.kind] ?? 0) + 1;
if (problems.length === 0) {
  process.stdout.write(`compare: ${names[0]} and ${names[1]} agree on all ${expected.length} alerts (every field, same order)\n`);
  process.exit(0);
}
process.stdout.write(`compare: ${names[0]} (${expected.length} alerts) and ${names[1]} (${actual.length} alerts) differ: ` +
  `${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ')}\n`);
const shown = {};
for (const p of problems) {
  shown[p.kind] = (shown[p.kind] ?? 0) + 1;
  if (shown[p.kind] <= max) process.stdout.write(`  [${p.kind}] ${p.text}\n`);
  else if (shown[p.kind] === max + 1) process.stdout.write(`  [${p.kind}] ... ${counts[p.kind] - max} more\n`);
}
process.exit(1);
