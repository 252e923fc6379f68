#!/usr/bin/env python3
"""Checks the Kafka Streams peer computed what encore computed.

    compare_peer.py ENCORE SNAPSHOT_DIR PEER_DUMP [--min-users N] [--rel 1e-9]

PEER_DUMP holds JSON lines written by the peer (`--dump`); for each user in
it, `ENCORE read --json` from SNAPSHOT_DIR gives encore's state (the
.proto's snake_case field names; the peer's dump is camelCase). Compared:
the decayed play/skip/ms_played counters at every half-life and their
landmark, every arm's Beta evidence (successes, failures) with its landmark,
last reward time and reward count, and the exact counts that attribution,
de-duplication and the bounds decide (events, plays, skips, impressions,
duplicates, attributed/unattributed rewards, expired/dropped impressions,
dropped arms, pending impressions). Doubles must agree within --rel
(relative, absolute below 1e-300), the rest exactly. Exit 1 on any
difference or if fewer than --min-users users were compared; prints one
JSON line with the counts.
"""
import argparse
import json
import re
import subprocess
import sys


def close(a, b, rel):
    a, b = float(a), float(b)
    scale = max(abs(a), abs(b))
    return abs(a - b) <= rel * scale or scale < 1e-300


def snake(name):
    """The .proto field name of a camelCase JSON name: refTimeMs -> ref_time_ms."""
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def compare(user, peer, enc, rel):
    diffs = []

    def exact(name, pv, ev):
        if int(pv) != int(ev):
            diffs.append(f"{user}: {name} peer {pv} encore {ev}")

    for name in ("firstSeenMs", "lastSeenMs", "events", "plays", "skips",
                 "impressions", "duplicates", "rewardsAttributed",
                 "rewardsUnattributed", "impressionsExpired",
                 "impressionsDropped", "armsDropped"):
        exact(name, peer[name], enc.get(snake(name), 0))
    # encore also keeps answered impressions until their window closes (for
    # its off-policy sums, which the peer does not compute): compare the
    # unanswered ones, which decide the posteriors.
    exact("pending", peer["pendingCount"],
          sum(1 for p in enc.get("pending", []) if not p.get("answered")))
    pc, ec = peer["counters"], enc.get("counters", {})
    exact("counters.refTimeMs", pc["refTimeMs"], ec.get("ref_time_ms", 0))
    for field in ("plays", "skips", "msPlayed"):
        ev = ec.get(snake(field), [])
        if len(ev) != len(pc[field]):
            diffs.append(f"{user}: counters.{field} has {len(ev)} half-lives "
                         f"in encore, {len(pc[field])} in the peer")
            continue
        for i, (p, e) in enumerate(zip(pc[field], ev)):
            if not close(p, e, rel):
                diffs.append(f"{user}: counters.{field}[{i}] peer {p!r} encore {e!r}")
    earms = {a["arm_id"]: a for a in enc.get("arms", [])}
    parms = {a["armId"]: a for a in peer["arms"]}
    if sorted(earms) != sorted(parms):
        diffs.append(f"{user}: arms peer {sorted(parms)} encore {sorted(earms)}")
    for arm_id in sorted(set(earms) & set(parms)):
        p, e = parms[arm_id], earms[arm_id]
        for name in ("refTimeMs", "lastEventTimeMs", "updates"):
            exact(f"arm {arm_id} {name}", p[name], e.get(snake(name), 0))
        for name in ("successes", "failures"):
            if not close(p[name], e.get(name, 0.0), rel):
                diffs.append(f"{user}: arm {arm_id} {name} peer {p[name]!r} "
                             f"encore {e.get(name)!r}")
    return diffs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("encore")
    ap.add_argument("snapshot_dir")
    ap.add_argument("peer_dump")
    ap.add_argument("--min-users", type=int, default=100)
    ap.add_argument("--rel", type=float, default=1e-9)
    args = ap.parse_args()
    with open(args.peer_dump) as f:
        peers = [json.loads(line) for line in f if line.strip()]
    diffs, compared, arms, missing = [], 0, 0, []
    for peer in peers:
        user = peer["userId"]
        r = subprocess.run([args.encore, "read", "--json", "--snapshot-dir",
                            args.snapshot_dir, "--user", user],
                           capture_output=True, text=True)
        if r.returncode != 0:
            missing.append(user)
            continue
        d = compare(user, peer, json.loads(r.stdout), args.rel)
        diffs.extend(d)
        compared += 1
        arms += len(peer["arms"])
    print(json.dumps({"users_compared": compared, "arms_compared": arms,
                      "missing_in_encore": len(missing),
                      "differences": len(diffs), "rel": args.rel}))
    for d in diffs[:20]:
        print("DIFF " + d, file=sys.stderr)
    for u in missing[:5]:
        print(f"MISSING in encore's snapshot: {u}", file=sys.stderr)
    if diffs or missing or compared < args.min_users:
        if compared < args.min_users:
            print(f"only {compared} users compared (< {args.min_users})",
                  file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
