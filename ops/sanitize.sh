#!/usr/bin/env bash
# Builds the project with AddressSanitizer + UndefinedBehaviorSanitizer into
# ${ENCORE_ASAN_BUILD_DIR:-build-asan} and runs the test suite there (the
# same ctest suite, broker included). Extra arguments go to ctest, e.g.
#   ops/sanitize.sh -E 'restart|backfill'
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_ASAN_BUILD_DIR:-$root/build-asan}"
"$root/ops/install-deps.sh"
"$root/ops/kafka/fetch.sh"
"$root/ops/s3/fetch.sh"
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DENCORE_JEMALLOC=OFF \
  -DENCORE_TEST_KAFKA_PORT=19192 -DENCORE_TEST_RESTART_KAFKA_PORT=19392 \
  -DENCORE_TEST_S3_PORT=19710 >&2
cmake --build "$build" -j "${ENCORE_JOBS:-2}" >&2
trap 'KAFKA_PORT=19192 "$root/ops/kafka/stop.sh" >/dev/null 2>&1 || true
      S3_PORT=19710 "$root/ops/s3/stop.sh" >/dev/null 2>&1 || true' EXIT
# Leaks are reported; halt on the first error of either sanitizer.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
cd "$build"
ctest --output-on-failure --timeout 900 "$@"
