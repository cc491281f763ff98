#!/usr/bin/env bash
# ops_systemd_test.sh PORTSCAND SOURCE_ROOT
#
# The systemd files of the package, checked with systemd's own tools (systemd 252):
#   1. `systemd-analyze security --offline=yes`: the exposure score of portscand.service
#      must be at most 1.5 (0 = fully locked down, 10 = unprotected).
#   2. `systemd-analyze verify` is clean: no warning at all. It needs the ExecStart binary
#      to exist, so it runs on a copy of the unit whose ExecStart names the built binary,
#      and finds the man page of Documentation=man:portscand(1) through MANPATH.
#   3. The unit has the settings the daemon's behaviour depends on (Type=notify with the
#      watchdog, the config path, reload by SIGHUP, the state directory of state_dir).
#   4. sysusers.d and tmpfiles.d entries apply cleanly to an empty root: the portscand user
#      and group exist afterwards, /etc/portscand/secrets is 0750 root:portscand,
#      /var/lib/portscand and /var/log/portscand are 0750 portscand:portscand.
#
# Fails, never skips, when anything it needs is missing.
set -uo pipefail

[ $# -eq 2 ] || { echo "usage: $0 PORTSCAND SOURCE_ROOT" >&2; exit 2; }
portscand=$1 src=$2
die() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$portscand" ] || die "missing executable $portscand"
for c in systemd-analyze systemd-sysusers systemd-tmpfiles man; do
  command -v $c >/dev/null || die "$c is not installed (deploy/install-deps.sh installs it)"
done
unit=$src/systemd/portscand.service
[ -f "$unit" ] || die "no $unit"

work=$(mktemp -d "${TMPDIR:-/tmp}/ops_systemd.XXXXXX")
failures=0
failed() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# 1. Exposure.
systemd-analyze security --offline=yes --no-pager "$unit" >"$work/security.txt" 2>&1 ||
  failed "systemd-analyze security failed: $(tail -5 "$work/security.txt")"
score=$(sed -n 's/.*Overall exposure level for portscand.service: \([0-9.]*\).*/\1/p' "$work/security.txt")
if [ -z "$score" ]; then
  failed "no exposure score in the output of systemd-analyze security: $(tail -3 "$work/security.txt")"
elif ! awk -v s="$score" 'BEGIN { exit !(s <= 1.5) }'; then
  failed "exposure $score > 1.5; the settings that cost most:"
  grep '✗' "$work/security.txt" | sort -t' ' -k1 | tail -10 >&2
fi

# 2. verify, on a copy that runs the built binary.
mkdir -p "$work/units" "$work/man/man1"
sed "s#/usr/bin/portscand#$(realpath "$portscand")#g" "$unit" >"$work/units/portscand.service"
cp "$src/deploy/man/portscand.1" "$work/man/man1/"
if ! MANPATH=$work/man systemd-analyze verify "$work/units/portscand.service" >"$work/verify.txt" 2>&1 ||
  [ -s "$work/verify.txt" ]; then
  failed "systemd-analyze verify is not clean:"
  cat "$work/verify.txt" >&2
fi

# 3. What the daemon relies on.
expect_line() { grep -qxF "$1" "$unit" || failed "portscand.service lacks '$1'"; }
expect_line "Type=notify"
expect_line "NotifyAccess=main"
expect_line "WatchdogSec=30s"
expect_line "ExecStart=/usr/bin/portscand run --config /etc/portscand/portscand.yaml"
expect_line "ExecReload=/bin/kill -HUP \$MAINPID"
expect_line "StateDirectory=portscand"
expect_line "LogsDirectory=portscand"
expect_line "ConfigurationDirectory=portscand"
expect_line "User=portscand"
expect_line "Restart=on-failure"
expect_line "RestartPreventExitStatus=2 3"
expect_line "CapabilityBoundingSet="
expect_line "AmbientCapabilities="
grep -q '^IPAddressDeny=' "$unit" && failed "IPAddressDeny= set: the daemon must reach Kafka brokers and accept syslog from anywhere"
grep -qi 'portscand.socket' "$unit" && failed "portscand.service names portscand.socket: the service must work without it"
# The state and log directories the unit creates are the configuration's defaults.
grep -q '^state_dir: /var/lib/portscand' "$src/config/portscand.yaml" || failed "config/portscand.yaml's state_dir is not the unit's StateDirectory"
grep -q 'path: /var/log/portscand/' "$src/config/portscand.yaml" || failed "config/portscand.yaml's file output is not in the unit's LogsDirectory"

# 4. sysusers.d and tmpfiles.d on an empty root.
root=$work/root
mkdir -p "$root/etc"
systemd-sysusers --root="$root" "$(realpath "$src/systemd/portscand.sysusers")" >"$work/sysusers.txt" 2>&1 ||
  failed "systemd-sysusers failed: $(cat "$work/sysusers.txt")"
grep -q '^portscand:x:[0-9]*:[0-9]*:.*:/var/lib/portscand:/usr/sbin/nologin$' "$root/etc/passwd" 2>/dev/null ||
  failed "no portscand system user after sysusers: $(cat "$root/etc/passwd" 2>/dev/null)"
gid=$(awk -F: '$1 == "portscand" { print $3 }' "$root/etc/group" 2>/dev/null)
[ -n "$gid" ] || failed "no portscand group after sysusers"
systemd-tmpfiles --root="$root" --create "$(realpath "$src/systemd/portscand.tmpfiles")" >"$work/tmpfiles.txt" 2>&1 ||
  failed "systemd-tmpfiles failed: $(cat "$work/tmpfiles.txt")"
[ "$(stat -c '%a %u %g' "$root/etc/portscand/secrets" 2>/dev/null)" = "750 0 $gid" ] ||
  failed "/etc/portscand/secrets is '$(stat -c '%a %u %g' "$root/etc/portscand/secrets" 2>&1)', want '750 0 $gid'"
# The state and log directories exist before the first start: the postinst's check-config
# (as the portscand user) refuses a state_dir or output directory that user cannot write.
uid=$(awk -F: '$1 == "portscand" { print $3 }' "$root/etc/passwd" 2>/dev/null)
for d in /var/lib/portscand /var/log/portscand; do
  [ "$(stat -c '%a %u %g' "$root$d" 2>/dev/null)" = "750 $uid $gid" ] ||
    failed "$d is '$(stat -c '%a %u %g' "$root$d" 2>&1)' after tmpfiles, want '750 $uid $gid'"
done

if [ $failures -ne 0 ]; then
  echo "work directory kept: $work" >&2
  exit 1
fi
echo "exposure $score (<= 1.5); verify clean; sysusers/tmpfiles apply"
rm -rf "$work"
echo "PASS"
