package encore.peer;

import com.google.protobuf.ByteString;
import encore.Event.ListenEvent;
import java.util.Arrays;

/**
 * encore's validation (stream/validation.cc, stream/VALIDATION.md) with its
 * default limits: an event it rejects is rejected here too (the reason is
 * not kept, only that it was rejected).
 */
final class Validation {
  static final int MAX_ID_BYTES = 256;
  static final long MAX_FUTURE_SKEW_MS = 3_600_000L;
  static final long MAX_DURATION_MS = 6 * 3_600_000L;
  static final long MIN_EVENT_TIME_MS = 946_684_800_000L; // 2000-01-01
  static final long MAX_EVENT_TIME_MS = 4_102_444_800_000L; // 2100-01-01

  private Validation() {}

  /**
   * Returns the model's view of a valid event, or null if encore would
   * reject it. `key` is the message key (empty if none), `messageTimeMs` the
   * record timestamp (<= 0: unknown).
   */
  static Model.Event validate(ListenEvent e, byte[] key, long messageTimeMs) {
    final ByteString user = e.getUserIdBytes();
    if (user.isEmpty()) return null;
    for (ByteString id :
        new ByteString[] {
          user, e.getEventIdBytes(), e.getTrackIdBytes(), e.getArtistIdBytes(),
          e.getArmIdBytes(), e.getRequestIdBytes(), e.getPlatformBytes()
        }) {
      if (id.size() > MAX_ID_BYTES) return null;
    }
    if (key.length > 0 && !Arrays.equals(key, user.toByteArray())) return null;
    final int kind = e.getKindValue();
    if (kind < Model.PLAY || kind > Model.IMPRESSION) return null;
    final long t = e.getEventTimeMs();
    if (t < MIN_EVENT_TIME_MS || t >= MAX_EVENT_TIME_MS) return null;
    if (messageTimeMs > 0 && t - MAX_FUTURE_SKEW_MS > messageTimeMs) return null;
    if (e.getMsPlayed() < 0 || e.getTrackDurationMs() < 0) return null;
    if (e.getMsPlayed() > MAX_DURATION_MS || e.getTrackDurationMs() > MAX_DURATION_MS) return null;
    if (kind == Model.IMPRESSION) {
      if (e.getArmIdBytes().isEmpty()) return null;
      final double p = e.getPropensity();
      if (Double.isNaN(p) || p <= 0 || p > 1) return null;
    } else if (e.getTrackIdBytes().isEmpty()) {
      return null;
    }
    Model.Event m = new Model.Event();
    m.eventId = e.getEventIdBytes().toByteArray();
    m.timeMs = t;
    m.kind = kind;
    m.armId = e.getArmIdBytes().toByteArray();
    m.requestId = e.getRequestIdBytes().toByteArray();
    m.msPlayed = e.getMsPlayed();
    return m;
  }
}
