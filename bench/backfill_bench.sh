#!/usr/bin/env bash
# Backfill vs live vs a consume-only librdkafka reader, on the same topic of a
# local broker, in one run (issue: backfill >= 1.5x live, >= 0.8x
# consume-only). Each contender reads the whole topic from the beginning;
# times are wall clock from process start to the last message handled
# (start-up and, for live, the group join included), median of RUNS.
#
#   bench/backfill_bench.sh [EVENTS] [USERS] [RUNS]
# Writes bench/results/backfill.md (the figures and this command). The
# contenders are run by bench/lib.sh, as in bench/run.sh (which adds
# decode-only and the Kafka Streams peer, and records everything in
# bench/results/latest.json).
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
topic="bench-$events"
cleanup() {
  [[ -n "${bench_live_pid:-}" ]] && kill -KILL "$bench_live_pid" 2>/dev/null || true
  "$root/ops/kafka/stop.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$root/ops/build.sh"
brokers="$(KAFKA_FRESH=1 "$root/ops/kafka/start.sh" | tail -n 1)"
"$encore" gen --brokers "$brokers" --topic "$topic" --partitions 4 \
  --users "$users" --events "$events" --seed 11

# shellcheck source=lib.sh
source "$root/bench/lib.sh"
bench_live_pid=""
declare -a t_consume t_live t_backfill c_consume c_live c_backfill
for r in $(seq 1 "$runs"); do
  read -r t c _ <<<"$(bench_consume "$topic")"
  t_consume+=("$t") c_consume+=("$c")
  read -r t c _ <<<"$(bench_live "$topic" "$events" "$work/live")"
  t_live+=("$t") c_live+=("$c")
  read -r t c _ <<<"$(bench_backfill "$topic" "$work/bf")"
  t_backfill+=("$t") c_backfill+=("$c")
  echo "run $r: consume-only ${t_consume[-1]} s, live ${t_live[-1]} s, backfill ${t_backfill[-1]} s" >&2
done

mkdir -p "$root/bench/results"
python3 - "$events" "$users" "$runs" "${t_consume[*]}" "${t_live[*]}" "${t_backfill[*]}" \
  "${c_consume[*]}" "${c_live[*]}" "${c_backfill[*]}" \
  >"$root/bench/results/backfill.md" <<'PY'
import statistics, sys, platform, os
events, users, runs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c, l, b = ([float(x) for x in a.split()] for a in sys.argv[4:7])
cc, cl, cb = ([float(x) for x in a.split()] for a in sys.argv[7:10])
mc, ml, mb = (statistics.median(x) for x in (c, l, b))
rate = lambda t: events / t
print("# Backfill vs live vs consume-only\n")
print(f"Command: `bench/backfill_bench.sh {events} {users} {runs}` "
      f"({os.cpu_count()} cores, {platform.machine()}); local single-node Kafka "
      "4.4.0 on the same machine, 4 partitions, synthetic events (~110 B).\n")
print("Wall clock from process start to the last message handled, start-up "
      "included (live: group join included, detected by polling /metrics "
      "every 50 ms; backfill: final flush and snapshot included). CPU: user + "
      "system seconds of the process, all its threads (librdkafka's and "
      "RocksDB's included; the broker's not).\n")
print("| contender | runs (s) | median (s) | events/s | CPU s (median) | CPU µs/event |")
print("|---|---|---:|---:|---:|---:|")
for name, xs, m, cpu in (("consume-only (librdkafka batch, no decode)", c, mc, cc),
                         ("encore run (live, from the beginning)", l, ml, cl),
                         ("encore backfill (bulk mode, parallel workers)", b, mb, cb)):
    mcpu = statistics.median(cpu)
    print(f"| {name} | {', '.join(f'{x:.2f}' for x in xs)} | {m:.2f} | "
          f"{rate(m):,.0f} | {mcpu:.2f} | {mcpu / events * 1e6:.2f} |")
print()
print(f"- backfill / live = {ml / mb:.2f} (target >= 1.5)")
print(f"- backfill / consume-only = {mc / mb:.2f} (target >= 0.8)")
PY
cat "$root/bench/results/backfill.md"
