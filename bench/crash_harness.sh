#!/usr/bin/env bash
# Crash harness (issue: >= 20 kills over >= 1M events): while EVENTS events
# are produced at RATE/s, `encore run` is killed KILLS times -- by SIGKILL at
# a random moment, or by a crash point inside a commit (between partitions)
# or inside a snapshot publication (checkpointed / renamed) -- and restarted
# each time; then it runs to the end. Its final content digest must equal a
# clean run's over the same events.
#   bench/crash_harness.sh [EVENTS] [KILLS] [RATE]
# Writes bench/results/crash-harness.md.
#
# CRASH_MEMBERS=N (N > 1): N members of one group, each with its own state
# and snapshot dirs, sharing a file:// checkpoint store (cooperative-sticky,
# static member ids); every kill hits a random member while the others keep
# running, so partitions keep moving between them through the store. The
# merged result (each partition at its highest published offset, the
# digests combined as a snapshot's are) must equal the clean run's.
# Writes bench/results/crash-harness-members.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_BUILD_DIR:-$root/build}"
# shellcheck source=lib.sh
source "$root/bench/lib.sh"
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

members="${CRASH_MEMBERS:-1}"
# member_args I: the run arguments of member I (1-based).
member_args() {
  if ((members == 1)); then
    run_args=(run --brokers "$brokers" --topic "$topic" --group "crash-$topic"
      --state-dir "$work/state" --snapshot-dir "$work/snap" --commit-interval-ms 100
      --snapshot-interval-s 0.2 --snapshot-keep 3 --metrics-listen=
      --kafka-config "group.instance.id=crash-member" --kafka-config session.timeout.ms=10000)
  else
    run_args=(run --brokers "$brokers" --topic "$topic" --group "crash-$topic"
      --state-dir "$work/m$1/state" --snapshot-dir "$work/m$1/snap" --commit-interval-ms 100
      --snapshot-interval-s 0.2 --snapshot-keep 3 --metrics-listen=
      --checkpoint-store "file://$work/store"
      --kafka-config "group.instance.id=crash-member-$1" --kafka-config session.timeout.ms=10000
      --kafka-config partition.assignment.strategy=cooperative-sticky)
  fi
}
snap_dirs() {
  if ((members == 1)); then echo "$work/snap"; else
    for i in $(seq 1 "$members"); do echo "$work/m$i/snap"; done
  fi
}
progress() {
  # shellcheck disable=SC2046
  bench_merged $(snap_dirs) | cut -d' ' -f1
}
# Members that are not being killed keep running (multi-member mode).
declare -A running=()
start_member() {  # start_member I
  member_args "$1"
  "$encore" "${run_args[@]}" >>"$work/run-$1.log" 2>&1 &
  running[$1]=$!
  pids+=("$!")
}
if ((members > 1)); then
  for i in $(seq 1 "$members"); do start_member "$i"; done
fi

log="$work/kills.txt"
: >"$log"
modes=(sigkill sigkill commit-partition snapshot-checkpointed snapshot-renamed)
# Members also die as they are about to upload a checkpoint.
((members > 1)) && modes+=(checkpoint-upload)
for k in $(seq 1 "$kills"); do
  mode=${modes[$((RANDOM % ${#modes[@]}))]}
  victim=1
  if ((members > 1)); then
    victim=$((1 + RANDOM % members))
    kill -KILL "${running[$victim]}" 2>/dev/null || true
    wait "${running[$victim]}" 2>/dev/null || true
  fi
  member_args "$victim"
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
  ((members > 1)) && { mode="member $victim: $mode"; start_member "$victim"; }
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
digest() { "$encore" snapshot info --snapshot-dir "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["content_digest"])'; }
if ((members == 1)); then
  finish "$work/state" "$work/snap" "crash-$topic"
  a=$(digest "$work/snap")
else
  # The running members catch up together, then stop cleanly.
  # shellcheck disable=SC2046
  for _ in $(seq 1 1200); do
    [[ "$(bench_merged $(snap_dirs) | cut -d' ' -f1)" -ge "$events" ]] && break
    sleep 0.5
  done
  for i in "${!running[@]}"; do kill -TERM "${running[$i]}" 2>/dev/null || true; done
  for i in "${!running[@]}"; do wait "${running[$i]}" 2>/dev/null || true; done
  # shellcheck disable=SC2046
  a=$(bench_merged $(snap_dirs) | cut -d' ' -f2)
fi
finish "$work/clean-state" "$work/clean-snap" "clean-$topic"
b=$(digest "$work/clean-snap")
verdict=$([[ "$a" == "$b" ]] && echo "EQUAL" || echo "DIFFERENT")
mkdir -p "$root/bench/results"
out="$root/bench/results/crash-harness.md"
((members > 1)) && out="$root/bench/results/crash-harness-members.md"
{
  echo "# Crash harness"
  echo
  if ((members > 1)); then
    echo "Command: \`CRASH_MEMBERS=$members bench/crash_harness.sh $events $kills $rate\` ($total events produced at ~$rate/s while $members members of one group, sharing a file:// checkpoint store, were killed $kills times between them, one at a time, the others running)."
  else
    echo "Command: \`bench/crash_harness.sh $events $kills $rate\` ($total events produced at ~$rate/s while encore was killed $kills times)."
  fi
  echo
  echo "| kill | how (crash point:nth hit) | published progress after |"
  echo "|---|---|---:|"
  cat "$log"
  echo
  echo "Final digest after the kills: \`$a\`"
  echo
  echo "Clean run's digest: \`$b\` -> **$verdict**"
} >"$out"
cat "$out"
[[ "$verdict" == EQUAL ]]
