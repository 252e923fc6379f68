#!/usr/bin/env bash
# Fresh machine -> every test: installs dependencies, builds, and runs the
# whole ctest suite (which starts and stops its own Kafka broker on port
# 19092 through a ctest fixture).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_BUILD_DIR:-$root/build}"

"$root/ops/install-deps.sh"
"$root/ops/kafka/fetch.sh"
"$root/ops/build.sh"

# Make sure the tests' broker goes away however ctest ends.
trap 'KAFKA_PORT=19092 "$root/ops/kafka/stop.sh" >/dev/null 2>&1 || true' EXIT
cd "$build"
ctest --output-on-failure --timeout 900 "$@"
