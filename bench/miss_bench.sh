#!/usr/bin/env bash
# The cache-miss path (the per-event issue): `encore run --memory-budget-mb
# 512` over a seeded topic of EVENTS events over USERS uniform user ids, so
# that the state outgrows the write-back cache and most events read their
# user from RocksDB. Each ENCORE binary given (default: this build's) runs
# 90 s from the beginning on the same topic, one after the other, with
# the consumed count read from /metrics at 30, 60 and 90 s: the rate in
# each window, as the stored users grow, with the CPU per event, the bytes
# its commits wrote per event and the state's size on disk at 90 s. Pass
# two binaries (e.g. a build of the parent commit first) to compare a
# change in one run. MISS_ZIPF (default 0: uniform) skews the users,
# MISS_BUDGET_MB (512) sets the budget.
#
#   bench/miss_bench.sh [EVENTS] [USERS] [ENCORE...]
# Writes bench/results/${MISS_OUT:-miss.md} (the figures and this command).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_BUILD_DIR:-$root/build}"
events="${1:-6000000}"
users="${2:-4000000}"
shift $(($# < 2 ? $# : 2))
bins=("$@")
((${#bins[@]} > 0)) || bins=("$build/stream/encore")
export KAFKA_PORT="${BENCH_KAFKA_PORT:-29092}"
metrics_port=29464
zipf="${MISS_ZIPF:-0}"
budget="${MISS_BUDGET_MB:-512}"
out="${MISS_OUT:-miss.md}"
work="$(mktemp -d)"
topic="miss-$events-$users-$zipf"
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
  "$root/ops/kafka/stop.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$root/ops/build.sh"
brokers="$(KAFKA_FRESH=1 "$root/ops/kafka/start.sh" | tail -n 1)"
"$build/stream/encore" gen --brokers "$brokers" --topic "$topic" --partitions 4 \
  --users "$users" --events "$events" --user-zipf "$zipf" --seed 13 --log-level warn

metric() { # metric NAME: its value (summed over labels), as an integer
  curl -sf "http://127.0.0.1:$metrics_port/metrics" |
    awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%d", s}'
}
rows=()
for bin in "${bins[@]}"; do
  rm -rf "$work/run"
  mkdir -p "$work/run"
  "$bin" run --brokers "$brokers" --topic "$topic" --group "miss-$$-$RANDOM" \
    --state-dir "$work/run/state" --snapshot-dir "$work/run/snap" \
    --snapshot-interval-s 1000000 --memory-budget-mb "$budget" \
    --metrics-listen "127.0.0.1:$metrics_port" --log-level warn >"$work/run/log" 2>&1 &
  pid=$!
  c=()
  for _ in 1 2 3; do
    sleep 30
    kill -0 "$pid" 2>/dev/null || { cat "$work/run/log" >&2; exit 1; }
    c+=("$(metric encore_events_consumed_total)")
  done
  rss=$(awk '$1 == "VmHWM:" {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$pid/stat")
  per_event=$(awk -v c="$cpu" -v n="${c[2]}" 'BEGIN {printf "%.1f", c / n * 1e6}')
  written=$(($(metric encore_commit_bytes_total) / $(metric encore_events_applied_total)))
  disk=$(du -sm "$work/run/state" | cut -f1)
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
  rows+=("| \`$bin\` | ${c[0]} | ${c[1]} | ${c[2]} | $(((c[1] - c[0]) / 30)) | $(((c[2] - c[1]) / 30)) | $per_event | $written | $disk | $rss |")
  echo "${rows[-1]}" >&2
done

mkdir -p "$root/bench/results"
{
  echo "# The cache-miss path: users outgrowing the cache"
  echo
  echo "Command: \`MISS_ZIPF=$zipf MISS_BUDGET_MB=$budget bench/miss_bench.sh $events $users" \
    "${bins[*]}\` on $(nproc) cores (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg));" \
    "local single-node Kafka on the same machine, 4 partitions, \`--user-zipf $zipf\`," \
    "\`encore run --memory-budget-mb $budget\` with the default workers, each binary 90 s" \
    "from the beginning of the same topic, one after the other. CPU: user + system of the" \
    "process over its 90 s; written: encore_commit_bytes_total / events applied; state:" \
    "the state directory's size at 90 s."
  echo
  echo "| binary | consumed at 30 s | at 60 s | at 90 s | events/s 30-60 s | events/s 60-90 s | CPU µs/event | written B/event | state MiB | peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} >"$root/bench/results/$out"
cat "$root/bench/results/$out"
