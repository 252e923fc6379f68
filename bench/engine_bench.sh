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

# Busy CPU ticks of the whole machine (every process: the broker too).
machine_busy() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

names=(live live_w1 live_nosync live_nosync_w1 backfill backfill_w1)
declare -A wall cpu machine steady
for r in $(seq 1 "$runs"); do
  for n in "${names[@]}"; do
    busy0=$(machine_busy)
    case "$n" in
      live) out=$(bench_live "$topic" "$events" "$work/l") ;;
      live_w1) out=$(bench_live "$topic" "$events" "$work/l" --workers 1) ;;
      live_nosync) out=$(bench_live "$topic" "$events" "$work/l" --sync-commits=false) ;;
      live_nosync_w1) out=$(bench_live "$topic" "$events" "$work/l" --sync-commits=false --workers 1) ;;
      backfill) out=$(bench_backfill "$topic" "$work/b") ;;
      backfill_w1) out=$(bench_backfill "$topic" "$work/b" --workers 1) ;;
    esac
    read -r t c _ <<<"$out"
    m=$(awk -v a="$busy0" -v b="$(machine_busy)" -v hz="$(getconf CLK_TCK)" -v t="$t" \
      'BEGIN {printf "%.2f", (b - a) / hz / t}')
    # Live: events/s from the first progress sample with events consumed
    # (start-up, i.e. joining the group and opening the stores, left out).
    st=0
    [[ "$n" == live* ]] && st=$(awk -v e="$events" -v t="$t" \
      '$2 > 0 && !f {t0 = $1; c0 = $2; f = 1} END {if (f && t > t0) printf "%.0f", (e - c0) / (t - t0); else print 0}' \
      "$work/l/progress")
    wall[$n]+="$t " cpu[$n]+="$c " machine[$n]+="$m " steady[$n]+="$st "
    echo "run $r: $n $t s wall, $c s CPU, machine $m cores busy, $st events/s after start-up" >&2
  done
done

mkdir -p "$root/bench/results"
args=()
for n in "${names[@]}"; do
  args+=("$n" "${wall[$n]}" "${cpu[$n]}" "${machine[$n]}" "${steady[$n]}")
done
python3 - "$events" "$users" "$runs" "$(nproc)" "$(cat /proc/loadavg)" "${args[@]}" \
  >"$root/bench/results/engine.md" <<'PY'
import statistics, sys
events, users, runs, cores, load = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rows = {}
a = sys.argv[6:]
for i in range(0, len(a), 5):
    rows[a[i]] = [[float(x) for x in a[i + j].split()] for j in range(1, 5)]
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
      "the process, all threads; machine: every process's (the broker's too) busy "
      "cores over the wall time, from /proc/stat. After start-up (live only): events/s "
      "from the first progress sample with events consumed (~1 s in) to the end. "
      "Contenders interleaved run by run; medians.\n")
print("| contender | wall s (runs) | median s | events/s | after start-up | CPU s | CPU µs/event | cores busy | machine cores busy |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
med = {}
for k, label in labels.items():
    w, c, m, st = rows[k]
    mw, mc, mm, mst = (statistics.median(x) for x in (w, c, m, st))
    med[k] = (mw, mc, mst)
    print(f"| {label} | {', '.join(f'{x:.2f}' for x in w)} | {mw:.2f} | {events / mw:,.0f} | "
          f"{f'{mst:,.0f}' if mst else '-'} | {mc:.2f} | {mc / events * 1e6:.2f} | "
          f"{mc / mw:.2f} | {mm:.2f} |")
r = lambda a, b: med[b][0] / med[a][0]
rs = lambda a, b: med[a][2] / med[b][2]
print()
print(f"- live, default workers / --workers 1 = {r('live', 'live_w1'):.2f} (target >= 1.7); "
      f"after start-up {rs('live', 'live_w1'):.2f}")
print(f"- the same without fsync per commit = {r('live_nosync', 'live_nosync_w1'):.2f}")
print(f"- backfill, default workers / --workers 1 = {r('backfill', 'backfill_w1'):.2f}")
print(f"- backfill / live (default workers) = {r('backfill', 'live'):.2f}")
PY
cat "$root/bench/results/engine.md"
