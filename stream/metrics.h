// The processing loop's Prometheus metrics (names in README.md#metrics).
//
// Thread safety: prometheus-cpp metrics are thread-safe; the Metrics object
// is created once and outlives everything that updates it.
#ifndef ENCORE_STREAM_METRICS_H_
#define ENCORE_STREAM_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>

#include "stream/validation.h"

namespace encore {

class Metrics {
 public:
  explicit Metrics(std::shared_ptr<prometheus::Registry> registry);

  prometheus::Registry& registry() { return *registry_; }

  prometheus::Counter& events_consumed;
  prometheus::Counter& events_applied;
  prometheus::Counter& rejected(RejectReason reason) {
    return *rejected_[static_cast<int>(reason)];
  }
  prometheus::Counter& commits;
  prometheus::Counter& commit_failures;
  prometheus::Histogram& commit_duration;
  prometheus::Histogram& commit_users;
  prometheus::Counter& snapshots;
  prometheus::Counter& snapshot_failures;
  prometheus::Gauge& snapshot_last_success;
  prometheus::Gauge& snapshot_users;
  prometheus::Counter& dead_letters;
  prometheus::Gauge& cached_users;
  prometheus::Gauge& dirty_users;
  prometheus::Gauge& assigned_partitions;
  prometheus::Counter& rebalances;
  prometheus::Gauge& store_healthy;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::array<prometheus::Counter*, kNumRejectReasons> rejected_{};
};

}  // namespace encore

#endif  // ENCORE_STREAM_METRICS_H_
