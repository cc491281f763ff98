#!/usr/bin/env bash
# parse_command_test.sh PORTSCAND
#
# `portscand parse` as a user runs it:
#   1. with --config and --input, a record is read with that input's settings: a zone-less
#      CEF time from a device in UTC+8 (the input's `timezone`) and the config's `mode`
#      (sentinel: an IPv6 source is not counted); --mode on the command line overrides it;
#   2. standard input with `-`, one JSON line per record, the summary on standard error;
#   3. usage errors exit 2 with a message: no file, --input without --config, an input
#      the configuration does not have, an unknown format; an unreadable file exits 1 and
#      the readable ones are still printed;
#   4. --received: the year of a year-less syslog header and the time of a record without
#      one come from it; a time without a zone is a usage error.
# Expected values are worked out by hand below.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: $0 PORTSCAND" >&2; exit 2; }
portscand=$1
die() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$portscand" ] || die "missing executable $portscand"
command -v jq >/dev/null || die "jq is not installed (deploy/install-deps.sh installs it)"

work=$(mktemp -d "${TMPDIR:-/tmp}/parse_command.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
failed() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
expect() {  # expect WHAT ACTUAL EXPECTED
  [ "$2" = "$3" ] || failed "$1: got '$2', expected '$3'"
}

cat >"$work/portscand.yaml" <<YAML
mode: sentinel
state_dir: $work/state
inputs:
  - type: file
    name: shanghai-fw
    path: $work/in.log
    format: cef
    timezone: Asia/Shanghai
outputs:
  - type: file
    path: $work/alerts.jsonl
YAML
# rt as a date without a zone: 18:30 in Shanghai (UTC+8, no DST) is 10:30 UTC.
cat >"$work/in.log" <<'LOG'
CEF:0|Acme|FW|1.0|100|conn|5|src=203.0.113.9 dst=198.51.100.1 dpt=443 proto=TCP rt=Jan 15 2026 18:30:00
CEF:0|Acme|FW|1.0|100|conn|5|src=2001:db8::9 dst=2001:db8::1 dpt=22 proto=TCP rt=Jan 15 2026 18:31:00
LOG

# 1. The input's settings.
"$portscand" parse --config "$work/portscand.yaml" --input shanghai-fw "$work/in.log" \
  >"$work/out.jsonl" 2>"$work/err.txt"
expect "exit status with --input" $? 0
expect "records" "$(wc -l <"$work/out.jsonl")" 2
expect "zone-less time in the input's timezone" "$(jq -r 'select(.line == 1) | .time' "$work/out.jsonl")" \
  "2026-01-15T10:30:00Z"
expect "format" "$(jq -r 'select(.line == 1) | .format' "$work/out.jsonl")" cef
expect "IPv4 source counted" "$(jq -r 'select(.line == 1) | .counted' "$work/out.jsonl")" true
expect "IPv6 source in sentinel mode" "$(jq -r 'select(.line == 2) | .not_counted' "$work/out.jsonl")" \
  ipv6_sentinel
grep -q "2 units, 2 records (1 counted), 0 skipped, 0 rejected" "$work/err.txt" ||
  failed "summary: $(cat "$work/err.txt")"

# Without the input, the time is read as UTC; --mode default counts the IPv6 source.
"$portscand" parse --config "$work/portscand.yaml" --mode default - <"$work/in.log" \
  >"$work/out2.jsonl" 2>/dev/null
expect "exit status from standard input" $? 0
expect "zone-less time without the input's timezone" \
  "$(jq -r 'select(.line == 1) | .time' "$work/out2.jsonl")" "2026-01-15T18:30:00Z"
expect "file name of standard input" "$(jq -r 'select(.line == 1) | .file' "$work/out2.jsonl")" "-"
expect "IPv6 source with --mode default" "$(jq -r 'select(.line == 2) | .counted' "$work/out2.jsonl")" true

# 3. Usage errors and unreadable files.
"$portscand" parse >/dev/null 2>"$work/e1"
expect "no file: exit status" $? 2
grep -q "no input files" "$work/e1" || failed "no file: $(head -1 "$work/e1")"
"$portscand" parse --input shanghai-fw "$work/in.log" >/dev/null 2>"$work/e2"
expect "--input without --config: exit status" $? 2
grep -q -- "--input needs --config" "$work/e2" || failed "--input without --config: $(cat "$work/e2")"
"$portscand" parse --config "$work/portscand.yaml" --input nope "$work/in.log" >/dev/null 2>"$work/e3"
expect "unknown input: exit status" $? 2
grep -q "has no input named 'nope'" "$work/e3" || failed "unknown input: $(cat "$work/e3")"
"$portscand" parse --format nope "$work/in.log" >/dev/null 2>"$work/e4"
expect "unknown format: exit status" $? 2
grep -q "unknown format 'nope'" "$work/e4" || failed "unknown format: $(cat "$work/e4")"
"$portscand" parse "$work/missing.log" "$work/in.log" >"$work/out3.jsonl" 2>"$work/e5"
expect "unreadable file: exit status" $? 1
grep -q "missing.log: No such file or directory" "$work/e5" || failed "unreadable file: $(cat "$work/e5")"
expect "the readable file is still read" "$(wc -l <"$work/out3.jsonl")" 2

# 4. --received: a BSD syslog header has no year. Received on 2026-03-01, "Dec 31" was
# 2025's; received on 2027-01-02, 2026's; a record with no time of its
# own (no rt) takes the receive time itself.
printf '%s\n' '<134>Dec 31 23:59:00 fw1 CEF:0|Acme|FW|1.0|100|conn|5|src=203.0.113.9 dst=198.51.100.1 dpt=80 proto=TCP' \
  >"$work/yearless.log"
"$portscand" parse --received 2026-03-01T00:00:00Z --format cef "$work/yearless.log" \
  >"$work/out4.jsonl" 2>/dev/null
expect "--received: exit status" $? 0
expect "year of a year-less header, received in March" "$(jq -r .time "$work/out4.jsonl")" \
  "2025-12-31T23:59:00Z"
"$portscand" parse --received 2027-01-02T00:00:00Z --format cef "$work/yearless.log" \
  >"$work/out5.jsonl" 2>/dev/null
expect "year of a year-less header, received in January" "$(jq -r .time "$work/out5.jsonl")" \
  "2026-12-31T23:59:00Z"
printf '%s\n' 'CEF:0|Acme|FW|1.0|100|conn|5|src=203.0.113.9 dst=198.51.100.1 dpt=80 proto=TCP' |
  "$portscand" parse --received 2026-03-01T10:00:00+02:00 - >"$work/out6.jsonl" 2>/dev/null
expect "no time of its own: the receive time" "$(jq -r '.time + " " + .time_from' "$work/out6.jsonl")" \
  "2026-03-01T08:00:00Z receive"
"$portscand" parse --received 2026-03-01 "$work/in.log" >/dev/null 2>"$work/e6"
expect "--received without a zone: exit status" $? 2
grep -q "not an ISO 8601 time with a zone" "$work/e6" || failed "--received: $(cat "$work/e6")"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)" >&2; exit 1; }
echo "parse_command: OK"
