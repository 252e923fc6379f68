package encore.peer;

import com.google.protobuf.InvalidProtocolBufferException;
import encore.Event.ListenEvent;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Comparator;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * One task (= one input partition) of the peer, as encore's Processor::Handle
 * treats a partition (stream/processor.cc): validate, reject late events
 * (more than the lateness bound behind the partition watermark), move the
 * watermark, first resolve every pending impression of the partition whose
 * window the new watermark passes (users by (deadline, user_id)), then apply
 * the event to its user. Users live in the RocksDB store "users"; the expiry
 * index (deadline, user) in "expiries" (mirrored in memory, rebuilt from the
 * store at init); the watermark in "meta".
 */
final class PeerProcessor implements Processor<byte[], byte[], Void, Void> {
  static final String USERS = "users";
  static final String EXPIRIES = "expiries";
  static final String META = "meta";

  /** Next offset handled per input partition, for the caught-up check. */
  static final ConcurrentHashMap<Integer, Long> PROGRESS = new ConcurrentHashMap<>();

  static final AtomicLong APPLIED = new AtomicLong();
  static final AtomicLong DUPLICATES = new AtomicLong();
  static final AtomicLong REJECTED = new AtomicLong();

  private static final Bytes WATERMARK_KEY = Bytes.wrap("watermark".getBytes(StandardCharsets.UTF_8));

  private record Expiry(long deadlineMs, byte[] userId) {}

  private static final Comparator<Expiry> EXPIRY_ORDER =
      Comparator.comparingLong(Expiry::deadlineMs)
          .thenComparing(Expiry::userId, Model::compareBytes);

  private KeyValueStore<Bytes, byte[]> users;
  private KeyValueStore<Bytes, byte[]> expiries;
  private KeyValueStore<Bytes, byte[]> meta;
  private ProcessorContext<Void, Void> context;
  private final TreeSet<Expiry> index = new TreeSet<>(EXPIRY_ORDER);
  private long watermarkMs;

  @Override
  public void init(ProcessorContext<Void, Void> context) {
    this.context = context;
    users = context.getStateStore(USERS);
    expiries = context.getStateStore(EXPIRIES);
    meta = context.getStateStore(META);
    byte[] w = meta.get(WATERMARK_KEY);
    watermarkMs = w == null ? 0 : ByteBuffer.wrap(w).getLong();
    try (KeyValueIterator<Bytes, byte[]> it = expiries.all()) {
      while (it.hasNext()) {
        byte[] k = it.next().key.get();
        index.add(new Expiry(ByteBuffer.wrap(k).getLong(), Arrays.copyOfRange(k, 8, k.length)));
      }
    }
  }

  @Override
  public void process(Record<byte[], byte[]> record) {
    RecordMetadata m = context.recordMetadata().orElseThrow();
    handle(record);
    PROGRESS.put(m.partition(), m.offset() + 1);
  }

  private void handle(Record<byte[], byte[]> record) {
    ListenEvent event;
    try {
      event = ListenEvent.parseFrom(record.value() == null ? new byte[0] : record.value());
    } catch (InvalidProtocolBufferException e) {
      REJECTED.incrementAndGet();
      return;
    }
    byte[] key = record.key() == null ? new byte[0] : record.key();
    Model.Event e = Validation.validate(event, key, record.timestamp());
    if (e == null
        || (watermarkMs > 0 && e.timeMs < watermarkMs - Model.LATENESS_MS)) {
      REJECTED.incrementAndGet();
      return;
    }
    final long watermark = Math.max(watermarkMs, e.timeMs);
    while (!index.isEmpty() && index.first().deadlineMs() < watermark) {
      Expiry first = index.first();
      Bytes userKey = Bytes.wrap(first.userId());
      UserState s = UserState.parse(users.get(userKey));
      if (Model.expire(watermark, s) == 0) {
        remove(first); // stale: cannot happen unless the store was edited
        continue;
      }
      users.put(userKey, s.serialize());
      reindex(first.userId(), first.deadlineMs(), Model.nextExpiry(s));
    }
    byte[] userId = event.getUserIdBytes().toByteArray();
    Bytes userKey = Bytes.wrap(userId);
    UserState s = UserState.parse(users.get(userKey));
    final long before = Model.nextExpiry(s);
    if (Model.apply(e, s)) {
      APPLIED.incrementAndGet();
    } else {
      DUPLICATES.incrementAndGet();
    }
    users.put(userKey, s.serialize());
    reindex(userId, before, Model.nextExpiry(s));
    if (watermark != watermarkMs) {
      watermarkMs = watermark;
      meta.put(WATERMARK_KEY, ByteBuffer.allocate(8).putLong(watermark).array());
    }
  }

  private static Bytes storeKey(Expiry x) {
    return Bytes.wrap(
        ByteBuffer.allocate(8 + x.userId().length).putLong(x.deadlineMs()).put(x.userId()).array());
  }

  private void remove(Expiry x) {
    index.remove(x);
    expiries.delete(storeKey(x));
  }

  private void reindex(byte[] userId, long before, long after) {
    if (before == after) return;
    if (before >= 0) remove(new Expiry(before, userId));
    if (after >= 0) {
      Expiry x = new Expiry(after, userId);
      index.add(x);
      expiries.put(storeKey(x), new byte[0]);
    }
  }
}
