#!/usr/bin/env bash
# A partition handover's cost through the checkpoint store: restore_bench
# (bench/restore_bench.cc) over file:// and over s3:// (a local S3Proxy,
# ops/s3), for partitions of the given user counts. Prints one JSON line
# per run (and the machine's load average); bench/results/restore.md.
#
#   bench/restore.sh [USERS...]        default: 1000000
#
# S3 port BENCH_S3_PORT (29700); data under BENCH_WORK_DIR (/tmp).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_BUILD_DIR:-$root/build}"
users=("$@")
((${#users[@]})) || users=(1000000)

export S3_PORT="${BENCH_S3_PORT:-29700}"
work="$(mktemp -d "${BENCH_WORK_DIR:-/tmp}/encore-restore.XXXXXX")"
cleanup() {
  "$root/ops/s3/stop.sh" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$root/ops/build.sh"
"$root/ops/s3/fetch.sh" >&2
endpoint="$(S3_FRESH=1 "$root/ops/s3/start.sh" | tail -n 1)"
# The fixed credentials of the throw-away server (ops/s3/common.sh).
export AWS_ENDPOINT_URL_S3="$endpoint" AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=encore-test AWS_SECRET_ACCESS_KEY=encore-test-secret

printf '{"load_before": "%s"}\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
for n in "${users[@]}"; do
  "$build/bench/restore_bench" "file://$work/store" "$n" "$work/run"
  "$build/bench/restore_bench" "s3://encore-test/restore-bench" "$n" "$work/run"
done
printf '{"load_after": "%s"}\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
