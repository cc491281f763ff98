-- early_alerts.sql — README "Early alerts": the evidence an early alert carries is the
-- key's records up to and including the one whose port is its (threshold + 1)-th distinct
-- port, in file order (what `portscand replay --threads 1` hands each shard: a source's
-- records in the order of the file). Written from the README, not from our C++.
--
-- Loaded after expected_alerts.sql (oracle.mjs --early-alerts). It replaces ps_evidence,
-- so that ps_expected_alerts then gives one row per early alert, with the same columns.

-- Per key, the line of its crossing record: each port's first line, ranked in file order.
CREATE OR REPLACE TEMP TABLE ps_crossings AS
WITH first_lines AS (
  SELECT src, bin_us, port, min(line_no) AS line_no
  FROM ps_candidates
  WHERE excluded_by IS NULL AND port IS NOT NULL
  GROUP BY src, bin_us, port
), ranked AS (
  SELECT src, bin_us, line_no,
         row_number() OVER (PARTITION BY src, bin_us ORDER BY line_no) AS nth_port
  FROM first_lines
)
SELECT src, bin_us, line_no AS crossing_line
FROM ranked
WHERE nth_port = getvariable('threshold') + 1;

CREATE OR REPLACE TEMP VIEW ps_evidence AS
SELECT c.*
FROM ps_candidates c
JOIN ps_crossings x ON c.src = x.src AND c.bin_us = x.bin_us
WHERE c.excluded_by IS NULL AND c.line_no <= x.crossing_line;
