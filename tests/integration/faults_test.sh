#!/usr/bin/env bash
# faults_test.sh PORTSCAND GEN_WORKLOAD MOCK_BROKER NOTIFY_LISTENER SCENARIO
#
# Fault injection against the real `portscand run` process, one fault per scenario, each
# proving end to end what README.md's Operations section ("What happens on each fault")
# promises. Expected alerts come from the DuckDB oracle over the same records, or are
# written out by hand here; never from the daemon's own output.
#
# SCENARIO:
#   output_down        a Kafka output whose only broker goes down (mock cluster) while a
#                      file input delivers scans. Under a systemd-style watchdog
#                      (WATCHDOG_USEC=3s, pings timed on a real notification socket) the
#                      pings never stop, checkpoints that cannot drain are skipped and
#                      counted, the output's error, pending and unconfirmed-age metrics
#                      move, /healthz answers, /readyz answers 503 naming the output; with
#                      the broker back every alert arrives in the same process and
#                      checkpoints resume; in a second outage with alerts pending, SIGTERM
#                      exits 0 within 30 s (README: about 20 s); a restart with the broker
#                      back publishes the rest.
#   output_enospc      a file output whose writes fail with ENOSPC (its path a symbolic link
#                      to /dev/full): the failures are counted and logged, the alerts kept
#                      pending, a checkpoint skipped, /healthz 200 and /readyz 503, SIGTERM
#                      exits 0 within 30 s; restarted with space again, every alert is
#                      written and equals the oracle's.
#   corrupt_checkpoint the first half of a workload (split at a bin boundary) is read and
#                      alerted, kill -9 once two checkpoints cover those alerts, one byte of
#                      the newest generation's shard-0 file flipped; restarted with the
#                      second half appended: shard 0 comes back from the older generation
#                      (logged), no alert is published twice (the state, alerted flags
#                      included, was restored), and the alerts equal the oracle's.
#   missing_current    the same with state_dir/CURRENT deleted instead: the daemon finds
#                      the newest generation without it.
#   slowloris          a TCP syslog listener with max_connections 4 held by 4 peers that
#                      drip one byte a second of a message they never finish; logger then
#                      sends a planted scan over a new connection: it is admitted (a dripper
#                      evicted, counted), the scan alerts, and the remaining drippers are
#                      closed at frame_timeout (counted, their partial messages as
#                      truncated).
#   key_flood          limits.max_keys_per_shard 1000 on one shard, 20,000 spoofed sources
#                      with one port each, three fast scanners ahead of the flood and three
#                      slow ones spread through it: every scanner alerts exactly as the
#                      oracle says, every shed key is in the farthest distance band, shed
#                      plus tracked keys add up to the keys seen, and the tracked keys stay
#                      at or under the cap.
#   http_kill9         an HTTP output (webhook preset) whose receiver is down (nothing
#                      listening on its port): once every alert the oracle expects is in
#                      the spool (pending, spool bytes > 0), kill -9; a recording receiver
#                      (python3's http.server) comes up and the daemon restarts on the same
#                      config and state_dir: it reports the spooled alerts recovered and
#                      sends them first, then the re-evaluation's copies; every request
#                      carries Idempotency-Key = alert_id, every copy of an id has the
#                      same content (detected_at aside), the alerts equal the oracle's, and
#                      SIGTERM exits 0.
#
# Fails, never skips, when anything it needs is missing. On failure the work directory is
# kept and the daemon log's tail printed.
set -uo pipefail

[ $# -eq 5 ] || { echo "usage: $0 PORTSCAND GEN_WORKLOAD MOCK_BROKER NOTIFY_LISTENER SCENARIO" >&2; exit 2; }
portscand=$1 gen=$2 mock=$3 listener=$4 scenario=$5
here=$(cd "$(dirname "$0")" && pwd)
oracle=$here/../oracle

die() { echo "FAIL ($scenario): $*" >&2; exit 1; }
for x in "$portscand" "$gen" "$mock" "$listener"; do [ -x "$x" ] || die "missing executable $x"; done
command -v curl >/dev/null || die "curl is not installed (deploy/install-deps.sh installs it)"
command -v node >/dev/null || die "node is not installed (deploy/install-deps.sh installs it)"
[ -d "$oracle/node_modules/@duckdb/node-api" ] || die "the DuckDB oracle is not installed (cd tests/oracle && npm ci)"

work=$(mktemp -d "${TMPDIR:-/tmp}/faults_$scenario.XXXXXX") || die "mktemp failed"
daemon_pid=
broker_pid=
bootstrap=
listener_pid=
receiver_pid=
drippers=()
cleanup() {
  [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
  [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null
  local p
  for p in "${drippers[@]}"; do kill "$p" 2>/dev/null; done
  exec 7>&- 2>/dev/null
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
}
trap cleanup EXIT
fail() {
  echo "FAIL ($scenario): $*" >&2
  echo "work directory kept: $work" >&2
  if [ -f "$work/daemon.log" ]; then
    echo "--- daemon.log (last 40 lines)" >&2
    tail -40 "$work/daemon.log" >&2
  fi
  exit 1
}
# wait_for SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds or time is up.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  while [ $SECONDS -lt $deadline ]; do
    "$@" && return 0
    [ -n "$daemon_pid" ] && ! kill -0 "$daemon_pid" 2>/dev/null && fail "portscand run died"
    sleep 0.2
  done
  "$@"
}

iso() { TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T' "$1"; }
now=$(date +%s)

# ---- the daemon ----------------------------------------------------------------------------------
port=
# start_daemon [VAR=VALUE...]: runs `portscand run` with those environment variables (the
# subshell's own pid as WATCHDOG_PID, as systemd sets it) and waits for "running:".
start_daemon() {
  local lines=0
  [ -f "$work/daemon.log" ] && lines=$(wc -l <"$work/daemon.log")
  (
    for kv in "$@"; do export "${kv?}"; done
    [ -n "${WATCHDOG_USEC:-}" ] && export WATCHDOG_PID=$BASHPID
    exec "$portscand" run --config "$work/portscand.yaml"
  ) >>"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  running() { tail -n +$((lines + 1)) "$work/daemon.log" | grep -q 'running: '; }
  wait_for 30 running ||
    fail "portscand run did not report running within 30 s"
  port=$(tail -n +$((lines + 1)) "$work/daemon.log" | sed -n 's/.*metrics on http:.*(port \([0-9]*\)).*/\1/p' | head -1)
  [ -n "$port" ] || fail "the daemon did not announce its metrics port"
}
# stop_daemon MAX_SECONDS: SIGTERM, exit 0 within MAX_SECONDS.
stop_daemon() {
  local t0=$SECONDS rc
  kill -TERM "$daemon_pid"
  while kill -0 "$daemon_pid" 2>/dev/null && [ $((SECONDS - t0)) -le "$1" ]; do sleep 0.1; done
  kill -0 "$daemon_pid" 2>/dev/null && fail "still running $1 s after SIGTERM"
  wait "$daemon_pid"
  rc=$?
  daemon_pid=
  [ $rc -eq 0 ] || fail "exit code $rc after SIGTERM (want 0)"
  echo "SIGTERM: exit 0 after $((SECONDS - t0)) s"
}
kill9_daemon() {
  kill -9 "$daemon_pid"
  wait "$daemon_pid" 2>/dev/null
  daemon_pid=
}
scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" 2>/dev/null; }
# metric NAME [LABEL_TEXT]: the sum of NAME's samples whose labels contain LABEL_TEXT.
metric() {
  scrape | awk -v n="$1" -v l="${2:-}" '
    ($1 == n || index($1, n "{") == 1) && index($1, l) { v += $2 } END { printf "%d\n", v + 0 }'
}
metric_ge() { [ "$(metric "$1" "$2")" -ge "$3" ]; }

# The alerts of a file output, one line per id (every copy of an id must be identical),
# compared with the oracle's. compare_alerts PUBLISHED [--ignore FIELD]...
compare_alerts() {
  local published=$1
  shift
  summary=$(node "$here/dedupe_alerts.mjs" "$published" "$work/actual.jsonl") ||
    fail "an alert id was published with different content"
  echo "$scenario: $summary (oracle: $(wc -l <"$work/expected.jsonl"))"
  node "$oracle/compare.mjs" --names oracle,daemon "$@" "$work/expected.jsonl" "$work/actual.jsonl" \
    >"$work/compare.log" 2>&1 || fail "alerts differ from the oracle: $(head -20 "$work/compare.log")"
}
# Before a restart onto a restored watermark: the workload's bins are all past due by the
# wall clock, and a restored watermark may follow the wall clock once every input has been
# idle for idle_timeout. 1 s is shorter than a slow (sanitizer) start takes to read the
# file again, which closed the bins on the restored state alone; 10 s is not.
restart_config() { sed -i 's/idle_timeout: 1s/idle_timeout: 10s/' "$work/portscand.yaml"; }
# The newest checkpoint epoch in state_dir (0: none).
newest_epoch() { { ls "$work/state" 2>/dev/null || true; } | sed -n 's/^ckpt-\([0-9]*\)$/\1/p' | sort -n | tail -1 | grep . || echo 0; }
distinct_ids() { { grep -o '"alert_id":"[^"]*"' "$1" 2>/dev/null || true; } | sort -u | wc -l; }
file_ids_ge() { [ "$(distinct_ids "$work/alerts.jsonl")" -ge "$1" ]; }
# Distinct alert ids on the mock cluster's alert topic (output_down).
topic_ids_ge() {
  [ "$(kcat -C -b "$bootstrap" -t alerts -o beginning -e -q 2>/dev/null | { grep -o '"alert_id":"[^"]*"' || true; } | sort -u | wc -l)" -ge "$1" ]
}

# A workload of planted scans in 30 minutes ending 20 minutes ago (inside the retention
# horizon for the whole test, so records read again after a restart are not late), and the
# oracle's alerts for it.
workload() {
  local start=$(((now - 50 * 60) / 300 * 300))
  "$gen" --events 30000 --sources 3000 --scans 12 --seed 41 --start "$(iso "$start")" \
    --duration-min 30 --bad-lines 0 --manifest "$work/manifest.json" >"$work/workload.jsonl" 2>"$work/gen.log" ||
    fail "gen_workload failed: $(cat "$work/gen.log")"
  node "$oracle/oracle.mjs" "$work/workload.jsonl" >"$work/expected.jsonl" 2>"$work/oracle.log" ||
    fail "the oracle failed: $(tail -5 "$work/oracle.log")"
  [ "$(wc -l <"$work/expected.jsonl")" -ge 8 ] || fail "the oracle expects too few alerts to prove anything"
  # The two halves, split at the bin boundary 15 minutes in: no bin has records in both.
  split_at=$((start + 15 * 60))
  node -e '
    const fs = require("fs");
    const [file, at] = [process.argv[1], Number(process.argv[2]) * 1000];
    const a = [], b = [];
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      if (!line) continue;
      let t = NaN;
      try { t = Date.parse(JSON.parse(line).TimeGenerated); } catch (e) {}
      (t < at ? a : b).push(line + "\n");
    }
    fs.writeFileSync(file + ".1", a.join(""));
    fs.writeFileSync(file + ".2", b.join(""));
  ' "$work/workload.jsonl" "$split_at" || fail "could not split the workload"
  # Alerts expected from the first half alone (the oracle's bins start before the split).
  expected_first=$(node -e '
    const fs = require("fs");
    const at = Number(process.argv[2]) * 1000;
    console.log(fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean)
      .filter((l) => Date.parse(JSON.parse(l).TimeGenerated) < at).length);
  ' "$work/expected.jsonl" "$split_at")
  if [ "$expected_first" -lt 2 ] || [ "$expected_first" -ge "$(wc -l <"$work/expected.jsonl")" ]; then
    fail "the split leaves $expected_first of $(wc -l <"$work/expected.jsonl") alerts in the first half"
  fi
}

# ---- scenarios -----------------------------------------------------------------------------------
output_down() {
  mkfifo "$work/ctl"
  "$mock" --brokers 1 --topic alerts:1 --exit-on-stdin-eof <"$work/ctl" >"$work/broker.out" 2>"$work/broker.log" &
  broker_pid=$!
  exec 7>"$work/ctl"
  wait_for 10 test -s "$work/broker.out" || fail "the mock broker printed no bootstrap address"
  bootstrap=$(head -1 "$work/broker.out")
  command -v kcat >/dev/null || fail "kcat is not installed (deploy/install-deps.sh installs it)"
  workload
  : >"$work/input.jsonl"
  cat >"$work/portscand.yaml" <<YAML
evaluation: {schedule: on_close, idle_timeout: 1s}
shards: 2
state_dir: $work/state
checkpoint_interval: 1s
inputs:
  - {type: file, name: records, path: $work/input.jsonl, format: asim}
outputs:
  - type: kafka
    name: alerts
    brokers: "$bootstrap"
    topic: alerts
    properties: {message.timeout.ms: "300000", retry.backoff.ms: "100", reconnect.backoff.max.ms: "500"}
metrics: {listen: "127.0.0.1:0"}
YAML
  # Every notification with the time it arrived (microseconds), as systemd would see it.
  # The listener writes into a FIFO so that its own pid is the one cleanup kills.
  mkfifo "$work/notify.fifo"
  "$listener" "$work/notify.sock" --timeout 300 >"$work/notify.fifo" 2>"$work/listener.err" &
  listener_pid=$!
  while IFS= read -r line; do
    printf '%s %s\n' "${EPOCHREALTIME/./}" "$line"
  done <"$work/notify.fifo" >"$work/notify.log" &
  wait_for 10 test -S "$work/notify.sock" || fail "notify_listener did not create its socket"
  start_daemon NOTIFY_SOCKET="$work/notify.sock" WATCHDOG_USEC=3000000
  wait_for 10 grep -q 'READY=1' "$work/notify.log" || fail "no READY=1"

  echo "broker down -1" >&7
  cat "$work/workload.jsonl.1" >>"$work/input.jsonl"
  local outage_start=$SECONDS
  wait_for 60 metric_ge portscand_alerts_total "" "$expected_first" ||
    fail "the rule emitted $(metric portscand_alerts_total) of $expected_first alerts during the outage"
  # A checkpoint waits at most 10 s for its alerts to be confirmed; two skipped ones show the
  # loop going on through the outage.
  wait_for 60 metric_ge portscand_checkpoint_failures_total 'step="drain"' 2 ||
    fail "no checkpoint skipped for unconfirmed alerts: $(scrape | grep checkpoint_failures)"
  scrape >"$work/metrics-outage.txt" || fail "/metrics does not answer during the outage"
  curl -fsS --max-time 5 "http://127.0.0.1:$port/healthz" >/dev/null || fail "/healthz does not answer 200 during the outage"
  local v
  v=$(metric portscand_alert_output_errors_total 'output="alerts"')
  [ "$v" -ge 1 ] || fail "no output error counted: $(grep output_errors "$work/metrics-outage.txt")"
  v=$(metric portscand_alerts_pending 'output="alerts"')
  [ "$v" -ge 1 ] || fail "portscand_alerts_pending{output=alerts} is $v during the outage"
  v=$(metric portscand_alerts_unconfirmed_age_seconds)
  [ "$v" -ge 5 ] || fail "portscand_alerts_unconfirmed_age_seconds is $v during the outage"
  v=$(metric portscand_alerts_delivered_total 'output="alerts"')
  [ "$v" -eq 0 ] || fail "$v alerts counted as delivered with the broker down"
  local code
  code=$(curl -s --max-time 5 -o "$work/readyz.txt" -w '%{http_code}' "http://127.0.0.1:$port/readyz")
  [ "$code" = 503 ] || fail "/readyz answered $code during the outage (want 503)"
  grep -q 'output' "$work/readyz.txt" || fail "/readyz does not name the output: $(cat "$work/readyz.txt")"
  echo "outage: $((SECONDS - outage_start)) s, /readyz 503: $(cat "$work/readyz.txt")"
  grep -E '^portscand_(checkpoint_failures_total|alert_output_errors_total|alerts_pending|alerts_unconfirmed_age_seconds)' \
    "$work/metrics-outage.txt" | sed 's/^/  /'

  echo "broker up -1" >&7
  wait_for 90 topic_ids_ge "$expected_first" ||
    fail "the alerts of the outage did not arrive within 90 s of the broker's return"
  nothing_pending() { [ "$(metric portscand_alerts_pending 'output="alerts"')" -eq 0 ]; }
  wait_for 30 nothing_pending ||
    fail "alerts still pending after the recovery"
  # Checkpoints resume: the age falls back under a few intervals.
  checkpoint_fresh() { [ "$(metric portscand_checkpoint_age_seconds)" -lt 3 ]; }
  wait_for 30 checkpoint_fresh ||
    fail "no checkpoint after the recovery: $(scrape | grep checkpoint_age)"
  kcat -C -b "$bootstrap" -t alerts -o beginning -e -q >"$work/published-1.jsonl" 2>/dev/null

  # Second outage, alerts pending: SIGTERM must not wait for the broker.
  echo "broker down -1" >&7
  local emitted
  emitted=$(metric portscand_alerts_total)
  cat "$work/workload.jsonl.2" >>"$work/input.jsonl"
  wait_for 60 metric_ge portscand_alerts_pending 'output="alerts"' 1 ||
    fail "no alert pending in the second outage"
  wait_for 60 metric_ge portscand_alerts_total "" "$(wc -l <"$work/expected.jsonl")" ||
    fail "the rule emitted $(($(metric portscand_alerts_total) - emitted)) alerts of the second half"
  stop_daemon 30
  grep -q 'STOPPING=1' "$work/notify.log" || fail "no STOPPING=1 on SIGTERM"
  # The pings from READY to STOPPING, through both outages and the recovery: never a gap
  # systemd would act on.
  local pings max_gap
  sed '/STOPPING=1/q' "$work/notify.log" | grep -E 'WATCHDOG=1|STOPPING=1' >"$work/pings.log"
  pings=$(grep -c 'WATCHDOG=1' "$work/pings.log")
  max_gap=$(awk 'NR > 1 { g = $1 - prev; if (g > m) m = g } { prev = $1 } END { print int(m / 1000) }' "$work/pings.log")
  echo "watchdog: $pings pings, longest gap $max_gap ms (WATCHDOG_USEC=3s)"
  [ "$pings" -ge 10 ] || fail "only $pings watchdog pings through the outages"
  [ "$max_gap" -lt 3000 ] || fail "the watchdog went unpinged for $max_gap ms: systemd would kill the daemon"

  # Nothing lost: with the broker back, a restart publishes the rest. The file input is read
  # again from its start onto the restored windows, so an alert first emitted now may count
  # records twice (event_count; README, Delivery guarantees): compared without it.
  echo "broker up -1" >&7
  restart_config
  start_daemon
  wait_for 90 topic_ids_ge "$(wc -l <"$work/expected.jsonl")" ||
    fail "not every alert arrived after the restart"
  stop_daemon 30
  kcat -C -b "$bootstrap" -t alerts -o beginning -e -q >"$work/published.jsonl" 2>/dev/null
  # The first outage's alerts arrived before any restart: exact, event_count included.
  node -e '
    const fs = require("fs");
    const ids = new Set(fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).alert_id));
    const exp = fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).filter((l) => ids.has(JSON.parse(l).alert_id));
    fs.writeFileSync(process.argv[3], exp.join("\n") + "\n");
  ' "$work/published-1.jsonl" "$work/expected.jsonl" "$work/expected-1.jsonl"
  [ "$(wc -l <"$work/expected-1.jsonl")" -eq "$expected_first" ] ||
    fail "the alerts delivered after the first outage are not the oracle's first-half alerts"
  node "$here/dedupe_alerts.mjs" "$work/published-1.jsonl" "$work/actual-1.jsonl" >/dev/null ||
    fail "an alert id was published with different content"
  node "$oracle/compare.mjs" --names oracle,daemon "$work/expected-1.jsonl" "$work/actual-1.jsonl" \
    >"$work/compare-1.log" 2>&1 || fail "the alerts of the first outage differ from the oracle: $(head -20 "$work/compare-1.log")"
  compare_alerts "$work/published.jsonl" --ignore event_count
}

output_enospc() {
  # The file output's path is a symbolic link to /dev/full, whose writes fail with ENOSPC as
  # on a full disk (no mount needed, works unprivileged).
  workload
  ln -s /dev/full "$work/alerts.jsonl" || fail "cannot link to /dev/full"
  # idle_timeout as restart_config says: a stall while the file is read (a loaded sanitizer
  # build) must not let the wall clock close its bins early.
  cat >"$work/portscand.yaml" <<YAML
evaluation: {schedule: on_close, idle_timeout: 10s}
shards: 2
state_dir: $work/state
checkpoint_interval: 1s
inputs:
  - {type: file, name: records, path: $work/workload.jsonl, format: asim}
outputs:
  - {type: file, name: alerts, path: $work/alerts.jsonl}
metrics: {listen: "127.0.0.1:0"}
YAML
  start_daemon
  wait_for 60 metric_ge portscand_alert_delivery_failures_total 'reason="write:ENOSPC"' 2 ||
    fail "no write:ENOSPC delivery failures counted: $(scrape | grep delivery_failures)"
  wait_for 60 metric_ge portscand_checkpoint_failures_total 'step="drain"' 1 ||
    fail "no checkpoint skipped for unconfirmed alerts: $(scrape | grep checkpoint_failures)"
  kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon died on ENOSPC"
  curl -fsS --max-time 5 "http://127.0.0.1:$port/healthz" >/dev/null || fail "/healthz does not answer 200 on ENOSPC"
  local v code
  v=$(metric portscand_alerts_pending 'output="alerts"')
  [ "$v" -ge 1 ] || fail "portscand_alerts_pending{output=alerts} is $v: the undelivered alerts were dropped"
  v=$(metric portscand_alerts_delivered_total 'output="alerts"')
  [ "$v" -eq 0 ] || fail "$v alerts counted as delivered to /dev/full"
  code=$(curl -s --max-time 5 -o "$work/readyz.txt" -w '%{http_code}' "http://127.0.0.1:$port/readyz")
  [ "$code" = 503 ] || fail "/readyz answered $code with the output failing (want 503)"
  grep -q 'No space left on device' "$work/daemon.log" || fail "no log line names the failing write"
  stop_daemon 30
  # Space again: the next start writes every alert (the file input is read again from its
  # start onto the restored windows, so event_count may come out higher: compared without).
  rm "$work/alerts.jsonl"
  restart_config
  start_daemon
  wait_for 60 file_ids_ge "$(wc -l <"$work/expected.jsonl")" ||
    fail "only $(distinct_ids "$work/alerts.jsonl") of $(wc -l <"$work/expected.jsonl") alerts after the restart"
  stop_daemon 30
  compare_alerts "$work/alerts.jsonl" --ignore event_count
}

corrupt() {  # corrupt DAMAGE: corrupt_checkpoint (flip a byte) or missing_current
  local damage=$1
  workload
  cp "$work/workload.jsonl.1" "$work/input.jsonl"
  cat >"$work/portscand.yaml" <<YAML
evaluation: {schedule: on_close, idle_timeout: 1s}
shards: 2
state_dir: $work/state
checkpoint_interval: 1s
inputs:
  - {type: file, name: records, path: $work/input.jsonl, format: asim}
outputs:
  - {type: file, name: alerts, path: $work/alerts.jsonl}
metrics: {listen: "127.0.0.1:0"}
YAML
  start_daemon
  wait_for 60 file_ids_ge "$expected_first" ||
    fail "only $(distinct_ids "$work/alerts.jsonl") of the $expected_first first-half alerts written"
  # Two generations written after the alerts (the one under way then may hold an older
  # snapshot), so that both hold the alerted flags: wait for the epoch after next.
  local before newest older
  before=$(newest_epoch)
  epoch_ge() { [ "$(newest_epoch)" -ge "$1" ]; }
  wait_for 30 epoch_ge $((before + 3)) ||
    fail "no three checkpoints within 30 s (newest epoch $(newest_epoch), was $before)"
  kill9_daemon
  newest=$work/state/ckpt-$(newest_epoch)
  older=$work/state/ckpt-$(($(newest_epoch) - 1))
  [ -f "$older/manifest.json" ] || fail "no generation $(basename "$older") beside $(basename "$newest")"
  case "$damage" in
    byte)
      [ -s "$newest/shard-0.bin" ] || fail "$(basename "$newest") has no non-empty shard-0.bin to damage"
      # One byte changed in the middle, same size: only the checksum can tell.
      local size byte
      size=$(stat -c %s "$newest/shard-0.bin")
      byte=$(dd if="$newest/shard-0.bin" bs=1 skip=$((size / 2)) count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
      # shellcheck disable=SC2059 # the format is the octal escape of the new byte
      printf "$(printf '\\%03o' $(((byte + 1) % 256)))" |
        dd of="$newest/shard-0.bin" bs=1 seek=$((size / 2)) count=1 conv=notrunc 2>/dev/null
      echo "damaged one byte of $(basename "$newest")/shard-0.bin; $(basename "$older") is the older generation"
      ;;
    current)
      [ -f "$work/state/CURRENT" ] || fail "no CURRENT in state_dir to remove"
      rm "$work/state/CURRENT"
      echo "removed CURRENT (naming $(basename "$newest"))"
      ;;
  esac
  local ids_before
  ids_before=$(distinct_ids "$work/alerts.jsonl")
  cat "$work/workload.jsonl.2" >>"$work/input.jsonl"
  restart_config
  start_daemon
  wait_for 60 file_ids_ge "$(wc -l <"$work/expected.jsonl")" ||
    fail "only $(distinct_ids "$work/alerts.jsonl") of $(wc -l <"$work/expected.jsonl") alerts after the restart"
  # What the restore found, as the operator's rules see it (PortscandCheckpointDamaged).
  local problems from_newest from_older from_none want
  problems=$(metric portscand_checkpoint_restore_problems)
  from_newest=$(metric portscand_checkpoint_restored_shards 'from="newest"')
  from_older=$(metric portscand_checkpoint_restored_shards 'from="older"')
  from_none=$(metric portscand_checkpoint_restored_shards 'from="none"')
  case "$damage" in
    byte) want="1 1 1 0" ;;
    current) want="0 2 0 0" ;;
  esac
  [ "$problems $from_newest $from_older $from_none" = "$want" ] ||
    fail "restore metrics (problems, shards from newest/older/none) are $problems $from_newest $from_older $from_none, want $want"
  stop_daemon 30
  local epoch_newest=${newest##*ckpt-} epoch_older=${older##*ckpt-}
  case "$damage" in
    byte)
      grep -q "checkpoint file .*$(basename "$newest")/shard-0.bin is corrupt" "$work/daemon.log" ||
        fail "the damaged file was not reported"
      grep -q "shard 0: restored from the older checkpoint epoch $epoch_older" "$work/daemon.log" ||
        fail "shard 0 was not restored from the older generation (epoch $epoch_older)"
      grep -q "shard 1: restored from the older" "$work/daemon.log" && fail "shard 1 left the intact newest generation"
      ;;
    current)
      grep -q "restored checkpoint epoch $epoch_newest " "$work/daemon.log" ||
        fail "the newest generation (epoch $epoch_newest) was not restored without CURRENT"
      grep -q 'restored from the older' "$work/daemon.log" && fail "a shard fell back although every generation is intact"
      ;;
  esac
  # Restored alerted flags: the first half's alerts, read again, are not published again.
  local copies
  copies=$(grep -c . "$work/alerts.jsonl")
  [ "$copies" -eq "$(distinct_ids "$work/alerts.jsonl")" ] ||
    fail "$((copies - $(distinct_ids "$work/alerts.jsonl"))) alerts published twice: the restored state lost their alerted flags ($ids_before ids before the restart)"
  compare_alerts "$work/alerts.jsonl"
}

slowloris() {
  command -v logger >/dev/null || fail "logger is not installed (bsdutils; deploy/install-deps.sh)"
  logger --help 2>&1 | grep -q -- '--octet-count' || fail "logger has no --octet-count: util-linux >= 2.26 needed"
  cat >"$work/portscand.yaml" <<YAML
evaluation: {schedule: on_close, allowed_lateness: 0s, idle_timeout: 1s}
shards: 2
state_dir: $work/state
checkpoint_interval: 30s
inputs:
  - type: syslog
    name: tcp
    listen: "tcp://127.0.0.1:0"
    format: auto
    max_connections: 4
    max_connections_per_peer: 0
    frame_timeout: 12s
    idle_timeout: 5m
outputs:
  - {type: file, name: alerts, path: $work/alerts.jsonl}
metrics: {listen: "127.0.0.1:0"}
YAML
  start_daemon
  local sport
  sport=$(grep -o 'syslog listener on port [0-9]*' "$work/daemon.log" | awk '{print $NF}' | head -1)
  [ -n "$sport" ] || fail "no syslog listener port logged"
  # Four peers, each starting an LF-framed message and adding one byte a second, never
  # finishing it; one is started only when the previous one is connected, so they are
  # evicted oldest first.
  local i
  for i in 1 2 3 4; do
    (
      exec 3<>"/dev/tcp/127.0.0.1/$sport" || exit 1
      printf '<13>Dec  7 00:00:00 drip: ' >&3
      for _ in $(seq 120); do sleep 1; printf 'x' >&3 2>/dev/null || exit 0; done
    ) 2>/dev/null &
    drippers+=($!)
    wait_for 10 metric_ge portscand_syslog_connections_accepted_total 'input="tcp"' "$i" ||
      fail "dripper $i was not accepted"
  done
  [ "$(metric portscand_syslog_connections_open 'input="tcp"')" -eq 4 ] ||
    fail "$(metric portscand_syslog_connections_open 'input="tcp"') connections open, want the 4 drippers"
  # The scan: 203.0.113.77 tries ports 40000..40059 in one bin about 20 minutes ago.
  local bin_start=$(((now - 1200) / 300 * 300))
  for i in $(seq 0 59); do
    printf '{"TimeGenerated":"%s","SrcIpAddr":"203.0.113.77","DstIpAddr":"192.0.2.10","DstPortNumber":%d,"NetworkProtocol":"TCP","DvcAction":"Drop","EventVendor":"Contoso","EventProduct":"EdgeFirewall"}\n' \
      "$(iso $((bin_start + i)))" $((40000 + i))
  done >"$work/scan.lines"
  timeout 30 logger --server 127.0.0.1 --port "$sport" --tcp --octet-count --rfc5424=notq -t edgefw \
    -f "$work/scan.lines" >"$work/logger.out" 2>&1 || fail "logger could not send: $(cat "$work/logger.out")"
  wait_for 30 test -s "$work/alerts.jsonl" || fail "no alert within 30 s of the scan sent past the slowloris"
  [ "$(metric portscand_syslog_messages_received_total 'input="tcp"')" -eq 60 ] ||
    fail "$(metric portscand_syslog_messages_received_total 'input="tcp"') messages received, 60 sent"
  [ "$(metric portscand_syslog_connections_closed_total 'reason="evicted"')" -ge 1 ] ||
    fail "no eviction counted: $(scrape | grep connections_closed)"
  [ "$(metric portscand_syslog_connections_open 'input="tcp"')" -le 4 ] || fail "more than max_connections open"
  node -e '
    const a = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse);
    const want = Array.from({length: 60}, (_, i) => 40000 + i);
    const ok = a.length === 1 && a[0].SrcIpAddr === "203.0.113.77" && a[0].AttemptedPortsCount === 60 &&
      JSON.stringify(a[0].AttemptedPorts) === JSON.stringify(want) &&
      Date.parse(a[0].TimeGenerated) / 1000 === Number(process.argv[2]);
    if (!ok) { console.error(JSON.stringify(a)); process.exit(1); }
  ' "$work/alerts.jsonl" "$bin_start" || fail "the alert is not the planted scan"
  # The drippers left are closed at frame_timeout (12 s after their first byte).
  wait_for 30 metric_ge portscand_syslog_connections_closed_total 'reason="frame_timeout"' 3 ||
    fail "the drippers were not closed at frame_timeout: $(scrape | grep connections_closed)"
  wait_for 10 metric_ge portscand_syslog_messages_rejected_total 'reason="truncated"' 3 ||
    fail "the drippers' partial messages were not counted as truncated"
  scrape | grep -E '^portscand_syslog_(connections_(closed|refused)_total|messages_rejected_total)' | sed 's/^/  /'
  stop_daemon 30
}

key_flood() {
  # One bin about 25 minutes ago. Three fast scanners first (60 ports each, over the
  # threshold before the flood comes), then 20,000 spoofed sources with one port each, and
  # three slow scanners, each sending two ports at its start and then one port every 100
  # flood records, so that it always holds more ports than a flood source.
  local bin_start=$(((now - 1500) / 300 * 300)) flood=20000
  awk -v t0="$bin_start" -v n="$flood" '
    function iso(t) { return strftime("%Y-%m-%dT%H:%M:%SZ", t, 1) }
    function rec(t, src, port) {
      printf "{\"TimeGenerated\":\"%s\",\"SrcIpAddr\":\"%s\",\"DstIpAddr\":\"192.0.2.10\",\"DstPortNumber\":%d,\"NetworkProtocol\":\"TCP\",\"DvcAction\":\"Deny\",\"EventVendor\":\"Contoso\",\"EventProduct\":\"EdgeFirewall\"}\n", iso(t), src, port
    }
    BEGIN {
      for (s = 1; s <= 3; s++) for (p = 0; p < 60; p++) rec(t0 + p, "203.0.113." s, 1000 + p)
      for (s = 1; s <= 3; s++) { rec(t0 + 60, "198.51.100." s, 2000); rec(t0 + 60, "198.51.100." s, 2001) }
      sent = 2
      for (i = 0; i < n; i++) {
        t = t0 + 60 + int(i * 200 / n)
        rec(t, sprintf("45.%d.%d.%d", int(i / 65536) + 1, int(i / 256) % 256, i % 256), 443)
        if (i % 100 == 99 && sent < 60) {
          for (s = 1; s <= 3; s++) rec(t, "198.51.100." s, 2000 + sent)
          sent++
        }
      }
    }' >"$work/flood.jsonl" || fail "awk could not write the flood"
  local keys=$((flood + 6))
  node "$oracle/oracle.mjs" "$work/flood.jsonl" >"$work/expected.jsonl" 2>"$work/oracle.log" ||
    fail "the oracle failed: $(tail -5 "$work/oracle.log")"
  [ "$(wc -l <"$work/expected.jsonl")" -eq 6 ] || fail "the oracle expects $(wc -l <"$work/expected.jsonl") alerts, the workload plants 6"
  cat >"$work/portscand.yaml" <<YAML
evaluation: {schedule: on_close, idle_timeout: 1s}
shards: 1
state_dir: $work/state
checkpoint_interval: 30s
limits: {max_keys_per_shard: 1000}
inputs:
  - {type: file, name: records, path: $work/flood.jsonl, format: asim}
outputs:
  - {type: file, name: alerts, path: $work/alerts.jsonl}
metrics: {listen: "127.0.0.1:0"}
YAML
  start_daemon
  local max_tracked=0 tracked
  local deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ] && [ "$(distinct_ids "$work/alerts.jsonl")" -lt 6 ]; do
    tracked=$(metric portscand_tracked_keys)
    [ "$tracked" -gt "$max_tracked" ] && max_tracked=$tracked
    kill -0 "$daemon_pid" 2>/dev/null || fail "portscand run died"
    sleep 0.2
  done
  [ "$(distinct_ids "$work/alerts.jsonl")" -ge 6 ] || fail "only $(distinct_ids "$work/alerts.jsonl") of 6 scanners alerted"
  wait_for 10 metric_ge portscand_records_parsed_total "" "$(grep -c . "$work/flood.jsonl")" || fail "not every record parsed"
  sleep 2  # a wrong extra alert would show
  scrape >"$work/metrics.txt" || fail "/metrics does not answer"
  local shed far mid near limit
  shed=$(metric portscand_keys_shed_total)
  far=$(metric portscand_keys_shed_by_distance_total 'distance="21+"')
  mid=$(metric portscand_keys_shed_by_distance_total 'distance="6-20"')
  near=$(metric portscand_keys_shed_by_distance_total 'distance="1-5"')
  tracked=$(metric portscand_tracked_keys)
  limit=$(metric portscand_tracked_keys_limit)
  [ "$tracked" -gt "$max_tracked" ] && max_tracked=$tracked
  echo "keys: $keys seen, $shed shed (21+: $far, 6-20: $mid, 1-5: $near), $tracked tracked (most seen $max_tracked, limit $limit)"
  [ "$limit" -eq 1000 ] || fail "portscand_tracked_keys_limit is $limit, configured 1000"
  [ "$shed" -ge $((flood - 1000)) ] || fail "only $shed keys shed from a flood of $flood under a cap of 1000"
  if [ "$far" -ne "$shed" ] || [ "$mid" -ne 0 ] || [ "$near" -ne 0 ]; then
    fail "shed keys not all in the 21+ band (one-port flood sources): $(grep keys_shed "$work/metrics.txt")"
  fi
  [ $((shed + tracked)) -eq "$keys" ] || fail "$shed shed + $tracked tracked != $keys keys seen"
  [ "$max_tracked" -le 1000 ] || fail "$max_tracked keys tracked, over the cap of 1000"
  stop_daemon 30
  compare_alerts "$work/alerts.jsonl"
}

http_kill9() {
  command -v python3 >/dev/null || fail "python3 is not installed (deploy/install-deps.sh installs it)"
  workload
  local expected
  expected=$(wc -l <"$work/expected.jsonl")
  # A free port with nothing listening on it: the receiver is down until after the kill.
  local rport
  rport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
    fail "no free port"
  # checkpoint_interval 60m: no checkpoint generation before the kill, so the restart
  # evaluates the file from scratch and its alerts must equal the spool's in every field
  # (a generation restored onto a re-read file may count records twice: event_count).
  cat >"$work/portscand.yaml" <<YAML
evaluation: {schedule: on_close, idle_timeout: 10s}
shards: 2
state_dir: $work/state
checkpoint_interval: 60m
inputs:
  - {type: file, name: records, path: $work/workload.jsonl, format: asim}
outputs:
  - type: http
    name: soar
    url: http://127.0.0.1:$rport/alerts
    preset: webhook
    schema: native
    connect_timeout: 1s
    request_timeout: 5s
    retry_backoff_min: 100ms
    retry_backoff_max: 1s
metrics: {listen: "127.0.0.1:0"}
YAML
  start_daemon
  wait_for 60 metric_ge portscand_alerts_total "" "$expected" ||
    fail "the rule emitted $(metric portscand_alerts_total) of $expected alerts"
  # Accepted = appended to the spool and fsynced: all of them pending, none delivered.
  wait_for 30 metric_ge portscand_alerts_pending 'output="soar"' "$expected" ||
    fail "$(metric portscand_alerts_pending 'output="soar"') of $expected alerts pending in the spool"
  local v
  v=$(metric portscand_http_spool_bytes 'output="soar"')
  [ "$v" -gt 0 ] || fail "portscand_http_spool_bytes{output=soar} is $v with $expected alerts pending"
  v=$(metric portscand_alert_delivery_failures_total 'reason="connect"')
  [ "$v" -ge 1 ] || fail "no connect failure counted with the receiver down"
  v=$(metric portscand_alerts_delivered_total 'output="soar"')
  [ "$v" -eq 0 ] || fail "$v alerts counted as delivered with the receiver down"
  [ "$(newest_epoch)" -eq 0 ] || fail "a checkpoint generation exists before the kill (checkpoint_interval 60m)"
  kill9_daemon
  [ -s "$work/state/http-soar.spool" ] || fail "no spool file state_dir/http-soar.spool after the kill"
  echo "kill -9 with $expected alerts in the spool ($(stat -c %s "$work/state/http-soar.spool") bytes)"

  # The receiver: answers 200 to every POST and appends {key, body} (one JSON line) to
  # received.jsonl before answering.
  python3 -c '
import http.server, json, sys
out = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        out.write(json.dumps({"path": self.path, "key": self.headers.get("Idempotency-Key"), "body": body}) + "\n")
        out.flush()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
print("listening", flush=True)
s.serve_forever()
' "$rport" "$work/received.jsonl" >"$work/receiver.out" 2>"$work/receiver.log" &
  receiver_pid=$!
  wait_for 10 grep -qs listening "$work/receiver.out" || fail "the receiver did not start: $(cat "$work/receiver.log")"

  start_daemon
  grep -q "output 'soar': $expected undelivered alert(s) from the spool" "$work/daemon.log" ||
    fail "the restart did not recover $expected alerts from the spool: $(grep -o "output 'soar': .*spool[^;]*" "$work/daemon.log")"
  received_ids() { { grep -o '\\"alert_id\\":\\"[^\\]*' "$work/received.jsonl" 2>/dev/null || true; } | sort -u | wc -l; }
  received_ids_ge() { [ "$(received_ids)" -ge "$1" ]; }
  # Each id twice: once from the spool, once from the re-evaluation of the file (the
  # checkpoint never marked those keys alerted: no output confirmed them before the kill).
  received_ge() { [ "$(grep -c . "$work/received.jsonl" 2>/dev/null)" -ge "$1" ]; }
  wait_for 60 received_ge $((2 * expected)) ||
    fail "$(grep -c . "$work/received.jsonl") requests ($(received_ids) ids) received, want $((2 * expected))"
  wait_for 10 metric_ge portscand_alerts_delivered_total 'output="soar"' $((2 * expected)) ||
    fail "$(metric portscand_alerts_delivered_total 'output="soar"') alerts counted as delivered"
  stop_daemon 30
  kill "$receiver_pid" 2>/dev/null
  wait "$receiver_pid" 2>/dev/null
  receiver_pid=
  # The requests: one alert each, POSTed to /alerts, Idempotency-Key = the body's alert_id;
  # the first $expected are the spool's (sent before anything new) and hold every id.
  # shellcheck disable=SC2016 # ${...} are JavaScript template literals
  node -e '
    const fs = require("fs");
    const [received, published, expected] = [process.argv[1], process.argv[2], Number(process.argv[3])];
    const reqs = fs.readFileSync(received, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const bad = [];
    const bodies = [];
    for (const r of reqs) {
      let a;
      try { a = JSON.parse(r.body); } catch (e) { bad.push(`not one JSON alert: ${r.body.slice(0, 200)}`); continue; }
      if (Array.isArray(a) || typeof a.alert_id !== "string") { bad.push(`not one alert: ${r.body.slice(0, 200)}`); continue; }
      if (r.path !== "/alerts") bad.push(`POSTed to ${r.path}`);
      if (r.key !== a.alert_id) bad.push(`Idempotency-Key ${r.key} for alert ${a.alert_id}`);
      bodies.push(r.body);
    }
    const first = new Set(reqs.slice(0, expected).map((r) => { try { return JSON.parse(r.body).alert_id; } catch (e) { return ""; } }));
    const all = new Set(bodies.map((b) => JSON.parse(b).alert_id));
    if (first.size !== expected || first.size !== all.size)
      bad.push(`the first ${expected} requests carry ${first.size} distinct ids of ${all.size}`);
    fs.writeFileSync(published, bodies.join("\n") + "\n");
    if (bad.length) { console.error(bad.slice(0, 10).join("\n")); process.exit(1); }
  ' "$work/received.jsonl" "$work/published.jsonl" "$expected" >"$work/requests.log" 2>&1 ||
    fail "bad requests: $(cat "$work/requests.log")"
  compare_alerts "$work/published.jsonl"
}

t_start=$SECONDS
case "$scenario" in
  output_down) output_down ;;
  output_enospc) output_enospc ;;
  corrupt_checkpoint) corrupt byte ;;
  missing_current) corrupt current ;;
  slowloris) slowloris ;;
  key_flood) key_flood ;;
  http_kill9) http_kill9 ;;
  *) die "unknown scenario $scenario" ;;
esac
echo "PASS ($scenario, $((SECONDS - t_start)) s)"
rm -rf "$work"
