#!/usr/bin/env bash
# A real Prometheus server (Debian's `prometheus`) scrapes a running encore,
# loads encore's recording and alert rules, and answers a query for an encore
# metric through its HTTP API with the value encore reports.
# Usage: prometheus_test.sh ENCORE_BINARY   (ENCORE_TEST_BROKERS from ctest)
set -euo pipefail
encore="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
brokers="${ENCORE_TEST_BROKERS:?}"
metrics_port="${ENCORE_TEST_METRICS_PORT2:-19465}"
prom_port="${ENCORE_TEST_PROMETHEUS_PORT:-19090}"
work="$(mktemp -d)"
topic="prom-$$-$(date +%s%N)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$encore" gen --brokers "$brokers" --topic "$topic" --users 50 --events 1500 --seed 8
"$encore" run --brokers "$brokers" --topic "$topic" --group "g-$topic" \
  --state-dir "$work/state" --snapshot-dir "$work/snap" --snapshot-interval-s 0.5 \
  --sync-commits=false --kafka-stats-interval-ms=500 \
  --metrics-listen "127.0.0.1:$metrics_port" >"$work/encore.log" 2>&1 &
pids+=($!)

mkdir -p "$work/rules"
cp "$root"/ops/prometheus/rules/*.yml "$work/rules/"
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - rules/encore-recording.yml
  - rules/encore-alerts.yml
scrape_configs:
  - job_name: encore
    static_configs:
      - targets: ["127.0.0.1:$metrics_port"]
YAML
promtool check config "$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
pids+=($!)

query() {  # prints the first sample's value of an instant query, or nothing
  curl -sf --get "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}

value=""
for _ in $(seq 1 120); do
  value=$(query 'encore_events_consumed_total{job="encore"}' 2>/dev/null || true)
  if [[ -n "$value" && "${value%.*}" -ge 1500 ]]; then break; fi
  sleep 0.5
done
if [[ -z "$value" || "${value%.*}" -lt 1500 ]]; then
  echo "FAIL: Prometheus answered '${value}' for encore_events_consumed_total" >&2
  tail -n 20 "$work/prometheus.log" "$work/encore.log" >&2
  exit 1
fi
direct=$(curl -sf "http://127.0.0.1:$metrics_port/metrics" | awk '$1 == "encore_events_consumed_total" {print int($2)}')
echo "Prometheus query: encore_events_consumed_total = $value (encore reports $direct)"
[[ "${value%.*}" -eq "$direct" ]] || { echo "FAIL: values differ" >&2; exit 1; }

up=$(query 'up{job="encore"}')
[[ "$up" == 1 ]] || { echo "FAIL: up=$up" >&2; exit 1; }
groups=$(curl -sf "http://127.0.0.1:$prom_port/api/v1/rules" |
  python3 -c 'import json,sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')
echo "Prometheus loaded $groups encore rules"
[[ "$groups" -ge 10 ]] || { echo "FAIL: rules not loaded" >&2; exit 1; }
# A recording rule evaluates over encore's series.
rate=""
for _ in $(seq 1 40); do
  rate=$(query 'encore:events_consumed:rate5m' 2>/dev/null || true)
  [[ -n "$rate" ]] && break
  sleep 0.5
done
echo "encore:events_consumed:rate5m = ${rate:-none}"
[[ -n "$rate" ]] || { echo "FAIL: recording rule produced nothing" >&2; exit 1; }
echo "prometheus_test: 1 passed, 0 failed"
