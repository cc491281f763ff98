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
# without a time of their own are read the same on any day.
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

while IFS= read -r expected; do
  fixture=${expected%.parse-expected.jsonl}
  [ -f "$fixture" ] || { echo "FAIL: $expected: no fixture $fixture" >&2; failures=$((failures + 1)); continue; }
  format=$(basename "$(dirname "$fixture")")
  args=()
  [ -f "$fixture.parse-expected.args" ] && read -r -a args <"$fixture.parse-expected.args"
  jq -c -S . "$expected" >"$work/want-fixed" || { echo "FAIL: $expected is not JSON lines" >&2; failures=$((failures + 1)); continue; }
  auto_expected=$expected
  [ -f "$fixture.parse-expected.auto.jsonl" ] && auto_expected=$fixture.parse-expected.auto.jsonl
  jq -c -S . "$auto_expected" >"$work/want-auto" || { echo "FAIL: $auto_expected is not JSON lines" >&2; failures=$((failures + 1)); continue; }
  for f in "$format" auto; do
    want_file=$expected
    cp "$work/want-fixed" "$work/want"
    if [ "$f" = auto ]; then
      want_file=$auto_expected
      cp "$work/want-auto" "$work/want"
    fi
    "$portscand" parse --received 2026-12-01T00:00:00Z --format "$f" "${args[@]}" "$fixture" \
      2>"$work/err" | jq -c -S "$project" >"$work/got"
    if ! diff -u "$work/want" "$work/got" >"$work/diff"; then
      echo "FAIL: ${fixture#"$fixtures"/} with --format $f differs from $(basename "$want_file"):" >&2
      head -40 "$work/diff" >&2
      failures=$((failures + 1))
    fi
  done
  checked=$((checked + 1))
done < <(find "$fixtures" -name '*.parse-expected.jsonl' | sort)

[ "$checked" -gt 0 ] || die "no expectation files (*.parse-expected.jsonl) under $fixtures"
[ "$failures" -eq 0 ] || die "$failures of $((checked * 2)) runs over $checked fixtures differ"
echo "ok: $checked fixtures, each with its own format and with auto, as written by hand"
