"""Reads encore's published snapshots from Python (formats: state/FORMAT.md).

A snapshot directory holds LATEST (one line naming the newest complete
snapshot) and snap-<20 digits>/ directories, each with manifest.json (a
SnapshotManifest in protobuf JSON) and one stock RocksDB checkpoint per Kafka
partition. Keys: "M" -> PartitionMeta, "U" + user_id -> UserState; other
one-byte prefixes ("A" arm aggregates, "I" ...) are skipped.

    import encore_snapshot
    with encore_snapshot.Snapshot.open_latest("/var/lib/encore/snapshots") as snap:
        user = snap.lookup_user("user-0000042")  # a UserState, or None
        for arm in user.arms:
            print(arm.arm_id, snap.posterior_mean(user, arm.arm_id))

Needs: Python 3.8 or newer, rocksdict (a stock RocksDB binding) and the protobuf runtime, plus the
classes protoc generates from proto/*.proto (user_state_pb2, manifest_pb2)
on sys.path. Every database is opened read-only: reading never writes to the
snapshot (its SST files are hard links shared with the live state and with
older snapshots).
"""

import os
import re
import shutil
import tempfile

import rocksdict
from google.protobuf import json_format

import manifest_pb2
import user_state_pb2

SCHEMA_VERSION = 1  # the snapshot layout this reader understands
META_KEY = b"M"
USER_KEY_PREFIX = b"U"
AGGREGATE_KEY_PREFIX = b"A"
_SNAPSHOT_NAME = re.compile(r"snap-[0-9]{20}")


def latest_snapshot_path(snapshot_dir):
    """The snapshot LATEST names, as a path. Raises ValueError if LATEST is
    malformed and FileNotFoundError if there is none yet."""
    with open(os.path.join(snapshot_dir, "LATEST"), encoding="ascii") as f:
        name = f.read().strip()
    if not _SNAPSHOT_NAME.fullmatch(name):
        raise ValueError(f"{snapshot_dir}/LATEST names {name!r}, not a snapshot")
    return os.path.join(snapshot_dir, name)


def read_manifest(snapshot_path):
    """The SnapshotManifest of one snapshot. Fields a newer encore added are
    ignored; a different schema_version raises ValueError."""
    with open(os.path.join(snapshot_path, "manifest.json"), encoding="utf-8") as f:
        manifest = json_format.Parse(
            f.read(), manifest_pb2.SnapshotManifest(), ignore_unknown_fields=True
        )
    if manifest.schema_version != SCHEMA_VERSION:
        raise ValueError(
            f"{snapshot_path}: snapshot schema version {manifest.schema_version},"
            f" this reader understands {SCHEMA_VERSION}"
        )
    return manifest


def decay_factor(dt_ms, half_life_ms):
    """2^(-dt/h): how much of a decayed value is left after dt_ms (1 when
    there is no forgetting or no time passed)."""
    if half_life_ms <= 0 or dt_ms <= 0:
        return 1.0
    # 2.0 ** x rather than math.exp2, which Python < 3.11 lacks.
    return 2.0 ** (-dt_ms / half_life_ms)


DEFAULT_PRIOR_STRENGTH = 4.0  # ModelConfig.prior_strength; 0 in a manifest = default


def cold_start_prior(model, population, arm_id, as_of_ms):
    """The prior of a user's arm (state/MODEL.md, empirical-Bayes cold
    start): Beta(s*m, s*(1-m)) with m the population posterior mean of the
    arm as of as_of_ms and s the prior strength; the model prior when no
    partition has rewards for the arm."""
    aggregate = population.get(arm_id) if population is not None else None
    # An aggregate with impressions in flight only holds no evidence.
    if aggregate is None or aggregate["rewards"] == 0:
        return model.prior_alpha, model.prior_beta
    keep = decay_factor(as_of_ms - aggregate["ref_time_ms"], model.arm_half_life_ms)
    alpha = model.prior_alpha + aggregate["successes"] * keep
    beta = model.prior_beta + aggregate["failures"] * keep
    m = alpha / (alpha + beta)
    s = model.prior_strength or DEFAULT_PRIOR_STRENGTH
    return s * m, s * (1.0 - m)


def arm_posterior(model, user, arm_id, as_of_ms, population=None):
    """Beta(alpha, beta) of (user, arm) as of as_of_ms (state/MODEL.md):
    alpha = prior_alpha + successes * 2^(-(as_of - ref) / h_a), beta likewise
    with failures, where the prior is cold_start_prior(). An unknown user or
    arm gets the prior."""
    alpha, beta = cold_start_prior(model, population, arm_id, as_of_ms)
    for arm in user.arms if user is not None else ():
        if arm.arm_id == arm_id:
            keep = decay_factor(as_of_ms - arm.ref_time_ms, model.arm_half_life_ms)
            alpha += arm.successes * keep
            beta += arm.failures * keep
            break
    return alpha, beta


class Snapshot:
    """One opened snapshot: its manifest and a read-only database per
    partition. Close it (or use `with`) to release the files."""

    def __init__(self, snapshot_path):
        self.path = snapshot_path
        self.manifest = read_manifest(snapshot_path)
        self._dbs = []  # (partition number, rocksdict.Rdict), manifest order
        self._views = []  # private directories the databases were opened through
        self._population = None  # arm_id -> summed aggregate, read on first use
        try:
            for p in self.manifest.partitions:
                db, view = _open_read_only(os.path.join(snapshot_path, p.directory))
                self._views.append(view)
                self._dbs.append((p.partition, db))
        except Exception:
            self.close()
            raise

    @classmethod
    def open_latest(cls, snapshot_dir):
        """The snapshot LATEST names in snapshot_dir."""
        return cls(latest_snapshot_path(snapshot_dir))

    def close(self):
        for _, db in self._dbs:
            db.close()
        self._dbs = []
        for view in self._views:
            shutil.rmtree(view, ignore_errors=True)
        self._views = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def partitions(self):
        """The partition numbers, in manifest order."""
        return [partition for partition, _ in self._dbs]

    def lookup_user(self, user_id):
        """The user's UserState, or None if no partition has it. A user
        lives in exactly one partition (its Kafka key's); trying each is
        cheap: one point lookup per partition."""
        key = USER_KEY_PREFIX + user_id.encode("utf-8")
        for _, db in self._dbs:
            value = db.get(key)
            if value is not None:
                return user_state_pb2.UserState.FromString(value)
        return None

    def user_ids(self, partition):
        """Every user_id stored in `partition`, in key order. Keys are
        bytewise ordered and prefixed by one byte per kind, so the users are
        one contiguous run starting at "U"; other kinds are never visited."""
        it = self._db(partition).iter()
        try:
            it.seek(USER_KEY_PREFIX)
            while it.valid() and it.key().startswith(USER_KEY_PREFIX):
                yield it.key()[len(USER_KEY_PREFIX):].decode("utf-8")
                it.next()
        finally:
            del it

    def partition_meta(self, partition):
        """The partition's PartitionMeta (where its state ends)."""
        value = self._db(partition).get(META_KEY)
        if value is None:
            raise KeyError(f"{self.path}: partition {partition} has no meta key")
        return user_state_pb2.PartitionMeta.FromString(value)

    def as_of_ms(self, user):
        """The time encore reports a user's values at: the newer of the
        snapshot's watermark and the user's last event."""
        return max(self.manifest.watermark_ms, user.last_seen_ms if user is not None else 0)

    def population(self):
        """Per arm, the population's decayed successes and failures summed
        over partitions (state/MODEL.md, "Per-partition aggregates"): each
        partition's "A" + arm_id key holds an ArmAggregate whose sums are as
        of its ref_time_ms; they are brought to the later landmark and
        added."""
        if self._population is not None:
            return self._population
        h = self.manifest.model.arm_half_life_ms
        population = {}
        for _, db in self._dbs:
            it = db.iter()
            try:
                it.seek(AGGREGATE_KEY_PREFIX)
                while it.valid() and it.key().startswith(AGGREGATE_KEY_PREFIX):
                    a = user_state_pb2.ArmAggregate.FromString(it.value())
                    into = population.get(a.arm_id)
                    if into is None:
                        population[a.arm_id] = {
                            "ref_time_ms": a.ref_time_ms,
                            "successes": a.successes,
                            "failures": a.failures,
                            "rewards": a.rewards,
                        }
                    else:
                        ref = max(into["ref_time_ms"], a.ref_time_ms)
                        k_into = decay_factor(ref - into["ref_time_ms"], h)
                        k_from = decay_factor(ref - a.ref_time_ms, h)
                        into["successes"] = into["successes"] * k_into + a.successes * k_from
                        into["failures"] = into["failures"] * k_into + a.failures * k_from
                        into["ref_time_ms"] = ref
                        into["rewards"] += a.rewards
                    it.next()
            finally:
                del it
        self._population = population
        return population

    def arm_posterior(self, user, arm_id):
        """(alpha, beta) of the user's arm as of as_of_ms(user)."""
        return arm_posterior(
            self.manifest.model, user, arm_id, self.as_of_ms(user), self.population()
        )

    def posterior_mean(self, user, arm_id):
        """alpha / (alpha + beta): what `encore score --method=mean` ranks by."""
        alpha, beta = self.arm_posterior(user, arm_id)
        return alpha / (alpha + beta)

    def _db(self, partition):
        for number, db in self._dbs:
            if number == partition:
                return db
        raise KeyError(f"{self.path}: no partition {partition}")


def _open_read_only(path):
    """A stock RocksDB opened read-only, keys and values as raw bytes, and
    the private directory it was opened through (delete it after closing).

    rocksdict (up to at least 0.3.29) writes its own rocksdict-config.json
    into the directory it opens, even read-only, so the database is opened
    through a fresh directory of symlinks to the checkpoint's files: RocksDB
    reads the real files, the stray config lands in the private directory.
    All files are opened at once (max_open_files = -1, as encore's reader
    does), so retention deleting an old snapshot cannot pull one from under
    an open reader."""
    path = os.path.abspath(path)
    if not os.path.isfile(os.path.join(path, "CURRENT")):
        raise FileNotFoundError(f"{path}: not a RocksDB checkpoint")
    view = tempfile.mkdtemp(prefix="encore-snapshot-")
    try:
        for name in os.listdir(path):
            os.symlink(os.path.join(path, name), os.path.join(view, name))
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(False)
        options.set_max_open_files(-1)
        db = rocksdict.Rdict(view, options=options, access_type=rocksdict.AccessType.read_only())
    except Exception:
        shutil.rmtree(view, ignore_errors=True)
        raise
    return db, view
