#!/usr/bin/env bash
# The benchmark's Kafka Streams peer (bench/peers/kafka-streams) still builds
# and still computes what encore computes: a small generated topic plus
# hand-made events that exercise every rule changing the compared values
# (duplicates, a late event, invalid events, rewards without an impression,
# the 16-pending bound, expiry by the watermark, the 64-arm bound) go through
# `encore backfill` and through the peer (at-least-once and exactly_once_v2);
# bench/compare_peer.py then requires every user's counters and Beta evidence
# to agree within 1e-9 relative and the exact counts to be equal. Not a
# benchmark: nothing is timed.
# Usage: kstreams_peer_test.sh ENCORE_BINARY   (ENCORE_TEST_BROKERS from ctest)
set -euo pipefail
encore="$1"
brokers="${ENCORE_TEST_BROKERS:?}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
topic="kstreams-peer-$$-$(date +%s%N)"
trap 'rm -rf "$work"' EXIT

"$root/bench/peers/kafka-streams/build.sh" >/dev/null
"$encore" gen --brokers "$brokers" --topic "$topic" --partitions 4 --users 40 \
  --events 400 --seed 7 --log-level warn

# Hand-made events, later than the generated ones (1793491200000 + ~2 h).
python3 - >"$work/extra.jsonl" <<'PY'
import json
t0 = 1793600000000
out = []
def ev(**kw):
    kw.setdefault("platform", "web")
    out.append(json.dumps(kw))
# x-dups: the same event twice, then a late one (> 24 h behind its
# partition's watermark), then invalid ones.
ev(event_id="d1", user_id="x-dups", event_time_ms=str(t0), kind="PLAY",
   track_id="t1", arm_id="arm-01", ms_played="40000", track_duration_ms="200000")
ev(event_id="d1", user_id="x-dups", event_time_ms=str(t0), kind="PLAY",
   track_id="t1", arm_id="arm-01", ms_played="40000", track_duration_ms="200000")
ev(event_id="d2", user_id="x-dups", event_time_ms=str(t0 - 2 * 86400000),
   kind="PLAY", track_id="t2", arm_id="arm-01", ms_played="50000")
ev(event_id="bad1", user_id="x-dups", event_time_ms=str(t0 + 1), kind="PLAY",
   arm_id="arm-01", ms_played="50000")  # no track_id
ev(event_id="bad2", user_id="x-dups", event_time_ms=str(t0 + 2),
   kind="IMPRESSION", arm_id="arm-02", request_id="r", propensity=0)
ev(event_id="bad3", user_id="x-dups", event_time_ms=str(t0 + 3), kind="SKIP",
   track_id="t3", ms_played="-5")
# x-pending: 20 impressions (4 dropped by the bound), two answered, then a
# play 2 h later whose watermark expires the rest.
for i in range(20):
    ev(event_id=f"p{i}", user_id="x-pending", event_time_ms=str(t0 + i * 1000),
       kind="IMPRESSION", arm_id=f"arm-{i % 3:02d}", request_id=f"req-{i}",
       propensity=0.25)
ev(event_id="pr5", user_id="x-pending", event_time_ms=str(t0 + 60000),
   kind="PLAY", track_id="t", arm_id="arm-02", request_id="req-5",
   ms_played="45000", track_duration_ms="180000")
ev(event_id="pr6", user_id="x-pending", event_time_ms=str(t0 + 61000),
   kind="SKIP", track_id="t", arm_id="arm-00", request_id="req-6",
   ms_played="3000", track_duration_ms="180000")
ev(event_id="late-ish", user_id="x-pending", event_time_ms=str(t0 + 7200000),
   kind="PLAY", track_id="t", ms_played="10000")
# x-arms: 70 distinct arms, unattributed rewards: 6 arms dropped.
for i in range(70):
    ev(event_id=f"a{i}", user_id="x-arms", event_time_ms=str(t0 + 5000 * i),
       kind="PLAY" if i % 2 else "SKIP", track_id=f"t{i}", arm_id=f"shelf-{i:03d}",
       ms_played=str(1000 * i), track_duration_ms="120000")
print("\n".join(out))
PY
# Three lines are invalid on purpose: sent anyway, so that encore and the
# peer both have to reject them.
"$encore" produce --brokers "$brokers" --topic "$topic" --from-jsonl "$work/extra.jsonl" \
  --validate=false --log-level warn

"$encore" backfill --brokers "$brokers" --topic "$topic" --from-beginning \
  --state-dir "$work/state" --snapshot-dir "$work/snap" --progress=off --log-level warn

for mode in alo eos; do
  flag=""
  [[ "$mode" == eos ]] && flag="--eos"
  PEER_XMX=512m "$root/bench/peers/kafka-streams/peer.sh" --brokers "$brokers" \
    --topic "$topic" --app-id "$topic-$mode" --state-dir "$work/peer-$mode" $flag \
    --dump "$work/peer-$mode.jsonl" --timeout-s 120 >"$work/summary-$mode.json" \
    2>"$work/peer-$mode.log" || { cat "$work/peer-$mode.log" >&2; exit 1; }
  cat "$work/summary-$mode.json"
  users="$(wc -l <"$work/peer-$mode.jsonl")"
  # Every user: the 40 generated ones that got events, and the 3 above.
  python3 "$root/bench/compare_peer.py" "$encore" "$work/snap" "$work/peer-$mode.jsonl" \
    --min-users "$users"
  ((users >= 30)) || { echo "only $users users in the peer's dump" >&2; exit 1; }
done

# The hand-made events did reach the rules they are meant for (in the
# values both sides agreed on).
python3 - "$work/peer-alo.jsonl" "$work/summary-alo.json" <<'PY'
import json, sys
users = {u["userId"]: u for u in map(json.loads, open(sys.argv[1]))}
summary = json.load(open(sys.argv[2]))
checks = {
    "duplicate ignored": users["x-dups"]["duplicates"] == 1,
    "late and invalid rejected": summary["rejected"] == 4,
    "x-dups applied once": users["x-dups"]["events"] == 1,
    "pending bound": users["x-pending"]["impressionsDropped"] == 4,
    "attributed": users["x-pending"]["rewardsAttributed"] == 2,
    "expired by the watermark": users["x-pending"]["impressionsExpired"] == 14,
    "arm bound": users["x-arms"]["armsDropped"] == 6 and len(users["x-arms"]["arms"]) == 64,
    "unattributed": users["x-arms"]["rewardsUnattributed"] == 70,
}
failed = [name for name, ok in checks.items() if not ok]
if failed:
    sys.exit(f"not exercised: {failed}")
print("exercised:", ", ".join(checks))
PY
echo "kstreams_peer_test: OK"
