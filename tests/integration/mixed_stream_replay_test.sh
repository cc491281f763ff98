#!/usr/bin/env bash
# mixed_stream_replay_test.sh PORTSCAND FIXTURES_DIR LIST
#
# `portscand replay --format auto` over one file that concatenates every format's
# line-oriented fixture (LIST: tests/fixtures/mixed-stream.list, in its order; each file's
# lines stay contiguous, see the list's header) must count as many records parsed, rejected
# and skipped as the per-format runs `portscand replay --format <name> <file>` together.
# The unit test tests/unit/parse/mixed_stream_test.cpp checks the same stream line by line;
# this checks the daemon's path (chunked reader, summary) end to end.
#
# Fails, never skips. Keeps its work directory when it fails (the path is printed).
set -uo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 PORTSCAND FIXTURES_DIR LIST" >&2
  exit 2
fi
portscand=$1
fixtures=$2
list=$3

die() {
  echo "FAIL: $*" >&2
  exit 1
}
[ -x "$portscand" ] || die "no portscand binary at $portscand"
[ -f "$list" ] || die "no list at $list"

work=$(mktemp -d "${TMPDIR:-/tmp}/mixed_stream.XXXXXX")
keep() {
  echo "FAIL: $*; inputs and outputs kept in $work" >&2
  exit 1
}

# replay OUT_PREFIX ARGS...: runs replay with one parse thread (a stateful header must be
# seen by the parser instance that reads the lines after it), keeps stdout and stderr, and
# prints "parsed rejected skipped" from the summary line.
replay() {
  local out=$1
  shift
  "$portscand" replay --threads 1 "$@" >"$out.alerts" 2>"$out.stderr" ||
    keep "portscand replay $* exited non-zero (see $out.stderr)"
  sed -n 's/^portscand replay: \([0-9]*\) records parsed, \([0-9]*\) rejected, \([0-9]*\) skipped.*/\1 \2 \3/p' \
    "$out.stderr" | head -n 1
}

stream=$work/stream.log
: >"$stream"
parsed=0 rejected=0 skipped=0 files=0
while read -r format path _; do
  case $format in '' | '#'* | skip) continue ;; esac
  file=$fixtures/$path
  [ -f "$file" ] || keep "listed fixture $path is missing"
  cat "$file" >>"$stream"
  # A file whose last line has no terminator must not glue onto the next file's first line.
  [ -n "$(tail -c 1 "$file")" ] && echo >>"$stream"
  counts=$(replay "$work/$files" --format "$format" "$file")
  [ -n "$counts" ] || keep "no summary from the $format run over $path"
  read -r p r s <<<"$counts"
  echo "  $format $path: $p parsed, $r rejected, $s skipped"
  parsed=$((parsed + p)) rejected=$((rejected + r)) skipped=$((skipped + s))
  files=$((files + 1))
done <"$list"
[ "$files" -ge 30 ] || keep "only $files files listed"

counts=$(replay "$work/auto" --format auto "$stream")
[ -n "$counts" ] || keep "no summary from the auto run"
read -r p r s <<<"$counts"
echo "per-format runs over $files files: $parsed parsed, $rejected rejected, $skipped skipped"
echo "auto over the concatenation ($(wc -l <"$stream") lines): $p parsed, $r rejected, $s skipped"
if [ "$p" != "$parsed" ] || [ "$r" != "$rejected" ] || [ "$s" != "$skipped" ]; then
  grep '^  portscand_records_\(rejected\|skipped\)' "$work/auto.stderr" >&2
  keep "auto-detection over the mixed stream counts differently from the per-format runs"
fi
[ "$p" -gt 0 ] || keep "nothing parsed"
rm -rf "$work"
echo "PASS: auto-detection over the mixed stream counts as the per-format runs"
