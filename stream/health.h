// Health: liveness and readiness of `encore run`, as /healthz and /readyz
// report them.
//
// Ready means: a Kafka broker is reachable, partitions are assigned, the
// state store is open and its last commit succeeded, and either a commit
// happened within the staleness bound or nothing is waiting to be committed
// (an idle stream is ready).
//
// Thread safety: all methods are thread-safe (the processing thread writes,
// the HTTP threads read).
#ifndef ENCORE_STREAM_HEALTH_H_
#define ENCORE_STREAM_HEALTH_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace encore {

class Health {
 public:
  explicit Health(int64_t commit_staleness_ms = 30'000)
      : commit_staleness_ms_(commit_staleness_ms) {}

  // Several processors may share one Health (backfill workers): each adds
  // the partitions it gains and subtracts those it loses.
  void AddAssignedPartitions(int64_t delta);
  // `now_ms` on the monotonic clock.
  void RecordCommit(int64_t now_ms);
  void RecordUncommitted(bool pending);
  // A store error that stops progress, as one of the processors sharing
  // this Health saw it (`source` tells them apart; not dereferenced); empty
  // clears that source's error. One processor's successful commit says
  // nothing of another's: the instance is unready while any source has an
  // error.
  void SetStoreError(const void* source, std::string error);
  // Whether no source has a store error (encore_store_healthy).
  bool StoreHealthy() const;
  // A fatal error: the process is about to stop.
  void SetFatal(std::string error);
  void SetStarted(int64_t now_ms);
  // Whether any Kafka broker is reachable (from librdkafka's errors and
  // statistics). Unreachable makes the instance unready, not dead: the
  // client reconnects by itself. Until the first report, an instance
  // without partitions says that no broker has answered yet.
  void SetBrokersReachable(bool reachable);
  // What start-up is waiting for (a missing events topic, a broker that
  // has not answered...): the reason an instance without partitions gives.
  // Empty once the wait is over.
  void SetWaiting(std::string reason);

  struct Verdict {
    bool ok = false;
    std::string reason;  // why not ready; "ready" when ok
  };
  Verdict Ready(int64_t now_ms) const;
  // Alive unless a fatal error was recorded.
  Verdict Alive() const;

 private:
  const int64_t commit_staleness_ms_;
  mutable std::mutex mu_;
  int64_t assigned_ = 0;
  int64_t last_commit_ms_ = -1;
  int64_t started_ms_ = 0;
  bool pending_ = false;
  bool brokers_reachable_ = true;
  bool brokers_reported_ = false;  // SetBrokersReachable was called
  std::map<const void*, std::string> store_errors_;
  std::string fatal_;
  std::string waiting_;
};

}  // namespace encore

#endif  // ENCORE_STREAM_HEALTH_H_
