#!/usr/bin/env node
// record_counts.mjs — what the daemon's record counters must say about an ASIM NDJSON
// file, computed by the DuckDB oracle (tests/oracle: spec_macros.sql + expected_alerts.sql,
// written from SPEC §1, not from lib/): lines, rejected lines, accepted records, candidates,
// and the records the source filter drops, by the reason names of
// portscand_records_filtered_total (private, loopback, private_v6, ipv6_sentinel).
//
// usage: node record_counts.mjs [--mode default|sentinel] FILE
// prints one JSON object: {"lines":N,"rejected":N,"accepted":N,"candidates":N,
//                          "filtered":{"private":N,"loopback":N,"private_v6":N,"ipv6_sentinel":N}}
//
// The reason of a dropped source follows SPEC §1: in sentinel mode every IPv6 source is
// ipv6_sentinel; otherwise 127.0.0.1 and ::1 are loopback, the other dropped IPv6 sources
// are fc00::/7 / fe80::/10 (private_v6), and the rest is RFC 1918 IPv4 (an IPv4-mapped address counts as its
// IPv4 address, which the oracle's canonical text already is).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';

const oracle = path.dirname(fileURLToPath(import.meta.url));

let mode = 'default';
let input = null;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; ++i) {
  if (argv[i] === '--mode' && i + 1 < argv.length) mode = argv[++i];
  else if (input === null && !argv[i].startsWith('--')) input = argv[i];
  else {
    process.stderr.write('usage: node record_counts.mjs [--mode default|sentinel] FILE\n');
    process.exit(2);
  }
}
if (input === null || !fs.existsSync(input) || !['default', 'sentinel'].includes(mode)) {
  process.stderr.write('usage: node record_counts.mjs [--mode default|sentinel] FILE\n');
  process.exit(2);
}

const sqlString = (s) => `'${String(s).replace(/'/g, "''")}'`;
async function runScript(con, sql) {
  const statements = await con.extractStatements(sql);
  for (let i = 0; i < statements.count; ++i) await (await statements.prepare(i)).run();
}

const instance = await DuckDBInstance.create(':memory:');
const con = await instance.connect();
await runScript(con, [
  `SET VARIABLE input = ${sqlString(path.resolve(input))};`,
  `SET VARIABLE mode = ${sqlString(mode)};`,
  'SET VARIABLE threshold = 50;',
].join('\n'));
await runScript(con, fs.readFileSync(path.join(oracle, 'spec_macros.sql'), 'utf8'));
await runScript(con, fs.readFileSync(path.join(oracle, 'expected_alerts.sql'), 'utf8'));
// Several source texts can share one canonical address (::ffff:1.2.3.4 and 1.2.3.4): look
// the IPv6 flag up per canonical address, so the join does not multiply records.
const rows = (await con.runAndReadAll(`
  WITH v6 AS (SELECT DISTINCT src, is_v6 FROM ps_sources WHERE src IS NOT NULL)
  SELECT CASE
           WHEN r.reject IS NOT NULL THEN 'rejected'
           WHEN r.candidate THEN 'candidate'
           WHEN v6.is_v6 AND getvariable('mode') = 'sentinel' THEN 'ipv6_sentinel'
           WHEN r.src IN ('127.0.0.1', '::1') THEN 'loopback'
           WHEN v6.is_v6 THEN 'private_v6'
           ELSE 'private'
         END AS class,
         count(*) AS n
  FROM ps_records r LEFT JOIN v6 USING (src)
  GROUP BY class`)).getRowObjectsJS();
const by = Object.fromEntries(rows.map((r) => [r.class, Number(r.n)]));
const total = Object.values(by).reduce((a, b) => a + b, 0);
const out = {
  lines: total,
  rejected: by.rejected ?? 0,
  accepted: total - (by.rejected ?? 0),
  candidates: by.candidate ?? 0,
  filtered: {
    private: by.private ?? 0,
    loopback: by.loopback ?? 0,
    private_v6: by.private_v6 ?? 0,
    ipv6_sentinel: by.ipv6_sentinel ?? 0,
  },
};
process.stdout.write(JSON.stringify(out) + '\n');
con.closeSync();
instance.closeSync();
