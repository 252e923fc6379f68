#!/usr/bin/env bash
# Fresh machine -> every test: installs dependencies, builds, and runs the
# whole ctest suite (which starts and stops its own Kafka broker on port
# 19092 and S3 server on port 19700 through ctest fixtures), then the same
# suite built with ASan+UBSan.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_BUILD_DIR:-$root/build}"

"$root/ops/install-deps.sh"
"$root/ops/kafka/fetch.sh"
"$root/ops/s3/fetch.sh"
"$root/ops/build.sh"

# Make sure the tests' broker and S3 server go away however ctest ends.
trap 'KAFKA_PORT=19092 "$root/ops/kafka/stop.sh" >/dev/null 2>&1 || true
      S3_PORT=19700 "$root/ops/s3/stop.sh" >/dev/null 2>&1 || true' EXIT
(cd "$build" && ctest --output-on-failure --timeout 900 "$@")

# The same suite again under AddressSanitizer + UndefinedBehaviorSanitizer
# (leaks included); ENCORE_SKIP_SANITIZERS=1 skips it for a quick local run.
if [[ "${ENCORE_SKIP_SANITIZERS:-0}" != 1 ]]; then
  "$root/ops/sanitize.sh" "$@"
fi
