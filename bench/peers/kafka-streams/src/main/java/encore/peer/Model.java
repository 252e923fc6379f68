package encore.peer;

import java.util.Arrays;

/**
 * encore's model (state/MODEL.md, state/model.cc) restricted to what the peer
 * computes: per-user decayed play/skip/ms_played counters at 4 half-lives
 * with one landmark, and per-(user, arm) Beta evidence (successes, failures)
 * decayed with the arm half-life, fed by encore's reward attribution
 * (pending impressions, expiry at time + W, the 16-pending bound), event-id
 * de-duplication (a ring of 128 hashes) and the 64-arm bound. Every float
 * operation is done in encore's order so the values agree to rounding.
 */
final class Model {
  static final long HOUR_MS = 3_600_000L;
  static final long DAY_MS = 24 * HOUR_MS;
  static final long[] HALF_LIVES_MS = {HOUR_MS, DAY_MS, 7 * DAY_MS, 30 * DAY_MS};
  static final long ARM_HALF_LIFE_MS = 7 * DAY_MS;
  static final long SUCCESS_MIN_MS_PLAYED = 30_000;
  static final int MAX_ARMS_PER_USER = 64;
  static final int DEDUP_WINDOW = 128;
  static final long LATENESS_MS = 24 * HOUR_MS;
  static final long ATTRIBUTION_WINDOW_MS = 30 * 60_000L;
  static final int MAX_PENDING_PER_USER = 16;

  static final int PLAY = 1;
  static final int SKIP = 2;
  static final int IMPRESSION = 3;

  private Model() {}

  /** bandits::DecayFactor: 2^(-dt/h), 1 for dt <= 0. */
  static double decayFactor(long dtMs, long halfLifeMs) {
    if (halfLifeMs <= 0 || dtMs <= 0) return 1.0;
    return Math.pow(2.0, -((double) dtMs) / (double) halfLifeMs);
  }

  /** StableHash64 (state/sketches.cc): FNV-1a 64 then splitmix64's finalizer. */
  static long stableHash64(byte[] s) {
    long h = 0xcbf29ce484222325L;
    for (byte c : s) {
      h ^= (c & 0xff);
      h *= 0x100000001b3L;
    }
    h ^= h >>> 30;
    h *= 0xbf58476d1ce4e5b9L;
    h ^= h >>> 27;
    h *= 0x94d049bb133111ebL;
    h ^= h >>> 31;
    return h;
  }

  /** std::string's operator<: unsigned bytewise. */
  static int compareBytes(byte[] a, byte[] b) {
    return Arrays.compareUnsigned(a, b);
  }

  /** The fields of an event the model reads. */
  static final class Event {
    byte[] eventId;
    long timeMs;
    int kind;
    byte[] armId;
    byte[] requestId;
    long msPlayed;
  }

  /** Returns false for a duplicate (then only `duplicates` changed). */
  static boolean apply(Event e, UserState s) {
    if (isDuplicate(e, s)) {
      s.duplicates++;
      return false;
    }
    final long t = e.timeMs;
    if (s.events == 0) {
      s.firstSeenMs = t;
      s.lastSeenMs = t;
    } else {
      s.firstSeenMs = Math.min(s.firstSeenMs, t);
      s.lastSeenMs = Math.max(s.lastSeenMs, t);
    }
    s.events++;

    int match = -1;
    if (e.kind != IMPRESSION && e.armId.length > 0 && e.requestId.length > 0) {
      for (int i = 0; i < s.pending.size(); ++i) {
        UserState.Pending p = s.pending.get(i);
        if (Arrays.equals(p.requestId, e.requestId) && Arrays.equals(p.armId, e.armId)
            && t >= p.timeMs && t - p.timeMs <= ATTRIBUTION_WINDOW_MS) {
          match = i;
          break;
        }
      }
    }
    switch (e.kind) {
      case IMPRESSION:
        s.impressions++;
        if (e.requestId.length > 0) {
          for (UserState.Pending p : addPending(e, s)) {
            applyReward(p.armId, Math.max(t, p.timeMs), 0.0, s);
          }
        }
        return true;
      case PLAY:
        s.plays++;
        addToCounters(t, 1.0, 0.0, (double) e.msPlayed, s);
        break;
      case SKIP:
        s.skips++;
        addToCounters(t, 0.0, 1.0, (double) e.msPlayed, s);
        break;
      default:
        return true;
    }
    if (e.armId.length == 0) return true;
    final double reward =
        e.kind == PLAY && e.msPlayed >= SUCCESS_MIN_MS_PLAYED ? 1.0 : 0.0;
    if (match >= 0) {
      s.pending.remove(match);
      s.rewardsAttributed++;
    } else {
      s.rewardsUnattributed++;
    }
    applyReward(e.armId, t, reward, s);
    return true;
  }

  /** ExpireImpressions: resolves pending impressions whose window closed. */
  static int expire(long watermarkMs, UserState s) {
    int expired = 0;
    while (!s.pending.isEmpty()
        && s.pending.get(0).timeMs + ATTRIBUTION_WINDOW_MS < watermarkMs) {
      UserState.Pending p = s.pending.remove(0);
      s.impressionsExpired++;
      applyReward(p.armId, p.timeMs + ATTRIBUTION_WINDOW_MS, 0.0, s);
      ++expired;
    }
    return expired;
  }

  /** NextExpiry: the deadline of the oldest pending impression, or -1. */
  static long nextExpiry(UserState s) {
    return s.pending.isEmpty() ? -1 : s.pending.get(0).timeMs + ATTRIBUTION_WINDOW_MS;
  }

  private static boolean isDuplicate(Event e, UserState s) {
    if (e.eventId.length == 0) return false;
    final long id = stableHash64(e.eventId);
    for (long seen : s.eventIds) {
      if (seen == id) return true;
    }
    if (s.eventIds.length < DEDUP_WINDOW) {
      long[] grown = Arrays.copyOf(s.eventIds, s.eventIds.length + 1);
      grown[s.eventIds.length] = id;
      s.eventIds = grown;
      s.eventIdsNext = grown.length % DEDUP_WINDOW;
    } else {
      final int next = Integer.remainderUnsigned(s.eventIdsNext, DEDUP_WINDOW);
      s.eventIds[next] = id;
      s.eventIdsNext = (next + 1) % DEDUP_WINDOW;
    }
    return false;
  }

  private static void addToCounters(long t, double play, double skip, double ms, UserState s) {
    final long ref = s.countersRefMs;
    final long newRef = Math.max(ref, t);
    for (int i = 0; i < HALF_LIVES_MS.length; ++i) {
      final long h = HALF_LIVES_MS[i];
      final double forward = decayFactor(newRef - ref, h);
      final double back = decayFactor(newRef - t, h);
      s.cPlays[i] = s.cPlays[i] * forward + play * back;
      s.cSkips[i] = s.cSkips[i] * forward + skip * back;
      s.cMsPlayed[i] = s.cMsPlayed[i] * forward + ms * back;
    }
    s.countersRefMs = newRef;
  }

  private static int comparePending(UserState.Pending a, UserState.Pending b) {
    if (a.timeMs != b.timeMs) return Long.compare(a.timeMs, b.timeMs);
    int c = compareBytes(a.requestId, b.requestId);
    if (c != 0) return c;
    return compareBytes(a.armId, b.armId);
  }

  /** AddPending: inserts after equal ones; returns the oldest beyond the bound. */
  private static java.util.List<UserState.Pending> addPending(Event e, UserState s) {
    UserState.Pending p = new UserState.Pending();
    p.requestId = e.requestId;
    p.armId = e.armId;
    p.timeMs = e.timeMs;
    int index = 0;
    while (index < s.pending.size() && comparePending(s.pending.get(index), p) <= 0) ++index;
    s.pending.add(index, p);
    java.util.List<UserState.Pending> evicted = new java.util.ArrayList<>();
    while (s.pending.size() > MAX_PENDING_PER_USER) {
      evicted.add(s.pending.remove(0));
      s.impressionsDropped++;
    }
    return evicted;
  }

  private static void applyReward(byte[] armId, long timeMs, double reward, UserState s) {
    UserState.Arm arm = findOrAddArm(armId, s);
    long ref = arm.updates == 0 ? timeMs : arm.refTimeMs;
    double successes = arm.successes;
    double failures = arm.failures;
    if (timeMs > ref) {
      final double forward = decayFactor(timeMs - ref, ARM_HALF_LIFE_MS);
      successes *= forward;
      failures *= forward;
      ref = timeMs;
    }
    final double w = decayFactor(ref - timeMs, ARM_HALF_LIFE_MS);
    arm.refTimeMs = ref;
    arm.successes = successes + w * reward;
    arm.failures = failures + w * (1.0 - reward);
    arm.lastEventTimeMs = Math.max(arm.lastEventTimeMs, timeMs);
    arm.updates++;
    enforceArmBound(armId, s);
  }

  private static UserState.Arm findOrAddArm(byte[] armId, UserState s) {
    int lo = 0;
    int hi = s.arms.size();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (compareBytes(s.arms.get(mid).armId, armId) < 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo < s.arms.size() && Arrays.equals(s.arms.get(lo).armId, armId)) return s.arms.get(lo);
    UserState.Arm arm = new UserState.Arm();
    arm.armId = armId;
    s.arms.add(lo, arm);
    return arm;
  }

  private static void enforceArmBound(byte[] keep, UserState s) {
    while (s.arms.size() > MAX_ARMS_PER_USER) {
      int victim = -1;
      for (int i = 0; i < s.arms.size(); ++i) {
        if (Arrays.equals(s.arms.get(i).armId, keep)) continue;
        if (victim < 0 || s.arms.get(i).lastEventTimeMs < s.arms.get(victim).lastEventTimeMs) {
          victim = i;
        }
      }
      s.arms.remove(victim);
      s.armsDropped++;
    }
  }
}
