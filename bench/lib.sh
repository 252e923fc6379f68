# shellcheck shell=bash
# Helpers shared by bench/run.sh and bench/backfill_bench.sh: each runs one
# contender over a topic of the local broker and prints
# "WALL_S CPU_S PEAK_RSS_MB" (CPU = user + system seconds of all the
# process's threads; peak RSS = VmHWM, measured from outside the process).
# Sourced, not run. Needs: root, build, brokers, work, metrics_port.

# Microseconds since the epoch (no subprocess), and seconds between two.
bench_us() { echo "${EPOCHREALTIME/./}"; }
bench_secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f\n", (a - b) / 1e6}'; }

# CPU seconds (user + system, all threads) of a running process.
bench_cpu_of() {
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}
# Peak resident set of a running process, MiB.
bench_hwm_of() { awk '$1 == "VmHWM:" {printf "%.1f\n", $2 / 1024}' "/proc/$1/status"; }

# bench_timed CMD...: runs CMD to completion; prints wall, CPU, peak RSS.
bench_timed() {
  local s=${EPOCHREALTIME/./} wall
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$@" >&2
  wall=$(bench_secs "${EPOCHREALTIME/./}" "$s")
  awk -v w="$wall" '{printf "%s %.3f %.1f\n", w, $1 + $2, $3 / 1024}' "$work/time"
}

# bench_consume TOPIC [--decode]: the librdkafka reader (bench/consume_only.cc).
bench_consume() { bench_timed "$build/bench/consume_only" "$brokers" "$@"; }

# bench_backfill TOPIC DIR [FLAGS...]: `encore backfill` from the beginning
# into DIR/state, DIR/snap (final flush and snapshot included).
bench_backfill() {
  local topic="$1" dir="$2"
  shift 2
  rm -rf "$dir"
  bench_timed "$build/stream/encore" backfill --brokers "$brokers" --topic "$topic" \
    --from-beginning --state-dir "$dir/state" --snapshot-dir "$dir/snap" \
    --progress=off --log-level warn "$@"
}

bench_scrape() { curl -sf "http://127.0.0.1:$metrics_port/metrics" 2>/dev/null || true; }

# bench_live TOPIC EVENTS DIR [FLAGS...]: `encore run` (default flags: fsync
# on every commit) from the beginning until it has consumed EVENTS messages,
# detected by polling /metrics every 50 ms; wall and CPU are taken then. It
# leaves DIR/progress (seconds since start, consumed; ~every second),
# DIR/metrics.txt (a scrape when caught up) and, after SIGTERM, DIR/snap
# with the final snapshot; DIR/stop_s is the time from SIGTERM to exit
# (final commit and snapshot publication).
bench_live() {
  local topic="$1" events="$2" dir="$3"
  shift 3
  rm -rf "$dir"
  mkdir -p "$dir"
  local s=${EPOCHREALTIME/./} pid consumed=0 t last=0
  "$build/stream/encore" run --brokers "$brokers" --topic "$topic" \
    --group "bench-$(basename "$dir")-$$" --state-dir "$dir/state" \
    --snapshot-dir "$dir/snap" --snapshot-interval-s 1000000 \
    --metrics-listen "127.0.0.1:$metrics_port" --log-level warn "$@" \
    >"$dir/log" 2>&1 &
  pid=$!
  bench_live_pid=$pid
  for _ in $(seq 1 72000); do # bounded: one hour
    consumed=$(bench_scrape | awk '$1 == "encore_events_consumed_total" {print int($2)}')
    t=$((${EPOCHREALTIME/./} - s))
    if ((t - last >= 1000000)); then
      echo "$(bench_secs "$t" 0) ${consumed:-0}" >>"$dir/progress"
      last=$t
    fi
    [[ "${consumed:-0}" -ge "$events" ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/log" >&2; return 1; }
    sleep 0.05
  done
  local wall cpu rss
  wall=$(bench_secs "${EPOCHREALTIME/./}" "$s")
  cpu=$(bench_cpu_of "$pid")
  echo "$wall ${consumed:-0}" >>"$dir/progress"
  bench_scrape >"$dir/metrics.txt"
  rss=$(bench_hwm_of "$pid")
  s=${EPOCHREALTIME/./}
  kill -TERM "$pid"
  wait "$pid" || true
  bench_live_pid=""
  bench_secs "${EPOCHREALTIME/./}" "$s" >"$dir/stop_s"
  echo "$wall $cpu $rss"
}

# bench_peer TOPIC DIR [PEER FLAGS...]: the Kafka Streams peer from the
# beginning until caught up (its own figures: wall from JVM start, process
# CPU, VmHWM); its summary in DIR/summary.json, progress in DIR/log.
bench_peer() {
  local topic="$1" dir="$2"
  shift 2
  rm -rf "$dir"
  mkdir -p "$dir"
  "$root/bench/peers/kafka-streams/peer.sh" --brokers "$brokers" --topic "$topic" \
    --app-id "bench-$(basename "$dir")-$$-$RANDOM" --state-dir "$dir/state" --progress \
    "$@" >"$dir/summary.json" 2>"$dir/log" || { tail -20 "$dir/log" >&2; return 1; }
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(d["seconds"], d["cpu_s"], round(d["peak_rss_kb"] / 1024, 1))' "$dir/summary.json"
}

# The plotting venv (bench/soak-requirements.txt, under the build dir, the
# same one bench/soak.sh uses); prints its path.
bench_venv() {
  local venv="$build/soak-venv" stamp="$build/soak-venv/soak-requirements.txt"
  if ! cmp -s "$root/bench/soak-requirements.txt" "$stamp"; then
    python3 -m venv --clear "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      --only-binary=:all: --requirement "$root/bench/soak-requirements.txt" >&2
    cp "$root/bench/soak-requirements.txt" "$stamp"
  fi
  echo "$venv"
}

# bench_merged SNAPSHOT_DIR...: "OFFSET_SUM COMBINED_DIGEST" of the dirs'
# latest manifests taken together (members of one group each publish their
# own partitions): each partition at the highest next offset any dir has,
# and the content digest of a snapshot holding those partitions
# (state/digest.h). "0 <digest of nothing>" before anything is published.
bench_merged() {
  python3 - "$@" <<'PY'
import hashlib, json, os, struct, sys
best = {}
for d in sys.argv[1:]:
    try:
        name = open(os.path.join(d, "LATEST")).read().strip()
        m = json.load(open(os.path.join(d, name, "manifest.json")))
    except (OSError, ValueError):
        continue
    for p in m.get("partitions", []):
        part, off = int(p.get("partition", 0)), int(p.get("next_offset", 0))
        if part not in best or best[part][0] < off:
            best[part] = (off, p.get("digest", ""))
h = hashlib.sha256()
for part in sorted(best):
    h.update(struct.pack("<I", part) + bytes.fromhex(best[part][1]))
print(sum(o for o, _ in best.values()), h.hexdigest())
PY
}
