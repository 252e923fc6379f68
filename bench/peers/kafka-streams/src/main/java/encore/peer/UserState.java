package encore.peer;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * What the peer keeps per user: the subset of encore's UserState
 * (proto/user_state.proto) that the decayed counters and the per-arm Beta
 * evidence need, with encore's field meanings. Serialized with a plain
 * fixed layout (see {@link #serialize()}) into the RocksDB store.
 */
final class UserState {
  static final int HALF_LIVES = 4;

  /** A pending impression: only what attribution and expiry need. */
  static final class Pending {
    byte[] requestId;
    byte[] armId;
    long timeMs;
  }

  /** Beta evidence of one arm, decayed with the arm half-life. */
  static final class Arm {
    byte[] armId;
    long refTimeMs;
    long lastEventTimeMs;
    long updates;
    double successes;
    double failures;
  }

  long firstSeenMs;
  long lastSeenMs;
  long events;
  long plays;
  long skips;
  long impressions;
  long duplicates;
  long rewardsAttributed;
  long rewardsUnattributed;
  long impressionsExpired;
  long impressionsDropped;
  long armsDropped;
  long countersRefMs;
  final double[] cPlays = new double[HALF_LIVES];
  final double[] cSkips = new double[HALF_LIVES];
  final double[] cMsPlayed = new double[HALF_LIVES];
  long[] eventIds = new long[0]; // the ring, as encore's recent_event_ids
  int eventIdsNext;
  final List<Pending> pending = new ArrayList<>(); // sorted (time, request, arm)
  final List<Arm> arms = new ArrayList<>(); // sorted by arm id bytes

  byte[] serialize() {
    int size = 8 * 13 + 8 * 3 * HALF_LIVES + 4 + 8 * eventIds.length + 4 + 4 + 4;
    for (Pending p : pending) size += 8 + 4 + p.requestId.length + 4 + p.armId.length;
    for (Arm a : arms) size += 4 + a.armId.length + 8 * 5;
    ByteBuffer b = ByteBuffer.allocate(size);
    b.putLong(firstSeenMs).putLong(lastSeenMs).putLong(events).putLong(plays);
    b.putLong(skips).putLong(impressions).putLong(duplicates);
    b.putLong(rewardsAttributed).putLong(rewardsUnattributed);
    b.putLong(impressionsExpired).putLong(impressionsDropped).putLong(armsDropped);
    b.putLong(countersRefMs);
    for (int i = 0; i < HALF_LIVES; ++i) {
      b.putDouble(cPlays[i]).putDouble(cSkips[i]).putDouble(cMsPlayed[i]);
    }
    b.putInt(eventIds.length);
    for (long id : eventIds) b.putLong(id);
    b.putInt(eventIdsNext);
    b.putInt(pending.size());
    for (Pending p : pending) {
      b.putLong(p.timeMs);
      b.putInt(p.requestId.length).put(p.requestId);
      b.putInt(p.armId.length).put(p.armId);
    }
    b.putInt(arms.size());
    for (Arm a : arms) {
      b.putInt(a.armId.length).put(a.armId);
      b.putLong(a.refTimeMs).putLong(a.lastEventTimeMs).putLong(a.updates);
      b.putDouble(a.successes).putDouble(a.failures);
    }
    return b.array();
  }

  static UserState parse(byte[] bytes) {
    UserState s = new UserState();
    if (bytes == null) return s;
    ByteBuffer b = ByteBuffer.wrap(bytes);
    s.firstSeenMs = b.getLong();
    s.lastSeenMs = b.getLong();
    s.events = b.getLong();
    s.plays = b.getLong();
    s.skips = b.getLong();
    s.impressions = b.getLong();
    s.duplicates = b.getLong();
    s.rewardsAttributed = b.getLong();
    s.rewardsUnattributed = b.getLong();
    s.impressionsExpired = b.getLong();
    s.impressionsDropped = b.getLong();
    s.armsDropped = b.getLong();
    s.countersRefMs = b.getLong();
    for (int i = 0; i < HALF_LIVES; ++i) {
      s.cPlays[i] = b.getDouble();
      s.cSkips[i] = b.getDouble();
      s.cMsPlayed[i] = b.getDouble();
    }
    s.eventIds = new long[b.getInt()];
    for (int i = 0; i < s.eventIds.length; ++i) s.eventIds[i] = b.getLong();
    s.eventIdsNext = b.getInt();
    int n = b.getInt();
    for (int i = 0; i < n; ++i) {
      Pending p = new Pending();
      p.timeMs = b.getLong();
      p.requestId = new byte[b.getInt()];
      b.get(p.requestId);
      p.armId = new byte[b.getInt()];
      b.get(p.armId);
      s.pending.add(p);
    }
    n = b.getInt();
    for (int i = 0; i < n; ++i) {
      Arm a = new Arm();
      a.armId = new byte[b.getInt()];
      b.get(a.armId);
      a.refTimeMs = b.getLong();
      a.lastEventTimeMs = b.getLong();
      a.updates = b.getLong();
      a.successes = b.getDouble();
      a.failures = b.getDouble();
      s.arms.add(a);
    }
    return s;
  }
}
