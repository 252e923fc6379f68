"""`encore ope` against closed-form numpy computations of the same
estimators (IPS, SNIPS, DR: obp's definitions), on a known log.

A seeded log of impressions and responses is produced to a one-partition
topic with `encore produce`; `encore backfill` builds a snapshot of it (the
reward model and greedy's beliefs); then `encore ope --json` is run for the
uniform policy, a JSON policy file and greedy, and each estimate must equal
the numpy value over the rows whose attribution window the watermark closed
to 1e-9 relative. The reward model is read with the Python snapshot reader
(tests/python/encore_snapshot.py), independently of encore's C++.

usage: ope_closed_form_test.py --encore BIN --brokers B --work DIR
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

import encore_snapshot

WINDOW_MS = 30 * 60_000  # the default attribution window
T0 = 1_790_000_000_000


def make_log(seed, n):
    rng = np.random.default_rng(seed)
    rows, events = [], []
    for i in range(n):
        user = f"u{rng.integers(30)}"
        arm = f"a{rng.integers(5)}"
        shown = T0 + i * 80_000
        p = float(rng.choice([0.1, 0.2, 0.25, 0.5, 0.8]))
        answered = bool(rng.random() < 0.5)
        success = bool(rng.random() < 0.35)
        rows.append(dict(user=user, arm=arm, shown=shown, p=p, reward=float(answered and success)))
        events.append(dict(kind="IMPRESSION", user_id=user, event_time_ms=str(shown),
                           event_id=f"i{i}", request_id=f"q{i}", arm_id=arm, propensity=p))
        if answered:
            t = shown + 60_000 + int(rng.integers(25 * 60_000))
            events.append(dict(kind="PLAY" if success else "SKIP", user_id=user,
                               event_time_ms=str(t), event_id=f"r{i}", request_id=f"q{i}",
                               arm_id=arm, track_id="t", ms_played=90_000 if success else 3_000,
                               track_duration_ms=200_000))
    events.sort(key=lambda e: int(e["event_time_ms"]))
    return rows, events


def ope(args, topic, *extra):
    out = subprocess.run([args.encore, "ope", f"--brokers={args.brokers}", f"--topic={topic}",
                          "--from-beginning", "--json", *extra],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def check(name, got, want, failures):
    if not np.isclose(got, want, rtol=1e-9, atol=1e-12):
        failures.append(f"{name}: encore {got!r}, numpy {want!r}")
    else:
        print(f"ok {name}: {got:.12f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--encore", required=True)
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    topic = f"ope-numpy-{os.getpid()}"
    rows, events = make_log(seed=5, n=500)
    jsonl = os.path.join(args.work, "events.jsonl")
    with open(jsonl, "w") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    subprocess.run([args.encore, "produce", f"--brokers={args.brokers}", f"--topic={topic}",
                    "--partitions=1", f"--from-jsonl={jsonl}"], check=True)
    snap = os.path.join(args.work, "snap")
    subprocess.run([args.encore, "backfill", f"--brokers={args.brokers}", f"--topic={topic}",
                    "--from-beginning", f"--state-dir={os.path.join(args.work, 'state')}",
                    f"--snapshot-dir={snap}", "--backfill-metrics-listen="],
                   check=True, capture_output=True)

    watermark = max(int(e["event_time_ms"]) for e in events)
    closed = [r for r in rows if r["shown"] + WINDOW_MS < watermark]
    arms = sorted({r["arm"] for r in closed})
    p = np.array([r["p"] for r in closed])
    r = np.array([r["reward"] for r in closed])
    a = np.array([arms.index(x["arm"]) for x in closed])
    n = len(closed)
    failures = []

    def estimates(pi):  # pi[i, k]: target probability of arm k on row i
        rho = pi[np.arange(n), a] / p
        return (rho * r).mean(), (rho * r).sum() / rho.sum()

    # uniform
    u = ope(args, topic, "--policy=uniform")
    if u["rows"] != n:
        failures.append(f"uniform rows: encore {u['rows']}, numpy {n}")
    ips, snips = estimates(np.full((n, len(arms)), 1.0 / len(arms)))
    check("uniform IPS", u["ips"]["value"], ips, failures)
    check("uniform SNIPS", u["snips"]["value"], snips, failures)

    # a policy file
    policy = {"a0": 0.6, "a3": 0.4}
    path = os.path.join(args.work, "policy.json")
    with open(path, "w") as f:
        json.dump({"arms": policy}, f)
    fp = ope(args, topic, f"--policy={path}")
    pi = np.array([[policy.get(arm, 0.0) for arm in arms] for _ in range(n)])
    ips, snips = estimates(pi)
    check("file IPS", fp["ips"]["value"], ips, failures)
    check("file SNIPS", fp["snips"]["value"], snips, failures)

    # greedy and DR with the snapshot's posterior means as the reward model
    g = ope(args, topic, "--policy=greedy", f"--snapshot-dir={snap}")
    with encore_snapshot.Snapshot.open_latest(snap) as s:
        q = np.array([[s.posterior_mean(s.lookup_user(row["user"]), arm) for arm in arms]
                      for row in closed])
    pi = np.zeros_like(q)
    pi[np.arange(n), q.argmax(axis=1)] = 1.0  # ties: the first (smallest) arm id
    ips, snips = estimates(pi)
    rho = pi[np.arange(n), a] / p
    dr = ((pi * q).sum(axis=1) + rho * (r - q[np.arange(n), a])).mean()
    check("greedy IPS", g["ips"]["value"], ips, failures)
    check("greedy SNIPS", g["snips"]["value"], snips, failures)
    check("greedy DR", g["dr"]["value"], dr, failures)
    # DR of the uniform policy with the same reward model
    ud = ope(args, topic, "--policy=uniform", f"--snapshot-dir={snap}")
    pi = np.full((n, len(arms)), 1.0 / len(arms))
    rho = pi[np.arange(n), a] / p
    dr = ((pi * q).sum(axis=1) + rho * (r - q[np.arange(n), a])).mean()
    check("uniform DR", ud["dr"]["value"], dr, failures)

    if failures:
        print("FAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(f"PASS: {n} closed rows, {len(rows) - n} in flight, {len(arms)} arms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
