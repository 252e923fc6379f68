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
#include "stream/health.h"
#include "stream/kafka_source.h"
#include "stream/ops_server.h"
#include "stream/processor.h"

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
ABSL_FLAG(int, backfill_workers, 0,
          "Partitions are processed by this many workers in parallel, each "
          "with its own consumer, store and share of the memory limits (0 = "
          "one per CPU core; never more than the partitions).");

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

// One worker's share of a backfill: some partitions, with a store, a
// dead-letter producer, a processor and a consumer of its own, so that
// workers share nothing but the metrics and the health (both thread-safe)
// and run on separate cores. Partitions are independent units of state
// (DESIGN rule 3), so the result does not depend on how many workers there
// are or how partitions are spread over them.
struct Worker {
  std::vector<int32_t> partitions;
  int64_t planned = 0;  // messages of its partitions in the plan
  std::unique_ptr<StateStore> store;
  std::unique_ptr<DeadLetterSink> dead_letters;
  std::unique_ptr<Processor> processor;
  std::unique_ptr<MessageSource> source;
  int64_t done_before = 0;       // messages already applied (resume)
  std::atomic<int64_t> done{0};  // messages applied, for progress
  std::atomic<bool> exited{false};
  absl::Status status;       // why it stopped early, if it did
  bool reached_end = false;  // every partition to its end offset
};

// A worker's equal share of the memory limits.
MemoryLimits ShareOf(const MemoryLimits& limits, int workers) {
  const auto n = static_cast<size_t>(workers);
  MemoryLimits share;
  share.block_cache_bytes = limits.block_cache_bytes / n;
  share.write_buffer_bytes = limits.write_buffer_bytes / n;
  share.cache_max_bytes = limits.cache_max_bytes / n;
  share.cache_max_users = std::max<size_t>(limits.cache_max_users / n, 1);
  share.kafka_queue_bytes = limits.kafka_queue_bytes / n;
  return share;
}

RocksStoreOptions StoreOptions(const MemoryLimits& limits, bool bulk) {
  RocksStoreOptions o;
  o.block_cache_bytes = limits.block_cache_bytes;
  o.write_buffer_bytes = limits.write_buffer_bytes;
  o.memtable_bytes = bulk ? 128 << 20 : 32 << 20;
  o.disable_wal = bulk;
  o.sync_commits = !bulk;
  return o;
}

// How a worker runs: the same knobs for all of them.
struct WorkerPace {
  bool bulk = true;
  double max_rate = 0;      // this worker's messages/s; 0 = unlimited
  int64_t flush_every = 0;  // bulk: flush after this many messages
};

// Polls and applies the worker's partitions to their end offsets, committing
// by the processor's policy (and flushing, in bulk mode, every
// pace.flush_every messages), until done, `stop`, or an error; then a final
// commit and flush. Sets `stop` when it fails, so the others stop too.
void RunWorker(Worker& w, const BackfillPlan& plan, const WorkerPace& pace,
               Health* health, std::atomic<bool>& stop) {
  Processor& processor = *w.processor;
  const auto start = std::chrono::steady_clock::now();
  // Throttled, batches stay small so the pace is even.
  const int batch_size =
      pace.max_rate > 0
          ? static_cast<int>(std::clamp(pace.max_rate / 20, 1.0, 10000.0))
          : 10'000;
  std::vector<Message> batch;
  absl::Status status;
  int64_t flushed_at = w.done_before;
  while (!stop.load() && !g_stop.load() && !processor.ReachedEnd()) {
    status = w.source->Poll(batch_size, 100, &batch);
    if (status.ok()) status = processor.HandleBatch(batch);
    if (!status.ok()) break;
    if (health != nullptr)
      health->RecordUncommitted(processor.HasUncommitted());
    int64_t now_done = Done(plan, processor.PendingOffsets());
    if (processor.CommitDue()) {
      status = processor.Commit();
      if (!status.ok()) break;
      if (pace.bulk && now_done - flushed_at >= pace.flush_every) {
        status = w.store->Flush();
        if (!status.ok()) break;
        flushed_at = now_done;
      }
    }
    w.done.store(now_done);
    if (pace.max_rate > 0) {
      std::this_thread::sleep_until(
          start +
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
              std::chrono::duration<double>((now_done - w.done_before) /
                                            pace.max_rate)));
    }
  }
  if (status.ok()) status = processor.Commit();
  if (status.ok()) status = w.store->Flush();
  w.done.store(Done(plan, processor.PendingOffsets()));
  w.reached_end = processor.ReachedEnd();
  w.source->Close().IgnoreError();
  if (!status.ok()) {
    w.status = status;
    stop.store(true);
  }
  // Everything is committed and flushed: close the partitions (the snapshot
  // opens them again) and free the cache here, on the worker's core, rather
  // than one worker after another on the main thread.
  w.source.reset();
  w.processor.reset();
  w.store.reset();
  w.exited.store(true);
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
           CheckAtLeast("backfill-workers",
                        absl::GetFlag(FLAGS_backfill_workers), 0),
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
    absl::StatusOr<KafkaHandle> admin = NewProducer(*client);
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

  ProcessorOptions options;
  options.topic = topic;
  options.model = *model;
  options.commit_interval_ms = 3'600'000;  // by size, not time
  options.commit_max_events = absl::GetFlag(FLAGS_backfill_commit_events);
  options.snapshot_interval_ms = INT64_MAX / 2;  // one snapshot, at the end

  int workers = absl::GetFlag(FLAGS_backfill_workers);
  if (workers == 0)
    workers =
        std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // No more workers than partitions: SplitPlan makes at most one group each.
  std::vector<std::vector<int32_t>> groups = SplitPlan(plan, workers);
  workers = static_cast<int>(groups.size());
  const MemoryLimits share = ShareOf(*memory, workers);
  std::vector<std::unique_ptr<Worker>> pool;
  for (std::vector<int32_t>& group : groups) {
    auto& w = pool.emplace_back(std::make_unique<Worker>());
    for (int32_t p : group) w->planned += plan.end.at(p) - plan.start.at(p);
    w->partitions = std::move(group);
  }
  options.cache_max_users = share.cache_max_users;
  options.cache_max_bytes = share.cache_max_bytes;
  const double max_rate = absl::GetFlag(FLAGS_max_events_per_second);
  for (auto& w : pool) {
    absl::StatusOr<std::unique_ptr<StateStore>> store =
        OpenRocksStateStore(state_dir, topic, StoreOptions(share, bulk));
    if (!store.ok()) return Failure(cmd, store.status());
    w->store = std::move(*store);
    absl::StatusOr<std::unique_ptr<DeadLetterSink>> dead_letters =
        NewKafkaDeadLetterSink(*client, dlq);
    if (!dead_letters.ok()) return Failure(cmd, dead_letters.status());
    w->dead_letters = std::move(*dead_letters);
    w->processor = std::make_unique<Processor>(
        options, w->store.get(), nullptr, w->dead_letters.get(), SystemClock(),
        &metrics, &health);
    absl::StatusOr<std::map<int32_t, int64_t>> stored =
        w->processor->OnAssigned(w->partitions);
    if (!stored.ok()) return Failure(cmd, stored.status());
    w->processor->SetEndOffsets(plan.end);
    w->done_before = Done(plan, w->processor->PendingOffsets());
    w->done.store(w->done_before);

    KafkaSourceOptions source_options;
    source_options.client = *client;
    ApplyKafkaQueueLimit(share, &source_options.client.properties);
    source_options.topic = topic;
    source_options.group = "encore-backfill";  // never joined: assign mode
    for (int32_t p : w->partitions) {
      const int64_t s = stored->at(p);
      source_options.assignment[p] =
          s >= 0 ? std::max(s, plan.start.at(p)) : plan.start.at(p);
    }
    ReportSourceHealth(&metrics, &health, &source_options);
    absl::StatusOr<std::unique_ptr<MessageSource>> source =
        NewKafkaSource(source_options, w->processor.get());
    if (!source.ok()) return Failure(cmd, source.status());
    w->source = std::move(*source);
  }
  spdlog::info("{} worker(s): {}", workers, [&pool] {
    std::string text;
    for (const auto& w : pool) {
      absl::StrAppend(&text, text.empty() ? "" : "; ", "partitions ",
                      absl::StrJoin(w->partitions, ","), " (", w->planned,
                      " messages)");
    }
    return text;
  }());

  Progress progress(absl::GetFlag(FLAGS_progress), plan.TotalMessages());
  const auto start = std::chrono::steady_clock::now();
  const int64_t total = plan.TotalMessages();
  const int64_t flush_every = absl::GetFlag(FLAGS_backfill_flush_events);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  int64_t done_before = 0;
  for (auto& w : pool) {
    done_before += w->done_before;
    // The throttle and the flush interval are shared in proportion to the
    // work, so every worker keeps the same pace.
    const double part =
        total > 0 ? static_cast<double>(w->planned) / total : 1.0;
    WorkerPace pace{
        bulk, max_rate * part,
        std::max<int64_t>(static_cast<int64_t>(flush_every * part), 1)};
    threads.emplace_back([&w = *w, &plan, pace, &health, &stop] {
      RunWorker(w, plan, pace, &health, stop);
    });
  }
  auto sum_done = [&pool] {
    int64_t done = 0;
    for (const auto& w : pool) done += w->done.load();
    return done;
  };
  auto all_exited = [&pool] {
    return std::all_of(pool.begin(), pool.end(),
                       [](const auto& w) { return w->exited.load(); });
  };
  while (!all_exited()) {
    // Progress from this thread; the workers only publish their counts.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    progress.Update(sum_done());
  }
  for (auto& t : threads) t.join();

  absl::Status status;
  for (auto& w : pool) status.Update(w->status);
  const int64_t done = sum_done();
  bool reached_end = true;
  for (auto& w : pool) reached_end = reached_end && w->reached_end;
  if (!status.ok()) {
    health.SetFatal(status.ToString());
    return Failure(
        cmd, absl::Status(status.code(),
                          std::string(status.message()) +
                              " (the backfill can continue with --resume)"));
  }
  progress.Update(done, /*final=*/true);
  if (!reached_end) {
    spdlog::warn(
        "backfill interrupted at {}/{} messages; state is committed, continue "
        "with --resume",
        done, plan.TotalMessages());
    return 3;
  }

  // The snapshot, of all partitions at once as `encore run` would publish
  // it, from what the workers committed.
  absl::StatusOr<std::unique_ptr<StateStore>> store =
      OpenRocksStateStore(state_dir, topic, StoreOptions(*memory, bulk));
  if (!store.ok()) return Failure(cmd, store.status());
  options.cache_max_users = memory->cache_max_users;
  options.cache_max_bytes = memory->cache_max_bytes;
  Processor processor(options, store->get(), publisher->get(),
                      pool.front()->dead_letters.get(), SystemClock(), &metrics,
                      &health);
  std::vector<int32_t> partitions;
  for (const auto& [p, unused] : plan.start) partitions.push_back(p);
  // Reopening the partitions for the snapshot is not news after 100 %:
  // its per-partition "assigned" lines stay out of the log.
  const spdlog::level::level_enum level = spdlog::get_level();
  if (level < spdlog::level::warn) spdlog::set_level(spdlog::level::warn);
  absl::Status reopened = processor.OnAssigned(partitions).status();
  spdlog::set_level(level);
  if (!reopened.ok()) return Failure(cmd, reopened);
  if (absl::Status s = processor.PublishSnapshot(); !s.ok())
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
