#!/usr/bin/env bash
# Configures and builds encore into ${ENCORE_BUILD_DIR:-build} (2 jobs: the
# machines have 2 cores).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${ENCORE_BUILD_TYPE:-RelWithDebInfo}" >&2
cmake --build "$build" -j "${ENCORE_JOBS:-2}" >&2
