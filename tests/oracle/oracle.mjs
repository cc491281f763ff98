#!/usr/bin/env node
// oracle.mjs — the expected alerts of an ASIM NetworkSession NDJSON file, computed by
// DuckDB from expected_alerts.sql (SPEC §1), printed as alert JSON lines with the field
// names of SPEC §2, in the order `portscand replay` must print them.
//
// The alert id is computed here with node's own SHA-1 (UUIDv5, RFC 4122 §4.3), not taken
// from our C++, so an id bug in the daemon shows up in the comparison.
//
// usage: node oracle.mjs [--mode default|sentinel] [--threshold N] [--rejects-out FILE]
//                        [--no-rejects] [--sql FILE --view NAME] [--timing]
//                        [--window tumbling|sliding] FILE
//   --window sliding    the sliding-window alerts (sliding_alerts.sql; README "Sliding
//                       windows"): crossings from SQL, the choice of the alerting ones
//                       (first per source, then the first more than 5 minutes after the
//                       previous alert's end) here, the evidence from SQL again
//   --rejects-out FILE  write the reject counts by reason as JSON (default: stderr summary)
//   --no-rejects        skip the reject count (one pass over the file less; the benchmark)
//   --sql/--view        run another script (a benchmark variant) instead of
//                       expected_alerts.sql, after spec_macros.sql, and print the rows of
//                       its view NAME (same columns as ps_expected_alerts); no reject count
//   --timing            print the wall time of the load and the query on stderr
//   --baseline          only start node and DuckDB and run SELECT 1 (FILE not needed): the
//                       benchmark's measure of what node + DuckDB cost before any work
//   --exclusions FILE   README "Exclusions": a JSON list of entries {sources: [CIDR...],
//                       destinations: [CIDR...], ports: [PORT or "LOW-HIGH"...], expires: ISO};
//                       records an entry matches do not count (a WHERE clause in the SQL)
//   --excluded-out FILE with --exclusions: the records each entry took, as JSON
//                       {"<name or index>": N} (what portscand_records_excluded_total says)
//   --ipv6-prefix N     README "IPv6 prefixes": IPv6 sources are grouped and named by their
//                       /N prefix ("2001:db8:1:2::/64"; a prefix expression in the SQL)
//   --suppression SECS  README "Suppression": after an alert for a source, no alert for a bin
//                       of that source starting less than SECS later (a post-filter over the
//                       ordered alerts)
//   --max-targets N     README "What an alert carries": the destination addresses an alert
//                       lists (the N smallest; default 10)
//   --incident-grouping SECS  README "Incidents": alerts of a source within SECS of its
//                       incident's first alert share the incident id (default 86400; 0: one
//                       incident per alert)
//   --early-alerts      README "Early alerts": before each alert, its early alert (the
//                       evidence up to the crossing record, from early_alerts.sql; the
//                       final alert's incident id)
//   --sweep-threshold N the built-in port-sweep rule too (sweep_alerts.sql): more than N
//                       distinct destination addresses for one (source, port) in a bin; its
//                       alerts are merged into the stream in replay's order (bin, source, the
//                       scan alert, then the sweep alerts by port). Absent: no sweep alerts

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';

const here = path.dirname(fileURLToPath(import.meta.url));

// From the project's contract (SPEC §1, lib/event/alert.hpp): fixed forever.
const RULE_ID = '1da9853f-3dea-4ea9-b7e5-26730da3d537';
const ALERT_ID_NAMESPACE = '3f6c1a2e-9b47-5d8e-a1c3-7e2b94d05f61';
// README "Sliding windows": the interval is the 5 minutes up to the crossing record.
const SLIDING_WIDTH_US = 300_000_000;

// The built-in port-sweep rule (its contract, not lib/): metadata, texts, and how many
// destination addresses an alert lists.
const SWEEP_RULE = {
  id: '842a5b8e-315e-42ef-bb51-ef4a30b32fce',
  name: 'Port sweep detected (portscand)',
  version: '1.0.0',
  severity: 'Medium',
  tactics: ['Discovery'],
  techniques: ['T1046'],
};
const SWEEP_TITLE = 'Potential port sweep of port {{DstPortNumber}} from {{SrcIpAddr}}';
const SWEEP_DESCRIPTION = 'Source {{SrcIpAddr}} tried destination port {{DstPortNumber}} on ' +
  '{{TargetCount}} distinct destination addresses within one 5-minute window, a pattern ' +
  'typical of a horizontal scan for one service.';
const SWEEP_MAX_TARGETS = 100;

function fail(message) {
  process.stderr.write(`oracle: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { mode: 'default', threshold: 50, rejectsOut: null, rejects: true,
                 sql: null, view: 'ps_expected_alerts', timing: false, baseline: false, input: null,
                 window: 'tumbling', exclusions: null, suppression: 0, maxTargets: 10,
                 incidentGrouping: 86400, sweepThreshold: null };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--mode') opts.mode = value();
    else if (a === '--threshold') opts.threshold = Number(value());
    else if (a === '--rejects-out') opts.rejectsOut = value();
    else if (a === '--no-rejects') opts.rejects = false;
    else if (a === '--sql') { opts.sql = value(); opts.rejects = false; }
    else if (a === '--view') opts.view = value();
    else if (a === '--timing') opts.timing = true;
    else if (a === '--window') opts.window = value();
    else if (a === '--baseline') opts.baseline = true;
    else if (a === '--exclusions') opts.exclusions = JSON.parse(fs.readFileSync(value(), 'utf8'));
    else if (a === '--excluded-out') opts.excludedOut = value();
    else if (a === '--ipv6-prefix') opts.ipv6Prefix = Number(value());
    else if (a === '--suppression') opts.suppression = Number(value());
    else if (a === '--max-targets') opts.maxTargets = Number(value());
    else if (a === '--incident-grouping') opts.incidentGrouping = Number(value());
    else if (a === '--early-alerts') opts.early = true;
    else if (a === '--sweep-threshold') opts.sweepThreshold = Number(value());
    else if (a.startsWith('--')) fail(`unknown option ${a}`);
    else if (opts.input === null) opts.input = a;
    else fail('exactly one input file');
  }
  if (opts.baseline) return opts;
  if (opts.input === null) fail('usage: node oracle.mjs [--mode default|sentinel] FILE');
  if (!['default', 'sentinel'].includes(opts.mode)) fail(`--mode must be default or sentinel, not ${opts.mode}`);
  if (!Number.isInteger(opts.threshold) || opts.threshold < 0) fail('--threshold wants a non-negative integer');
  if (!['tumbling', 'sliding'].includes(opts.window)) fail(`--window must be tumbling or sliding, not ${opts.window}`);
  if (opts.window === 'sliding' && opts.sql !== null) fail('--window sliding and --sql do not combine');
  if (opts.early && (opts.window !== 'tumbling' || opts.sql !== null || opts.suppression > 0))
    fail('--early-alerts is for the tumbling rule without --sql or --suppression');
  if (opts.sweepThreshold !== null) {
    if (!Number.isInteger(opts.sweepThreshold) || opts.sweepThreshold < 0)
      fail('--sweep-threshold wants a non-negative integer');
    if (opts.window !== 'tumbling' || opts.sql !== null || opts.early)
      fail('--sweep-threshold is for the tumbling rules without --sql or --early-alerts');
  }
  if (!/^[a-z_][a-z0-9_]*$/.test(opts.view)) fail(`--view ${opts.view} is not a plain name`);
  if (!fs.existsSync(opts.input)) fail(`no such file: ${opts.input}`);
  return opts;
}

// RFC 4122 §4.3: SHA-1 over namespace bytes + name, version 5, variant 10.
export function uuidV5(namespace, name) {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (ns.length !== 16) throw new Error(`bad namespace uuid ${namespace}`);
  const digest = createHash('sha1').update(ns).update(Buffer.from(name, 'utf8')).digest();
  const b = digest.subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// The published example of RFC 4122 / Python's uuid module: a wrong UUIDv5 here would make
// every id comparison meaningless, so check it on every run.
if (uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com') !== '2ed6657d-e927-568b-95e1-2665a8aea6a2') {
  fail('UUIDv5 self-check failed');
}

// An address block as the '0'/'1' prefix of the 128-bit form (IPv4 as ::ffff:a.b.c.d),
// parsed here from the text, not by our C++.
export function blockBits(cidr) {
  const [addr, lenText] = cidr.split('/');
  let bits;
  let len;
  if (!addr.includes(':')) {
    const o = addr.split('.').map(Number);
    if (o.length !== 4 || o.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`bad block ${cidr}`);
    bits = '0'.repeat(80) + '1'.repeat(16) + o.map((x) => x.toString(2).padStart(8, '0')).join('');
    len = 96 + (lenText === undefined ? 32 : Number(lenText));
  } else {
    const [l, r] = addr.includes('::') ? addr.split('::') : [addr, null];
    const left = l ? l.split(':') : [];
    const right = r ? r.split(':') : [];
    const groups = r === null ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
    if (groups.length !== 8) throw new Error(`bad block ${cidr}`);
    bits = groups.map((g) => parseInt(g, 16).toString(2).padStart(16, '0')).join('');
    len = lenText === undefined ? 128 : Number(lenText);
  }
  return bits.slice(0, len);
}

const sqlString = (s) => `'${String(s).replace(/'/g, "''")}'`;

async function runScript(con, sql) {
  const statements = await con.extractStatements(sql);
  for (let i = 0; i < statements.count; ++i) {
    const prepared = await statements.prepare(i);
    await prepared.run();
  }
}

// The alert fields of a result row of ps_expected_alerts (an alert's, or an early alert's).
function evidence(r) {
  const alert = {
    SrcIpAddr: r.SrcIpAddr,
    TimeGenerated: r.TimeGenerated,
    AttemptedPortsCount: Number(r.AttemptedPortsCount),
    AttemptedPorts: r.AttemptedPorts.map(Number),
    ReportedBy: r.ReportedBy,
    window: { start: r.window_start, end: r.window_end },
    first_seen: r.first_seen,
    last_seen: r.last_seen,
    event_count: Number(r.event_count),
  };
  if (r.targets !== undefined) {
    const PROTOCOLS = ['TCP', 'UDP', 'ICMP', 'IPv6-ICMP', 'SCTP'];
    alert.targets = r.targets.map((t) => ({ address: t.address, attempts: Number(t.attempts) }));
    alert.targets_truncated = r.targets_truncated;
    alert.protocols = r.protocol_bits.map((b) => PROTOCOLS[Number(b) - 1]);
    const [allowed, denied, dropped] = [r.allowed, r.denied, r.dropped].map(Number);
    alert.outcomes = { allowed, denied, dropped,
                       unknown: alert.event_count - allowed - denied - dropped };
  }
  return alert;
}

// A sweep alert (sweep_alerts.sql row) in the native schema's field order; detected_at, the
// time of detection, is not the oracle's to know and is left out.
function sweepAlert(alertId, incidentId, r) {
  const port = Number(r.DstPortNumber);
  const count = Number(r.TargetCount);
  const e = evidence({ ...r, AttemptedPortsCount: 1, AttemptedPorts: [port] });
  const fill = (text) => text.replaceAll('{{SrcIpAddr}}', e.SrcIpAddr)
    .replaceAll('{{DstPortNumber}}', String(port)).replaceAll('{{TargetCount}}', String(count));
  return {
    alert_id: alertId, incident_id: incidentId, schema: 'portscand.alert.v1',
    SrcIpAddr: e.SrcIpAddr, TimeGenerated: e.TimeGenerated, DstPortNumber: port, TargetCount: count,
    AttemptedPortsCount: 1, AttemptedPorts: [port], ReportedBy: e.ReportedBy, window: e.window,
    first_seen: e.first_seen, last_seen: e.last_seen, event_count: e.event_count,
    rule: { ...SWEEP_RULE }, title: fill(SWEEP_TITLE), description: fill(SWEEP_DESCRIPTION),
    entities: [{ type: 'ip', address: e.SrcIpAddr }],
    custom_details: { DstPortNumber: port, TargetCount: count },
    targets: e.targets, targets_truncated: e.targets_truncated, protocols: e.protocols,
    outcomes: e.outcomes,
  };
}

// Replay's output order with both rules: bin start, the source's text in byte order, the
// scan alert, then the sweep alerts by ascending port.
function streamOrder(a, b) {
  return (Date.parse(a.r.TimeGenerated) - Date.parse(b.r.TimeGenerated)) ||
    Buffer.compare(Buffer.from(a.r.SrcIpAddr, 'utf8'), Buffer.from(b.r.SrcIpAddr, 'utf8')) ||
    ((a.rule === SWEEP_RULE.id) - (b.rule === SWEEP_RULE.id)) ||
    (Number(a.r.DstPortNumber ?? -1) - Number(b.r.DstPortNumber ?? -1));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  if (opts.baseline) {
    const r = (await con.runAndReadAll("SELECT version() AS v, current_setting('threads') AS t")).getRowObjectsJS()[0];
    process.stdout.write(`DuckDB ${r.v}, ${r.t} threads\n`);
    return;
  }
  await runScript(con, [
    `SET VARIABLE input = ${sqlString(path.resolve(opts.input))};`,
    `SET VARIABLE mode = ${sqlString(opts.mode)};`,
    `SET VARIABLE threshold = ${opts.threshold};`,
    `SET VARIABLE max_targets = ${opts.maxTargets};`,
    `SET VARIABLE sweep_threshold = ${opts.sweepThreshold ?? 0};`,
    `SET VARIABLE sweep_max_targets = ${SWEEP_MAX_TARGETS};`,
    `SET VARIABLE ipv6_prefix = ${Number.isInteger(opts.ipv6Prefix) ? opts.ipv6Prefix : 128};`,
  ].join('\n'));
  await runScript(con, fs.readFileSync(path.join(here, 'spec_macros.sql'), 'utf8'));
  if (opts.exclusions !== null) {
    const list = (xs) => `[${xs.map(sqlString).join(', ')}]::VARCHAR[]`;
    const rows = opts.exclusions.map((e, idx) => {
      const ports = (e.ports ?? []).map((p) => {
        const [lo, hi] = String(p).split('-').map(Number);
        return `[${lo}, ${hi ?? lo}]`;
      });
      const expires = e.expires ? `epoch_us(${sqlString(e.expires)}::TIMESTAMPTZ)` : 'NULL';
      return `(${idx}, ${list((e.sources ?? []).map(blockBits))}, ${list((e.destinations ?? []).map(blockBits))}, ` +
             `[${ports.join(', ')}]::INTEGER[][], ${expires})`;
    });
    await runScript(con, 'CREATE TEMP TABLE ps_exclusions (idx INTEGER, src VARCHAR[], dst VARCHAR[], ports INTEGER[][], expires_us BIGINT);' +
      (rows.length ? `INSERT INTO ps_exclusions VALUES ${rows.join(', ')};` : ''));
  }
  const started = process.hrtime.bigint();
  await runScript(con, fs.readFileSync(opts.sql ?? path.join(here, 'expected_alerts.sql'), 'utf8'));
  let view = opts.view;
  if (opts.window === 'sliding') {
    await runScript(con, fs.readFileSync(path.join(here, 'sliding_alerts.sql'), 'utf8'));
    const crossings = (await con.runAndReadAll(
      'SELECT src, c FROM ps_sliding_crossings ORDER BY encode(src), c')).getRowObjectsJS();
    const chosen = [];
    let src = null, last = null;
    for (const r of crossings) {
      const c = Number(r.c);
      if (r.src !== src) { src = r.src; last = null; }
      if (last === null || c > last + SLIDING_WIDTH_US) {
        chosen.push(`(${sqlString(r.src)}, ${c})`);
        last = c;
      }
    }
    for (let i = 0; i < chosen.length; i += 1000)
      await runScript(con, `INSERT INTO ps_sliding_chosen VALUES ${chosen.slice(i, i + 1000).join(', ')};`);
    view = 'ps_sliding_alerts';
  }
  const reader = await con.runAndReadAll(`SELECT * FROM ${view}`);
  const rows = reader.getRowObjectsJS();
  // Each alert with its rule, in output order (the scan rule's rows already are).
  const stream = rows.map((r) => ({ rule: RULE_ID, r }));
  let sweepCount = 0;
  if (opts.sweepThreshold !== null) {
    await runScript(con, fs.readFileSync(path.join(here, 'sweep_alerts.sql'), 'utf8'));
    const sweeps = (await con.runAndReadAll('SELECT * FROM ps_sweep_alerts')).getRowObjectsJS();
    sweepCount = sweeps.length;
    stream.push(...sweeps.map((r) => ({ rule: SWEEP_RULE.id, r })));
    stream.sort(streamOrder);
  }
  const early = new Map();  // "src|TimeGenerated" -> the key's early alert row
  if (opts.early) {
    await runScript(con, fs.readFileSync(path.join(here, 'early_alerts.sql'), 'utf8'));
    for (const r of (await con.runAndReadAll(`SELECT * FROM ${view}`)).getRowObjectsJS())
      early.set(`${r.SrcIpAddr}|${r.TimeGenerated}`, r);
  }
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;

  const out = [];
  // Suppression and incidents are per (rule, source): one rule's alerts never suppress or
  // group another's, and a source's sweep alerts of all ports share them.
  const lastKept = new Map();  // suppression: rule|source -> bin start (ms) of its last alert
  const incidents = new Map();  // rule|source -> start (ms) of its current incident
  for (const { rule, r } of stream) {
    const owner = `${rule}|${r.SrcIpAddr}`;
    if (opts.suppression > 0) {
      const bin = Date.parse(r.TimeGenerated);
      const last = lastKept.get(owner);
      if (last !== undefined && bin - last < opts.suppression * 1000) continue;
      lastKept.set(owner, bin);
    }
    // The incident: it starts with a source's first alert; an alert whose bin starts
    // incident-grouping or more after that start opens the next one.
    const start = Date.parse(r.TimeGenerated);
    let incident = incidents.get(owner);
    if (incident === undefined || opts.incidentGrouping === 0 ||
        start - incident.ms >= opts.incidentGrouping * 1000) {
      incident = { ms: start, text: r.TimeGenerated };
      incidents.set(owner, incident);
    }
    const incidentId = uuidV5(ALERT_ID_NAMESPACE, `${rule}|${r.SrcIpAddr}|${incident.text}|incident`);
    if (rule === SWEEP_RULE.id) {
      const alertId = uuidV5(ALERT_ID_NAMESPACE,
                             `${rule}|${r.SrcIpAddr}|${r.TimeGenerated}|${Number(r.DstPortNumber)}`);
      out.push(JSON.stringify(sweepAlert(alertId, incidentId, r)));
      continue;
    }
    const alertId = uuidV5(ALERT_ID_NAMESPACE, `${RULE_ID}|${r.SrcIpAddr}|${r.TimeGenerated}${
      opts.window === 'sliding' ? '|sliding' : ''}`);
    if (opts.early) {
      const e = early.get(`${r.SrcIpAddr}|${r.TimeGenerated}`);
      if (e === undefined) fail(`no early alert for ${r.SrcIpAddr} ${r.TimeGenerated}`);
      out.push(JSON.stringify({
        alert_id: uuidV5(ALERT_ID_NAMESPACE, `${RULE_ID}|${r.SrcIpAddr}|${r.TimeGenerated}|early`),
        early: true, final_alert_id: alertId, incident_id: incidentId, ...evidence(e) }));
    }
    out.push(JSON.stringify({ alert_id: alertId, incident_id: incidentId, ...evidence(r) }));
  }
  if (opts.early && early.size * 2 !== out.length)
    fail(`${early.size} keys crossed the threshold, ${out.length / 2} alerted`);
  process.stdout.write(out.length ? out.join('\n') + '\n' : '');
  if (opts.timing) process.stderr.write(`oracle: ${view}: ${rows.length} alerts${
    opts.sweepThreshold !== null ? ` and ${sweepCount} sweep alerts` : ''} in ${elapsed.toFixed(3)} s\n`);

  if (opts.excludedOut) {
    const rows = (await con.runAndReadAll('SELECT idx, records FROM ps_excluded_counts')).getRowObjectsJS();
    const counts = {};
    for (const r of rows) counts[opts.exclusions[r.idx].name ?? String(r.idx)] = Number(r.records);
    fs.writeFileSync(opts.excludedOut, JSON.stringify(counts) + '\n');
  }

  if (opts.rejects) {
    const rej = (await con.runAndReadAll('SELECT reason, lines FROM ps_rejects')).getRowObjectsJS();
    const counts = Object.fromEntries(rej.map((r) => [r.reason, Number(r.lines)]));
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const summary = { rejected: total, by_reason: counts };
    if (opts.rejectsOut !== null) fs.writeFileSync(opts.rejectsOut, JSON.stringify(summary) + '\n');
    else process.stderr.write(`oracle: ${rows.length} alerts; rejected ${JSON.stringify(summary)}\n`);
  }
  con.closeSync();
  instance.closeSync();
}

await main();
