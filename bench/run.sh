#!/usr/bin/env bash
# The benchmark ruler: on the same seeded topics of a local broker, in one
# run, medians of RUNS (default 3), CPU seconds beside wall time:
#   1. consume-only (bench/consume_only.cc: librdkafka, no decoding),
#   2. decode-only (the same plus protobuf decoding),
#   3. `encore run` from the beginning until caught up (default flags: every
#      commit fsynced; --workers defaults to the usable cores), and the same
#      with `--workers 1` (what the engine's workers buy),
#   4. `encore backfill`,
#   5. the Kafka Streams peer (bench/peers/kafka-streams), at-least-once and
#      exactly_once_v2; its values for >= 100 users must equal encore's
#      (`encore read --json`, bench/compare_peer.py) or the bench fails.
# Cases: small (2M events, 200k users), heavy (10M events, 200k users),
# sustained (10M events over 1M users, --user-zipf 0.5, encore with
# --memory-budget-mb 256: whole-run and last-quarter rates, event->commit
# p99, peak RSS) and state_10m (~10M users, --memory-budget-mb 512: snapshot
# publication time and size, peak RSS, lookup latency through the C++
# snapshot reader). --quick: the small case only, with 300k events over 30k
# users (a few minutes); the others are written as null.
#
#   bench/run.sh [--quick] [--runs N] [--cases small,heavy,sustained,state_10m]
#
# Writes bench/results/latest.json, latest.md and latest.png (the machine
# and its load average recorded). Broker: BENCH_KAFKA_PORT (29092), metrics
# port BENCH_METRICS_PORT (29464); data under BENCH_WORK_DIR (/tmp).
# Checking the script itself: BENCH_SCALE_DIV=1000 divides every full-run
# case's events and users (and BENCH_QUICK_EVENTS / BENCH_QUICK_USERS set
# the quick case); such results are not the benchmark.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_BUILD_DIR:-$root/build}"
# shellcheck source=lib.sh
source "$root/bench/lib.sh"

quick=0
runs=3
cases=""
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --runs) runs="$2"; shift ;;
    --cases) cases="$2"; shift ;;
    *) echo "usage: bench/run.sh [--quick] [--runs N] [--cases LIST]" >&2; exit 2 ;;
  esac
  shift
done
((runs >= 1)) || { echo "--runs must be >= 1" >&2; exit 2; }
if [[ -z "$cases" ]]; then
  if ((quick)); then cases="small"; else cases="small,heavy,sustained,state_10m"; fi
fi

export KAFKA_PORT="${BENCH_KAFKA_PORT:-29092}"
metrics_port="${BENCH_METRICS_PORT:-29464}"
div="${BENCH_SCALE_DIV:-1}"
work="$(mktemp -d "${BENCH_WORK_DIR:-/tmp}/encore-bench.XXXXXX")"
raw="$work/raw.jsonl"
bench_live_pid=""
cleanup() {
  [[ -n "$bench_live_pid" ]] && kill -KILL "$bench_live_pid" 2>/dev/null || true
  "$root/ops/kafka/stop.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$root/ops/build.sh"
"$root/bench/peers/kafka-streams/build.sh" >/dev/null
brokers="$(KAFKA_FRESH=1 "$root/ops/kafka/start.sh" | tail -n 1)"
encore="$build/stream/encore"

# emit CASE CONTENDER RUN "WALL CPU RSS" [extra JSON members]
emit() {
  local -a f
  read -r -a f <<<"$4"
  printf '{"case": "%s", "contender": "%s", "run": %s, "wall_s": %s, "cpu_s": %s, "rss_mb": %s%s}\n' \
    "$1" "$2" "$3" "${f[0]}" "${f[1]}" "${f[2]}" "${5:+, $5}" >>"$raw"
  echo "$1 run $3: $2 ${f[0]} s wall, ${f[1]} s CPU, ${f[2]} MiB" >&2
}
note() { printf '{"case": "%s", "note": %s}\n' "$1" "$2" >>"$raw"; }

gen() { # gen TOPIC EVENTS USERS [FLAGS...]
  local topic="$1" events="$2" users="$3"
  shift 3
  "$encore" gen --brokers "$brokers" --topic "$topic" --partitions 4 \
    --users "$users" --events "$events" --seed 11 --log-level warn "$@"
}

# The comparison contenders over one topic (small and heavy cases).
compare_case() { # compare_case NAME EVENTS USERS
  local name="$1" events="$2" users="$3" topic="bench-$1-$2-$3" r
  gen "$topic" "$events" "$users"
  printf '{"case": "%s", "events": %s, "users": %s, "runs": %s}\n' \
    "$name" "$events" "$users" "$runs" >>"$raw"
  for r in $(seq 1 "$runs"); do
    emit "$name" consume_only "$r" "$(bench_consume "$topic")"
    emit "$name" decode_only "$r" "$(bench_consume "$topic" --decode)"
    emit "$name" encore_live "$r" "$(bench_live "$topic" "$events" "$work/live")" \
      "\"commit_p99_ms\": $(python3 "$root/bench/report.py" p99 "$work/live/metrics.txt" \
        encore_commit_duration_seconds 1000), \"commit_bytes_per_event\": $(python3 \
        "$root/bench/report.py" per-event "$work/live/metrics.txt" encore_commit_bytes_total \
        encore_events_applied_total)"
    emit "$name" encore_live_w1 "$r" "$(bench_live "$topic" "$events" "$work/live1" --workers 1)"
    emit "$name" encore_backfill "$r" "$(bench_backfill "$topic" "$work/bf")"
    emit "$name" kstreams "$r" "$(bench_peer "$topic" "$work/ks" --dump "$work/ks.jsonl" --sample 150)"
    emit "$name" kstreams_eos "$r" \
      "$(bench_peer "$topic" "$work/ks-eos" --eos --dump "$work/ks-eos.jsonl" --sample 150)"
  done
  # Same work, proven: the last run's peers against encore's backfill.
  local mode result ok=true
  for mode in ks ks-eos; do
    if ! result=$(python3 "$root/bench/compare_peer.py" "$encore" "$work/bf/snap" \
      "$work/$mode.jsonl" --min-users 100); then
      ok=false
    fi
    printf '{"case": "%s", "agreement_%s": %s}\n' "$name" "${mode//-/_}" "$result" >>"$raw"
  done
  [[ "$ok" == true ]] || { echo "the peer disagrees with encore ($name)" >&2; peer_failed=1; }
}

# sustained: catching up 10M events over 1M users under a memory budget,
# then event->commit latency on live traffic (produced in real time at
# 5000 events/s for 60 s while encore runs).
sustained_case() {
  local name=sustained events=$((10000000 / div)) users=$((1000000 / div)) topic="bench-sustained"
  gen "$topic" "$events" "$users" --user-zipf 0.5
  printf '{"case": "%s", "events": %s, "users": %s, "runs": 1}\n' "$name" "$events" "$users" >>"$raw"
  emit "$name" kstreams 1 "$(bench_peer "$topic" "$work/ks")" \
    "\"progress\": $(python3 "$root/bench/report.py" peer-progress "$work/ks/log" "$work/ks/summary.json")"
  emit "$name" encore_live 1 "$(bench_live "$topic" "$events" "$work/live" --memory-budget-mb 256)" \
    "\"progress\": $(python3 "$root/bench/report.py" live-progress "$work/live/progress")"
  # Live traffic: encore again on its state (caught up), new events in real time.
  local dir="$work/live" s pid
  "$encore" run --brokers "$brokers" --topic "$topic" --group "bench-live-$$" \
    --state-dir "$dir/state" --snapshot-dir "$dir/snap" --snapshot-interval-s 1000000 \
    --memory-budget-mb 256 --metrics-listen "127.0.0.1:$metrics_port" --log-level warn \
    >"$dir/log2" 2>&1 &
  pid=$!
  bench_live_pid=$pid
  sleep 10
  bench_scrape >"$dir/before.txt"
  gen "$topic" $((300000 / div)) "$users" --user-zipf 0.5 --rate 5000 --realtime --seed 12
  sleep 3
  bench_scrape >"$dir/after.txt"
  kill -TERM "$pid"
  wait "$pid" || true
  bench_live_pid=""
  printf '{"case": "%s", "event_commit_p99_ms": %s}\n' "$name" \
    "$(python3 "$root/bench/report.py" p99 "$dir/after.txt" \
      encore_event_commit_latency_seconds 1000 "$dir/before.txt")" >>"$raw"
}

# state_10m: millions of users (uniform over 10M ids, 30M events: ~8.1M
# touched; the manifest's user count is recorded) in 64 partitions, encore
# run under --memory-budget-mb 512; publish_s = SIGTERM to exit once caught
# up (the final commit, then the snapshot publication), its size from the
# manifest; lookups through the C++ reader on one core, as a ranking
# request makes them (LookupForScoring: one partition, scoring's fields)
# and whole (Lookup).
state_case() {
  local name=state_10m events=$((30000000 / div)) users=$((10000000 / div)) topic="bench-state-10m-p64"
  # 30M events span ~48 days of event time: they start 60 days ago, or
  # encore would dead-letter those dated after now as future_timestamp.
  gen "$topic" "$events" "$users" --user-zipf 0 --partitions 64 \
    --start-time-ms $(($(date +%s) * 1000 - 60 * 86400000))
  printf '{"case": "%s", "events": %s, "users": %s, "runs": 1}\n' "$name" "$events" "$users" >>"$raw"
  emit "$name" encore_live 1 "$(bench_live "$topic" "$events" "$work/live" --memory-budget-mb 512)" \
    "\"publish_s\": $(cat "$work/live/stop_s"), \"snapshot\": $("$encore" snapshot info \
      --snapshot-dir "$work/live/snap" --json | python3 -c 'import json, sys; m = json.load(sys.stdin)
print(json.dumps({"bytes": int(m["total_bytes"]), "users": int(m["user_count"])}))')"
  local cpu=$(($(nproc) - 1))
  find "$work/live/snap" -type f -exec cat {} + >/dev/null  # page cache
  printf '{"case": "%s", "lookup": %s}\n' "$name" \
    "$(taskset -c "$cpu" "$build/bench/lookup_bench" "$work/live/snap" "$users" 1000000 100000 scoring)" >>"$raw"
  printf '{"case": "%s", "lookup_full": %s}\n' "$name" \
    "$(taskset -c "$cpu" "$build/bench/lookup_bench" "$work/live/snap" "$users" 1000000 100000 full)" >>"$raw"
}

{
  printf '{"machine": %s}\n' "$(python3 "$root/bench/report.py" machine)"
} >>"$raw"
peer_failed=0
IFS=, read -r -a todo <<<"$cases"
for c in "${todo[@]}"; do
  case "$c" in
    small)
      if ((quick)); then
        compare_case small "${BENCH_QUICK_EVENTS:-300000}" "${BENCH_QUICK_USERS:-30000}"
      else
        compare_case small $((2000000 / div)) $((200000 / div))
      fi ;;
    heavy) compare_case heavy $((10000000 / div)) $((200000 / div)) ;;
    sustained) sustained_case ;;
    state_10m) state_case ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
done
printf '{"load_after": %s}\n' "$(python3 "$root/bench/report.py" load)" >>"$raw"

mkdir -p "$root/bench/results"
cp "$raw" "$root/bench/results/latest.raw.jsonl"
cmd="bench/run.sh"
((quick)) && cmd+=" --quick"
((runs != 3)) && cmd+=" --runs $runs"
[[ -n "${BENCH_SCALE_DIV:-}${BENCH_QUICK_EVENTS:-}" ]] && cmd+=" (scaled: not the benchmark)"
"$(bench_venv)/bin/python" "$root/bench/report.py" report "$raw" "$root/bench/results/latest" "$cmd" "$quick"
cat "$root/bench/results/latest.md"
((peer_failed == 0)) || exit 1
