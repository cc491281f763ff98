#!/usr/bin/env bash
# ops_package_test.sh BUILD_DIR SOURCE_ROOT
#
# The Debian package: builds it with CPack from BUILD_DIR (which must hold a finished build)
# and checks
#   1. the file list (`dpkg -c`): binary, unit (and the socket unit iff the tree has one),
#      sysusers/tmpfiles, configuration, rule file, man page, docs, examples;
#   2. the control data: conffiles = every file under /etc, version = `portscand --version`,
#      shared-library dependencies found, maintainer scripts executable;
#   3. the packaged binary runs and the packaged unit is the tree's unit;
#   4. lintian reports no error;
#   5. the postinst, run in a private mount namespace with a fake /run/systemd/system and
#      stand-ins for systemctl, deb-systemd-helper/-invoke, systemd-sysusers/-tmpfiles,
#      runuser and portscand: it reloads systemd and enables the unit on a first install,
#      starts it only when check-config passes (and says so when it does not), restarts on
#      an upgrade only when check-config passes, and starts nothing without systemd.
#
# Fails, never skips, when anything it needs is missing.
set -uo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR SOURCE_ROOT" >&2; exit 2; }
build=$(realpath "$1") src=$(realpath "$2")
die() { echo "FAIL: $*" >&2; exit 1; }
for c in cpack dpkg dpkg-deb lintian unshare gzip; do
  command -v $c >/dev/null || die "$c is not installed (deploy/install-deps.sh installs it)"
done
[ -f "$build/CPackConfig.cmake" ] || die "no CPackConfig.cmake in $build (configure first)"
[ -x "$build/daemon/portscand" ] || die "no built daemon in $build"

work=$(mktemp -d "${TMPDIR:-/tmp}/ops_package.XXXXXX")
failures=0
failed() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

cpack --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1 ||
  die "cpack failed: $(tail -20 "$work/cpack.log")"
deb=$(ls "$work"/out/portscand_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || die "cpack made no portscand_*.deb: $(tail -5 "$work/cpack.log")"

# 1. Files.
dpkg -c "$deb" | awk '{ print $NF }' | sed 's#^\./#/#' >"$work/files.txt"
expected=(
  /usr/bin/portscand
  /lib/systemd/system/portscand.service
  /usr/lib/sysusers.d/portscand.conf
  /usr/lib/tmpfiles.d/portscand.conf
  /etc/portscand/portscand.yaml
  /etc/portscand/rules/port-scan.yaml
  /etc/portscand/rules/port-sweep.yaml
  /usr/share/man/man1/portscand.1.gz
  /usr/share/doc/portscand/README.md
  /usr/share/doc/portscand/README.deploy.md
  /usr/share/doc/portscand/copyright
  /usr/share/doc/portscand/changelog.gz
  /usr/share/doc/portscand/examples/grafana/portscand-dashboard.json
  /usr/share/doc/portscand/examples/prometheus/portscand-rules.yml
  /usr/share/doc/portscand/examples/kubernetes/statefulset.yaml
  /usr/share/doc/portscand/examples/kubernetes/portscand.yaml
  /usr/share/doc/portscand/examples/kubernetes/kustomization.yaml
)
[ -f "$src/systemd/portscand.socket" ] && expected+=(/lib/systemd/system/portscand.socket)
for f in "${expected[@]}"; do
  grep -qxF "$f" "$work/files.txt" || failed "the package lacks $f"
done
if [ ! -f "$src/systemd/portscand.socket" ] && grep -q 'portscand.socket' "$work/files.txt"; then
  failed "the package has a portscand.socket the tree does not have"
fi

# 2. Control data.
dpkg-deb -e "$deb" "$work/control"
for script in postinst prerm postrm; do
  [ -x "$work/control/$script" ] || failed "$script is missing or not executable"
  sh -n "$work/control/$script" || failed "$script is not valid sh"
done
etc_files=$(dpkg -c "$deb" | awk '$1 !~ /^d/ { print $NF }' | sed 's#^\./#/#' | grep '^/etc/' | sort)
conffiles=$(sort "$work/control/conffiles" 2>/dev/null)
[ -n "$etc_files" ] && [ "$etc_files" = "$conffiles" ] ||
  failed "conffiles ($(echo $conffiles)) != files under /etc ($(echo $etc_files))"
version=$("$build/daemon/portscand" --version | awk '{ print $2 }')
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || failed "package version $(dpkg-deb -f "$deb" Version) != portscand --version $version"
depends=$(dpkg-deb -f "$deb" Depends)
for d in systemd librdkafka1 libyaml-cpp libsystemd0 libc6; do
  grep -q "$d" <<<"$depends" || failed "Depends lacks $d: $depends"
done

# 3. The packaged files themselves.
dpkg-deb -x "$deb" "$work/root"
"$work/root/usr/bin/portscand" --version | grep -qx "portscand $version" || failed "the packaged binary does not run"
cmp -s "$work/root/lib/systemd/system/portscand.service" "$src/systemd/portscand.service" ||
  failed "the packaged unit differs from systemd/portscand.service"
gzip -t "$work/root/usr/share/man/man1/portscand.1.gz" || failed "the man page is not valid gzip"
cmp -s <(gzip -dc "$work/root/usr/share/man/man1/portscand.1.gz") "$src/deploy/man/portscand.1" ||
  failed "the packaged man page differs from deploy/man/portscand.1"

# 4. lintian: errors fail; the rest is listed (deploy/README.md explains them).
lintian -I -E --tag-display-limit 0 --pedantic "$deb" >"$work/lintian.txt" 2>&1
grep -v '^running with root privileges' "$work/lintian.txt" | sed 's/^/  lintian: /'
grep -q '^E: ' "$work/lintian.txt" && failed "lintian reports errors"

# 5. The postinst, with stand-ins that log their calls.
shims=$work/shims
mkdir -p "$shims"
for cmd in systemctl deb-systemd-helper deb-systemd-invoke systemd-sysusers systemd-tmpfiles; do
  cat >"$shims/$cmd" <<EOF
#!/bin/sh
echo "$cmd \$*" >>"$work/calls.log"
[ "$cmd \$1 \$2" = "deb-systemd-helper --quiet was-enabled" ] && exit "\${WAS_ENABLED:-0}"
exit 0
EOF
done
cat >"$shims/runuser" <<EOF
#!/bin/sh
echo "runuser \$*" >>"$work/calls.log"
[ "\$1" = -u ] && [ "\$3" = -- ] || exit 64
shift 3
exec "\$@"
EOF
cat >"$shims/portscand" <<EOF
#!/bin/sh
echo "portscand \$*" >>"$work/calls.log"
if [ "\${CHECK_RC:-0}" -ne 0 ]; then
  echo "/etc/portscand/portscand.yaml: inputs[0].properties.sasl.password: cannot read secret file /etc/portscand/secrets/kafka-password" >&2
fi
exit "\${CHECK_RC:-0}"
EOF
chmod +x "$shims"/*

# [CHECK_RC=n] [WAS_ENABLED=n] postinst SYSTEMD(yes|no) ARGS...: runs the postinst with
# check-config exiting CHECK_RC and was-enabled answering WAS_ENABLED; calls in calls.log,
# stderr in postinst.err.
postinst() {
  local systemd=$1
  shift
  : >"$work/calls.log"
  unshare -m sh -c '
    mount -t tmpfs tmpfs /run/systemd || exit 90
    [ "$1" = yes ] && mkdir /run/systemd/system
    shift
    exec sh "$@"' sh "$systemd" "$work/control/postinst" "$@" \
    2>"$work/postinst.err" >/dev/null
}
export PATH="$shims:$PATH"
called() { grep -qxF "$1" "$work/calls.log"; }
not_called() { ! grep -q "$1" "$work/calls.log"; }

CHECK_RC=3 WAS_ENABLED=1 postinst yes configure ""
rc=$?
[ $rc -eq 0 ] || failed "postinst (first install, bad config) exited $rc: $(cat "$work/postinst.err")"
called "systemd-sysusers portscand.conf" || failed "first install: the user is not created"
called "systemctl --system daemon-reload" || failed "first install: no daemon-reload"
called "deb-systemd-helper enable portscand.service" || failed "first install: the unit is not enabled"
called "runuser -u portscand -- portscand check-config --config /etc/portscand/portscand.yaml" ||
  failed "first install: check-config is not run as the portscand user on the installed config"
not_called "deb-systemd-invoke" || failed "first install with a failing check-config started the service: $(cat "$work/calls.log")"
grep -q 'enabled but NOT started' "$work/postinst.err" || failed "first install, bad config: the postinst does not say the service was not started"
grep -q 'cannot read secret file' "$work/postinst.err" || failed "first install, bad config: check-config's problems are not shown"

CHECK_RC=0 postinst yes configure ""
called "deb-systemd-invoke start portscand.service" || failed "first install with a valid config: not started: $(cat "$work/calls.log")"
grep -q 'NOT' "$work/postinst.err" && failed "first install with a valid config: $(cat "$work/postinst.err")"

CHECK_RC=0 WAS_ENABLED=0 postinst yes configure 0.0.9
called "deb-systemd-invoke try-restart portscand.service" || failed "upgrade with a valid config: not restarted: $(cat "$work/calls.log")"
called "deb-systemd-helper enable portscand.service" || failed "upgrade of an enabled unit: not kept enabled"

CHECK_RC=0 WAS_ENABLED=1 postinst yes configure 0.0.9
called "deb-systemd-helper enable portscand.service" && failed "upgrade of a disabled unit: enabled against the administrator's choice"
called "deb-systemd-helper update-state portscand.service" || failed "upgrade of a disabled unit: state not updated"

CHECK_RC=3 WAS_ENABLED=0 postinst yes configure 0.0.9
not_called "deb-systemd-invoke" || failed "upgrade with a failing check-config restarted the service"
grep -q 'NOT restarted' "$work/postinst.err" || failed "upgrade, bad config: the postinst does not say so"

CHECK_RC=0 postinst no configure ""
not_called "systemctl" || failed "without systemd: systemctl was called"
not_called "deb-systemd-invoke" || failed "without systemd: a start was attempted"
called "deb-systemd-helper enable portscand.service" || failed "without systemd: the unit is not enabled for the next boot"

if [ $failures -ne 0 ]; then
  echo "work directory kept: $work" >&2
  exit 1
fi
echo "$(basename "$deb"): ${#expected[@]} expected files, conffiles, lintian without errors, postinst behaves"
rm -rf "$work"
echo "PASS"
