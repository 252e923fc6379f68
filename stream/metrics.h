// The processing loop's Prometheus metrics (names in README.md#metrics).
//
// Thread safety: prometheus-cpp metrics are thread-safe; the per-partition
// accessors may be called from the processing thread and from librdkafka's
// statistics callback. The Metrics object outlives everything that uses it.
#ifndef ENCORE_STREAM_METRICS_H_
#define ENCORE_STREAM_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>

#include "proto/event.pb.h"
#include "stream/validation.h"

namespace encore {

class Metrics {
 public:
  explicit Metrics(std::shared_ptr<prometheus::Registry> registry);

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() { return registry_; }

  prometheus::Counter& events_consumed;
  prometheus::Counter& applied(ListenEvent::Kind kind);
  prometheus::Counter& rejected(RejectReason reason) {
    return *rejected_[static_cast<int>(reason)];
  }
  prometheus::Counter& commits;
  prometheus::Counter& commit_failures;
  prometheus::Histogram& commit_duration;
  prometheus::Histogram& commit_users;
  prometheus::Counter& commit_bytes;
  prometheus::Histogram& event_commit_latency;
  prometheus::Gauge& last_commit_timestamp;
  prometheus::Counter& snapshots;
  prometheus::Counter& snapshot_failures;
  prometheus::Gauge& snapshot_last_success;
  prometheus::Histogram& snapshot_duration;
  prometheus::Gauge& snapshot_bytes;
  prometheus::Gauge& snapshot_users;
  prometheus::Gauge& snapshot_impressions_in_flight;
  prometheus::Counter& events_unroutable;
  prometheus::Counter& offsets_skipped;
  prometheus::Counter& checkpoint_uploads;
  prometheus::Counter& checkpoint_upload_failures;
  prometheus::Counter& checkpoint_fenced;
  prometheus::Counter& checkpoint_upload_bytes;
  prometheus::Gauge& checkpoint_last_upload;
  prometheus::Counter& checkpoint_restores;
  prometheus::Counter& checkpoint_refused;
  prometheus::Histogram& checkpoint_restore_duration;
  prometheus::Counter& dead_letters;
  prometheus::Counter& duplicates;
  prometheus::Counter& impressions_expired;
  prometheus::Counter& dead_letter_failures;
  prometheus::Gauge& cached_users;
  prometheus::Gauge& dirty_users;
  prometheus::Gauge& cache_bytes;
  prometheus::Gauge& cache_dirty_bytes;
  prometheus::Gauge& assigned_partitions;
  prometheus::Counter& rebalances;
  prometheus::Gauge& store_healthy;
  prometheus::Gauge& workers_stalled;
  prometheus::Gauge& ready;
  prometheus::Gauge& kafka_brokers_up;
  prometheus::Gauge& rocksdb_block_cache_usage;
  prometheus::Counter& rocksdb_stall_seconds;

  // Per-partition gauges, created on first use.
  prometheus::Gauge& consumer_lag(int32_t partition);
  prometheus::Gauge& event_time_lag(int32_t partition);
  prometheus::Gauge& rocksdb_estimated_keys(int32_t partition);
  prometheus::Gauge& rocksdb_live_sst_bytes(int32_t partition);
  prometheus::Gauge& rocksdb_memtable_bytes(int32_t partition);
  prometheus::Gauge& rocksdb_pending_compaction_bytes(int32_t partition);
  prometheus::Gauge& rocksdb_table_readers_bytes(int32_t partition);
  // Drops a revoked partition's series.
  void RemovePartition(int32_t partition);

 private:
  using GaugeFamily = prometheus::Family<prometheus::Gauge>;
  std::shared_ptr<prometheus::Registry> registry_;
  std::array<prometheus::Counter*, kNumRejectReasons> rejected_{};
  std::array<prometheus::Counter*, 4> applied_{};
  std::mutex partition_mu_;  // guards Add/Remove on the families below
  GaugeFamily* consumer_lag_;
  GaugeFamily* event_time_lag_;
  GaugeFamily* rocksdb_keys_;
  GaugeFamily* rocksdb_sst_;
  GaugeFamily* rocksdb_memtable_;
  GaugeFamily* rocksdb_pending_;
  GaugeFamily* rocksdb_readers_;
};

}  // namespace encore

#endif  // ENCORE_STREAM_METRICS_H_
