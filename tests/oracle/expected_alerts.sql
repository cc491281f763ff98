-- expected_alerts.sql — the expected alerts of an ASIM NetworkSession NDJSON file, by the
-- contract of SPEC §1: the oracle that `portscand replay` is compared with.
--
-- Written from the specification alone (not from our C++), with DuckDB doing the JSON
-- parsing, the grouping and the distinct counts, so that a bug in our engine shows up as a
-- difference instead of being repeated. The record-level rules are in spec_macros.sql,
-- which must be loaded first (oracle.mjs does).
--
-- Parameters (DuckDB variables, set before this script runs):
--   input      path of the NDJSON file (one JSON object per line)
--   mode       'default' or 'sentinel'
--   threshold  an alert needs more than this many distinct ports (SPEC: 50)
--   max_targets  how many destination addresses an alert lists (README "What an alert
--              carries": the smallest ones, by the 128-bit form)
--
-- The configuration options (README "Exclusions"), from oracle.mjs:
--   ps_exclusions      one row per exclusion entry: idx (its position), src/dst (lists of block prefixes as
--                      '0'/'1' strings over the 128-bit form), ports (list of [low, high]),
--                      expires_us (NULL: never); an empty list does not constrain. Records an
--                      entry matches are not candidates (a WHERE clause).
--
-- Results:
--   ps_records          every line: its reject reason, or its normalized fields
--   ps_rejects          the rejected lines by reason
--   ps_excluded_counts  records taken by each exclusion entry (idx, records)
--   ps_expected_alerts  one row per alert, in the order replay prints them
--
-- What the oracle assumes of its input (tests/tools/gen_workload keeps to it):
--   - every record carries its own TimeGenerated, ISO 8601 (the daemon would use the
--     receive time for a record without one; such lines are counted as 'missing_time');
--   - the file is in time order up to a few minutes and entirely in the past, so that the
--     daemon's event-time rules (lateness, retention, future skew) drop nothing and a plain
--     GROUP BY is the truth.

-- No exclusions unless oracle.mjs made the table.
CREATE TEMP TABLE IF NOT EXISTS ps_exclusions (idx INTEGER, src VARCHAR[], dst VARCHAR[],
                                               ports INTEGER[][], expires_us BIGINT);

-- One row per line. read_json_objects with ignore_errors keeps a row for every line and
-- gives a line that is not JSON a NULL document: every rejected line is counted below.
CREATE OR REPLACE TEMP TABLE ps_lines AS
WITH docs AS (
  SELECT json AS doc,
         -- The line's place in the file: early alerts (early_alerts.sql) need the order.
         row_number() OVER () AS line_no,
         json_extract_string(json, ['$.TimeGenerated', '$.SrcIpAddr', '$.DstPortNumber',
                                    '$.EventVendor', '$.EventProduct', '$.DstIpAddr',
                                    '$.NetworkProtocol', '$.DvcAction']) AS v
  FROM read_json_objects(getvariable('input'), format = 'newline_delimited',
                         ignore_errors = true)
)
SELECT line_no,
       doc IS NULL AS not_json,
       json_type(doc) IS DISTINCT FROM 'OBJECT' AS not_object,
       v[1] AS time_text,
       v[2] AS src_text,
       ps_port(v[3]) AS port,
       ps_time_us(v[1]) AS us,
       ps_label(v[4], v[5]) AS label,
       CASE WHEN ps_is_v4(v[6]) THEN ps_v4_bits(ps_v4_octets(v[6])) END AS dst_bits,
       CASE WHEN ps_is_v4(v[6]) THEN array_to_string(ps_v4_octets(v[6]), '.') END AS dst,
       -- The protocol's bit in the alert's list (README "What an alert carries"): ASIM
       -- NetworkProtocol by name or IANA number. Only the names below are known here.
       CASE upper(v[7])
         WHEN 'TCP' THEN 1 WHEN '6' THEN 1
         WHEN 'UDP' THEN 2 WHEN '17' THEN 2
         WHEN 'ICMP' THEN 3 WHEN '1' THEN 3
         WHEN 'IPV6-ICMP' THEN 4 WHEN 'ICMPV6' THEN 4 WHEN '58' THEN 4
         WHEN 'SCTP' THEN 5 WHEN '132' THEN 5
       END AS protocol_bit,
       -- ASIM DvcAction: what got through, what was refused, what was silently dropped.
       CASE
         WHEN v[8] IN ('Allow', 'Encrypt', 'Decrypt') THEN 'allowed'
         WHEN v[8] IN ('Deny', 'Reset', 'Reset Source', 'Reset Destination') THEN 'denied'
         WHEN v[8] IN ('Drop', 'Drop ICMP') THEN 'dropped'
       END AS outcome
FROM docs;

CREATE OR REPLACE TEMP TABLE ps_sources AS
SELECT * FROM ps_classify_sources('ps_lines');

CREATE OR REPLACE TEMP VIEW ps_records AS
SELECT CASE
         WHEN l.not_json THEN 'invalid_json'
         WHEN l.not_object THEN 'not_an_object'
         WHEN l.src_text IS NULL OR l.src_text = '' THEN 'missing_src_ip'
         WHEN s.src IS NULL THEN 'bad_src_ip'
         WHEN l.port = -1 THEN 'bad_dst_port'
         WHEN l.time_text IS NULL THEN 'missing_time'
         WHEN l.us IS NULL THEN 'bad_time'
       END AS reject,
       s.src,
       ps_candidate_in(getvariable('mode'), s.candidate_default, s.candidate_sentinel) AS candidate,
       l.port, l.us, ps_bin(l.us) AS bin_us, l.label, s.src_bits, l.dst_bits, l.dst,
       l.protocol_bit, l.outcome, l.line_no
FROM ps_lines l
LEFT JOIN ps_sources s USING (src_text);

CREATE OR REPLACE TEMP VIEW ps_rejects AS
SELECT reject AS reason, count(*) AS lines
FROM ps_records
WHERE reject IS NOT NULL
GROUP BY reject
ORDER BY reject;

-- The accepted candidate records with the exclusion entry that takes each (the first in
-- configuration order that matches it; NULL: none).
CREATE OR REPLACE TEMP VIEW ps_candidates AS
SELECT r.src, r.bin_us, r.us, r.port, r.label, r.dst_bits, r.dst, r.protocol_bit, r.outcome,
       r.line_no,
       (SELECT min(x.idx) FROM ps_exclusions x
        WHERE (len(x.src) = 0 OR EXISTS (SELECT 1 FROM unnest(x.src) AS b(p) WHERE starts_with(r.src_bits, b.p)))
          AND (len(x.dst) = 0 OR EXISTS (SELECT 1 FROM unnest(x.dst) AS b(p) WHERE starts_with(r.dst_bits, b.p)))
          AND (len(x.ports) = 0 OR EXISTS (SELECT 1 FROM unnest(x.ports) AS q(pr) WHERE r.port BETWEEN q.pr[1] AND q.pr[2]))
          AND (x.expires_us IS NULL OR r.us < x.expires_us)) AS excluded_by
FROM ps_records r
WHERE reject IS NULL AND candidate;

CREATE OR REPLACE TEMP VIEW ps_excluded_counts AS
SELECT excluded_by AS idx, count(*) AS records
FROM ps_candidates WHERE excluded_by IS NOT NULL
GROUP BY excluded_by ORDER BY excluded_by;

-- The records that make each key's evidence: all it counted (early_alerts.sql replaces
-- this view with the records up to each key's crossing).
CREATE OR REPLACE TEMP VIEW ps_evidence AS
SELECT * FROM ps_candidates WHERE excluded_by IS NULL;

CREATE OR REPLACE TEMP VIEW ps_expected_alerts AS
WITH candidates AS (
  SELECT src, bin_us, us, port, label, dst_bits, dst, protocol_bit, outcome
  FROM ps_evidence
), keys AS (
  -- Every accepted record of the key counts, with or without a port.
  SELECT src, bin_us, count(*) AS event_count, min(us) AS first_us, max(us) AS last_us,
         count(*) FILTER (WHERE outcome = 'allowed') AS allowed,
         count(*) FILTER (WHERE outcome = 'denied') AS denied,
         count(*) FILTER (WHERE outcome = 'dropped') AS dropped,
         list(DISTINCT protocol_bit ORDER BY protocol_bit) FILTER (WHERE protocol_bit IS NOT NULL)
           AS protocol_bits
  FROM candidates
  GROUP BY src, bin_us
), target_counts AS (
  SELECT src, bin_us, dst_bits, any_value(dst) AS dst, count(*) AS attempts
  FROM candidates WHERE dst_bits IS NOT NULL
  GROUP BY src, bin_us, dst_bits
), targets AS (
  -- The smallest max_targets addresses (bit strings of equal length sort as numbers).
  SELECT src, bin_us, count(*) AS distinct_targets,
         list({'address': dst, 'attempts': attempts} ORDER BY dst_bits)[1:getvariable('max_targets')]
           AS targets
  FROM target_counts
  GROUP BY src, bin_us
), ports AS (
  SELECT src, bin_us, count(*) AS n, list(port ORDER BY port)[1:100] AS ports
  FROM (SELECT DISTINCT src, bin_us, port FROM candidates WHERE port IS NOT NULL)
  GROUP BY src, bin_us
), labels AS (
  -- Byte order of the UTF-8 text: compare the bytes, whatever the collation settings.
  SELECT src, bin_us, list(label ORDER BY encode(label))[1:20] AS labels
  FROM (SELECT DISTINCT src, bin_us, label FROM candidates)
  GROUP BY src, bin_us
)
SELECT k.src AS "SrcIpAddr",
       ps_iso(k.bin_us) AS "TimeGenerated",
       p.n AS "AttemptedPortsCount",
       p.ports AS "AttemptedPorts",
       l.labels AS "ReportedBy",
       ps_iso(k.bin_us) AS window_start,
       ps_iso(k.bin_us + ps_bin_width_us()) AS window_end,
       ps_iso(k.first_us) AS first_seen,
       ps_iso(k.last_us) AS last_seen,
       k.event_count,
       coalesce(t.targets, []) AS targets,
       coalesce(t.distinct_targets, 0) > getvariable('max_targets') AS targets_truncated,
       coalesce(k.protocol_bits, []) AS protocol_bits,
       k.allowed, k.denied, k.dropped
FROM keys k
JOIN ports p USING (src, bin_us)
JOIN labels l USING (src, bin_us)
LEFT JOIN targets t USING (src, bin_us)
WHERE p.n > getvariable('threshold')
ORDER BY k.bin_us, encode(k.src);
