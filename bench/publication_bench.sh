#!/usr/bin/env bash
# What a snapshot publication costs as the state grows (issue: publication
# at 10M users <= 2 s and flat as state grows): `encore run` over a seeded
# topic of EVENTS events over USERS uniform user ids, publishing a snapshot
# every INTERVAL seconds while it consumes, under --memory-budget-mb 512.
# /metrics is read every second; each publication's duration is the change
# of encore_snapshot_duration_seconds' sum over that of its count, paired
# with encore_snapshot_users (the users in that snapshot) and its bytes.
# The stop (SIGTERM once caught up: final commit and last publication) is
# timed too.
#
# At most MAX_S seconds of consuming (then it stops where it is, and says
# so): with millions of users most events miss the write-back cache and
# ingest slows down (the per-event issue).
#
# Give ENCORE binaries to compare a change, each run in turn on the same
# topic (default: this build's); each one's time to consume the topic is
# reported beside its stop.
#
#   [PUB_OUT=FILE] bench/publication_bench.sh [EVENTS] [USERS] [INTERVAL] [MAX_S] [ENCORE...]
# Writes bench/results/publication.md, or PUB_OUT (the figures and this
# command).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_BUILD_DIR:-$root/build}"
events="${1:-30000000}"
users="${2:-10000000}"
interval="${3:-15}"
max_s="${4:-3600}"
export KAFKA_PORT="${BENCH_KAFKA_PORT:-29092}"
metrics_port=29464
shift $(($# < 4 ? $# : 4))
binaries=("$@")
((${#binaries[@]})) || binaries=("$build/stream/encore")
encore="${binaries[0]}"
out="${PUB_OUT:-$root/bench/results/publication.md}"
work="$(mktemp -d)"
topic="publication-$events-$users"
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
  "$root/ops/kafka/stop.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$root/ops/build.sh"
brokers="$(KAFKA_FRESH=1 "$root/ops/kafka/start.sh" | tail -n 1)"
"$encore" gen --brokers "$brokers" --topic "$topic" --partitions 4 \
  --users "$users" --events "$events" --user-zipf 0 --seed 13 --log-level warn

scrape() {
  curl -sf "http://127.0.0.1:$metrics_port/metrics" 2>/dev/null | awk '
    $1 == "encore_events_consumed_total" {c = $2}
    $1 == "encore_snapshot_duration_seconds_sum" {s = $2}
    $1 == "encore_snapshot_duration_seconds_count" {n = $2}
    $1 == "encore_snapshot_users" {u = $2}
    $1 == "encore_snapshot_bytes" {b = $2}
    END {printf "%d %.6f %d %d %d\n", c, s, n, u, b}'
}

# measure ENCORE: one run from the beginning; appends its rows to
# $work/rows and its stop line to $work/stops.
measure() {
  local bin="$1" label
  label="$(basename "$bin")"
  rm -rf "$work/state" "$work/snap"

  local start=${EPOCHREALTIME/./}
  "$bin" run --brokers "$brokers" --topic "$topic" --group "publication-$$-$label" \
    --state-dir "$work/state" --snapshot-dir "$work/snap" \
    --snapshot-interval-s "$interval" --memory-budget-mb 512 \
    --metrics-listen "127.0.0.1:$metrics_port" --log-level warn >"$work/log" 2>&1 &
  pid=$!
  local last_sum=0 last_n=0 consumed=0 caught_up=0
  local sum n u b t s stop_s final
  for _ in $(seq 1 "$max_s"); do # bounded: MAX_S one-second steps
    sleep 1
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
    read -r consumed sum n u b <<<"$(scrape)" || continue
    if ((n > last_n)); then
      t=$(awk -v a="${EPOCHREALTIME/./}" -v b="$start" 'BEGIN {printf "%.0f", (a - b) / 1e6}')
      awk -v l="$label" -v t="$t" -v c="$consumed" -v u="$u" -v b="$b" -v s="$sum" -v ls="$last_sum" \
        -v n="$n" -v ln="$last_n" \
        'BEGIN {printf "%s %s %s %s %.1f %.3f %d\n", l, t, c, u, b / 1048576, (s - ls) / (n - ln), n - ln}' \
        >>"$work/rows"
      last_sum=$sum last_n=$n
    fi
    ((consumed >= events)) && { caught_up=1; break; }
  done
  s=${EPOCHREALTIME/./}
  local run_s
  run_s=$(awk -v a="$s" -v b="$start" 'BEGIN {printf "%.1f", (a - b) / 1e6}')
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
  stop_s=$(awk -v a="${EPOCHREALTIME/./}" -v b="$s" 'BEGIN {printf "%.2f", (a - b) / 1e6}')
  final=$("$encore" snapshot info --snapshot-dir "$work/snap" --json | python3 -c '
import json, sys
m = json.load(sys.stdin)
print(m["user_count"], round(int(m["total_bytes"]) / 1048576, 1))')
  if ((caught_up)); then
    echo "- $label: consumed $events events in $run_s s from start-up (~1 s steps); stop once" \
      "caught up (SIGTERM to exit: final commit, then the last publication): $stop_s s;" \
      "final snapshot: $final (users, MiB)." >>"$work/stops"
  else
    echo "- $label: not caught up, stopped after $max_s s at $consumed of $events events" \
      "(SIGTERM to exit: $stop_s s); final snapshot: $final (users, MiB)." >>"$work/stops"
  fi
}

: >"$work/rows"
: >"$work/stops"
for bin in "${binaries[@]}"; do measure "$bin"; done

mkdir -p "$(dirname "$out")"
{
  echo "# Snapshot publication as the state grows"
  echo
  echo "Command: \`${PUB_OUT:+PUB_OUT=$(basename "$out") }bench/publication_bench.sh $events $users $interval $max_s${1:+ $*}\`" \
    "on $(nproc) cores (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)); local" \
    "single-node Kafka on the same machine, 4 partitions, uniform user ids, \`encore run" \
    "--memory-budget-mb 512 --snapshot-interval-s $interval\` with the default workers. Each" \
    "row: a publication while consuming (duration from encore_snapshot_duration_seconds:" \
    "the checkpoints, the manifest and its rename; the per-partition digests are kept at" \
    "every commit)."
  echo
  echo "| binary | s since start | events consumed | users in snapshot | snapshot MiB | publication s |"
  echo "|---|---:|---:|---:|---:|---:|"
  while read -r l t c u b d k; do
    note=""
    ((k > 1)) && note=" (mean of $k)"
    echo "| $l | $t | $c | $u | $b | $d$note |"
  done <"$work/rows"
  echo
  cat "$work/stops"
} >"$out"
cat "$out"
