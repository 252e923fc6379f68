#!/usr/bin/env bash
# Broker faults: while `encore run` consumes, its broker (a private one on
# its own port, so the shared test broker is untouched) is stopped and
# restarted on its data twice. encore waits and reconnects; /readyz says
# "no Kafka broker reachable" while it is down; events produced across the
# outages are all counted once: the final digest equals a clean run's.
# Usage: broker_restart_test.sh ENCORE_BINARY
set -euo pipefail
encore="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
export KAFKA_PORT="${ENCORE_TEST_RESTART_KAFKA_PORT:-19292}"
brokers="127.0.0.1:$KAFKA_PORT"
port=19467
work="$(mktemp -d)"
topic="outage-$$"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  "$root/ops/kafka/stop.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

metric() {  # value of an unlabelled metric, or empty
  curl -sf "http://127.0.0.1:$port/metrics" 2>/dev/null | awk -v n="$1" '$1 == n {print int($2)}'
}
wait_for() {  # wait_for SECONDS COMMAND...: poll until COMMAND succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
consumed_at_least() { [[ "$(metric encore_events_consumed_total)" -ge "$1" ]] 2>/dev/null; }
readyz() { curl -s -o "$work/ready.txt" -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true; }
unready_broker() { [[ "$(readyz)" == 503 ]] && grep -q "broker" "$work/ready.txt"; }
ready() { [[ "$(readyz)" == 200 ]]; }

KAFKA_FRESH=1 "$root/ops/kafka/start.sh" >/dev/null
"$encore" gen --brokers "$brokers" --topic "$topic" --partitions 4 --users 500 --events 10000 --seed 31
"$encore" run --brokers "$brokers" --topic "$topic" --group "g-$topic" \
  --state-dir "$work/state" --snapshot-dir "$work/snap" --snapshot-interval-s 0.2 \
  --commit-interval-ms 100 --sync-commits=false --kafka-stats-interval-ms 300 \
  --metrics-listen "127.0.0.1:$port" >"$work/run.log" 2>&1 &
pid=$!
total=10000
wait_for 60 consumed_at_least "$total" || { echo "FAIL: first events not consumed" >&2; tail -20 "$work/run.log" >&2; exit 1; }
wait_for 30 ready || { echo "FAIL: not ready: $(cat "$work/ready.txt")" >&2; exit 1; }

for cycle in 1 2; do
  "$root/ops/kafka/stop.sh" >/dev/null
  if ! wait_for 60 unready_broker; then
    echo "FAIL: /readyz did not report the broker outage: $(readyz) $(cat "$work/ready.txt")" >&2
    exit 1
  fi
  echo "cycle $cycle: broker down, /readyz: $(cat "$work/ready.txt"), brokers_up=$(metric encore_kafka_brokers_up)"
  kill -0 "$pid" || { echo "FAIL: encore exited during the outage" >&2; exit 1; }
  sleep 2
  KAFKA_KEEP_DATA=1 "$root/ops/kafka/start.sh" >/dev/null
  "$encore" gen --brokers "$brokers" --topic "$topic" --users 500 --events 5000 --seed $((40 + cycle))
  total=$((total + 5000))
  wait_for 120 consumed_at_least "$total" || { echo "FAIL: cycle $cycle: consumed $(metric encore_events_consumed_total)/$total" >&2; tail -20 "$work/run.log" >&2; exit 1; }
  wait_for 60 ready || { echo "FAIL: not ready again: $(cat "$work/ready.txt")" >&2; exit 1; }
  echo "cycle $cycle: broker back, consumed $(metric encore_events_consumed_total)/$total, ready"
done
sleep 0.5
kill -TERM "$pid"
wait "$pid"
pid=""

"$encore" run --brokers "$brokers" --topic "$topic" --group "clean-$topic" \
  --state-dir "$work/clean-state" --snapshot-dir "$work/clean-snap" \
  --snapshot-interval-s 0.2 --sync-commits=false \
  --metrics-listen "127.0.0.1:$port" >"$work/clean.log" 2>&1 &
pid=$!
wait_for 60 consumed_at_least "$total" || { echo "FAIL: clean run" >&2; exit 1; }
sleep 0.5
kill -TERM "$pid"
wait "$pid"
pid=""
digest() { "$encore" snapshot info --snapshot-dir "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["content_digest"])'; }
a=$(digest "$work/snap"); b=$(digest "$work/clean-snap")
echo "digest across outages $a, clean $b"
[[ "$a" == "$b" ]] || { echo "FAIL: digests differ" >&2; exit 1; }
echo "broker_restart_test: 1 passed, 0 failed"
