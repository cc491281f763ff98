#!/usr/bin/env bash
# mock_broker's contract, which the integration tests and the demo rely on: the bootstrap
# address is the first stdout line, every control command gets one reply line, SIGTERM
# stops it with exit 0, and end of stdin stops it only with --exit-on-stdin-eof.
set -euo pipefail
MOCK_BROKER=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

coproc MB { exec "$MOCK_BROKER" --brokers 3 --topic alerts:3 --topic other 2>/dev/null; }
# Bash unsets MB_PID (and MB) as soon as it reaps the coprocess, which can happen between the
# kill and the wait below: keep our own copy.
mb_pid=$MB_PID
read -r -t 10 BOOT <&"${MB[0]}" || fail "no bootstrap line"
[[ $BOOT =~ ^127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+){2}$ ]] || fail "bootstrap '$BOOT'"

expect() {  # expect COMMAND REPLY-PATTERN
  echo "$1" >&"${MB[1]}"
  local reply
  read -r -t 10 reply <&"${MB[0]}" || fail "no reply to '$1'"
  [[ $reply == $2 ]] || fail "'$1' -> '$reply', expected '$2'"
}
expect "broker down 2" ok
expect "broker up 2" ok
expect "broker down -1" ok
expect "broker up -1" ok
expect "leader alerts 1 3" ok
expect "error PRODUCE TOPIC_AUTHORIZATION_FAILED 3" ok
expect "error produce RD_KAFKA_RESP_ERR__TRANSPORT 1" ok
expect "error 0 29 2" ok
expect "clear PRODUCE" ok
expect "clear" ok
expect "rtt -1 5" ok
expect "topic late 2" ok
expect "broker down 4" "error: broker id must be 1..3 or -1"
expect "error PRODUCE NO_SUCH_ERROR 1" "error: unknown error code*"
expect "frobnicate" "error: unknown or malformed command*"

kill -TERM "$mb_pid"
rc=0; wait "$mb_pid" || rc=$?
[[ $rc == 0 ]] || fail "exit code $rc after SIGTERM"

# stdin from /dev/null (a backgrounded demo): keeps serving.
"$MOCK_BROKER" </dev/null >/dev/null 2>&1 &
pid=$!
sleep 1
kill -0 "$pid" 2>/dev/null || fail "exited on end of stdin without --exit-on-stdin-eof"
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
[[ $rc == 0 ]] || fail "exit code $rc after SIGINT"

# --exit-on-stdin-eof: dies with its controller.
rc=0; timeout 10 "$MOCK_BROKER" --exit-on-stdin-eof </dev/null >/dev/null 2>&1 || rc=$?
[[ $rc == 0 ]] || fail "exit code $rc on end of stdin with --exit-on-stdin-eof"
echo "mock_broker: ok"
