#!/usr/bin/env bash
# A ranking layer in another language can read encore's snapshots: a few
# thousand synthetic events go through `encore run`, then the Python reader
# (tests/python/encore_snapshot.py: a stock RocksDB binding and protoc's
# Python classes) must read the same manifest, users and posteriors as the
# encore binary (tests/python/snapshot_reader_test.py).
# Usage: python_reader_test.sh ENCORE_BINARY PYTHON_PROTO_DIR VENV_DIR
#   (ENCORE_TEST_BROKERS from ctest; VENV_DIR is created once if missing)
set -euo pipefail
encore="$1"
proto_dir="$2"
venv="$3"
here="$(cd "$(dirname "$0")" && pwd)"
brokers="${ENCORE_TEST_BROKERS:?}"
work="$(mktemp -d)"
topic="python-reader-$$-$(date +%s%N)"
events=4000
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ ! -f "$proto_dir/user_state_pb2.py" ]]; then
  echo "FAIL: no Python classes in $proto_dir (build the encore_python_proto target)" >&2
  exit 1
fi
"$here/python/setup_venv.sh" "$venv"

"$encore" gen --brokers "$brokers" --topic "$topic" --partitions 4 --users 400 \
  --events "$events" --seed 23
"$encore" run --brokers "$brokers" --topic "$topic" --group "g-$topic" \
  --state-dir "$work/state" --snapshot-dir "$work/snap" --snapshot-interval-s 0.2 \
  --sync-commits=false --metrics-listen= >"$work/run.log" 2>&1 &
pid=$!

# Bounded wait until the latest snapshot reflects every event.
reflected() {
  "$encore" snapshot info --json --snapshot-dir "$work/snap" 2>/dev/null |
    python3 -c 'import json, sys
print(sum(int(p["next_offset"]) for p in json.load(sys.stdin)["partitions"]))' 2>/dev/null ||
    echo 0
}
done_events=0
for _ in $(seq 1 600); do
  done_events=$(reflected)
  ((done_events >= events)) && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
if ((done_events < events)); then
  echo "FAIL: the snapshot reflects $done_events/$events events" >&2
  tail -n 20 "$work/run.log" >&2
  exit 1
fi
# A clean stop: nothing writes to the snapshot directory while Python reads.
kill -TERM "$pid"
if ! wait "$pid"; then
  pid=""
  echo "FAIL: encore run did not stop cleanly" >&2
  tail -n 20 "$work/run.log" >&2
  exit 1
fi
pid=""

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$proto_dir:$here/python" "$venv/bin/python" \
  "$here/python/snapshot_reader_test.py" --snapshot-dir "$work/snap" --encore "$encore"
