#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing, benchmarking and running the
# demo need. Idempotent: when everything is present it changes nothing and prints one line.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang libclang-rt-14-dev
  # the formatting and clang-tidy checks of deploy/test.sh (version 14: what the tree is held to)
  clang-format clang-tidy
  # libraries of the daemon
  libsimdjson-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libboost-dev librdkafka-dev libsystemd-dev libssl-dev
  # IANA time zones for inputs' `timezone:` (libstdc++ 12 has no C++20 tzdb)
  libhowardhinnant-date-dev tzdata
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev time
  # real peers for the integration tests
  bsdutils rsyslog rsyslog-openssl prometheus systemd kcat openssl
  # log shippers producing to Kafka (shippers_kafka tests): rsyslog's omkafka, and the
  # libraries of syslog-ng and its Kafka module, which are unpacked below
  rsyslog-kafka librdkafka1 libglib2.0-0 libivykis0 libjson-c5 libnet1 libpcre3 libwrap0 libcap2
  # operations tests: scrape /metrics, render the man page, build and lint the .deb
  curl groff-base man-db dpkg-dev lintian util-linux
  # JSON lines in the shell tests (parse_command, envelopes_replay)
  jq
  # the recording HTTP receiver of faults_http_kill9 (the standard library's http.server)
  python3
  # the reply-flow test: a real connect scan (nmap) between network namespaces (iproute2),
  # a listener on the victim (socat), a bidirectional flow exporter (pmacct's pmacctd)
  iproute2 nmap socat pmacct
)

# Node.js runs the DuckDB oracle. Machines that already carry a Node.js of their own (from
# another repository) conflict with Debian's nodejs/npm packages, so ask for them only when
# the commands are missing.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# syslog-ng for the shippers_kafka_syslog_ng test. Debian's syslog-ng-core conflicts with
# rsyslog (both provide system-log-daemon), which the other syslog tests need, so the two
# packages are unpacked (not installed) under /opt/portscand-tests/syslog-ng: nothing of them
# runs as a service, and the test starts that syslog-ng with its own configuration.
# SYSLOG_NG_ROOT overrides the place, for the test as well.
sng_root=${SYSLOG_NG_ROOT:-/opt/portscand-tests/syslog-ng}
if [ ! -x "$sng_root/usr/sbin/syslog-ng" ] || ! compgen -G "$sng_root/usr/lib/syslog-ng/3.*/libkafka.so" >/dev/null; then
  echo "install-deps: unpacking syslog-ng-core and syslog-ng-mod-rdkafka under $sng_root"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  debs=$(mktemp -d)
  # apt-get download fetches as the _apt user when it can write there
  [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1 && chown _apt "$debs"
  (cd "$debs" && apt-get download -q syslog-ng-core syslog-ng-mod-rdkafka)
  "${sudo_cmd[@]}" mkdir -p "$sng_root"
  for d in "$debs"/*.deb; do "${sudo_cmd[@]}" dpkg-deb -x "$d" "$sng_root"; done
  rm -rf "$debs"
fi

# DuckDB is the independent oracle of the replay tests and the benchmark; it comes from the
# npm registry (the package ships its native library).
here=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$here/tests/oracle/node_modules/@duckdb/node-api" ]; then
  echo "install-deps: installing the DuckDB oracle (npm ci)"
  (cd "$here/tests/oracle" && npm ci --no-audit --no-fund --loglevel=error)
fi
