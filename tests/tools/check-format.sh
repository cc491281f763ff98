#!/usr/bin/env bash
# Fails, naming each file, when a tracked C++ source differs from what clang-format makes of
# it with the repository's .clang-format. Usage: tests/tools/check-format.sh [--fix]
# --fix rewrites the offending files in place instead. CLANG_FORMAT picks the binary; the
# tree is formatted with Debian 12's clang-format 14, and other major versions disagree on
# details, so a different version is refused rather than reported as a formatting error.
set -euo pipefail
cd "$(dirname "$0")/../.."
clang_format=${CLANG_FORMAT:-clang-format}
version=$("$clang_format" --version)
if [[ "$version" != *"version 14."* ]]; then
  echo "check-format: need clang-format 14, found: $version" >&2
  exit 2
fi

# .hpp.in is a header with CMake placeholders; clang-format takes unknown extensions as C++.
patterns=('*.cpp' '*.hpp' '*.h' '*.cc' '*.hpp.in')
total=$(git ls-files "${patterns[@]}" | wc -l)
# --dry-run prints one "file:line:col: warning: code should be clang-formatted" per change;
# batches of 50 files keep process start-up cheap.
mapfile -t bad < <(git ls-files -z "${patterns[@]}" |
  xargs -0 -n 50 -P 2 "$clang_format" --style=file --dry-run 2>&1 |
  sed -n 's/^\([^ :]*\):[0-9]*:[0-9]*: \(warning\|error\): .*/\1/p' | sort -u)

if [ ${#bad[@]} -eq 0 ]; then
  echo "check-format: $total files clean"
  exit 0
fi
if [ "${1:-}" = --fix ]; then
  "$clang_format" --style=file -i "${bad[@]}"
  printf 'check-format: reformatted %s\n' "${bad[@]}"
  exit 0
fi
echo "check-format: ${#bad[@]} of $total files differ from clang-format:" >&2
printf '  %s\n' "${bad[@]}" >&2
echo "check-format: tests/tools/check-format.sh --fix rewrites them" >&2
exit 1
