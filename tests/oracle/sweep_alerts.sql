-- sweep_alerts.sql — the expected alerts of the built-in port-sweep rule (a horizontal
-- scan): more than `sweep_threshold` distinct destination addresses for one (source,
-- destination port) in a 5-minute bin. Written from the rule's contract, not from our C++.
--
-- Loaded after expected_alerts.sql (oracle.mjs --sweep-threshold N), over the same records:
-- ps_evidence holds the accepted candidate records that no exclusion takes, with the source
-- already grouped by its IPv6 prefix, so parsing, the source filter by mode, rejects and
-- exclusions are exactly the vertical rule's.
--
-- Parameters (DuckDB variables, set by oracle.mjs):
--   sweep_threshold    an alert needs more than this many distinct destination addresses
--   sweep_max_targets  how many destination addresses a sweep alert lists (the smallest,
--                      by the 128-bit form; the rule's max_targets, 100)
--
-- Result: ps_sweep_alerts, one row per alert, ordered by bin start, the source's text in
-- byte order, then the port (oracle.mjs merges it with the vertical alerts).
--
-- A key is (source, bin, port) of the records that carry a port. Its records all count as
-- events and add their label; only those with a (dotted-quad) destination address add an
-- address. Distinct destinations are counted on the 128-bit form, so one address written two
-- ways is one target.

CREATE OR REPLACE TEMP VIEW ps_sweep_alerts AS
WITH candidates AS (
  SELECT src, bin_us, us, port, label, dst_bits, dst, protocol_bit, outcome
  FROM ps_evidence
  WHERE port IS NOT NULL
), keys AS (
  SELECT src, bin_us, port, count(*) AS event_count, min(us) AS first_us, max(us) AS last_us,
         count(*) FILTER (WHERE outcome = 'allowed') AS allowed,
         count(*) FILTER (WHERE outcome = 'denied') AS denied,
         count(*) FILTER (WHERE outcome = 'dropped') AS dropped,
         list(DISTINCT protocol_bit ORDER BY protocol_bit) FILTER (WHERE protocol_bit IS NOT NULL)
           AS protocol_bits
  FROM candidates
  GROUP BY src, bin_us, port
), target_counts AS (
  SELECT src, bin_us, port, dst_bits, any_value(dst) AS dst, count(*) AS attempts
  FROM candidates WHERE dst_bits IS NOT NULL
  GROUP BY src, bin_us, port, dst_bits
), targets AS (
  -- The distinct count is the rule's figure; the list is the smallest sweep_max_targets
  -- addresses (bit strings of equal length sort as numbers).
  SELECT src, bin_us, port, count(*) AS target_count,
         list({'address': dst, 'attempts': attempts} ORDER BY dst_bits)[1:getvariable('sweep_max_targets')]
           AS targets
  FROM target_counts
  GROUP BY src, bin_us, port
), labels AS (
  -- Byte order of the UTF-8 text: compare the bytes, whatever the collation settings.
  SELECT src, bin_us, port, list(label ORDER BY encode(label))[1:20] AS labels
  FROM (SELECT DISTINCT src, bin_us, port, label FROM candidates)
  GROUP BY src, bin_us, port
)
SELECT k.src AS "SrcIpAddr",
       ps_iso(k.bin_us) AS "TimeGenerated",
       k.port AS "DstPortNumber",
       t.target_count AS "TargetCount",
       l.labels AS "ReportedBy",
       ps_iso(k.bin_us) AS window_start,
       ps_iso(k.bin_us + ps_bin_width_us()) AS window_end,
       ps_iso(k.first_us) AS first_seen,
       ps_iso(k.last_us) AS last_seen,
       k.event_count,
       t.targets,
       t.target_count > getvariable('sweep_max_targets') AS targets_truncated,
       coalesce(k.protocol_bits, []) AS protocol_bits,
       k.allowed, k.denied, k.dropped
FROM keys k
JOIN targets t USING (src, bin_us, port)
JOIN labels l USING (src, bin_us, port)
WHERE t.target_count > getvariable('sweep_threshold')
ORDER BY k.bin_us, encode(k.src), k.port;
