// Flags of the commands that keep state (run, backfill): where the state and
// dead letters go, memory budgets, and the model parameters.
#include "stream/cli/state_flags.h"

#include <algorithm>
#include <filesystem>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/gauge.h"
#include "state/allocator.h"
#include "state/model.h"
#include "state/model_record.h"
#include "state/status_macros.h"
#include "stream/cli/common.h"
#include "stream/kafka_dead_letter.h"
#include "stream/usable_cores.h"

ABSL_FLAG(std::string, state_dir, "", "Directory of the RocksDB state.");
ABSL_FLAG(std::string, dead_letter_topic, "",
          "Topic for rejected messages (default: <topic>.dlq).");
ABSL_FLAG(int, snapshot_keep, 5, "Snapshots kept for rollback.");
ABSL_FLAG(uint64_t, cache_max_users, 1000000,
          "Users kept in the write-back cache.");
ABSL_FLAG(uint64_t, block_cache_mb, 256,
          "RocksDB block cache, shared (memtables are charged to it).");
ABSL_FLAG(uint64_t, cache_max_mb, 256,
          "Write-back cache bound, MiB of estimated user state.");
ABSL_FLAG(uint64_t, memory_budget_mb, 0,
          "Memory budget, MiB: 35 % RocksDB block cache (half of it "
          "memtables), 25 % write-back cache, 15 % (at most 160 MiB) "
          "librdkafka's prefetch queue, the rest slack. Replaces "
          "--block-cache-mb, --write-buffer-mb and --cache-max-mb; 0 = use "
          "those.");
ABSL_FLAG(double, prior_alpha, 1.0, "Beta prior alpha of every arm.");
ABSL_FLAG(double, prior_beta, 1.0, "Beta prior beta of every arm.");
ABSL_FLAG(double, arm_half_life_h, 168,
          "Half-life of arm evidence in event-time hours; 0 = never forget.");
ABSL_FLAG(uint32_t, max_arms_per_user, 64, "Arms kept per user.");
ABSL_FLAG(std::string, state_compression, "lz4",
          "Compression of the state's RocksDB files: lz4, or none (less CPU "
          "when most events miss the cache, ~2.5x the disk and snapshot "
          "bytes).");
ABSL_FLAG(int, workers, 0,
          "Partitions are processed by this many workers in parallel, each "
          "with its own store and share of the memory limits (0 = the usable "
          "cores: the CPU affinity mask capped by a cgroup CPU quota).");
ABSL_FLAG(double, feature_half_life_h, 168,
          "Half-life of the decayed user features, event-time hours.");
ABSL_FLAG(double, session_gap_min, 30,
          "Inactivity (event-time minutes) that starts a new session.");
ABSL_FLAG(double, attribution_window_min, 30,
          "Event-time minutes within which a play or skip is attributed to "
          "its impression; unanswered impressions then count as reward 0.");
ABSL_FLAG(double, lateness_h, 24,
          "Events more than this many hours behind their partition's "
          "watermark are rejected as late.");
ABSL_FLAG(uint32_t, top_artists, 20, "Top artists kept per user (K).");
ABSL_FLAG(uint32_t, recent_plays, 50, "Recently played tracks per user.");
ABSL_FLAG(uint32_t, max_arms_per_partition, 10000,
          "Arms with population statistics kept per partition.");
ABSL_FLAG(double, prior_strength, 4.0,
          "Weight (pseudo-rewards) of the population prior of a user's arm.");

namespace encore::cli {

absl::Status CheckModelOfStateDir(const std::string& state_dir,
                                  const ModelConfig& model) {
  absl::StatusOr<std::vector<ModelMismatch>> diff =
      CheckOrRecordModel(state_dir, model);
  if (!diff.ok()) return diff.status();
  if (diff->empty()) return absl::OkStatus();
  static const std::map<std::string, std::string> kFlags = {
      {"prior_alpha", "--prior-alpha"},
      {"prior_beta", "--prior-beta"},
      {"arm_half_life_ms", "--arm-half-life-h"},
      {"max_arms_per_user", "--max-arms-per-user"},
      {"feature_half_life_ms", "--feature-half-life-h"},
      {"session_gap_ms", "--session-gap-min"},
      {"attribution_window_ms", "--attribution-window-min"},
      {"lateness_ms", "--lateness-h"},
      {"top_artists", "--top-artists"},
      {"recent_plays", "--recent-plays"},
      {"max_arms_per_partition", "--max-arms-per-partition"},
  };
  std::string what;
  for (const ModelMismatch& m : *diff) {
    auto flag = kFlags.find(m.field);
    absl::StrAppend(&what, what.empty() ? "" : "; ",
                    flag != kFlags.end() ? flag->second + " (" + m.field + ")"
                                         : m.field + " (no flag)",
                    ": the state dir has ", m.recorded, ", this run ",
                    m.requested);
  }
  return absl::FailedPreconditionError(absl::StrCat(
      state_dir, " was written with other model parameters: ", what,
      ". Run with the recorded values (", state_dir,
      "/model.json) or replay the topic into a new state dir"));
}

absl::StatusOr<ModelConfig> ModelConfigFromFlags() {
  // Checked here, by flag name, before conversion: a negative half-life or
  // window would invert the model (evidence growing instead of decaying).
  RETURN_IF_ERROR(
      CheckAbove("prior-alpha", absl::GetFlag(FLAGS_prior_alpha), 0));
  RETURN_IF_ERROR(CheckAbove("prior-beta", absl::GetFlag(FLAGS_prior_beta), 0));
  RETURN_IF_ERROR(
      CheckAtLeast("arm-half-life-h", absl::GetFlag(FLAGS_arm_half_life_h), 0));
  RETURN_IF_ERROR(CheckAbove("feature-half-life-h",
                             absl::GetFlag(FLAGS_feature_half_life_h), 0));
  RETURN_IF_ERROR(
      CheckAbove("session-gap-min", absl::GetFlag(FLAGS_session_gap_min), 0));
  RETURN_IF_ERROR(CheckAbove("attribution-window-min",
                             absl::GetFlag(FLAGS_attribution_window_min), 0));
  RETURN_IF_ERROR(CheckAbove("lateness-h", absl::GetFlag(FLAGS_lateness_h), 0));
  RETURN_IF_ERROR(
      CheckAbove("prior-strength", absl::GetFlag(FLAGS_prior_strength), 0));
  RETURN_IF_ERROR(CheckAbove("max-arms-per-user",
                             absl::GetFlag(FLAGS_max_arms_per_user), 0));
  RETURN_IF_ERROR(
      CheckAbove("top-artists", absl::GetFlag(FLAGS_top_artists), 0));
  RETURN_IF_ERROR(
      CheckAbove("recent-plays", absl::GetFlag(FLAGS_recent_plays), 0));
  RETURN_IF_ERROR(CheckAbove("max-arms-per-partition",
                             absl::GetFlag(FLAGS_max_arms_per_partition), 0));
  ModelConfig model;
  model.prior_alpha = absl::GetFlag(FLAGS_prior_alpha);
  model.prior_beta = absl::GetFlag(FLAGS_prior_beta);
  model.arm_half_life_ms =
      static_cast<int64_t>(absl::GetFlag(FLAGS_arm_half_life_h) * kHourMs);
  model.max_arms_per_user = absl::GetFlag(FLAGS_max_arms_per_user);
  model.feature_half_life_ms =
      static_cast<int64_t>(absl::GetFlag(FLAGS_feature_half_life_h) * kHourMs);
  model.session_gap_ms =
      static_cast<int64_t>(absl::GetFlag(FLAGS_session_gap_min) * 60'000);
  model.attribution_window_ms = static_cast<int64_t>(
      absl::GetFlag(FLAGS_attribution_window_min) * 60'000);
  model.lateness_ms =
      static_cast<int64_t>(absl::GetFlag(FLAGS_lateness_h) * kHourMs);
  model.top_artists = absl::GetFlag(FLAGS_top_artists);
  model.recent_plays = absl::GetFlag(FLAGS_recent_plays);
  model.max_arms_per_partition = absl::GetFlag(FLAGS_max_arms_per_partition);
  model.prior_strength = absl::GetFlag(FLAGS_prior_strength);
  absl::Status s = model.Validate();
  if (!s.ok()) return s;
  return model;
}

absl::StatusOr<MemoryLimits> MemoryLimitsFromFlags(size_t write_buffer_bytes) {
  constexpr size_t kMiB = size_t{1} << 20;
  MemoryLimits limits;
  limits.cache_max_users = absl::GetFlag(FLAGS_cache_max_users);
  const size_t budget_mb = absl::GetFlag(FLAGS_memory_budget_mb);
  if (budget_mb == 0) {
    limits.block_cache_bytes = absl::GetFlag(FLAGS_block_cache_mb) * kMiB;
    limits.write_buffer_bytes = write_buffer_bytes;
    limits.cache_max_bytes = absl::GetFlag(FLAGS_cache_max_mb) * kMiB;
  } else {
    for (const char* name :
         {"block_cache_mb", "write_buffer_mb", "cache_max_mb"}) {
      if (FlagGiven(name)) {  // given at all, even at its default value
        std::string shown = name;
        std::replace(shown.begin(), shown.end(), '_', '-');
        return absl::InvalidArgumentError(
            absl::StrCat("--memory-budget-mb replaces --", shown,
                         "; give one or the other"));
      }
    }
    if (budget_mb < 32) {
      return absl::InvalidArgumentError("--memory-budget-mb must be >= 32");
    }
    const size_t budget = budget_mb * kMiB;
    limits.block_cache_bytes = budget / 100 * kBlockCacheShare;
    limits.write_buffer_bytes = limits.block_cache_bytes / 2;
    limits.cache_max_bytes = budget / 100 * kWriteBackCacheShare;
    limits.kafka_queue_bytes =
        std::min(budget / 100 * kKafkaQueueShare, 160 * kMiB);
  }
  if (limits.block_cache_bytes == 0 || limits.write_buffer_bytes == 0 ||
      limits.cache_max_bytes == 0 || limits.cache_max_users == 0) {
    return absl::InvalidArgumentError("memory limits must be > 0");
  }
  return limits;
}

std::string DescribeMemoryLimits(const MemoryLimits& limits) {
  auto mib = [](size_t bytes) {
    return static_cast<double>(bytes) / (1 << 20);
  };
  return absl::StrCat("block_cache_mb=", mib(limits.block_cache_bytes),
                      " write_buffer_mb=", mib(limits.write_buffer_bytes),
                      " cache_max_mb=", mib(limits.cache_max_bytes),
                      " cache_max_users=", limits.cache_max_users,
                      " kafka_queue_mb=",
                      limits.kafka_queue_bytes == 0
                          ? std::string("librdkafka default")
                          : absl::StrCat(mib(limits.kafka_queue_bytes)),
                      " allocator=", AllocatorDescription());
}

void ApplyKafkaQueueLimit(const MemoryLimits& limits,
                          std::map<std::string, std::string>* properties) {
  if (limits.kafka_queue_bytes == 0) return;
  const size_t counted = limits.kafka_queue_bytes / 8;
  properties->try_emplace("queued.max.messages.kbytes",
                          std::to_string(std::max<size_t>(counted / 1024, 1)));
  if (properties->count("fetch.message.max.bytes") == 0) {
    properties->try_emplace(
        "max.partition.fetch.bytes",
        std::to_string(std::clamp<size_t>(counted / 4, 64 << 10, 1 << 20)));
  }
}

void ApplyWorkerLanes(int workers,
                      const std::map<std::string, std::string>& given,
                      std::map<std::string, std::string>* properties) {
  if (workers < 2 || given.count("queued.max.messages.kbytes") > 0) return;
  constexpr size_t kDefaultKib = 65536;  // librdkafka's
  properties->try_emplace(
      "queued.max.messages.kbytes",
      std::to_string(kDefaultKib / static_cast<size_t>(workers)));
}

void ReportSourceHealth(Metrics* metrics, Health* health,
                        KafkaSourceOptions* options) {
  options->on_brokers_up = [metrics, health](int up) {
    metrics->kafka_brokers_up.Set(up);
    health->SetBrokersReachable(up > 0);
  };
  options->on_consumer_lag = [metrics](int32_t partition, int64_t lag) {
    metrics->consumer_lag(partition).Set(static_cast<double>(lag));
  };
}

MemoryLimits ShareOf(const MemoryLimits& limits, int workers) {
  const auto n = static_cast<size_t>(std::max(workers, 1));
  MemoryLimits share;
  share.block_cache_bytes = limits.block_cache_bytes / n;
  share.write_buffer_bytes = limits.write_buffer_bytes / n;
  share.cache_max_bytes = limits.cache_max_bytes / n;
  share.cache_max_users = std::max<size_t>(limits.cache_max_users / n, 1);
  // Each worker's partitions have a prefetch lane of their own.
  share.kafka_queue_bytes = limits.kafka_queue_bytes / n;
  return share;
}

absl::StatusOr<bool> StateCompressionFromFlags() {
  const std::string value = absl::GetFlag(FLAGS_state_compression);
  RETURN_IF_ERROR(CheckOneOf("state-compression", value, {"lz4", "none"}));
  return value == "lz4";
}

absl::StatusOr<int> WorkersFromFlags() {
  const int workers = absl::GetFlag(FLAGS_workers);
  if (workers < 0) {
    return absl::InvalidArgumentError(
        "--workers must be >= 0 (0 = one per "
        "usable core)");
  }
  return workers == 0 ? UsableCores() : workers;
}

std::vector<WorkerParts> EngineWorkers::Parts() const {
  std::vector<WorkerParts> parts;
  for (size_t i = 0; i < stores.size(); ++i) {
    parts.push_back({stores[i].get(), dead_letters[i].get()});
  }
  return parts;
}

absl::StatusOr<EngineWorkers> OpenEngineWorkers(
    int workers, const std::string& state_dir, const std::string& topic,
    const RocksStoreOptions& store_options, const KafkaClientConfig& client,
    const std::string& dead_letter_topic) {
  EngineWorkers out;
  for (int i = 0; i < workers; ++i) {
    absl::StatusOr<std::unique_ptr<StateStore>> store =
        OpenRocksStateStore(state_dir, topic, store_options);
    if (!store.ok()) return store.status();
    out.stores.push_back(std::move(*store));
    absl::StatusOr<std::unique_ptr<DeadLetterSink>> dead_letters =
        NewKafkaDeadLetterSink(client, dead_letter_topic);
    if (!dead_letters.ok()) return dead_letters.status();
    out.dead_letters.push_back(std::move(*dead_letters));
  }
  return out;
}

void RegisterBuildInfo(Metrics* metrics) {
  prometheus::BuildGauge()
      .Name("encore_build_info")
      .Help("encore's version; always 1.")
      .Register(metrics->registry())
      .Add({{"version", ENCORE_VERSION}})
      .Set(1);
}

absl::StatusOr<std::vector<std::unique_ptr<DirLock>>> LockStateDirs(
    const std::string& state_dir, const std::string& snapshot_dir) {
  std::vector<std::unique_ptr<DirLock>> locks;
  absl::StatusOr<std::unique_ptr<DirLock>> state =
      DirLock::Acquire(state_dir, "--state-dir");
  if (!state.ok()) return state.status();
  locks.push_back(std::move(*state));
  std::error_code ec;
  if (!std::filesystem::equivalent(state_dir, snapshot_dir, ec)) {
    absl::StatusOr<std::unique_ptr<DirLock>> snapshots =
        DirLock::Acquire(snapshot_dir, "--snapshot-dir");
    if (!snapshots.ok()) return snapshots.status();
    locks.push_back(std::move(*snapshots));
  }
  return locks;
}

std::string DeadLetterTopic(const std::string& topic) {
  const std::string flag = absl::GetFlag(FLAGS_dead_letter_topic);
  return flag.empty() ? topic + ".dlq" : flag;
}

}  // namespace encore::cli
