#!/usr/bin/env bash
# ops_man_test.sh PORTSCAND SOURCE_ROOT
#
# deploy/man/portscand.1:
#   1. renders without a single warning, with groff (-ww: all warnings) and with man(1)
#      (--warnings), as `man portscand` will show it;
#   2. is in step with the binary: every command of `portscand --help` and every option of
#      each command's `--help` appears in the rendered page, and so does every exit code
#      the help texts document.
#
# Fails, never skips, when anything it needs is missing.
set -uo pipefail

[ $# -eq 2 ] || { echo "usage: $0 PORTSCAND SOURCE_ROOT" >&2; exit 2; }
portscand=$1 page=$2/deploy/man/portscand.1
die() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$portscand" ] || die "missing executable $portscand"
[ -f "$page" ] || die "no $page"
for c in groff man; do command -v $c >/dev/null || die "$c is not installed (deploy/install-deps.sh installs groff-base and man-db)"; done

work=$(mktemp -d "${TMPDIR:-/tmp}/ops_man.XXXXXX")
failures=0
failed() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page" 2>"$work/groff.err"
[ -s "$work/groff.err" ] && failed "groff warns: $(cat "$work/groff.err")"
LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l -Tutf8 "$page" >"$work/page.txt" 2>"$work/man.err"
[ -s "$work/man.err" ] && failed "man --warnings: $(cat "$work/man.err")"
# Plain text: no overstrike, hyphens as hyphens.
col -b <"$work/page.txt" | sed 's/‐/-/g' >"$work/plain.txt"
[ "$(wc -l <"$work/plain.txt")" -gt 100 ] || failed "the rendered page has only $(wc -l <"$work/plain.txt") lines"

commands=$("$portscand" --help | sed -n 's/^  portscand \([a-z][a-z-]*\) .*/\1/p' | sort -u)
[ "$(wc -w <<<"$commands")" -ge 4 ] || failed "found only '$commands' in portscand --help"
for cmd in $commands; do
  grep -q "portscand $cmd" "$work/plain.txt" || failed "the man page does not show 'portscand $cmd'"
  "$portscand" "$cmd" --help >"$work/$cmd.help" 2>&1 || failed "portscand $cmd --help exits non-zero"
  for opt in $(grep -oE -- '--[a-z][a-z-]*' "$work/$cmd.help" | sort -u); do
    grep -q -- "$opt" "$work/plain.txt" || failed "option $opt of 'portscand $cmd' is not in the man page"
  done
done
for code in 0 1 2 3; do
  "$portscand" --help | grep -q "$code " || failed "portscand --help does not document exit code $code (test assumption)"
  sed -n '/^EXIT STATUS/,/^[A-Z]/p' "$work/plain.txt" | grep -qE "^ +$code +[A-Z]" || failed "EXIT STATUS lacks $code"
done

if [ $failures -ne 0 ]; then
  echo "work directory kept: $work" >&2
  exit 1
fi
echo "renders without warnings; commands: $(echo $commands); every --help option documented"
rm -rf "$work"
echo "PASS"
