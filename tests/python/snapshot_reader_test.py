"""Proof that another language reads encore's snapshots: what
encore_snapshot.py decodes with a stock RocksDB binding and protoc's Python
classes must equal what the encore binary reports for the same snapshot.

  - the manifest, field by field, against `encore snapshot info --json`;
  - each partition's meta key and user count against the manifest;
  - whole UserState messages of users from every partition against
    `encore read --json` (both sides in protobuf's JSON mapping with the
    .proto's field names and default values printed, so fields added to the
    schema are compared too);
  - the Beta posterior (alpha, beta, mean) of each of those users' arms, plus
    an arm the user never used, and its cold-start prior computed from the
    per-partition "A" aggregates, against `encore score --method=mean --json`;
  - an unknown user: not found, population prior posterior;
  - no file of the snapshot changed while Python read it.

Usage: snapshot_reader_test.py --snapshot-dir D --encore BIN [--min-users N]
Exits 1 with every mismatch listed if anything differs.
"""

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys

from google.protobuf import json_format

import encore_snapshot

USERS_PER_PARTITION = 8  # evenly spread over each partition's key range
REL_TOL = 1e-12  # floats: both sides print round-trip precision


def encore_json(encore, *args):
    """Runs `encore ARGS` and parses its stdout as one JSON object."""
    out = subprocess.run(
        [encore, *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def diff(python, cpp, path, mismatches):
    """Appends to `mismatches` every place where the two JSON values differ.
    Floats are compared with a relative tolerance, everything else exactly
    (int64 fields are strings on both sides)."""
    if isinstance(python, dict) and isinstance(cpp, dict):
        for key in sorted(python.keys() | cpp.keys()):
            if key not in cpp:
                mismatches.append(f"{path}.{key}: only in Python ({python[key]!r})")
            elif key not in python:
                mismatches.append(f"{path}.{key}: only in encore ({cpp[key]!r})")
            else:
                diff(python[key], cpp[key], f"{path}.{key}", mismatches)
    elif isinstance(python, list) and isinstance(cpp, list):
        if len(python) != len(cpp):
            mismatches.append(f"{path}: {len(python)} items in Python, {len(cpp)} in encore")
        for i, (p, c) in enumerate(zip(python, cpp)):
            diff(p, c, f"{path}[{i}]", mismatches)
    elif is_number(python) and is_number(cpp) and float in (type(python), type(cpp)):
        if not math.isclose(python, cpp, rel_tol=REL_TOL, abs_tol=0.0):
            mismatches.append(f"{path}: Python {python!r}, encore {cpp!r}")
    elif type(python) is not type(cpp) or python != cpp:
        mismatches.append(f"{path}: Python {python!r}, encore {cpp!r}")


def fingerprint(root):
    """Every file under root: size, mtime, inode, content hash. Any write,
    new file (a LOG, a lock) or removal shows as a difference."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        out[os.path.relpath(dirpath, root) + "/"] = None
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            st = os.stat(full)
            with open(full, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(full, root)] = (st.st_size, st.st_mtime_ns, st.st_ino, digest)
    return out


def hard_linked_files(root):
    """How many files under root have another name (checkpoints hard-link
    SST files shared with the live state and older snapshots)."""
    return sum(
        1
        for dirpath, _, filenames in os.walk(root)
        for name in filenames
        if os.stat(os.path.join(dirpath, name)).st_nlink > 1
    )


def spread(items, n):
    """Up to n items evenly spaced over `items` (first and last included)."""
    if len(items) <= n:
        return list(items)
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def check_manifest(snap, encore, snapshot_dir, mismatches):
    python = json_format.MessageToDict(
        snap.manifest,
        preserving_proto_field_name=True,
        including_default_value_fields=True,
    )
    cpp = encore_json(encore, "snapshot", "info", "--json", "--snapshot-dir", snapshot_dir)
    diff(python, cpp, "manifest", mismatches)


def check_partitions(snap, mismatches):
    """Per partition: the meta key agrees with the manifest and the "U" keys
    number the manifest's users. Returns {partition: [user_id, ...]}."""
    users = {}
    for p in snap.manifest.partitions:
        meta = snap.partition_meta(p.partition)
        where = f"partition {p.partition}"
        if meta.next_offset != p.next_offset or meta.watermark_ms != p.watermark_ms:
            mismatches.append(
                f"{where}: meta next_offset/watermark {meta.next_offset}/{meta.watermark_ms},"
                f" manifest {p.next_offset}/{p.watermark_ms}"
            )
        if meta.topic != snap.manifest.topic:
            mismatches.append(
                f"{where}: meta topic {meta.topic!r}, manifest {snap.manifest.topic!r}"
            )
        users[p.partition] = list(snap.user_ids(p.partition))
        if len(users[p.partition]) != p.users:
            mismatches.append(
                f"{where}: {len(users[p.partition])} user keys, manifest says {p.users}"
            )
    return users


def check_user(snap, encore, snapshot_dir, user_id, mismatches):
    """Compares one user's state and arm posteriors. Returns (arms with
    evidence compared, of which decayed: as-of time after the arm's ref)."""
    state = snap.lookup_user(user_id)
    if state is None:
        mismatches.append(f"user {user_id}: listed in a partition but lookup_user found nothing")
        return 0, 0
    python = json_format.MessageToDict(
        state,
        preserving_proto_field_name=True,
        including_default_value_fields=True,
    )
    cpp = encore_json(encore, "read", "--json", "--snapshot-dir", snapshot_dir, "--user", user_id)
    diff(python, cpp, f"user {user_id}", mismatches)

    arms = [a.arm_id for a in state.arms if "," not in a.arm_id]
    candidates = arms + ["arm-never-used-by-anyone"]
    scored = encore_json(
        encore, "score", "--method=mean", "--json", "--snapshot-dir", snapshot_dir,
        "--user", user_id, "--arms", ",".join(candidates),
    )
    if scored.get("known_user") is not True:
        mismatches.append(f"user {user_id}: encore score: known_user={scored.get('known_user')}")
    by_arm = {a["arm_id"]: a for a in scored.get("arms", [])}
    for arm_id in candidates:
        alpha, beta = snap.arm_posterior(state, arm_id)
        mean = snap.posterior_mean(state, arm_id)
        prior_alpha, prior_beta = encore_snapshot.cold_start_prior(
            snap.manifest.model, snap.population(), arm_id, snap.as_of_ms(state)
        )
        if arm_id not in by_arm:
            mismatches.append(f"user {user_id} arm {arm_id}: missing from encore score")
            continue
        keys = ("alpha", "beta", "mean", "score", "prior_alpha", "prior_beta")
        diff(
            {"alpha": alpha, "beta": beta, "mean": mean, "score": mean,
             "prior_alpha": prior_alpha, "prior_beta": prior_beta},
            {k: by_arm[arm_id][k] for k in keys},
            f"user {user_id} arm {arm_id}",
            mismatches,
        )
    decayed = sum(1 for a in state.arms if snap.as_of_ms(state) > a.ref_time_ms)
    return len(arms), decayed


def check_unknown_user(snap, encore, snapshot_dir, mismatches):
    user_id = "no-such-user-in-any-partition"
    if snap.lookup_user(user_id) is not None:
        mismatches.append(f"{user_id}: found by lookup_user")
    scored = encore_json(
        encore, "score", "--method=mean", "--json", "--snapshot-dir", snapshot_dir,
        "--user", user_id, "--arms", "arm-00",
    )
    if "arm-00" not in snap.population():
        mismatches.append("arm-00 has no population aggregate: the cold-start "
                          "prior is not exercised")
    alpha, beta = snap.arm_posterior(None, "arm-00")
    diff(
        {"known_user": False, "alpha": alpha, "beta": beta},
        {"known_user": scored["known_user"], "alpha": scored["arms"][0]["alpha"],
         "beta": scored["arms"][0]["beta"]},
        user_id, mismatches,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--snapshot-dir", required=True)
    parser.add_argument("--encore", required=True, help="the encore binary")
    parser.add_argument("--min-users", type=int, default=20)
    args = parser.parse_args()

    snapshot_path = encore_snapshot.latest_snapshot_path(args.snapshot_dir)
    before = fingerprint(snapshot_path)
    linked = hard_linked_files(snapshot_path)
    mismatches = []
    with encore_snapshot.Snapshot(snapshot_path) as snap:
        check_manifest(snap, args.encore, args.snapshot_dir, mismatches)
        users = check_partitions(snap, mismatches)
        sample = []
        for partition, ids in users.items():
            if not ids:
                mismatches.append(f"partition {partition}: no users (too few events?)")
            sample += spread(ids, USERS_PER_PARTITION)
        arms = decayed = 0
        for user_id in sample:
            n, d = check_user(snap, args.encore, args.snapshot_dir, user_id, mismatches)
            arms, decayed = arms + n, decayed + d
        check_unknown_user(snap, args.encore, args.snapshot_dir, mismatches)
    after = fingerprint(snapshot_path)

    if before != after:
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        mismatches.append(f"the snapshot changed while Python read it: {changed}")
    if len(sample) < args.min_users:
        mismatches.append(f"compared only {len(sample)} users, want at least {args.min_users}")
    if arms < args.min_users:
        mismatches.append(f"compared only {arms} arms with evidence, want {args.min_users}+")
    if decayed == 0:
        mismatches.append("no compared arm was decayed (as-of time after its ref_time_ms)")

    print(
        f"snapshot_reader_test: {os.path.basename(snapshot_path)}, "
        f"{len(snap.manifest.partitions)} partitions, {sum(map(len, users.values()))} users, "
        f"{linked} hard-linked files; "
        f"compared {len(sample)} users' states and {arms} arm posteriors ({decayed} decayed, "
        f"+{len(sample)} prior arms)"
    )
    if mismatches:
        print(f"FAIL: {len(mismatches)} problems (Python vs encore):", file=sys.stderr)
        for m in mismatches[:50]:
            print("  " + m, file=sys.stderr)
        return 1
    print("snapshot_reader_test: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
