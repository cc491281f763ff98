#!/usr/bin/env node
// dedupe_alerts.mjs IN OUT — reads alert JSON lines as consumed from an output topic (any
// order, duplicates allowed: delivery is at-least-once), checks that every copy of an
// alert id has the same content (detected_at aside), and writes one line per id, ordered by
// TimeGenerated then SrcIpAddr (byte order), as `portscand replay` orders them. Prints
// "alerts=N duplicates=D" on stdout. Exit 1 when two copies of one id differ.
import fs from 'node:fs';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: dedupe_alerts.mjs IN OUT');
  process.exit(2);
}
const byId = new Map();
let duplicates = 0;
let conflicts = 0;
for (const line of fs.readFileSync(input, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const alert = JSON.parse(line);
  const { detected_at, ...content } = alert;
  const key = JSON.stringify(content);
  const seen = byId.get(alert.alert_id);
  if (seen === undefined) {
    byId.set(alert.alert_id, { key, alert });
  } else {
    duplicates++;
    if (seen.key !== key) {
      conflicts++;
      console.error(`alert ${alert.alert_id} was published with different content:\n  ${seen.key}\n  ${key}`);
    }
  }
}
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
// ISO times with and without a fraction (sliding intervals start at record times) do not
// sort as text ("10:04:17.865Z" < "10:04:17Z"): by whole seconds, then the fraction.
const instant = (t) => {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(t);
  return m ? [Date.parse(`${m[1]}Z`), (m[2] ?? '').padEnd(9, '0')] : [NaN, t];
};
const byTime = (a, b) => {
  const [x, y] = [instant(a), instant(b)];
  return cmp(x[0], y[0]) || cmp(x[1], y[1]);
};
const sorted = [...byId.values()].map((v) => v.alert).sort((a, b) =>
  byTime(a.TimeGenerated, b.TimeGenerated) || cmp(Buffer.from(a.SrcIpAddr), Buffer.from(b.SrcIpAddr)));
fs.writeFileSync(output, sorted.map((a) => JSON.stringify(a)).join('\n') + (sorted.length ? '\n' : ''));
console.log(`alerts=${sorted.length} duplicates=${duplicates}`);
process.exit(conflicts ? 1 : 0);
