#!/usr/bin/env bash
# Soak: does `encore run` leak memory or file descriptors, or slow down, over
# a long run at a steady load? Not part of the test suite.
#
#   bench/soak.sh [DURATION_S] [RATE]
#
# Starts its own broker (port $SOAK_KAFKA_PORT, default 19792), measures
# encore's maximum consumption rate briefly (unless RATE, events/s, is
# given), then produces at half of it for DURATION_S (default 1800) while
# `encore run --memory-budget-mb $SOAK_BUDGET_MB` (default 256) consumes.
# Every 10 s: RSS, open fds, p99 of the commit duration and of event ->
# commit latency over the interval (bench/soak.py). Writes the samples to
# build/soak/soak.csv, the plot to bench/results/soak.png and a summary
# with RSS and fd slopes (least squares, per hour) to bench/results/soak.md;
# runs shorter than 30 minutes are labelled a short trial there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_BUILD_DIR:-$root/build}"
duration="${1:-1800}"
rate="${2:-}"
budget_mb="${SOAK_BUDGET_MB:-256}"
users="${SOAK_USERS:-1000000}"
export KAFKA_PORT="${SOAK_KAFKA_PORT:-19792}"
metrics_port="${SOAK_METRICS_PORT:-19796}"
encore="$build/stream/encore"
out="$build/soak"
venv="$build/soak-venv"
results="$root/bench/results"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  "$root/ops/kafka/stop.sh" >/dev/null 2>&1 || true
}
trap cleanup EXIT

[[ -x "$encore" ]] || "$root/ops/build.sh"
# Plotting packages (pinned) in a virtual environment under the build dir.
stamp="$venv/soak-requirements.txt"
if ! cmp -s "$root/bench/soak-requirements.txt" "$stamp"; then
  python3 -m venv --clear "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --only-binary=:all: --requirement "$root/bench/soak-requirements.txt"
  cp "$root/bench/soak-requirements.txt" "$stamp"
fi
rm -rf "$out" && mkdir -p "$out" "$results"
brokers="$(KAFKA_FRESH=1 "$root/ops/kafka/start.sh" | tail -n 1)"

consumed() {
  curl -sf "http://127.0.0.1:$metrics_port/metrics" 2>/dev/null |
    awk '$1 == "encore_events_consumed_total" {print int($2)}'
}
start_encore() {  # start_encore TOPIC NAME: starts `encore run`, sets encore_pid
  "$encore" run --brokers "$brokers" --topic "$1" --group "soak-$2" \
    --state-dir "$out/$2/state" --snapshot-dir "$out/$2/snap" \
    --memory-budget-mb "$budget_mb" --metrics-listen "127.0.0.1:$metrics_port" \
    --log-level warn >"$out/$2.log" 2>&1 &
  encore_pid=$!
  pids+=("$encore_pid")
}
stop_encore() {
  kill -TERM "$encore_pid"
  wait "$encore_pid" || { echo "soak: encore exited with $?" >&2; tail -n 20 "$out/$1.log" >&2; exit 1; }
}

if [[ -z "$rate" ]]; then
  # Maximum rate: encore catching up on a backlog (group join excluded).
  probe=400000
  "$encore" gen --brokers "$brokers" --topic soak-probe --partitions 4 \
    --users "$users" --events "$probe" --seed 7
  start_encore soak-probe probe
  for _ in $(seq 1 600); do [[ "$(consumed)" -ge 1 ]] 2>/dev/null && break; sleep 0.1; done
  t0=$(date +%s.%N); c0=$(consumed)
  for _ in $(seq 1 3000); do [[ "$(consumed)" -ge "$probe" ]] 2>/dev/null && break; sleep 0.1; done
  t1=$(date +%s.%N); c1=$(consumed)
  stop_encore probe
  max_rate=$(python3 -c "print(int(($c1 - $c0) / ($t1 - $t0)))")
  rate=$((max_rate / 2))
  rate_source="half of the measured maximum, $max_rate events/s"
  echo "soak: maximum ~$max_rate events/s; producing at $rate events/s" >&2
else
  rate_source="given on the command line"
fi

events=$(python3 -c "print(int($rate * $duration))")
start_encore soak live
"$encore" gen --brokers "$brokers" --topic soak --partitions 4 --users "$users" \
  --events "$events" --rate "$rate" --realtime --seed 8 >"$out/gen.log" 2>&1 &
gen_pid=$!
pids+=("$gen_pid")
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$metrics_port/metrics" >/dev/null && break; sleep 0.1; done
python3 "$root/bench/soak.py" sample "$encore_pid" "http://127.0.0.1:$metrics_port/metrics" \
  10 "$duration" "$out/soak.csv"
kill -TERM "$gen_pid" 2>/dev/null || true
wait "$gen_pid" 2>/dev/null || true
stop_encore live

if ((duration < 1800)); then
  label="# Soak — SHORT TRIAL ($((duration / 60)) min, not the 30-minute soak)"
else
  label="# Soak — $((duration / 60)) min"
fi
title="$label

\`bench/soak.sh $duration $rate\` on $(nproc) cores, broker on the same
machine: \`encore run --memory-budget-mb $budget_mb\`, 4 partitions,
\`encore gen\` at $rate events/s ($rate_source) over $users possible
users (SOAK_USERS), fsync on every commit."
"$venv/bin/python" "$root/bench/soak.py" report "$out/soak.csv" \
  "$results/soak.png" "$results/soak.md" "$title"
echo "soak: $out/soak.csv, $results/soak.png, $results/soak.md" >&2
