#!/usr/bin/env bash
# Checks encore's Prometheus files with the real promtool: the scrape config
# (which also loads the rule files it names), both rule files, and the rule
# unit tests. Works from any directory; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v promtool >/dev/null 2>&1; then
  echo "check.sh: promtool not found (Debian: apt-get install prometheus)" >&2
  exit 1
fi

promtool check config prometheus.yml
promtool check rules rules/encore-recording.yml rules/encore-alerts.yml
promtool test rules tests/encore-alerts-test.yml
echo "prometheus: config, rules and rule tests OK"
