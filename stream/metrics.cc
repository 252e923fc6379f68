#include "stream/metrics.h"

#include <string>

namespace encore {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

prometheus::Counter& Counter(prometheus::Registry& r, const std::string& name,
                             const std::string& help) {
  return BuildCounter().Name(name).Help(help).Register(r).Add({});
}

prometheus::Gauge& Gauge(prometheus::Registry& r, const std::string& name,
                         const std::string& help) {
  return BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

Metrics::Metrics(std::shared_ptr<prometheus::Registry> registry)
    : events_consumed(Counter(*registry, "encore_events_consumed_total",
                              "Messages read from the input topic.")),
      events_applied(Counter(*registry, "encore_events_applied_total",
                             "Valid events applied to user state.")),
      commits(Counter(*registry, "encore_commits_total",
                      "Successful state commits (one per partition written).")),
      commit_failures(Counter(*registry, "encore_commit_failures_total",
                              "State commits that failed; offsets did not "
                              "advance.")),
      commit_duration(
          BuildHistogram()
              .Name("encore_commit_duration_seconds")
              .Help("Wall time of one commit round over all partitions.")
              .Register(*registry)
              .Add({},
                   prometheus::Histogram::BucketBoundaries{
                       0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                       1, 2.5, 5})),
      commit_users(BuildHistogram()
                       .Name("encore_commit_users")
                       .Help("Dirty users written by one commit round.")
                       .Register(*registry)
                       .Add({},
                            prometheus::Histogram::BucketBoundaries{
                                10, 100, 1000, 10000, 100000, 1000000})),
      snapshots(
          Counter(*registry, "encore_snapshots_total", "Snapshots published.")),
      snapshot_failures(Counter(*registry, "encore_snapshot_failures_total",
                                "Snapshot publications that failed.")),
      snapshot_last_success(
          Gauge(*registry, "encore_snapshot_last_success_timestamp_seconds",
                "Unix time of the last published snapshot.")),
      snapshot_users(Gauge(*registry, "encore_snapshot_users",
                           "Users in the last published snapshot.")),
      dead_letters(Counter(*registry, "encore_dead_letter_records_total",
                           "Records sent to the dead-letter topic.")),
      cached_users(Gauge(*registry, "encore_cache_users",
                         "Users held in the write-back cache.")),
      dirty_users(Gauge(*registry, "encore_cache_dirty_users",
                        "Users changed since the last commit.")),
      assigned_partitions(Gauge(*registry, "encore_assigned_partitions",
                                "Input partitions assigned to this member.")),
      rebalances(Counter(*registry, "encore_rebalances_total",
                         "Partition assignments and revocations.")),
      store_healthy(Gauge(*registry, "encore_store_healthy",
                          "1 if the last state commit succeeded, else 0.")),
      registry_(std::move(registry)) {
  auto& family = BuildCounter()
                     .Name("encore_events_rejected_total")
                     .Help("Messages rejected and dead-lettered, by reason.")
                     .Register(*registry_);
  for (int i = 1; i < kNumRejectReasons; ++i) {
    rejected_[i] = &family.Add(
        {{"reason",
          std::string(RejectReasonName(static_cast<RejectReason>(i)))}});
  }
  rejected_[0] = rejected_[1];  // kNone is never counted
  store_healthy.Set(1);
}

}  // namespace encore
