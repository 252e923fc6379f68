#!/usr/bin/env bash
# Fresh machine -> encore's main job, end to end: installs dependencies,
# builds, starts a local Kafka, produces synthetic listening events, runs
# encore until it has caught up, then prints one user's state and ranked arms
# from the published snapshot and the measured events/s. Stops everything it
# started. Data goes to ${ENCORE_DEMO_DIR:-var/demo} (wiped first).
#
#   DEMO_EVENTS=1000000 DEMO_USERS=100000 ops/demo.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_BUILD_DIR:-$root/build}"
events="${DEMO_EVENTS:-500000}"
users="${DEMO_USERS:-50000}"
export KAFKA_PORT="${KAFKA_PORT:-9092}"
demo="${ENCORE_DEMO_DIR:-$root/var/demo}"
topic="listens-demo"
encore="$build/stream/encore"

"$root/ops/install-deps.sh"
"$root/ops/build.sh"

encore_pid=""
cleanup() {
  if [[ -n "$encore_pid" ]] && kill -0 "$encore_pid" 2>/dev/null; then
    kill -TERM "$encore_pid" 2>/dev/null || true
    wait "$encore_pid" 2>/dev/null || true
  fi
  "$root/ops/kafka/stop.sh" >/dev/null 2>&1 || true
}
trap cleanup EXIT

brokers="$(KAFKA_FRESH=1 "$root/ops/kafka/start.sh" | tail -n 1)"
echo "== Kafka at $brokers"
rm -rf "$demo"
mkdir -p "$demo"

echo "== producing $events synthetic events for $users users to $topic"
"$encore" gen --brokers "$brokers" --topic "$topic" --partitions 4 \
  --users "$users" --events "$events" --seed 7

echo "== running encore until it has caught up (log: $demo/encore.log)"
start_ns=$(date +%s%N)
"$encore" run --brokers "$brokers" --topic "$topic" --group encore-demo \
  --state-dir "$demo/state" --snapshot-dir "$demo/snapshots" \
  --snapshot-interval-s 0.2 --metrics-listen 127.0.0.1:9464 \
  >"$demo/encore.log" 2>&1 &
encore_pid=$!

progress() {
  "$encore" snapshot info --snapshot-dir "$demo/snapshots" --json 2>/dev/null |
    python3 -c 'import json,sys; m=json.load(sys.stdin); print(sum(int(p.get("next_offset",0)) for p in m["partitions"]))' 2>/dev/null ||
    echo 0
}
# Bounded wait: 10 minutes at most.
for _ in $(seq 1 3000); do
  done_events=$(progress)
  if ((done_events >= events)); then break; fi
  if ! kill -0 "$encore_pid" 2>/dev/null; then
    echo "encore run exited early; last log lines:" >&2
    tail -n 20 "$demo/encore.log" >&2
    exit 1
  fi
  sleep 0.2
done
end_ns=$(date +%s%N)
if ((done_events < events)); then
  echo "encore did not catch up in time ($done_events/$events)" >&2
  exit 1
fi
echo "== a few metrics from http://127.0.0.1:9464/metrics"
curl -sf http://127.0.0.1:9464/metrics | grep -E '^encore_(events_(consumed|applied)_total|commits_total|snapshots_total) ' || true
kill -TERM "$encore_pid"
wait "$encore_pid"
encore_pid=""

secs=$(python3 -c "print(($end_ns - $start_ns) / 1e9)")
rate=$(python3 -c "print(int($events / (($end_ns - $start_ns) / 1e9)))")

echo
"$encore" snapshot info --snapshot-dir "$demo/snapshots"
# The most active user of the synthetic workload (Zipf rank 0).
user="user-0000000"
echo
"$encore" read --snapshot-dir "$demo/snapshots" --user "$user"
echo
arms=$(seq -f 'arm-%02g' 0 7 | paste -sd, -)
"$encore" score --snapshot-dir "$demo/snapshots" --user "$user" --arms "$arms" --method thompson --seed 42
echo
echo "== encore applied $events events in ${secs}s from start-up (group join included): $rate events/s"
