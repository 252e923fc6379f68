#!/usr/bin/env bash
# Builds a libFuzzer target with clang (ASan + UBSan) into
# ${ENCORE_FUZZ_BUILD_DIR:-build-fuzz} and fuzzes it for ${FUZZ_SECONDS:-60}
# seconds: FUZZ_TARGET=event (decode -> validate -> apply, the default) or
# user_record (the stored-user codec). Crashes go to build-fuzz/crashes/.
#   FUZZ_SECONDS=600 ops/fuzz.sh
#   FUZZ_TARGET=user_record ops/fuzz.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ENCORE_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
target="${FUZZ_TARGET:-event}_fuzzer"
max_len=4096  # an event stream; a stored user is up to 64 KiB
[ "$target" = user_record_fuzzer ] && max_len=65536
"$root/ops/install-deps.sh"
if ! command -v clang++-14 >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev
fi
flags="-fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer -g -O1"
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug -DENCORE_FUZZ=ON \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >&2
cmake --build "$build" -j "${ENCORE_JOBS:-2}" --target "$target" >&2
mkdir -p "$build/corpus-$target" "$build/crashes"
cd "$build"
"./tests/fuzz/$target" -max_total_time="$seconds" -max_len="$max_len" \
  -artifact_prefix="$build/crashes/" -print_final_stats=1 "$build/corpus-$target"
