#!/usr/bin/env bash
# What the engine's workers buy (issue: live with the default workers >=
# 1.7x live with --workers 1 on the small case; backfill >= live per core):
# on one seeded topic of a local broker, in one run, medians of RUNS, each
# contender from the beginning until caught up, interleaved run by run:
# `encore run` with the default workers and with --workers 1, the same two
# with --sync-commits=false (what the per-commit fsync costs them), and
# `encore backfill` with the default workers and with --workers 1.
#
#   bench/engine_bench.sh [EVENTS] [USERS] [RUNS]
# Writes bench/results/engine.md (the figures and this command).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_BUILD_DIR:-$root/build}"
events="${1:-2000000}"
users="${2:-200000}"
runs="${3:-3}"
export KAFKA_PORT="${BENCH_KAFKA_PORT:-29092}"
metrics_port=29464
encore="$build/stream/encore"
work="$(mktemp -d)"
topic="engine-$events-$users"
bench_live_pid=""
cleanup() {
  [[ -n "$bench_live_pid" ]] && kill -KILL "$bench_live_pid" 2>/dev/null || true
  "$root/ops/kafka/stop.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$root/ops/build.sh"
brokers="$(KAFKA_FRESH=1 "$root/ops/kafka/start.sh" | tail -n 1)"
"$encore" gen --brokers "$brokers" --topic "$topic" --partitions 4 \
  --users "$users" --events "$events" --seed 11 --log-level warn
# shellcheck source=lib.sh
source "$root/bench/lib.sh"

names=(live live_w1 live_nosync live_nosync_w1 backfill backfill_w1)
declare -A wall cpu
for r in $(seq 1 "$runs"); do
  for n in "${names[@]}"; do
    case "$n" in
      live) out=$(bench_live "$topic" "$events" "$work/l") ;;
      live_w1) out=$(bench_live "$topic" "$events" "$work/l" --workers 1) ;;
      live_nosync) out=$(bench_live "$topic" "$events" "$work/l" --sync-commits=false) ;;
      live_nosync_w1) out=$(bench_live "$topic" "$events" "$work/l" --sync-commits=false --workers 1) ;;
      backfill) out=$(bench_backfill "$topic" "$work/b") ;;
      backfill_w1) out=$(bench_backfill "$topic" "$work/b" --workers 1) ;;
    esac
    read -r t c _ <<<"$out"
    wall[$n]+="$t " cpu[$n]+="$c "
    echo "run $r: $n $t s wall, $c s CPU" >&2
  done
done

mkdir -p "$root/bench/results"
args=()
for n in "${names[@]}"; do args+=("$n" "${wall[$n]}" "${cpu[$n]}"); done
python3 - "$events" "$users" "$runs" "$(nproc)" "$(cat /proc/loadavg)" "${args[@]}" \
  >"$root/bench/results/engine.md" <<'PY'
import statistics, sys
events, users, runs, cores, load = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rows = {}
a = sys.argv[6:]
for i in range(0, len(a), 3):
    rows[a[i]] = ([float(x) for x in a[i + 1].split()], [float(x) for x in a[i + 2].split()])
labels = {
    "live": "encore run, default workers (fsync per commit)",
    "live_w1": "encore run --workers 1",
    "live_nosync": "encore run --sync-commits=false",
    "live_nosync_w1": "encore run --sync-commits=false --workers 1",
    "backfill": "encore backfill, default workers",
    "backfill_w1": "encore backfill --workers 1",
}
print("# The engine's workers: live and backfill, 1 worker vs the default\n")
print(f"Command: `bench/engine_bench.sh {events} {users} {runs}` on {cores} cores "
      f"(load average at the end: {' '.join(load.split()[:3])}); local single-node "
      "Kafka on the same machine, 4 partitions, `encore gen` events. Wall: process "
      "start to the last message handled (live: polling /metrics every 50 ms; "
      "backfill: final flush and snapshot included). CPU: user + system seconds of "
      "the process, all threads. Contenders interleaved run by run; medians.\n")
print("| contender | wall s (runs) | median s | events/s | CPU s | CPU µs/event | cores busy |")
print("|---|---|---:|---:|---:|---:|---:|")
med = {}
for k, label in labels.items():
    w, c = rows[k]
    mw, mc = statistics.median(w), statistics.median(c)
    med[k] = (mw, mc)
    print(f"| {label} | {', '.join(f'{x:.2f}' for x in w)} | {mw:.2f} | {events / mw:,.0f} | "
          f"{mc:.2f} | {mc / events * 1e6:.2f} | {mc / mw:.2f} |")
r = lambda a, b: med[b][0] / med[a][0]
print()
print(f"- live, default workers / --workers 1 = {r('live', 'live_w1'):.2f} (target >= 1.7)")
print(f"- the same without fsync per commit = {r('live_nosync', 'live_nosync_w1'):.2f}")
print(f"- backfill, default workers / --workers 1 = {r('backfill', 'backfill_w1'):.2f}")
print(f"- backfill / live (default workers) = {r('backfill', 'live'):.2f}")
PY
cat "$root/bench/results/engine.md"
