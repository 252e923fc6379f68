#!/usr/bin/env bash
# The operations surface of a running `encore run`: /metrics is valid for
# Prometheus (the real `promtool check metrics`) and its counters add up
# (consumed = applied + rejected); /healthz and /readyz answer; JSON log
# lines parse; a secret passed with --kafka-config never reaches the log;
# every metric the Grafana dashboard queries exists.
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
"$encore" produce --brokers "$brokers" --topic "$topic" --from-jsonl "$work/bad.jsonl" --novalidate

printf '%s\n' '# test properties' 'client.id=metrics-test' 'ssl.key.password=s3cr3t-from-file' \
  >"$work/kafka.properties"
"$encore" run --brokers "$brokers" --topic "$topic" --group "g-$topic" \
  --state-dir "$work/state" --snapshot-dir "$work/snap" --snapshot-interval-s 0.2 \
  --sync-commits=false --metrics-listen "127.0.0.1:$port" --log-format=json \
  --kafka-stats-interval-ms=200 \
  --kafka-config sasl.password=hunter2-do-not-log \
  --kafka-config-file "$work/kafka.properties" >"$work/run.log" 2>&1 &
pid=$!

# Bounded wait until every message is accounted for.
consumed=0
for _ in $(seq 1 300); do
  if curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics.txt"; then
    consumed=$(awk '$1 == "encore_events_consumed_total" {print int($2)}' "$work/metrics.txt")
    snapshots=$(awk '$1 == "encore_snapshots_total" {print int($2)}' "$work/metrics.txt")
    # A snapshot after everything was consumed means a commit covered it all
    # (the first commit waits for the dead letter's delivery).
    if [[ "${consumed:-0}" -ge 2001 && "${snapshots:-0}" -ge 1 ]] &&
      grep -q '^encore_consumer_lag_messages{partition="0"} 0' "$work/metrics.txt"; then
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
applied=$(awk '$1 ~ /^encore_events_applied_total[{]/ {n += $2} END {print int(n)}' "$work/metrics.txt")
rejected=$(awk '$1 == "encore_events_rejected_total{reason=\"negative_duration\"}" {print int($2)}' "$work/metrics.txt")
commits=$(awk '$1 == "encore_commits_total" {print int($2)}' "$work/metrics.txt")
snap=$(awk '$1 == "encore_snapshot_last_success_timestamp_seconds" {print int($2)}' "$work/metrics.txt")
echo "consumed=$consumed applied=$applied rejected(negative_duration)=$rejected commits=$commits snapshot_ts=$snap"
[[ "$applied" -eq 2000 ]] || { echo "FAIL: applied $applied, want 2000" >&2; exit 1; }
[[ "$rejected" -eq 1 ]] || { echo "FAIL: rejected $rejected, want 1" >&2; exit 1; }
[[ "$commits" -ge 1 ]] || { echo "FAIL: no commit counted" >&2; exit 1; }
[[ "$snap" -gt 0 ]] || { echo "FAIL: no snapshot time" >&2; exit 1; }

# Health endpoints: alive, and ready (partitions assigned, commits done).
[[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" == 200 ]] ||
  { echo "FAIL: /healthz not 200" >&2; exit 1; }
ready_code=$(curl -s -o "$work/ready.txt" -w '%{http_code}' "http://127.0.0.1:$port/readyz")
[[ "$ready_code" == 200 ]] || { echo "FAIL: /readyz $ready_code: $(cat "$work/ready.txt")" >&2; exit 1; }
grep -q '^encore_ready 1' "$work/metrics.txt" || { echo "FAIL: encore_ready not 1" >&2; exit 1; }
# One broker in the test cluster: counted once (not its bootstrap entry nor
# the group coordinator again).
grep -q '^encore_kafka_brokers_up 1$' "$work/metrics.txt" ||
  { echo "FAIL: $(grep '^encore_kafka_brokers_up' "$work/metrics.txt"), want 1" >&2; exit 1; }

# The dashboard's metrics exist on this live endpoint.
dashboard="$(dirname "$0")/../ops/grafana/encore-dashboard.json"
if [[ -f "$dashboard" ]]; then
  python3 "$(dirname "$0")/../ops/grafana/check_dashboard.py" "$dashboard" "$work/metrics.txt"
fi

kill -TERM "$pid"
wait "$pid"
pid=""

# Logs: every line is a JSON object, the effective configuration is logged,
# and no secret value appears anywhere.
python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "empty log"
for n, line in enumerate(lines, 1):
    obj = json.loads(line)
    assert {"ts", "level", "msg"} <= obj.keys(), (n, line)
assert any("effective configuration" in json.loads(l)["msg"] for l in lines)
' "$work/run.log" || { echo "FAIL: log is not JSON lines" >&2; head -5 "$work/run.log" >&2; exit 1; }
if grep -q -e hunter2-do-not-log -e s3cr3t-from-file "$work/run.log"; then
  echo "FAIL: a secret was logged" >&2
  exit 1
fi
grep -q 'sasl.password=\*\*\*\*\*\*' "$work/run.log" || { echo "FAIL: masked password not shown" >&2; exit 1; }
echo "metrics_test: 1 passed, 0 failed"
