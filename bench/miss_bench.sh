#!/usr/bin/env bash
# The cache-miss path (the per-event issue): `encore run --memory-budget-mb
# 512` over a seeded topic of EVENTS events over USERS uniform user ids, so
# that the state outgrows the write-back cache and most events read their
# user from RocksDB. Each ENCORE binary given (default: this build's) runs
# 90 s from the beginning on the same topic, one after the other, with
# the consumed count read from /metrics at 30, 60 and 90 s: the rate in
# each window, as the stored users grow. Pass two binaries (e.g. a build
# of the parent commit first) to compare a change in one run.
#
#   bench/miss_bench.sh [EVENTS] [USERS] [ENCORE...]
# Writes bench/results/miss.md (the figures and this command).
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
work="$(mktemp -d)"
topic="miss-$events-$users"
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
  --users "$users" --events "$events" --user-zipf 0 --seed 13 --log-level warn

consumed() {
  curl -sf "http://127.0.0.1:$metrics_port/metrics" |
    awk '$1 == "encore_events_consumed_total" {print int($2)}'
}
rows=()
for bin in "${bins[@]}"; do
  rm -rf "$work/run"
  mkdir -p "$work/run"
  "$bin" run --brokers "$brokers" --topic "$topic" --group "miss-$$-$RANDOM" \
    --state-dir "$work/run/state" --snapshot-dir "$work/run/snap" \
    --snapshot-interval-s 1000000 --memory-budget-mb 512 \
    --metrics-listen "127.0.0.1:$metrics_port" --log-level warn >"$work/run/log" 2>&1 &
  pid=$!
  c=()
  for _ in 1 2 3; do
    sleep 30
    kill -0 "$pid" 2>/dev/null || { cat "$work/run/log" >&2; exit 1; }
    c+=("$(consumed)")
  done
  rss=$(awk '$1 == "VmHWM:" {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
  rows+=("| \`$bin\` | ${c[0]} | ${c[1]} | ${c[2]} | $(((c[1] - c[0]) / 30)) | $(((c[2] - c[1]) / 30)) | $rss |")
  echo "${rows[-1]}" >&2
done

mkdir -p "$root/bench/results"
{
  echo "# The cache-miss path: uniform users outgrowing the cache"
  echo
  echo "Command: \`bench/miss_bench.sh $events $users ${bins[*]}\` on $(nproc) cores" \
    "(load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)); local single-node Kafka on" \
    "the same machine, 4 partitions, \`encore run --memory-budget-mb 512\` with the default" \
    "workers, each binary 90 s from the beginning of the same topic, one after the other."
  echo
  echo "| binary | consumed at 30 s | at 60 s | at 90 s | events/s 30-60 s | events/s 60-90 s | peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} >"$root/bench/results/miss.md"
cat "$root/bench/results/miss.md"
