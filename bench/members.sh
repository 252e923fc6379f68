#!/usr/bin/env bash
# Throughput of 1, 2 and 3 `encore run` members of one consumer group on
# this machine, each with its own state and snapshot dirs and one shared
# file:// checkpoint store, cooperative-sticky assignment: from the first
# member's start until the members' latest snapshots (published every
# second) together cover every event of a fresh 6-partition topic. Reports the group's events/s and each member's
# CPU seconds (all threads) and CPU per event. On 2 cores more members
# cannot add cores, so the CPU per event is the figure that carries over.
#
#   bench/members.sh [EVENTS] [USERS]        default: 2000000 200000
#
# Broker BENCH_KAFKA_PORT (29092); members' metrics on the ports after
# BENCH_METRICS_PORT (29464); data under BENCH_WORK_DIR (/tmp).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_BUILD_DIR:-$root/build}"
# shellcheck source=lib.sh
source "$root/bench/lib.sh"
events="${1:-2000000}"
users="${2:-200000}"

export KAFKA_PORT="${BENCH_KAFKA_PORT:-29092}"
metrics_port="${BENCH_METRICS_PORT:-29464}"
work="$(mktemp -d "${BENCH_WORK_DIR:-/tmp}/encore-members.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  "$root/ops/kafka/stop.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$root/ops/build.sh"
brokers="$(KAFKA_FRESH=1 "$root/ops/kafka/start.sh" | tail -n 1)"
encore="$build/stream/encore"
topic="bench-members-$events-$users"
"$encore" gen --brokers "$brokers" --topic "$topic" --partitions 6 \
  --users "$users" --events "$events" --seed 11 --log-level warn >&2

printf '{"machine": "%s cores", "load_before": "%s", "events": %s, "users": %s}\n' \
  "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$events" "$users"
for k in 1 2 3; do
  pids=()
  local_start=${EPOCHREALTIME/./}
  for i in $(seq 1 "$k"); do
    dir="$work/k$k/m$i"
    mkdir -p "$dir"
    "$encore" run --brokers "$brokers" --topic "$topic" \
      --group "bench-members-$k-$$" --state-dir "$dir/state" \
      --snapshot-dir "$dir/snap" --checkpoint-store "file://$work/k$k/store" \
      --kafka-config "group.instance.id=member-$i" \
      --kafka-config partition.assignment.strategy=cooperative-sticky \
      --metrics-listen "127.0.0.1:$((metrics_port + i))" \
      --snapshot-interval-s 1 --log-level warn \
      >"$dir/log" 2>&1 &
    pids+=($!)
  done
  done_events=0
  for _ in $(seq 1 3000); do # bounded: ten minutes
    done_events="$(bench_merged "$work/k$k"/m*/snap | cut -d' ' -f1)"
    ((done_events >= events)) && break
    for i in $(seq 1 "$k"); do
      if ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then
        echo "member $i of $k exited:" >&2
        cat "$work/k$k/m$i/log" >&2
        exit 1
      fi
    done
    sleep 0.2
  done
  wall=$(bench_secs "${EPOCHREALTIME/./}" "$local_start")
  cpus=()
  for p in "${pids[@]}"; do cpus+=("$(bench_cpu_of "$p")"); done
  for p in "${pids[@]}"; do kill -TERM "$p"; done
  for p in "${pids[@]}"; do wait "$p" || true; done
  python3 - "$k" "$wall" "$events" "$done_events" "${cpus[@]}" <<'PY'
import json, sys
k, wall, events, consumed = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cpus = [float(c) for c in sys.argv[5:]]
print(json.dumps({"members": k, "wall_s": wall, "consumed": consumed,
                  "events_per_s": round(consumed / wall),
                  "member_cpu_s": cpus,
                  "cpu_us_per_event": round(sum(cpus) / consumed * 1e6, 2)}))
PY
done
printf '{"load_after": "%s"}\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
