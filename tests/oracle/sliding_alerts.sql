-- sliding_alerts.sql — the sliding-window formulation (`evaluation: {window: sliding}`,
-- README "Sliding windows"), run after expected_alerts.sql (it reads ps_records).
--
-- Written from the README's definition, not from our C++:
--   - only accepted candidate records with a destination port take part;
--   - a crossing is a (source, record time c) where a record brings a port that the source's
--     records in [c - 5 min, c) did not have, and the closed interval [c - 5 min, c] then
--     holds more than `threshold` distinct destination ports: a self-join of each such
--     record time with the source's records in that interval (ps_sliding_crossings). (The
--     earliest crossing of a source is also its earliest record time whose 5 minutes hold
--     more than `threshold` ports: the count only rises at such records);
--   - which crossings alert (the first of each source, then the first more than 5 minutes
--     after the previous alert's end) is chosen by oracle.mjs, which fills ps_sliding_chosen;
--   - the evidence of a chosen crossing: the distinct ports of the interval (from the
--     records again), and, per evidence port, its activity run (the port's records of that
--     source chained while consecutive ones are at most 5 minutes apart) covering c: the
--     labels of its records up to c give ReportedBy, its first record (or the interval start
--     if the run began before it) first_seen, and all its records event_count (which the
--     daemon counts as far as it has read when it evaluates: compare without it).

CREATE OR REPLACE TEMP TABLE ps_sliding_records AS
SELECT src, us, port, label
FROM ps_records
WHERE reject IS NULL AND candidate AND port IS NOT NULL;

-- Gaps and islands: a run starts at a port's first record and after every gap of more than
-- 5 minutes between consecutive records of the port (a record that brings a port the
-- 5 minutes before it did not have).
CREATE OR REPLACE TEMP TABLE ps_sliding_run_records AS
SELECT src, port, us, label, starts,
       sum(starts::INTEGER)
         OVER (PARTITION BY src, port ORDER BY us ROWS UNBOUNDED PRECEDING) AS run
FROM (SELECT *, (prev IS NULL OR us - prev > ps_bin_width_us()) AS starts
      FROM (SELECT *, lag(us) OVER (PARTITION BY src, port ORDER BY us) AS prev
            FROM ps_sliding_records));

-- Crossings: the times of records that bring a new port into the 5 minutes up to them, when
-- those 5 minutes then hold more than `threshold` distinct ports.
CREATE OR REPLACE TEMP TABLE ps_sliding_crossings AS
WITH times AS (SELECT DISTINCT src, us AS c FROM ps_sliding_run_records WHERE starts)
SELECT t.src, t.c
FROM times t
JOIN ps_sliding_records x
  ON x.src = t.src AND x.us BETWEEN t.c - ps_bin_width_us() AND t.c
GROUP BY t.src, t.c
HAVING count(DISTINCT x.port) > getvariable('threshold')
ORDER BY encode(t.src), t.c;

CREATE OR REPLACE TEMP TABLE ps_sliding_runs AS
SELECT src, port, run, min(us) AS first_us, max(us) AS last_us, count(*) AS events
FROM ps_sliding_run_records
GROUP BY src, port, run;

CREATE OR REPLACE TEMP TABLE ps_sliding_chosen (src VARCHAR, c BIGINT);

CREATE OR REPLACE TEMP VIEW ps_sliding_alerts AS
WITH ports_distinct AS (
  SELECT ch.src, ch.c, count(DISTINCT x.port) AS n, list(DISTINCT x.port ORDER BY x.port) AS all_ports
  FROM ps_sliding_chosen ch
  JOIN ps_sliding_records x
    ON x.src = ch.src AND x.us BETWEEN ch.c - ps_bin_width_us() AND ch.c
  GROUP BY ch.src, ch.c
), runs AS (
  -- The run of each evidence port that covers c (it has a record in [c - 5 min, c]).
  SELECT ch.src, ch.c, r.port, r.run, r.first_us, r.events
  FROM ps_sliding_chosen ch
  JOIN ps_sliding_runs r
    ON r.src = ch.src AND r.first_us <= ch.c AND r.last_us >= ch.c - ps_bin_width_us()
), run_figures AS (
  SELECT src, c, sum(events) AS event_count,
         min(greatest(first_us, c - ps_bin_width_us())) AS first_us
  FROM runs
  GROUP BY src, c
), labels AS (
  SELECT src, c, list(label ORDER BY encode(label))[1:20] AS labels
  FROM (SELECT DISTINCT u.src, u.c, rr.label
        FROM runs u
        JOIN ps_sliding_run_records rr USING (src, port, run)
        WHERE rr.us <= u.c)
  GROUP BY src, c
)
SELECT p.src AS "SrcIpAddr",
       ps_iso(p.c - ps_bin_width_us()) AS "TimeGenerated",
       p.n AS "AttemptedPortsCount",
       p.all_ports[1:100] AS "AttemptedPorts",
       l.labels AS "ReportedBy",
       ps_iso(p.c - ps_bin_width_us()) AS window_start,
       ps_iso(p.c) AS window_end,
       ps_iso(f.first_us) AS first_seen,
       ps_iso(p.c) AS last_seen,
       f.event_count
FROM ports_distinct p
JOIN run_figures f USING (src, c)
JOIN labels l USING (src, c)
ORDER BY p.c, encode(p.src);
