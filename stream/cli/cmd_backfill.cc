// encore backfill: replay a time range of a topic into a fresh state
// directory at full speed, then stop (see stream/backfill.h).
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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

ABSL_FLAG(std::string, from_time, "",
          "Start at the first message whose Kafka timestamp is at or after "
          "this time (Unix ms or RFC 3339).");
ABSL_FLAG(bool, from_beginning, false, "Start at the beginning of the log.");
ABSL_FLAG(std::string, to_time, "",
          "Stop before the first message at or after this Kafka timestamp "
          "(default: the end offsets when the backfill starts).");
ABSL_FLAG(bool, resume, false,
          "Continue an interrupted backfill in --state-dir.");
ABSL_FLAG(bool, bulk, true,
          "Bulk mode: commits skip the WAL, bigger memtables, a flush before "
          "completion is recorded.");
ABSL_FLAG(int64_t, backfill_commit_events, 2000000,
          "Commit every this many events (bounded also by --cache-max-users).");
ABSL_FLAG(std::string, progress, "auto",
          "auto | bar | log | off: a progress bar on a terminal, log lines "
          "otherwise.");
ABSL_FLAG(int64_t, backfill_flush_events, 10000000,
          "Bulk mode: make commits durable (flush) every this many messages, "
          "so that --resume after a crash redoes at most that much.");
ABSL_FLAG(double, max_events_per_second, 0,
          "Throttle: at most this many messages per second (0 = unlimited), "
          "to spare a shared cluster or disk.");
ABSL_FLAG(std::string, backfill_metrics_listen, "",
          "host:port for /metrics, /healthz, /readyz during the backfill.");

namespace encore::cli {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

// h:mm:ss
std::string FormatDuration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
  return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
}

// The width of the terminal on stderr (80 if unknown).
int TerminalColumns() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  return 80;
}

class Progress {
 public:
  Progress(std::string mode, int64_t total)
      : total_(total), start_(std::chrono::steady_clock::now()), last_(start_) {
    bar_ = mode == "bar" || (mode == "auto" && isatty(STDERR_FILENO));
    off_ = mode == "off";
  }

  void Update(int64_t done, bool final = false) {
    const auto now = std::chrono::steady_clock::now();
    const double since_last =
        std::chrono::duration<double>(now - last_).count();
    if (off_ || (!final && since_last < (bar_ ? 0.2 : 5.0))) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? done / secs : 0;
    const double pct = total_ > 0 ? 100.0 * done / total_ : 100.0;
    const double eta = rate > 0 ? (total_ - done) / rate : 0;
    if (bar_) {
      // The figures, then a bar filling what is left of the terminal's
      // width: a line longer than the terminal would wrap, and "\r" would
      // then redraw only its last part, leaving a new line per update.
      const std::string figures =
          absl::StrFormat(" %5.1f%% %d/%d %.0f ev/s ETA %s", pct, done, total_,
                          rate, FormatDuration(eta));
      const int columns = TerminalColumns();
      const int width =
          std::clamp(columns - 3 - static_cast<int>(figures.size()), 0, 40);
      const int filled =
          std::clamp(static_cast<int>(pct / 100.0 * width), 0, width);
      std::string line = width > 0 ? "[" + std::string(filled, '#') +
                                         std::string(width - filled, ' ') + "]"
                                   : "";
      line += figures;
      if (static_cast<int>(line.size()) >= columns) line.resize(columns - 1);
      std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
      if (final) std::fprintf(stderr, "\n");
    } else {
      spdlog::info(
          "backfill progress {:.1f}% ({}/{} messages, {:.0f} events/s, ETA "
          "{})",
          pct, done, total_, rate, FormatDuration(eta));
    }
  }

 private:
  int64_t total_;
  std::chrono::steady_clock::time_point start_, last_;
  bool bar_ = false;
  bool off_ = false;
};

int64_t Done(const BackfillPlan& plan, const std::map<int32_t, int64_t>& next) {
  int64_t done = 0;
  for (const auto& [p, n] : next) {
    const int64_t s = plan.start.at(p), e = plan.end.at(p);
    if (n > s) done += std::min(n, e) - s;
  }
  return done;
}

RocksStoreOptions StoreOptions(const MemoryLimits& limits, bool bulk,
                               bool compress) {
  RocksStoreOptions o;
  o.compress = compress;
  o.block_cache_bytes = limits.block_cache_bytes;
  o.write_buffer_bytes = limits.write_buffer_bytes;
  o.memtable_bytes = bulk ? 128 << 20 : 32 << 20;
  o.disable_wal = bulk;
  o.sync_commits = !bulk;
  return o;
}

}  // namespace

int BackfillCommand(const std::vector<char*>& args) {
  const std::string cmd = "backfill";
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
  const bool resume = absl::GetFlag(FLAGS_resume);
  const bool from_beginning = absl::GetFlag(FLAGS_from_beginning);
  const std::string from_time = absl::GetFlag(FLAGS_from_time);
  if (topic.empty()) return UsageError(cmd, "--topic is required");
  if (state_dir.empty()) return UsageError(cmd, "--state-dir is required");
  if (snapshot_dir.empty())
    return UsageError(cmd, "--snapshot-dir is required");
  if (!resume && from_beginning == !from_time.empty()) {
    return UsageError(
        cmd, "exactly one of --from-time and --from-beginning is required");
  }
  for (absl::Status s : {
           CheckOneOf("progress", absl::GetFlag(FLAGS_progress),
                      {"auto", "bar", "log", "off"}),
           CheckAtLeast("snapshot-keep", absl::GetFlag(FLAGS_snapshot_keep), 1),
           CheckAbove("backfill-commit-events",
                      absl::GetFlag(FLAGS_backfill_commit_events), 0),
           CheckAbove("backfill-flush-events",
                      absl::GetFlag(FLAGS_backfill_flush_events), 0),
           CheckAtLeast("max-events-per-second",
                        absl::GetFlag(FLAGS_max_events_per_second), 0),
           CheckListenAddress("backfill-metrics-listen",
                              absl::GetFlag(FLAGS_backfill_metrics_listen)),
       }) {
    if (!s.ok()) return UsageError(cmd, std::string(s.message()));
  }
  int64_t from_ms = -1, to_ms = -1;
  if (!from_time.empty()) {
    absl::StatusOr<int64_t> t = ParseTimeMs(from_time);
    if (!t.ok())
      return UsageError(cmd,
                        "--from-time: " + std::string(t.status().message()));
    from_ms = *t;
  }
  if (!absl::GetFlag(FLAGS_to_time).empty()) {
    absl::StatusOr<int64_t> t = ParseTimeMs(absl::GetFlag(FLAGS_to_time));
    if (!t.ok())
      return UsageError(cmd, "--to-time: " + std::string(t.status().message()));
    to_ms = *t;
  }
  absl::StatusOr<MemoryLimits> memory =
      MemoryLimitsFromFlags(absl::GetFlag(FLAGS_bulk) ? 512 << 20 : 128 << 20);
  if (!memory.ok())
    return UsageError(cmd, std::string(memory.status().message()));
  absl::StatusOr<bool> compress = StateCompressionFromFlags();
  if (!compress.ok())
    return UsageError(cmd, std::string(compress.status().message()));

  absl::StatusOr<ModelConfig> model = ModelConfigFromFlags();
  if (!model.ok())
    return UsageError(cmd, std::string(model.status().message()));

  // One process per directory: a second backfill (or a run) on the same
  // state or snapshot dir is refused while this one holds them.
  absl::StatusOr<std::vector<std::unique_ptr<DirLock>>> locks =
      LockStateDirs(state_dir, snapshot_dir);
  if (!locks.ok()) return Failure(cmd, locks.status());

  absl::StatusOr<std::optional<BackfillPlan>> marker =
      ReadBackfillMarker(state_dir);
  if (!marker.ok()) return Failure(cmd, marker.status());
  if (marker->has_value() && !resume) {
    return Failure(
        cmd, absl::FailedPreconditionError(
                 state_dir +
                 " holds an interrupted backfill; continue it with --resume"));
  }
  if (!marker->has_value() && resume) {
    return Failure(cmd, absl::FailedPreconditionError(
                            "no interrupted backfill in " + state_dir));
  }
  std::error_code ec;
  if (!resume && std::filesystem::exists(state_dir + "/partitions", ec)) {
    return Failure(cmd, absl::FailedPreconditionError(
                            "backfill needs a new --state-dir; " + state_dir +
                            " already holds state"));
  }

  BackfillPlan plan;
  if (marker->has_value()) {
    plan = **marker;
    if (plan.topic != topic) {
      return Failure(cmd,
                     absl::FailedPreconditionError(
                         "the interrupted backfill is of topic " + plan.topic));
    }
  } else {
    absl::StatusOr<KafkaHandle> admin = NewAdminClient(*client);
    if (!admin.ok()) return Failure(cmd, admin.status());
    absl::StatusOr<BackfillPlan> planned = PlanBackfill(
        admin->get(), topic, from_ms, to_ms, SystemClock()->NowMs(), 15000);
    if (!planned.ok()) return Failure(cmd, planned.status());
    plan = *planned;
    if (plan.TotalMessages() == 0) {
      spdlog::warn(
          "nothing to replay in {}: {} (the snapshot will hold no events)",
          topic,
          from_ms >= 0 ? "--from-time is at or after the end of every "
                         "partition"
                       : "every partition is empty");
    }
    if (absl::Status s = WriteBackfillMarker(state_dir, plan); !s.ok())
      return Failure(cmd, s);
  }

  auto registry = std::make_shared<prometheus::Registry>();
  Metrics metrics(registry);
  Health health;
  health.SetStarted(SystemClock()->MonotonicMs());
  std::unique_ptr<OpsServer> ops;
  const std::string listen = absl::GetFlag(FLAGS_backfill_metrics_listen);
  if (!listen.empty()) {
    absl::StatusOr<std::unique_ptr<OpsServer>> started =
        OpsServer::Start(listen, &metrics, &health, SystemClock());
    if (!started.ok()) return Failure(cmd, started.status());
    ops = std::move(*started);
  }
  spdlog::info(
      "encore {} backfill of {}: {} messages in {} partitions{}; "
      "configuration: {}",
      ENCORE_VERSION, topic, plan.TotalMessages(), plan.start.size(),
      resume ? " (resumed)" : "",
      EffectiveConfiguration({"cmd_backfill.cc", "state_flags.cc"}));
  spdlog::info("memory limits in use (shared by the workers): {}",
               DescribeMemoryLimits(*memory));

  const bool bulk = absl::GetFlag(FLAGS_bulk);
  absl::StatusOr<std::unique_ptr<SnapshotPublisher>> publisher =
      SnapshotPublisher::Open(
          {snapshot_dir, absl::GetFlag(FLAGS_snapshot_keep)}, SystemClock(),
          topic);
  if (!publisher.ok()) return Failure(cmd, publisher.status());
  const std::string dlq = DeadLetterTopic(topic);

  EngineOptions options;
  ProcessorOptions& processing = options.processor;
  processing.topic = topic;
  processing.model = *model;
  processing.commit_interval_ms = 3'600'000;  // by size, not time
  processing.commit_max_events = absl::GetFlag(FLAGS_backfill_commit_events);
  if (absl::Status s = CheckModelOfStateDir(state_dir, processing.model);
      !s.ok()) {
    return Failure(cmd, s);
  }
  options.snapshot_interval_ms = INT64_MAX / 2;  // one snapshot, at the end
  options.until_end = true;
  options.max_messages_per_second = absl::GetFlag(FLAGS_max_events_per_second);

  absl::StatusOr<int> wanted = WorkersFromFlags();
  if (!wanted.ok())
    return UsageError(cmd, std::string(wanted.status().message()));
  // No more workers than partitions with work to do.
  const int workers = std::max<int>(
      1, std::min<int>(*wanted,
                       static_cast<int>(SplitPlan(plan, *wanted).size())));
  const MemoryLimits share = ShareOf(*memory, workers);
  processing.cache_max_users = share.cache_max_users;
  processing.cache_max_bytes = share.cache_max_bytes;
  // Bulk mode makes commits durable by flushes, shared out per worker.
  options.flush_every_messages = std::max<int64_t>(
      absl::GetFlag(FLAGS_backfill_flush_events) / workers, 1);
  // The events topic exists (planned from it, or checked again on
  // --resume) before its dead-letter topic is created.
  absl::StatusOr<int32_t> topics_ready = PrepareTopics(
      *client,
      {.topic = topic, .dead_letter_topic = dlq, .wait_for_topic = false},
      g_stop, [&health](const std::string& why) { health.SetWaiting(why); });
  if (absl::IsCancelled(topics_ready.status())) {
    spdlog::warn(
        "backfill interrupted during start-up; continue with --resume");
    return 3;
  }
  if (!topics_ready.ok()) return Failure(cmd, topics_ready.status());
  options.processor.topic_partitions = *topics_ready;
  (*publisher)->set_topic_partitions(*topics_ready);
  absl::StatusOr<EngineWorkers> parts =
      OpenEngineWorkers(workers, state_dir, topic,
                        StoreOptions(share, bulk, *compress), *client, dlq);
  if (!parts.ok()) return Failure(cmd, parts.status());
  Engine engine(options, parts->Parts(), publisher->get(), SystemClock(),
                &metrics, &health);
  std::vector<int32_t> partitions;
  for (const auto& [p, unused] : plan.start) partitions.push_back(p);
  absl::StatusOr<std::map<int32_t, int64_t>> stored =
      engine.OnAssigned(partitions);
  if (!stored.ok()) return Failure(cmd, stored.status());
  engine.SetEndOffsets(plan.end);
  const int64_t done_before = Done(plan, engine.PendingOffsets());

  KafkaSourceOptions source_options;
  source_options.client = *client;
  ApplyKafkaQueueLimit(share, &source_options.client.properties);
  ApplyWorkerLanes(workers, client->properties,
                   &source_options.client.properties);
  source_options.topic = topic;
  source_options.group = "encore-backfill";  // never joined: assign mode
  for (int32_t p : partitions) {
    const int64_t s = stored->at(p);
    source_options.assignment[p] =
        s >= 0 ? std::max(s, plan.start.at(p)) : plan.start.at(p);
  }
  ReportSourceHealth(&metrics, &health, &source_options);
  absl::StatusOr<std::unique_ptr<MessageSource>> source =
      NewKafkaSource(source_options, &engine);
  if (!source.ok()) return Failure(cmd, source.status());
  spdlog::info("{} worker(s) over {} partitions", workers, partitions.size());

  Progress progress(absl::GetFlag(FLAGS_progress), plan.TotalMessages());
  const auto start = std::chrono::steady_clock::now();
  engine.SetAfterStep(
      [&] { progress.Update(Done(plan, engine.PendingOffsets())); });
  absl::Status status = engine.Run(**source, g_stop);
  source->reset();
  const int64_t done = Done(plan, engine.PendingOffsets());
  if (!status.ok()) {
    return Failure(
        cmd, absl::Status(status.code(),
                          std::string(status.message()) +
                              " (the backfill can continue with --resume)"));
  }
  progress.Update(done, /*final=*/true);
  if (!engine.ReachedEnd()) {
    spdlog::warn(
        "backfill interrupted at {}/{} messages; state is committed, continue "
        "with --resume",
        done, plan.TotalMessages());
    return 3;
  }

  // The snapshot, of all partitions at once as `encore run` would publish
  // it, from what the workers committed.
  if (absl::Status s = engine.PublishSnapshot(); !s.ok())
    return Failure(cmd, s);
  if (absl::Status s = RemoveBackfillMarker(state_dir); !s.ok())
    return Failure(cmd, s);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  spdlog::info(
      "backfill complete: {} messages in {:.2f} s ({:.0f} events/s); `encore "
      "run --state-dir {}` continues live",
      done - done_before, secs, (done - done_before) / std::max(secs, 1e-9),
      state_dir);
  return 0;
}

}  // namespace encore::cli
