#!/usr/bin/env bash
# envelopes_replay_test.sh PORTSCAND FIXTURES_DIR
#
# Every shipper envelope fixture (tests/fixtures/envelopes/<shape>.ndjson) wraps the lines of
# one bare file (tests/fixtures/envelopes/bare/<vendor>.log) holding a planted scan: 60 ports
# (1001..1060) from one documentation address. `portscand replay` must find that scan in the
# bare file and in the enveloped one, each checked on its own against the planted scan (one
# alert, that source, those 60 ports), and count the same records parsed, rejected and
# skipped in both; every envelope must be counted as unwrapped, and none with
# `--envelope none` (the line prints what that mode makes of the file: text probes may
# still find a device line quoted inside the JSON, as before envelopes were read).
#
# Fails, never skips. Keeps its work directory when it fails (the path is printed).
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 PORTSCAND FIXTURES_DIR" >&2
  exit 2
fi
portscand=$1
dir=$2/envelopes

die() {
  echo "FAIL: $*" >&2
  exit 1
}
[ -x "$portscand" ] || die "no portscand binary at $portscand"
command -v jq >/dev/null || die "jq is required"

work=$(mktemp -d "${TMPDIR:-/tmp}/envelopes.XXXXXX")
keep() {
  echo "FAIL: $*; inputs and outputs kept in $work" >&2
  exit 1
}

# replay OUT ARGS...: one parse thread; prints "parsed rejected skipped" from the summary.
replay() {
  local out=$1
  shift
  "$portscand" replay --threads 1 "$@" >"$out.alerts" 2>"$out.stderr" ||
    keep "portscand replay $* exited non-zero (see $out.stderr)"
  sed -n 's/^portscand replay: \([0-9]*\) records parsed, \([0-9]*\) rejected, \([0-9]*\) skipped.*/\1 \2 \3/p' \
    "$out.stderr" | head -n 1
}

# planted OUT SRC: the alerts are exactly one, for SRC, with ports 1001..1060.
planted() {
  local n
  n=$(wc -l <"$1.alerts")
  [ "$n" -eq 1 ] || keep "$1: $n alerts, expected the one planted scan"
  jq -e --arg src "$2" \
    '.SrcIpAddr == $src and .AttemptedPortsCount == 60 and .AttemptedPorts == [range(1001; 1061)]' \
    "$1.alerts" >/dev/null || keep "$1: the alert is not the planted scan from $2"
}

# shape bare-file planted-source [replay options]
cases=(
  "filebeat cef 203.0.113.66"
  "logstash cisco-asa 203.0.113.67"
  "vector cef-syslog 203.0.113.66"
  "fluent-bit fortigate 203.0.113.68"
  "rsyslog panos 203.0.113.69"
  "syslog-ng fortigate 203.0.113.68"
  "splunk-hec panos 203.0.113.69"
  "custom cisco-asa 203.0.113.67 --envelope message=payload.line,time=meta.ts,host=meta.device"
)
for c in "${cases[@]}"; do
  read -r shape bare src opts <<<"$c"
  # shellcheck disable=SC2086 # opts is a list of options
  read -r bp br bs <<<"$(replay "$work/$shape.bare" $opts "$dir/bare/$bare.log")"
  planted "$work/$shape.bare" "$src"
  # shellcheck disable=SC2086
  read -r ep er es <<<"$(replay "$work/$shape" $opts "$dir/$shape.ndjson")"
  planted "$work/$shape" "$src"
  [ "$bp $br $bs" = "$ep $er $es" ] ||
    keep "$shape: enveloped $ep parsed/$er rejected/$es skipped, bare $bp/$br/$bs"
  lines=$(wc -l <"$dir/$shape.ndjson")
  label=${shape}
  [ "$shape" = custom ] || grep -q "envelope=\"$label\"" "$work/$shape.stderr" ||
    keep "$shape: no unwrapped count for envelope $label"
  unwrapped=$(sed -n 's/^  portscand_records_unwrapped_total{.*} \([0-9]*\)$/\1/p' "$work/$shape.stderr" |
    awk '{s += $1} END {print s + 0}')
  [ "$unwrapped" -eq "$lines" ] || keep "$shape: $unwrapped of $lines units counted as unwrapped"
  read -r np _ <<<"$(replay "$work/$shape.none" --envelope none "$dir/$shape.ndjson")"
  if grep -q '^  portscand_records_unwrapped_total' "$work/$shape.none.stderr"; then
    keep "$shape: --envelope none still unwrapped"
  fi
  echo "  $shape ($bare): $ep parsed, $er rejected, $es skipped, $unwrapped unwrapped;" \
    "none: $np parsed, $(wc -l <"$work/$shape.none.alerts") alerts"
done
rm -rf "$work"
echo "PASS: every envelope yields the planted scans of the bare lines"
