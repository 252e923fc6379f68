#!/usr/bin/env bash
# Crash harness (issue: >= 20 kills over >= 1M events): while EVENTS events
# are produced at RATE/s, `encore run` is killed KILLS times -- by SIGKILL at
# a random moment, or by a crash point inside a commit (between partitions)
# or inside a snapshot publication (checkpointed / renamed) -- and restarted
# each time; then it runs to the end. Its final content digest must equal a
# clean run's over the same events.
#   bench/crash_harness.sh [EVENTS] [KILLS] [RATE]
# Writes bench/results/crash-harness.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_BUILD_DIR:-$root/build}"
events="${1:-1000000}"
kills="${2:-20}"
rate="${3:-40000}"
export KAFKA_PORT="${BENCH_KAFKA_PORT:-29092}"
encore="$build/stream/encore"
work="$(mktemp -d)"
topic="crash-$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  "$root/ops/kafka/stop.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$root/ops/build.sh"
brokers="$(KAFKA_FRESH=1 "$root/ops/kafka/start.sh" | tail -n 1)"
"$encore" gen --brokers "$brokers" --topic "$topic" --partitions 4 --users 100000 \
  --events "$events" --rate "$rate" --seed 17 >"$work/gen.log" 2>&1 &
gen_pid=$!
pids+=("$gen_pid")

run_args=(run --brokers "$brokers" --topic "$topic" --group "crash-$topic"
  --state-dir "$work/state" --snapshot-dir "$work/snap" --commit-interval-ms 100
  --snapshot-interval-s 0.2 --snapshot-keep 3 --metrics-listen=
  --kafka-config "group.instance.id=crash-member" --kafka-config session.timeout.ms=10000)
progress() {
  "$encore" snapshot info --snapshot-dir "$work/snap" --json 2>/dev/null |
    python3 -c 'import json,sys; print(sum(int(p.get("next_offset",0)) for p in json.load(sys.stdin)["partitions"]))' 2>/dev/null || echo 0
}

log="$work/kills.txt"
: >"$log"
modes=(sigkill sigkill commit-partition snapshot-checkpointed snapshot-renamed)
for k in $(seq 1 "$kills"); do
  mode=${modes[$((RANDOM % ${#modes[@]}))]}
  if [[ "$mode" == sigkill ]]; then
    "$encore" "${run_args[@]}" >>"$work/run.log" 2>&1 &
    pid=$!
    sleep "$(python3 -c "import random; print(round(random.uniform(0.5, 2.0), 2))")"
    kill -KILL "$pid" 2>/dev/null || true
  else
    n=$((1 + RANDOM % 4))
    ENCORE_TEST_CRASH_AT="$mode:$n" "$encore" "${run_args[@]}" >>"$work/run.log" 2>&1 &
    pid=$!
    # Bounded: a crash point not reached in 30 s (no new data) is a SIGKILL.
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    mode="$mode:$n"
  fi
  wait "$pid" 2>/dev/null || true
  echo "| $k | $mode | $(progress) |" >>"$log"
done
wait "$gen_pid"
total=$(tail -n 1 "$work/gen.log" | awk '{print $2}')

# Finish: run until the published offsets cover every event.
finish() {  # finish STATE SNAP GROUP
  "$encore" run --brokers "$brokers" --topic "$topic" --group "$3" --state-dir "$1" \
    --snapshot-dir "$2" --snapshot-interval-s 0.5 --metrics-listen= >>"$work/run.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 1200); do
    local p
    p=$("$encore" snapshot info --snapshot-dir "$2" --json 2>/dev/null |
      python3 -c 'import json,sys; print(sum(int(p.get("next_offset",0)) for p in json.load(sys.stdin)["partitions"]))' 2>/dev/null || echo 0)
    [[ "$p" -ge "$events" ]] && break
    sleep 0.5
  done
  kill -TERM "$pid"
  wait "$pid"
}
finish "$work/state" "$work/snap" "crash-$topic"
finish "$work/clean-state" "$work/clean-snap" "clean-$topic"
digest() { "$encore" snapshot info --snapshot-dir "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["content_digest"])'; }
a=$(digest "$work/snap")
b=$(digest "$work/clean-snap")
verdict=$([[ "$a" == "$b" ]] && echo "EQUAL" || echo "DIFFERENT")
mkdir -p "$root/bench/results"
{
  echo "# Crash harness"
  echo
  echo "Command: \`bench/crash_harness.sh $events $kills $rate\` ($total events produced at ~$rate/s while encore was killed $kills times)."
  echo
  echo "| kill | how (crash point:nth hit) | published progress after |"
  echo "|---|---|---:|"
  cat "$log"
  echo
  echo "Final digest after the kills: \`$a\`"
  echo
  echo "Clean run's digest: \`$b\` -> **$verdict**"
} >"$root/bench/results/crash-harness.md"
cat "$root/bench/results/crash-harness.md"
[[ "$verdict" == EQUAL ]]
