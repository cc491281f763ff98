#!/usr/bin/env bash
# ops_config_test.sh PORTSCAND SOURCE_ROOT
#
# The configuration files the project ships stay valid and stay documented:
#   1. config/portscand.yaml (installed as /etc/portscand/portscand.yaml) passes
#      `portscand check-config` once its secrets exist, and its secret references are
#      really resolved: without the environment variable, or without the secret file,
#      check-config refuses it and names the property (what the package's postinst relies
#      on to leave a fresh install stopped).
#   2. deploy/kubernetes/portscand.yaml (the StatefulSet's ConfigMap) passes check-config.
#   3. config/rules/port-scan.yaml is the built-in rule: check-config reports the same rule
#      line, and replaying the demo with --rule gives byte-identical alerts.
#   4. README.md's Configuration reference names every key that lib/config/config.cpp
#      accepts.
# The files name absolute paths under /etc/portscand/, /var/lib/portscand and
# /var/log/portscand; the test lays the same tree out in a temporary directory (with the TLS
# files the example names, and the state and log directories the unit's StateDirectory= and
# LogsDirectory= provide) and points the paths there, nothing else is changed. check-config
# loads the TLS files and checks the directories, as run does at start.
#
# Fails, never skips, when anything it needs is missing.
set -uo pipefail

[ $# -eq 2 ] || { echo "usage: $0 PORTSCAND SOURCE_ROOT" >&2; exit 2; }
portscand=$1 src=$2
die() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$portscand" ] || die "missing executable $portscand"
[ -f "$src/config/portscand.yaml" ] || die "no config/portscand.yaml in $src"
command -v openssl >/dev/null || die "openssl is not installed (deploy/install-deps.sh installs it)"

work=$(mktemp -d "${TMPDIR:-/tmp}/ops_config.XXXXXX")
failures=0
failed() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# An /etc/portscand as the package and the administrator leave it.
etc=$work/etc/portscand
mkdir -p "$etc/rules" "$etc/secrets" "$etc/tls" "$work/var/lib/portscand" "$work/var/log/portscand"
cp "$src/config/rules/port-scan.yaml" "$etc/rules/"
printf 's3cret\n' >"$etc/secrets/kafka-password"
# The syslog TLS listener's certificate and key, and the CA of its clients (a self-signed
# certificate serves as that CA: only its loading is checked).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=portscand \
  -keyout "$etc/secrets/portscand.key" -out "$etc/tls/portscand.crt" >"$work/openssl.log" 2>&1 ||
  die "openssl req failed: $(cat "$work/openssl.log")"
cp "$etc/tls/portscand.crt" "$etc/tls/clients-ca.crt"
relocate() {
  sed -e "s#/etc/portscand/#$etc/#g" -e "s#/var/lib/portscand#$work/var/lib/portscand#g" \
    -e "s#/var/log/portscand/#$work/var/log/portscand/#g" "$1" >"$2"
}
relocate "$src/config/portscand.yaml" "$etc/portscand.yaml"
relocate "$src/deploy/kubernetes/portscand.yaml" "$etc/kubernetes.yaml"
cp "$src/deploy/kubernetes/portscand.yaml" "$work/k8s-orig.yaml"

check() {  # check NAME FILE [env assignments...]: runs check-config, output in $work/NAME.out
  local name=$1 file=$2
  shift 2
  env "$@" "$portscand" check-config --config "$file" >"$work/$name.out" 2>&1
}

# 1. The example configuration.
if check example "$etc/portscand.yaml" PORTSCAND_KAFKA_USERNAME=portscand; then
  grep -q 'rule: Port scan detected (ASIM Network Session schema)' "$work/example.out" ||
    failed "check-config accepted the example but did not load its rule file: $(cat "$work/example.out")"
  grep -q 's3cret' "$work/example.out" && failed "check-config printed the SASL password"
else
  failed "check-config refuses config/portscand.yaml: $(cat "$work/example.out")"
fi
check noenv "$etc/portscand.yaml" -u PORTSCAND_KAFKA_USERNAME
rc=$?
[ $rc -eq 3 ] || failed "check-config without PORTSCAND_KAFKA_USERNAME: exit $rc, want 3"
grep -q 'inputs\[0\].properties.sasl.username: environment variable PORTSCAND_KAFKA_USERNAME is not set' "$work/noenv.out" ||
  failed "check-config without the variable does not name the property: $(cat "$work/noenv.out")"
mv "$etc/secrets/kafka-password" "$work/"
check nofile "$etc/portscand.yaml" PORTSCAND_KAFKA_USERNAME=portscand
rc=$?
mv "$work/kafka-password" "$etc/secrets/"
[ $rc -eq 3 ] || failed "check-config without the secret file: exit $rc, want 3"
grep -q "outputs\[0\].properties.sasl.password: cannot read secret file $etc/secrets/kafka-password" "$work/nofile.out" ||
  failed "check-config without the secret file does not name it: $(cat "$work/nofile.out")"

# 2. The Kubernetes ConfigMap's configuration.
check k8s "$etc/kubernetes.yaml" PORTSCAND_KAFKA_USERNAME=portscand POD_NAME=portscand-0 ||
  failed "check-config refuses deploy/kubernetes/portscand.yaml: $(cat "$work/k8s.out")"

# 3. The exported rule file is the built-in rule.
# Their own state_dir: the default /var/lib/portscand need not be creatable by whoever runs
# the tests.
printf 'state_dir: %s\noutputs: [{type: stdout}]\n' "$work/state" >"$work/builtin.yaml"
printf 'rule: %s\nstate_dir: %s\noutputs: [{type: stdout}]\n' "$src/config/rules/port-scan.yaml" "$work/state" >"$work/file.yaml"
check builtin "$work/builtin.yaml" || failed "check-config refuses a minimal config: $(cat "$work/builtin.out")"
check file "$work/file.yaml" || failed "check-config refuses config/rules/port-scan.yaml: $(cat "$work/file.out")"
builtin_rule=$(grep '^rule: ' "$work/builtin.out")
file_rule=$(grep '^rule: ' "$work/file.out")
[ -n "$builtin_rule" ] && [ "$builtin_rule" = "$file_rule" ] ||
  failed "the rule file differs from the built-in rule: '$file_rule' vs '$builtin_rule'"
# The same for the exported sweep rule, listed beside the vertical rule.
printf 'rules: [builtin:port-scan, builtin:port-sweep]\nstate_dir: %s\noutputs: [{type: stdout}]\n' "$work/state" >"$work/builtin2.yaml"
printf 'rules: [%s, %s]\nstate_dir: %s\noutputs: [{type: stdout}]\n' "$src/config/rules/port-scan.yaml" \
  "$src/config/rules/port-sweep.yaml" "$work/state" >"$work/file2.yaml"
check builtin2 "$work/builtin2.yaml" || failed "check-config refuses the two built-in rules: $(cat "$work/builtin2.out")"
check file2 "$work/file2.yaml" || failed "check-config refuses config/rules/port-sweep.yaml: $(cat "$work/file2.out")"
builtin_sweep=$(grep '^rule: .*, sweep, ' "$work/builtin2.out")
file_sweep=$(grep '^rule: .*, sweep, ' "$work/file2.out")
[ -n "$builtin_sweep" ] && [ "$builtin_sweep" = "$file_sweep" ] ||
  failed "the sweep rule file differs from the built-in sweep rule: '$file_sweep' vs '$builtin_sweep'"
demo=$src/deploy/demo/sessions.jsonl
strip_detected_at() { sed -E 's/,?"detected_at":"[^"]*"//'; }
"$portscand" replay --format asim "$demo" 2>/dev/null | strip_detected_at >"$work/builtin.jsonl" ||
  failed "replay of the demo failed"
"$portscand" replay --format asim --rule "$src/config/rules/port-scan.yaml" "$demo" 2>/dev/null |
  strip_detected_at >"$work/file.jsonl" || failed "replay of the demo with the rule file failed"
[ -s "$work/builtin.jsonl" ] || failed "the demo gives no alert: nothing compared"
cmp -s "$work/builtin.jsonl" "$work/file.jsonl" ||
  failed "alerts with config/rules/port-scan.yaml differ from the built-in rule's: $(diff "$work/builtin.jsonl" "$work/file.jsonl" | head -5)"

# 4. Every key config.cpp accepts has its own row in the README's Configuration reference
#    (the first cell names it), and every row gives type, default and reload behaviour.
# Escaped pipes inside cells (`a` \| `b`) are not column separators.
rows=$(sed -n '/^## Configuration reference/,/^### /p' "$src/README.md" | grep '^| `' | sed 's/\\|/or/g')
[ -n "$rows" ] || failed "README.md has no Configuration reference table"
first_cells=$(awk -F'|' '{ print $2 }' <<<"$rows")
keys=$(tr '\n' ' ' <"$src/lib/config/config.cpp" | grep -o 'check_keys([^;]*;' | grep -v 'check_keys(const' |
  grep -o '"[a-z_]*"' | tr -d '"' | sort -u)
[ "$(wc -w <<<"$keys")" -gt 30 ] || failed "found only $(wc -w <<<"$keys") keys in config.cpp: the extraction is broken"
for key in $keys; do
  grep -qE "[.\`]$key[\`.[]" <<<"$first_cells" || failed "README Configuration reference has no row for the key '$key'"
done
bad_rows=$(awk -F'|' 'NF != 7 || ($5 !~ /^ (reload|restart) $/) || $3 ~ /^ *$/ || $4 ~ /^ *$/ { print $2 }' <<<"$rows")
[ -z "$bad_rows" ] || failed "rows without type, default or reload (reload|restart): $bad_rows"

if [ $failures -ne 0 ]; then
  echo "work directory kept: $work" >&2
  exit 1
fi
echo "example and Kubernetes configurations valid; rule file = built-in rule; $(wc -w <<<"$keys") keys documented"
rm -rf "$work"
echo "PASS"
