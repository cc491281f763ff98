-- duckdb_natural.sql — the rule as a DuckDB user would first write it: load the columns,
-- classify the sources, one GROUP BY with distinct aggregates. Timed by e2e_replay.sh; run
-- through tests/oracle/oracle.mjs after spec_macros.sql (same variables: input, mode,
-- threshold), result in the view ps_bench_alerts.
--
-- Unlike the oracle (expected_alerts.sql) it does not account for rejected lines:
-- read_ndjson with ignore_errors gives a bad line a row of NULLs, which the filters drop.

CREATE OR REPLACE TEMP TABLE nat_rows AS
SELECT SrcIpAddr AS src_text,
       ps_port(DstPortNumber) AS port,
       ps_time_us(TimeGenerated) AS us,
       ps_label(EventVendor, EventProduct) AS label
FROM read_ndjson(getvariable('input'),
                 columns = {TimeGenerated: 'VARCHAR', SrcIpAddr: 'VARCHAR', DstPortNumber: 'VARCHAR',
                            EventVendor: 'VARCHAR', EventProduct: 'VARCHAR'},
                 ignore_errors = true);

CREATE OR REPLACE TEMP TABLE nat_sources AS
SELECT * FROM ps_classify_sources('nat_rows');

CREATE OR REPLACE TEMP VIEW ps_bench_alerts AS
SELECT s.src AS "SrcIpAddr",
       ps_iso(ps_bin(r.us)) AS "TimeGenerated",
       count(DISTINCT r.port) AS "AttemptedPortsCount",
       list_sort(list(DISTINCT r.port) FILTER (WHERE r.port IS NOT NULL))[1:100] AS "AttemptedPorts",
       list_sort(list(DISTINCT r.label))[1:20] AS "ReportedBy",
       ps_iso(ps_bin(r.us)) AS window_start,
       ps_iso(ps_bin(r.us) + ps_bin_width_us()) AS window_end,
       ps_iso(min(r.us)) AS first_seen,
       ps_iso(max(r.us)) AS last_seen,
       count(*) AS event_count
FROM nat_rows r
JOIN nat_sources s USING (src_text)
WHERE ps_candidate_in(getvariable('mode'), s.candidate_default, s.candidate_sentinel)
  AND r.port IS DISTINCT FROM -1
  AND r.us IS NOT NULL
GROUP BY s.src, ps_bin(r.us)
HAVING count(DISTINCT r.port) > getvariable('threshold')
ORDER BY ps_bin(r.us), encode(s.src);
