-- spec_macros.sql — the record-level rules of SPEC §1 as DuckDB macros: what a source
-- address is, which sources are candidates, what a port is, the 5-minute bin, the alert
-- time text. Written from the specification alone (not from our C++).
--
-- Loaded first by oracle.mjs; used by expected_alerts.sql (the oracle) and by the DuckDB
-- queries of the end-to-end benchmark (tests/bench/duckdb_*.sql), so that all of them
-- apply the same rules.
--
-- DuckDB expands macros inline: a macro argument that is itself a big expression is copied
-- wherever the body names it, and nesting such calls grows the plan exponentially. So the
-- address rules are applied in stages (ps_classify_sources), each macro taking plain
-- columns.

SET TimeZone = 'UTC';

-- ---------------------------------------------------------------------------------------
-- IPv4

-- A dotted quad: four decimal octets 0..255 without leading zeros, and nothing else.
CREATE OR REPLACE TEMP MACRO ps_is_v4(s) AS
  regexp_full_match(s, '(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])');

CREATE OR REPLACE TEMP MACRO ps_v4_octets(s) AS
  list_transform(string_split(s, '.'), x -> TRY_CAST(x AS INTEGER));

-- Candidates (SPEC §1): not 10/8, 172.16/12, 192.168/16, and not exactly 127.0.0.1. The
-- rest of 127/8, 100.64/10, 169.254/16 and everything else are candidates.
CREATE OR REPLACE TEMP MACRO ps_v4_is_candidate(text, o) AS
  text <> '127.0.0.1'
  AND NOT (o[1] = 10 OR (o[1] = 172 AND o[2] BETWEEN 16 AND 31) OR (o[1] = 192 AND o[2] = 168));

-- ---------------------------------------------------------------------------------------
-- IPv6 (RFC 4291 text; no zone ids, no brackets, no surrounding space)

-- A trailing dotted quad (::ffff:1.2.3.4) becomes two hex groups, so that the group
-- parser sees hex only; NULL when the dotted part is not a valid IPv4 address.
CREATE OR REPLACE TEMP MACRO ps_v4_as_groups(o) AS
  printf('%x:%x', o[1] * 256 + o[2], o[3] * 256 + o[4]);
CREATE OR REPLACE TEMP MACRO ps_v6_hexify(s) AS
  CASE
    WHEN NOT contains(s, '.') THEN s
    WHEN ps_is_v4(regexp_extract(s, '[^:]*$'))
      THEN regexp_replace(s, '[^:]*$', '') || ps_v4_as_groups(ps_v4_octets(regexp_extract(s, '[^:]*$')))
  END;

-- One side of a "::" as a list of group texts (an empty side has no groups).
CREATE OR REPLACE TEMP MACRO ps_v6_side(x) AS
  CASE WHEN x = '' THEN []::VARCHAR[] ELSE string_split(x, ':') END;
CREATE OR REPLACE TEMP MACRO ps_v6_groups_ok(gs) AS
  coalesce(list_bool_and(list_transform(gs, g -> regexp_full_match(g, '[0-9A-Fa-f]{1,4}'))), true);
CREATE OR REPLACE TEMP MACRO ps_v6_values(gs) AS
  list_transform(gs, g -> TRY_CAST('0x' || g AS INTEGER));
CREATE OR REPLACE TEMP MACRO ps_v6_join(l, r) AS
  CASE
    WHEN len(l) + len(r) <= 7 AND ps_v6_groups_ok(l) AND ps_v6_groups_ok(r)
      THEN ps_v6_values(l) || list_transform(range(8 - len(l) - len(r)), x -> 0) || ps_v6_values(r)
  END;

-- Hex-only IPv6 text to its 8 group values; NULL when it is not valid.
CREATE OR REPLACE TEMP MACRO ps_v6_groups(h) AS
  CASE
    WHEN h IS NULL OR NOT regexp_full_match(h, '[0-9A-Fa-f:]+') THEN NULL
    WHEN strpos(h, '::') = 0 THEN
      CASE WHEN len(string_split(h, ':')) = 8 AND ps_v6_groups_ok(string_split(h, ':'))
        THEN ps_v6_values(string_split(h, ':')) END
    WHEN strpos(substr(h, strpos(h, '::') + 1), '::') > 0 THEN NULL  -- a second "::", or ":::"
    ELSE ps_v6_join(ps_v6_side(split_part(h, '::', 1)), ps_v6_side(split_part(h, '::', 2)))
  END;

-- RFC 5952 text: lower-case hex without leading zeros; the longest run of two or more
-- zero groups (the first of equally long runs) is written "::".
CREATE OR REPLACE TEMP MACRO ps_v6_zero_map(g) AS
  array_to_string(list_transform(g, x -> CASE WHEN x = 0 THEN 'z' ELSE 'n' END), '');
CREATE OR REPLACE TEMP MACRO ps_v6_compress(hx, zeros, run_len) AS
  CASE
    WHEN run_len IS NULL THEN array_to_string(hx, ':')
    ELSE array_to_string(hx[1:strpos(zeros, repeat('z', run_len)) - 1], ':') || '::'
         || array_to_string(hx[strpos(zeros, repeat('z', run_len)) + run_len:8], ':')
  END;
CREATE OR REPLACE TEMP MACRO ps_v6_run(zeros) AS
  list_filter([8, 7, 6, 5, 4, 3, 2], k -> contains(zeros, repeat('z', k)))[1];

-- The IPv4-mapped block ::ffff:0:0/96 is IPv4, and is reported as IPv4 (SPEC §1).
CREATE OR REPLACE TEMP MACRO ps_v6_is_mapped(g) AS
  g[1] = 0 AND g[2] = 0 AND g[3] = 0 AND g[4] = 0 AND g[5] = 0 AND g[6] = 65535;
CREATE OR REPLACE TEMP MACRO ps_mapped_v4_text(g) AS
  printf('%d.%d.%d.%d', g[7] // 256, g[7] % 256, g[8] // 256, g[8] % 256);

-- Candidates, default mode (SPEC §1): not ::1, fc00::/7, fe80::/10. In sentinel mode no
-- IPv6 source is a candidate.
CREATE OR REPLACE TEMP MACRO ps_v6_is_candidate(g) AS
  NOT (g = [0, 0, 0, 0, 0, 0, 0, 1]
       OR (g[1] & 65024) = 64512     -- fc00::/7:  the first 7 bits are 1111110
       OR (g[1] & 65472) = 65152);   -- fe80::/10: the first 10 bits are 1111111010

-- The 128 bits of an address as a '0'/'1' string (IPv4 as ::ffff:a.b.c.d), for the
-- exclusion blocks of the options (a block is a prefix of this string). NULL for NULL.
CREATE OR REPLACE TEMP MACRO ps_v4_bits(o) AS
  repeat('0', 80) || repeat('1', 16)
  || array_to_string(list_transform(o, x -> lpad(bin(x), 8, '0')), '');
CREATE OR REPLACE TEMP MACRO ps_v6_bits(g) AS
  array_to_string(list_transform(g, x -> lpad(bin(x), 16, '0')), '');

-- IPv6 prefixes (README "IPv6 prefixes"): the groups with every bit after the first `bits`
-- cleared (group i holds bits 16(i-1) .. 16i-1).
CREATE OR REPLACE TEMP MACRO ps_v6_mask(g, bits) AS
  list_transform(g, (x, i) -> x & ((65535 << (16 - greatest(0, least(16, bits - 16 * (i - 1))))) & 65535));

-- ---------------------------------------------------------------------------------------
-- Sources: every distinct source text of a relation (a table or view name with a
-- `src_text` column) with its canonical text (NULL: not an address) and whether it is a
-- candidate in each mode. One row per distinct text, so the per-text work does not scale
-- with the number of records.

CREATE OR REPLACE TEMP MACRO ps_classify_sources(relation) AS TABLE
WITH texts AS (
  SELECT DISTINCT src_text FROM query_table(relation) WHERE src_text IS NOT NULL
), hexed AS (
  SELECT src_text, contains(src_text, ':') AS colon,
         CASE WHEN contains(src_text, ':') THEN ps_v6_hexify(src_text) END AS hex
  FROM texts
), grouped AS (
  SELECT src_text, colon, ps_v6_groups(hex) AS g FROM hexed
), typed AS (
  SELECT src_text, g,
         CASE WHEN colon THEN g IS NOT NULL AND ps_v6_is_mapped(g) ELSE ps_is_v4(src_text) END AS is_v4,
         colon AND g IS NOT NULL AND NOT ps_v6_is_mapped(g) AS is_v6
  FROM grouped
), prefixed AS (
  -- The variable ipv6_prefix (default 128): an IPv6 source is named by its prefix.
  SELECT *, coalesce(getvariable('ipv6_prefix'), 128) AS v6_bits,
         CASE WHEN is_v6 THEN ps_v6_mask(g, coalesce(getvariable('ipv6_prefix'), 128)) END AS mg
  FROM typed
), zeros AS (
  SELECT *, CASE WHEN is_v6 THEN ps_v6_zero_map(mg) END AS zmap FROM prefixed
), named AS (
  SELECT src_text, g, is_v4, is_v6,
         CASE
           WHEN is_v4 AND g IS NOT NULL THEN ps_mapped_v4_text(g)
           WHEN is_v4 THEN src_text
           WHEN is_v6 THEN ps_v6_compress(list_transform(mg, x -> printf('%x', x)), zmap, ps_v6_run(zmap))
                           || CASE WHEN v6_bits < 128 THEN '/' || v6_bits ELSE '' END
         END AS src
  FROM zeros
)
SELECT src_text, src, is_v6,
       CASE WHEN is_v4 THEN ps_v4_bits(ps_v4_octets(src)) WHEN is_v6 THEN ps_v6_bits(g) END AS src_bits,
       CASE WHEN is_v4 THEN ps_v4_is_candidate(src, ps_v4_octets(src))
            WHEN is_v6 THEN ps_v6_is_candidate(g)
            ELSE false END AS candidate_default,
       is_v4 AND ps_v4_is_candidate(src, ps_v4_octets(src)) AS candidate_sentinel
FROM named;

-- ---------------------------------------------------------------------------------------
-- Ports, time

-- A port is an integer 0..65535, as a JSON number or a numeric string. NULL and "" mean
-- no port; anything else (70000, -1, "http", 80.5) makes the whole record invalid: -1.
CREATE OR REPLACE TEMP MACRO ps_port(p) AS
  CASE
    WHEN p IS NULL OR p = '' THEN NULL
    WHEN regexp_full_match(p, '[0-9]{1,5}') AND TRY_CAST(p AS INTEGER) <= 65535 THEN TRY_CAST(p AS INTEGER)
    ELSE -1
  END;

-- Event time in microseconds since the epoch, UTC (a time without a zone is UTC).
CREATE OR REPLACE TEMP MACRO ps_time_us(t) AS epoch_us(TRY_CAST(t AS TIMESTAMPTZ));

CREATE OR REPLACE TEMP MACRO ps_bin_width_us() AS 300000000::BIGINT;
-- Floor to a multiple of 5 minutes since the epoch (a floor also before 1970).
CREATE OR REPLACE TEMP MACRO ps_bin(us) AS
  us - (((us % ps_bin_width_us()) + ps_bin_width_us()) % ps_bin_width_us());

-- ReportedBy label: EventVendor/EventProduct, missing or null parts as empty strings.
CREATE OR REPLACE TEMP MACRO ps_label(vendor, product) AS
  coalesce(vendor, '') || '/' || coalesce(product, '');

-- SPEC §2 time text: whole seconds, plus ".ffffff" only when there is a sub-second part.
CREATE OR REPLACE TEMP MACRO ps_iso(us) AS
  strftime(make_timestamp(us), '%Y-%m-%dT%H:%M:%S')
  || CASE WHEN us % 1000000 <> 0 THEN '.' || lpad((us % 1000000)::VARCHAR, 6, '0') ELSE '' END
  || 'Z';

-- The candidate flag of a classified source for a mode name.
CREATE OR REPLACE TEMP MACRO ps_candidate_in(mode, candidate_default, candidate_sentinel) AS
  CASE mode WHEN 'default' THEN candidate_default WHEN 'sentinel' THEN candidate_sentinel END;
