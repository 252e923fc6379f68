#!/usr/bin/env bash
# Builds the decode -> validate -> apply libFuzzer target with clang (ASan +
# UBSan) into ${ENCORE_FUZZ_BUILD_DIR:-build-fuzz} and fuzzes it for
# ${FUZZ_SECONDS:-60} seconds. Crashes are written to build-fuzz/crashes/.
#   FUZZ_SECONDS=600 ops/fuzz.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
"$root/ops/install-deps.sh"
if ! command -v clang++-14 >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev
fi
flags="-fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer -g -O1"
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug -DENCORE_FUZZ=ON \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >&2
cmake --build "$build" -j "${ENCORE_JOBS:-2}" --target event_fuzzer >&2
mkdir -p "$build/corpus" "$build/crashes"
cd "$build"
./tests/fuzz/event_fuzzer -max_total_time="$seconds" -max_len=4096 \
  -artifact_prefix="$build/crashes/" -print_final_stats=1 "$build/corpus"
