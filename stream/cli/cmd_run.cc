// encore run: a consumer-group member that keeps state and snapshots.
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "state/checkpoint_store.h"
#include "state/snapshot_publisher.h"
#include "state/state_store.h"
#include "stream/backfill.h"
#include "stream/cli/common.h"
#include "stream/cli/state_flags.h"
#include "stream/dead_letter.h"
#include "stream/engine.h"
#include "stream/health.h"
#include "stream/kafka_source.h"
#include "stream/ops_server.h"
#include "stream/topic_setup.h"

ABSL_FLAG(std::string, group, "encore", "Kafka consumer group id.");
ABSL_FLAG(std::string, reset, "earliest",
          "Where a partition with no stored offset starts: earliest|latest.");
ABSL_FLAG(int64_t, commit_interval_ms, 1000, "Commit at least this often.");
ABSL_FLAG(int64_t, commit_max_events, 400000,
          "Commit after this many events, whichever comes first.");
ABSL_FLAG(double, snapshot_interval_s, 60, "Publish a snapshot this often.");
ABSL_FLAG(uint64_t, write_buffer_mb, 128,
          "RocksDB memtable budget, shared (charged to the block cache).");
ABSL_FLAG(bool, sync_commits, true,
          "fsync every state commit (with --commit-wal).");
ABSL_FLAG(bool, commit_wal, true,
          "State commits go through RocksDB's write-ahead log. false: a "
          "commit is durable at the next memtable flush (each snapshot "
          "flushes); a crash returns a partition to its last flushed commit "
          "and offset, and the events since are applied again from Kafka.");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9464",
          "host:port serving /metrics, /healthz and /readyz; empty disables "
          "it.");
ABSL_FLAG(int, checkpoint_keep, 5,
          "Checkpoints kept per partition in --checkpoint-store; what only "
          "older ones need is removed once 15 minutes old.");
ABSL_FLAG(int, kafka_stats_interval_ms, 5000,
          "How often librdkafka reports statistics (consumer lag metrics).");

namespace encore::cli {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

}  // namespace

int RunCommand(const std::vector<char*>& args) {
  const std::string cmd = "run";
  // Installed first: a SIGTERM during start-up still means "stop cleanly".
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  if (args.size() > 1)
    return UsageError(cmd, absl::StrCat("unexpected argument '", args[1], "'"));
  absl::StatusOr<KafkaClientConfig> client = ClientConfigFromFlags();
  if (!client.ok())
    return UsageError(cmd, std::string(client.status().message()));
  const std::string topic = absl::GetFlag(FLAGS_topic);
  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  const std::string snapshot_dir = absl::GetFlag(FLAGS_snapshot_dir);
  if (topic.empty()) return UsageError(cmd, "--topic is required");
  if (state_dir.empty()) return UsageError(cmd, "--state-dir is required");
  if (snapshot_dir.empty())
    return UsageError(cmd, "--snapshot-dir is required");
  const std::string reset = absl::GetFlag(FLAGS_reset);
  for (absl::Status s : {
           CheckOneOf("reset", reset, {"earliest", "latest"}),
           CheckAbove("commit-interval-ms",
                      absl::GetFlag(FLAGS_commit_interval_ms), 0),
           CheckAbove("commit-max-events",
                      absl::GetFlag(FLAGS_commit_max_events), 0),
           CheckAtLeast("snapshot-keep", absl::GetFlag(FLAGS_snapshot_keep), 1),
           CheckAtLeast("checkpoint-keep", absl::GetFlag(FLAGS_checkpoint_keep),
                        1),
           CheckAbove("snapshot-interval-s",
                      absl::GetFlag(FLAGS_snapshot_interval_s), 0),
           CheckListenAddress("metrics-listen",
                              absl::GetFlag(FLAGS_metrics_listen)),
           CheckAtLeast("kafka-stats-interval-ms",
                        absl::GetFlag(FLAGS_kafka_stats_interval_ms), 0),
       }) {
    if (!s.ok()) return UsageError(cmd, std::string(s.message()));
  }

  EngineOptions options;
  ProcessorOptions& processing = options.processor;
  processing.topic = topic;
  absl::StatusOr<ModelConfig> model = ModelConfigFromFlags();
  if (!model.ok())
    return UsageError(cmd, std::string(model.status().message()));
  processing.model = *model;
  processing.commit_interval_ms = absl::GetFlag(FLAGS_commit_interval_ms);
  processing.commit_max_events = absl::GetFlag(FLAGS_commit_max_events);
  options.checkpoint_keep = absl::GetFlag(FLAGS_checkpoint_keep);
  options.snapshot_interval_ms =
      static_cast<int64_t>(absl::GetFlag(FLAGS_snapshot_interval_s) * 1000);
  absl::StatusOr<int> workers = WorkersFromFlags();
  if (!workers.ok())
    return UsageError(cmd, std::string(workers.status().message()));
  absl::StatusOr<MemoryLimits> memory =
      MemoryLimitsFromFlags(absl::GetFlag(FLAGS_write_buffer_mb) << 20);
  if (!memory.ok())
    return UsageError(cmd, std::string(memory.status().message()));
  absl::StatusOr<bool> compress = StateCompressionFromFlags();
  if (!compress.ok())
    return UsageError(cmd, std::string(compress.status().message()));
  const MemoryLimits share = ShareOf(*memory, *workers);
  processing.cache_max_users = share.cache_max_users;
  processing.cache_max_bytes = share.cache_max_bytes;

  std::unique_ptr<CheckpointStore> checkpoints;
  if (const std::string uri = absl::GetFlag(FLAGS_checkpoint_store);
      !uri.empty()) {
    absl::StatusOr<std::unique_ptr<ObjectStore>> objects = OpenObjectStore(uri);
    if (absl::IsInvalidArgument(objects.status()) ||
        absl::IsUnimplemented(objects.status())) {
      return UsageError(cmd, std::string(objects.status().message()));
    }
    if (!objects.ok()) return Failure(cmd, objects.status());
    checkpoints = std::make_unique<CheckpointStore>(std::move(*objects), topic);
    options.processor.checkpoints = checkpoints.get();
  }

  // One process per directory, for the whole run (before anything opens
  // them, and before the consumer joins the group).
  absl::StatusOr<std::vector<std::unique_ptr<DirLock>>> locks =
      LockStateDirs(state_dir, snapshot_dir);
  if (!locks.ok()) return Failure(cmd, locks.status());

  auto registry = std::make_shared<prometheus::Registry>();
  Metrics metrics(registry);
  RegisterBuildInfo(&metrics);
  Health health;
  health.SetStarted(SystemClock()->MonotonicMs());
  std::unique_ptr<OpsServer> ops;
  const std::string listen = absl::GetFlag(FLAGS_metrics_listen);
  if (!listen.empty()) {
    absl::StatusOr<std::unique_ptr<OpsServer>> started =
        OpsServer::Start(listen, &metrics, &health, SystemClock());
    if (!started.ok()) return Failure(cmd, started.status());
    ops = std::move(*started);
  }
  spdlog::info("encore {} run, {} worker(s), effective configuration: {}",
               ENCORE_VERSION, *workers,
               EffectiveConfiguration({"cmd_run.cc", "state_flags.cc"}));
  spdlog::info("memory limits in use: {}", DescribeMemoryLimits(*memory));

  RocksStoreOptions store_options;
  store_options.block_cache_bytes = share.block_cache_bytes;
  store_options.write_buffer_bytes = share.write_buffer_bytes;
  store_options.disable_wal = !absl::GetFlag(FLAGS_commit_wal);
  store_options.sync_commits =
      absl::GetFlag(FLAGS_sync_commits) && !store_options.disable_wal;
  store_options.compress = *compress;
  absl::StatusOr<std::optional<BackfillPlan>> backfill =
      ReadBackfillMarker(state_dir);
  if (!backfill.ok()) return Failure(cmd, backfill.status());
  if (backfill->has_value()) {
    return Failure(cmd, absl::FailedPreconditionError(
                            state_dir + " holds an incomplete backfill; finish "
                                        "it with `encore backfill --resume`"));
  }
  if (absl::Status s = CheckModelOfStateDir(state_dir, processing.model);
      !s.ok()) {
    return Failure(cmd, s);
  }
  // The events topic must exist before its dead-letter topic is created (a
  // misspelt --topic would leave one behind): wait for it (producers may
  // start later), and for a broker; a SIGTERM meanwhile ends the start-up.
  const std::string dead_letter_topic = DeadLetterTopic(topic);
  absl::StatusOr<int32_t> topics_ready = PrepareTopics(
      *client, {.topic = topic, .dead_letter_topic = dead_letter_topic}, g_stop,
      [&health](const std::string& why) { health.SetWaiting(why); });
  if (absl::IsCancelled(topics_ready.status())) {
    spdlog::info("stopped during start-up");
    return 0;
  }
  if (!topics_ready.ok()) return Failure(cmd, topics_ready.status());
  options.processor.topic_partitions = *topics_ready;
  absl::StatusOr<EngineWorkers> parts = OpenEngineWorkers(
      *workers, state_dir, topic, store_options, *client, dead_letter_topic);
  if (!parts.ok()) return Failure(cmd, parts.status());
  absl::StatusOr<std::unique_ptr<SnapshotPublisher>> publisher =
      SnapshotPublisher::Open(
          {snapshot_dir, absl::GetFlag(FLAGS_snapshot_keep)}, SystemClock(),
          topic);
  if (!publisher.ok()) return Failure(cmd, publisher.status());
  (*publisher)->set_topic_partitions(*topics_ready);

  Engine engine(options, parts->Parts(), publisher->get(), SystemClock(),
                &metrics, &health);
  KafkaSourceOptions source_options;
  source_options.client = *client;
  ApplyKafkaQueueLimit(share, &source_options.client.properties);
  ApplyWorkerLanes(*workers, client->properties,
                   &source_options.client.properties);
  source_options.topic = topic;
  source_options.group = absl::GetFlag(FLAGS_group);
  source_options.reset = reset;
  source_options.statistics_interval_ms =
      absl::GetFlag(FLAGS_kafka_stats_interval_ms);
  ReportSourceHealth(&metrics, &health, &source_options);
  absl::StatusOr<std::unique_ptr<MessageSource>> source =
      NewKafkaSource(source_options, &engine);
  if (!source.ok()) return Failure(cmd, source.status());

  absl::Status status = engine.Run(**source, g_stop);
  source->reset();
  if (!status.ok()) return Failure(cmd, status);
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace encore::cli
