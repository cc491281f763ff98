# oracle_common.sh: the setup every test against the DuckDB oracle shares. Sourced as
#   . "$(dirname "$0")/oracle_common.sh" NAME "$@"
# by a script called with PORTSCAND GEN_WORKLOAD. Sets portscand, gen, here, oracle and work
# (a fresh directory named after NAME), defines die (fail now) and failed (count a failure,
# go on), and fails, never skips, when the binaries, node or the oracle are missing.

if [ $# -ne 3 ]; then
  echo "usage: $0 PORTSCAND GEN_WORKLOAD" >&2
  exit 2
fi
portscand=$2
gen=$3
here=$(cd "$(dirname "$0")" && pwd)
oracle=$here/../oracle

die() {
  echo "FAIL: $*" >&2
  exit 1
}

[ -x "$portscand" ] || die "no portscand binary at $portscand"
[ -x "$gen" ] || die "no gen_workload binary at $gen"
command -v node >/dev/null || die "node is not installed (deploy/install-deps.sh)"
[ -d "$oracle/node_modules/@duckdb/node-api" ] ||
  die "the DuckDB oracle is not installed: (cd tests/oracle && npm ci)"

work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
failures=0
failed() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
