#!/usr/bin/env bash
# parse_fixtures_test.sh PORTSCAND FIXTURES_DIR
#
# Every vendor fixture against what its records say, written by hand from the vendor's
# documentation: for each expectation file FIXTURE.parse-expected.jsonl (one JSON object per
# report, in the order `portscand parse` prints them) the fixture is read by
# `portscand parse`, once with the format named by its directory and once with
# `--format auto`, and each report is compared on the fields a user checks first:
#   line, result, and for a record: time, src, dst, dst_port, protocol, action,
#   reported_by, format; for a skip or rejection: reason.
# FIXTURE.parse-expected.args, when present, holds extra options on one line (e.g. --timezone).
# FIXTURE.parse-expected.auto.jsonl, when present, is what the auto run must print instead:
# for a fixture with lines auto-detection rightly leaves to no format (a line of another
# product that only the configured format reads, and rejects for its own reason).
# Every run uses --received 2026-12-01T00:00:00Z, so year-less syslog times and records
# without a time of their own are read the same on any day. Every fixture of a format
# (tests/fixtures/<format>/, not NOTICE.md, *expected*, *derived*) must have an expectation
# file, unless `no_expectation` below names it with the reason.
set -uo pipefail

[ $# -eq 2 ] || { echo "usage: $0 PORTSCAND FIXTURES_DIR" >&2; exit 2; }
portscand=$1
fixtures=$2
die() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$portscand" ] || die "missing executable $portscand"
[ -d "$fixtures" ] || die "missing fixtures directory $fixtures"
command -v jq >/dev/null || die "jq is not installed (deploy/install-deps.sh installs it)"

work=$(mktemp -d "${TMPDIR:-/tmp}/parse_fixtures.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
checked=0
project='if .result == "record" then
    {line, result, time, src, dst, dst_port, protocol, action, reported_by, format}
  else {line, result, reason} end'

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# Fixtures that no `portscand parse` run reads as their format's records, and why; every
# other fixture of a format must have an expectation file.
no_expectation=(
  # A Log Analytics CSV export of the table, kept for the port-sweep cases it documents.
  azure-firewall/AZFWPortSweepCustom_CL.first220.csv
  # Event XML over many lines: file inputs read lines, or JSON documents that span lines.
  windows-wfp/msdocs-event-5156.clean.xml windows-wfp/msdocs-event-5156.verbatim.xml.txt
  windows-wfp/msdocs-event-5157.clean.xml windows-wfp/msdocs-event-5157.verbatim.xml.txt
  windows-wfp/msdocs-event-5158.clean.xml windows-wfp/msdocs-event-5158.verbatim.xml.txt
)
while IFS= read -r format; do
  for fixture in "$fixtures/$format"/*; do
    name=$(basename "$fixture")
    case $name in NOTICE.md | *expected* | *derived*) continue ;; esac
    [ -f "$fixture.parse-expected.jsonl" ] && continue
    [[ " ${no_expectation[*]} " == *" $format/$name "* ]] ||
      fail "$format/$name has no $name.parse-expected.jsonl"
  done
done < <("$portscand" formats | cut -f1)

# runs FIXTURE FORMAT EXPECTED ARGS...: one parse run against one expectation file.
run() {
  local fixture=$1 format=$2 expected=$3
  shift 3
  jq -c -S . "$expected" >"$work/want" || { fail "$expected is not JSON lines"; return; }
  "$portscand" parse --received 2026-12-01T00:00:00Z --format "$format" "$@" "$fixture" \
    2>"$work/err" | jq -c -S "$project" >"$work/got"
  if ! diff -u "$work/want" "$work/got" >"$work/diff"; then
    fail "${fixture#"$fixtures"/} with --format $format differs from $(basename "$expected"):"
    head -40 "$work/diff" >&2
  fi
}

while IFS= read -r expected; do
  fixture=${expected%.parse-expected.jsonl}
  [ -f "$fixture" ] || { fail "$expected: no fixture $fixture"; continue; }
  args=()
  [ -f "$fixture.parse-expected.args" ] && read -r -a args <"$fixture.parse-expected.args"
  auto_expected=$expected
  [ -f "$fixture.parse-expected.auto.jsonl" ] && auto_expected=$fixture.parse-expected.auto.jsonl
  run "$fixture" "$(basename "$(dirname "$fixture")")" "$expected" "${args[@]}"
  run "$fixture" auto "$auto_expected" "${args[@]}"
  checked=$((checked + 1))
done < <(find "$fixtures" -name '*.parse-expected.jsonl' | sort)

[ "$checked" -gt 0 ] || die "no expectation files (*.parse-expected.jsonl) under $fixtures"
[ "$failures" -eq 0 ] || die "$failures failure(s) over $checked fixtures (two runs each)"
echo "ok: $checked fixtures, each with its own format and with auto, as written by hand"
