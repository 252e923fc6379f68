package encore.peer;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.processor.TimestampExtractor;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * kstreams-peer: reads the events topic from the beginning until it has
 * handled every message present at start, prints one JSON line of figures
 * (wall seconds from JVM start, CPU seconds of the process, peak RSS), then
 * dumps users' values as JSON lines for bench/compare_peer.py.
 *
 *   java -Xmx1g -cp ... encore.peer.Main --brokers H:P --topic T --state-dir D
 *       [--app-id ID] [--eos] [--threads 2] [--dump FILE] [--sample N]
 *       [--timeout-s 1800] [--progress]
 *
 * --sample N dumps N users evenly spaced in user-id order plus the 20 with
 * the most events (0 = every user). --progress prints "progress SECONDS
 * RECORDS" to stderr every second (seconds from JVM start).
 */
public final class Main {
  /** Record timestamps as given; a negative one (none) becomes 0 = unknown. */
  public static final class AnyTimestamp implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      return Math.max(record.timestamp(), 0);
    }
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i < argv.length; ++i) {
      String k = argv[i];
      if (k.equals("--eos") || k.equals("--progress")) {
        a.put(k.substring(2), "true");
      } else if (k.startsWith("--") && i + 1 < argv.length) {
        a.put(k.substring(2), argv[++i]);
      } else {
        System.err.println("kstreams-peer: bad argument " + k);
        System.exit(2);
      }
    }
    for (String required : new String[] {"brokers", "topic", "state-dir"}) {
      if (!a.containsKey(required)) {
        System.err.println("kstreams-peer: --" + required + " is required");
        System.exit(2);
      }
    }
    final String brokers = a.get("brokers");
    final String topic = a.get("topic");
    final boolean eos = a.containsKey("eos");
    final String appId =
        a.getOrDefault("app-id", "kstreams-peer-" + ProcessHandle.current().pid());
    final long timeoutMs = Long.parseLong(a.getOrDefault("timeout-s", "1800")) * 1000;

    Map<Integer, Long> ends = endOffsets(brokers, topic);

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(StreamsConfig.STATE_DIR_CONFIG, a.get("state-dir"));
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(a.getOrDefault("threads", "2")));
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG,
        eos ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE);
    p.put(StreamsConfig.DEFAULT_TIMESTAMP_EXTRACTOR_CLASS_CONFIG, AnyTimestamp.class);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

    Topology t = new Topology();
    t.addSource("events", Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(), topic);
    t.addProcessor("model", PeerProcessor::new, "events");
    t.addStateStore(Stores.keyValueStoreBuilder(
            Stores.persistentKeyValueStore(PeerProcessor.USERS), Serdes.Bytes(), Serdes.ByteArray())
        .withCachingEnabled(), "model");
    t.addStateStore(Stores.keyValueStoreBuilder(
            Stores.persistentKeyValueStore(PeerProcessor.EXPIRIES), Serdes.Bytes(), Serdes.ByteArray())
        .withCachingEnabled(), "model");
    t.addStateStore(Stores.keyValueStoreBuilder(
            Stores.persistentKeyValueStore(PeerProcessor.META), Serdes.Bytes(), Serdes.ByteArray())
        .withCachingEnabled(), "model");

    KafkaStreams streams = new KafkaStreams(t, p);
    streams.start();
    final long deadline = System.currentTimeMillis() + timeoutMs;
    final long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
    long nextProgress = System.currentTimeMillis() + 1000;
    while (!caughtUp(ends)) {
      if (a.containsKey("progress") && System.currentTimeMillis() >= nextProgress) {
        long handled = PeerProcessor.PROGRESS.values().stream().mapToLong(Long::longValue).sum();
        System.err.printf("progress %.3f %d%n", (System.currentTimeMillis() - jvmStart) / 1000.0, handled);
        nextProgress += 1000;
      }
      KafkaStreams.State s = streams.state();
      if (s == KafkaStreams.State.ERROR || s == KafkaStreams.State.NOT_RUNNING
          || System.currentTimeMillis() > deadline) {
        System.err.println("kstreams-peer: not caught up (state " + s + ")");
        streams.close(Duration.ofSeconds(10));
        System.exit(1);
      }
      Thread.sleep(20);
    }
    final double seconds =
        (System.currentTimeMillis() - ManagementFactory.getRuntimeMXBean().getStartTime()) / 1000.0;
    final double cpu =
        ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime() / 1e9;
    final long records = ends.values().stream().mapToLong(Long::longValue).sum();
    System.out.printf(
        "{\"guarantee\": \"%s\", \"records\": %d, \"applied\": %d, \"duplicates\": %d, "
            + "\"rejected\": %d, \"seconds\": %.3f, \"cpu_s\": %.3f, \"peak_rss_kb\": %d}%n",
        eos ? "exactly_once_v2" : "at_least_once", records, PeerProcessor.APPLIED.get(),
        PeerProcessor.DUPLICATES.get(), PeerProcessor.REJECTED.get(), seconds, cpu, peakRssKb());
    System.out.flush();
    if (a.containsKey("dump")) {
      dump(streams, Path.of(a.get("dump")), Integer.parseInt(a.getOrDefault("sample", "0")));
    }
    streams.close(Duration.ofSeconds(60));
    streams.cleanUp();
  }

  private static Map<Integer, Long> endOffsets(String brokers, String topic) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    try (Admin admin = Admin.create(p)) {
      TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
      Map<TopicPartition, OffsetSpec> q = new HashMap<>();
      d.partitions().forEach(x -> q.put(new TopicPartition(topic, x.partition()), OffsetSpec.latest()));
      Map<Integer, Long> ends = new HashMap<>();
      admin.listOffsets(q).all().get().forEach((tp, info) -> ends.put(tp.partition(), info.offset()));
      return ends;
    }
  }

  private static boolean caughtUp(Map<Integer, Long> ends) {
    for (Map.Entry<Integer, Long> e : ends.entrySet()) {
      if (e.getValue() > 0 && PeerProcessor.PROGRESS.getOrDefault(e.getKey(), 0L) < e.getValue()) {
        return false;
      }
    }
    return true;
  }

  private static long peakRssKb() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    } catch (IOException e) {
      // not Linux: no figure
    }
    return -1;
  }

  private static void dump(KafkaStreams streams, Path out, int sample) throws Exception {
    ReadOnlyKeyValueStore<Bytes, byte[]> store = null;
    for (int i = 0; store == null; ++i) {
      try {
        store = streams.store(StoreQueryParameters.fromNameAndType(
            PeerProcessor.USERS, QueryableStoreTypes.<Bytes, byte[]>keyValueStore()));
      } catch (InvalidStateStoreException e) {
        if (i > 600) throw e;
        Thread.sleep(100);
      }
    }
    List<KeyValue<Bytes, UserState>> all = new ArrayList<>();
    try (KeyValueIterator<Bytes, byte[]> it = store.all()) {
      while (it.hasNext()) {
        KeyValue<Bytes, byte[]> kv = it.next();
        all.add(KeyValue.pair(kv.key, UserState.parse(kv.value)));
      }
    }
    all.sort(Comparator.comparing(kv -> kv.key));
    List<KeyValue<Bytes, UserState>> chosen = all;
    if (sample > 0 && all.size() > sample) {
      chosen = new ArrayList<>();
      for (int i = 0; i < sample; ++i) chosen.add(all.get((int) ((long) i * all.size() / sample)));
      all.stream()
          .sorted(Comparator.comparingLong((KeyValue<Bytes, UserState> kv) -> -kv.value.events))
          .limit(20)
          .forEach(chosen::add);
      chosen = chosen.stream().distinct().collect(Collectors.toList());
    }
    try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(out, StandardCharsets.UTF_8))) {
      for (KeyValue<Bytes, UserState> kv : chosen) w.println(json(kv.key.get(), kv.value));
    }
  }

  private static String str(byte[] b) {
    StringBuilder s = new StringBuilder("\"");
    for (char c : new String(b, StandardCharsets.UTF_8).toCharArray()) {
      if (c == '"' || c == '\\') {
        s.append('\\').append(c);
      } else if (c < 0x20) {
        s.append(String.format("\\u%04x", (int) c));
      } else {
        s.append(c);
      }
    }
    return s.append('"').toString();
  }

  private static String doubles(double[] v) {
    StringBuilder s = new StringBuilder("[");
    for (int i = 0; i < v.length; ++i) s.append(i > 0 ? ", " : "").append(v[i]);
    return s.append(']').toString();
  }

  /** One user as JSON: encore's field names (lowerCamelCase, as `encore read --json`). */
  static String json(byte[] userId, UserState u) {
    StringBuilder s = new StringBuilder("{");
    s.append("\"userId\": ").append(str(userId));
    s.append(", \"firstSeenMs\": ").append(u.firstSeenMs);
    s.append(", \"lastSeenMs\": ").append(u.lastSeenMs);
    s.append(", \"events\": ").append(u.events);
    s.append(", \"plays\": ").append(u.plays);
    s.append(", \"skips\": ").append(u.skips);
    s.append(", \"impressions\": ").append(u.impressions);
    s.append(", \"duplicates\": ").append(u.duplicates);
    s.append(", \"rewardsAttributed\": ").append(u.rewardsAttributed);
    s.append(", \"rewardsUnattributed\": ").append(u.rewardsUnattributed);
    s.append(", \"impressionsExpired\": ").append(u.impressionsExpired);
    s.append(", \"impressionsDropped\": ").append(u.impressionsDropped);
    s.append(", \"armsDropped\": ").append(u.armsDropped);
    s.append(", \"pendingCount\": ").append(u.pending.size());
    s.append(", \"counters\": {\"refTimeMs\": ").append(u.countersRefMs);
    s.append(", \"plays\": ").append(doubles(u.cPlays));
    s.append(", \"skips\": ").append(doubles(u.cSkips));
    s.append(", \"msPlayed\": ").append(doubles(u.cMsPlayed)).append('}');
    s.append(", \"arms\": [");
    for (int i = 0; i < u.arms.size(); ++i) {
      UserState.Arm arm = u.arms.get(i);
      s.append(i > 0 ? ", " : "").append("{\"armId\": ").append(str(arm.armId));
      s.append(", \"refTimeMs\": ").append(arm.refTimeMs);
      s.append(", \"lastEventTimeMs\": ").append(arm.lastEventTimeMs);
      s.append(", \"updates\": ").append(arm.updates);
      s.append(", \"successes\": ").append(arm.successes);
      s.append(", \"failures\": ").append(arm.failures).append('}');
    }
    return s.append("]}").toString();
  }
}
