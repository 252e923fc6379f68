// Flags and wiring shared by the commands that keep state (encore run,
// encore backfill).
#ifndef ENCORE_STREAM_CLI_STATE_FLAGS_H_
#define ENCORE_STREAM_CLI_STATE_FLAGS_H_

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "state/dir_lock.h"
#include "state/model.h"
#include "state/state_store.h"
#include "stream/dead_letter.h"
#include "stream/engine.h"
#include "stream/health.h"
#include "stream/kafka_source.h"
#include "stream/metrics.h"

ABSL_DECLARE_FLAG(std::string, state_dir);
ABSL_DECLARE_FLAG(std::string, dead_letter_topic);
ABSL_DECLARE_FLAG(int, snapshot_keep);
ABSL_DECLARE_FLAG(uint64_t, cache_max_users);
ABSL_DECLARE_FLAG(uint64_t, block_cache_mb);
ABSL_DECLARE_FLAG(uint64_t, cache_max_mb);
ABSL_DECLARE_FLAG(uint64_t, memory_budget_mb);
ABSL_DECLARE_FLAG(double, prior_alpha);
ABSL_DECLARE_FLAG(double, prior_beta);
ABSL_DECLARE_FLAG(double, arm_half_life_h);
ABSL_DECLARE_FLAG(uint32_t, max_arms_per_user);
ABSL_DECLARE_FLAG(int, workers);
ABSL_DECLARE_FLAG(std::string, state_compression);

namespace encore::cli {

// The model parameters from --prior-alpha, --prior-beta, --arm-half-life-h
// and --max-arms-per-user; InvalidArgument if out of range.
absl::StatusOr<ModelConfig> ModelConfigFromFlags();

// Records the state-shaping model parameters in `state_dir` on its first
// use (state/model_record.h); afterwards FailedPrecondition when `model`
// differs, naming the flag (or the parameter, for those without one) and
// the recorded and requested values. REQUIRES: state_dir exists.
absl::Status CheckModelOfStateDir(const std::string& state_dir,
                                  const ModelConfig& model);

// What bounds a stateful command's memory (DESIGN rule 4), whatever the
// user count.
struct MemoryLimits {
  size_t block_cache_bytes = 0;   // RocksDB, shared by all partitions
  size_t write_buffer_bytes = 0;  // memtables, charged inside the above
  size_t cache_max_bytes = 0;     // the processor's write-back cache
  size_t cache_max_users = 0;
  // librdkafka's memory for prefetched messages; 0 = its defaults.
  size_t kafka_queue_bytes = 0;
};

// The split of --memory-budget-mb, in percent.
inline constexpr int kBlockCacheShare = 35;  // half of it the write buffers
// The write-back cache is charged its records' real heap (state/
// user_record.h); what glibc keeps of the memory its evictions free comes on
// top of that, out of the slack.
inline constexpr int kWriteBackCacheShare = 25;
inline constexpr int kKafkaQueueShare = 15;  // at most 160 MiB
// The rest (25 % or more) is slack for allocator fragmentation and for what
// the cache's estimate misses between commits.

// From --memory-budget-mb when it is set (the split above), else from
// --block-cache-mb, --cache-max-mb and `write_buffer_bytes` (the command's
// own). --cache-max-users applies either way. InvalidArgument if
// --memory-budget-mb is combined with --block-cache-mb, --write-buffer-mb or
// --cache-max-mb, is below 32, or a limit is 0.
absl::StatusOr<MemoryLimits> MemoryLimitsFromFlags(size_t write_buffer_bytes);

// One worker's equal share of `limits` among `workers` (each share's user
// bound at least 1).
MemoryLimits ShareOf(const MemoryLimits& limits, int workers);

// --workers, or the usable cores (affinity mask and cgroup CPU quota) when
// it is 0; InvalidArgument if negative.
absl::StatusOr<int> WorkersFromFlags();

// --state-compression as RocksStoreOptions::compress; InvalidArgument
// unless it is lz4 or none.
absl::StatusOr<bool> StateCompressionFromFlags();

// What the engine's workers work with, owned here: per worker a store over
// `state_dir` (its partitions only) and a dead-letter producer.
struct EngineWorkers {
  std::vector<std::unique_ptr<StateStore>> stores;
  std::vector<std::unique_ptr<DeadLetterSink>> dead_letters;
  std::vector<WorkerParts> Parts() const;
};
absl::StatusOr<EngineWorkers> OpenEngineWorkers(
    int workers, const std::string& state_dir, const std::string& topic,
    const RocksStoreOptions& store_options, const KafkaClientConfig& client,
    const std::string& dead_letter_topic);

// Registers encore_build_info{version} = 1 in `metrics`.
void RegisterBuildInfo(Metrics* metrics);
// "block_cache_mb=.. write_buffer_mb=.. cache_max_mb=.. cache_max_users=..
// kafka_queue_mb=.." (fractional MiB kept): the limits in use, for the
// start-up log (the flags alone do not say what a budget became).
std::string DescribeMemoryLimits(const MemoryLimits& limits);

// Bounds each prefetch lane (a worker's; see ApplyWorkerLanes) to
// limits.kafka_queue_bytes, if set, in the librdkafka `properties`: librdkafka
// holds ~6-8x the payload bytes it counts for ~110-byte events (an op of ~500 B
// per message, fetch buffers), so queued.max.messages.kbytes is an eighth of
// it, and max.partition.fetch.bytes a quarter of that (bounds the overshoot of
// each partition's fetch). Properties already set (--kafka-config) win.
void ApplyKafkaQueueLimit(const MemoryLimits& limits,
                          std::map<std::string, std::string>* properties);

// Each worker reads its partitions from a lane of its own (the engine's
// RouteLanes), and librdkafka bounds each lane's prefetch by
// queued.max.messages.kbytes separately: unless `given` (the --kafka-config
// properties; such a value holds for each lane) or the memory budget
// (ApplyKafkaQueueLimit with a worker's ShareOf) set it, librdkafka's
// default of 64 MiB is divided among the `workers` lanes, so the process
// prefetches no more than with one consumer queue.
void ApplyWorkerLanes(int workers,
                      const std::map<std::string, std::string>& given,
                      std::map<std::string, std::string>* properties);

// Locks --state-dir and --snapshot-dir (once if they are the same) for as
// long as the returned locks live: a stateful command holds them for its
// whole run, so a second process on either directory is refused with the
// holder's pid and host (FailedPrecondition; see state/dir_lock.h).
absl::StatusOr<std::vector<std::unique_ptr<DirLock>>> LockStateDirs(
    const std::string& state_dir, const std::string& snapshot_dir);

// --dead-letter-topic, or <topic>.dlq.
std::string DeadLetterTopic(const std::string& topic);

// Feeds a source's reports (brokers reachable, consumer lag per partition)
// to `metrics` and `health`, which must outlive the source.
void ReportSourceHealth(Metrics* metrics, Health* health,
                        KafkaSourceOptions* options);

}  // namespace encore::cli

#endif  // ENCORE_STREAM_CLI_STATE_FLAGS_H_
