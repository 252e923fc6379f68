#!/usr/bin/env bash
# /metrics of a running `encore run` is valid for Prometheus: it is scraped
# while events flow and checked with the real `promtool check metrics`, and
# the counters it shows add up (consumed = applied + rejected).
# Usage: metrics_test.sh ENCORE_BINARY   (ENCORE_TEST_BROKERS from ctest)
set -euo pipefail
encore="$1"
brokers="${ENCORE_TEST_BROKERS:?}"
port="${ENCORE_TEST_METRICS_PORT:-19464}"
work="$(mktemp -d)"
topic="metrics-$$-$(date +%s%N)"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$encore" gen --brokers "$brokers" --topic "$topic" --users 100 --events 2000 --seed 5
printf '%s\n' '{"user_id":"u1","event_time_ms":"1790000000000","kind":"PLAY","track_id":"t","ms_played":"-4"}' \
  >"$work/bad.jsonl"
"$encore" produce --brokers "$brokers" --topic "$topic" --from-jsonl "$work/bad.jsonl"

"$encore" run --brokers "$brokers" --topic "$topic" --group "g-$topic" \
  --state-dir "$work/state" --snapshot-dir "$work/snap" --snapshot-interval-s 0.2 \
  --sync-commits=false --metrics-listen "127.0.0.1:$port" >"$work/run.log" 2>&1 &
pid=$!

# Bounded wait until every message is accounted for.
consumed=0
for _ in $(seq 1 300); do
  if curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics.txt"; then
    consumed=$(awk '$1 == "encore_events_consumed_total" {print int($2)}' "$work/metrics.txt")
    snapshots=$(awk '$1 == "encore_snapshots_total" {print int($2)}' "$work/metrics.txt")
    # A snapshot after everything was consumed means a commit covered it all
    # (the first commit waits for the dead letter's delivery).
    if [[ "${consumed:-0}" -ge 2001 && "${snapshots:-0}" -ge 1 ]]; then
      sleep 0.5
      break
    fi
  fi
  sleep 0.2
done
if [[ "${consumed:-0}" -lt 2001 ]]; then
  echo "FAIL: encore consumed ${consumed:-0}/2001 messages" >&2
  tail -n 20 "$work/run.log" >&2
  exit 1
fi
curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics.txt"

promtool check metrics <"$work/metrics.txt"
applied=$(awk '$1 == "encore_events_applied_total" {print int($2)}' "$work/metrics.txt")
rejected=$(awk '$1 == "encore_events_rejected_total{reason=\"negative_duration\"}" {print int($2)}' "$work/metrics.txt")
commits=$(awk '$1 == "encore_commits_total" {print int($2)}' "$work/metrics.txt")
snap=$(awk '$1 == "encore_snapshot_last_success_timestamp_seconds" {print int($2)}' "$work/metrics.txt")
echo "consumed=$consumed applied=$applied rejected(negative_duration)=$rejected commits=$commits snapshot_ts=$snap"
[[ "$applied" -eq 2000 ]] || { echo "FAIL: applied $applied, want 2000" >&2; exit 1; }
[[ "$rejected" -eq 1 ]] || { echo "FAIL: rejected $rejected, want 1" >&2; exit 1; }
[[ "$commits" -ge 1 ]] || { echo "FAIL: no commit counted" >&2; exit 1; }
[[ "$snap" -gt 0 ]] || { echo "FAIL: no snapshot time" >&2; exit 1; }

kill -TERM "$pid"
wait "$pid"
pid=""
echo "metrics_test: 1 passed, 0 failed"
