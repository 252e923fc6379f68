#include "stream/health.h"

#include "absl/strings/str_cat.h"

namespace encore {

void Health::AddAssignedPartitions(int64_t delta) {
  std::lock_guard<std::mutex> lock(mu_);
  assigned_ += delta;
}

void Health::RecordCommit(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  last_commit_ms_ = now_ms;
  pending_ = false;
}

void Health::RecordUncommitted(bool pending) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_ = pending;
}

void Health::SetStoreError(const void* source, std::string error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (error.empty()) {
    store_errors_.erase(source);
  } else {
    store_errors_[source] = std::move(error);
  }
}

bool Health::StoreHealthy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return store_errors_.empty();
}

void Health::SetFatal(std::string error) {
  std::lock_guard<std::mutex> lock(mu_);
  fatal_ = std::move(error);
}

void Health::SetStarted(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  started_ms_ = now_ms;
}

void Health::SetBrokersReachable(bool reachable) {
  std::lock_guard<std::mutex> lock(mu_);
  brokers_reachable_ = reachable;
  brokers_reported_ = true;
}

void Health::SetWaiting(std::string reason) {
  std::lock_guard<std::mutex> lock(mu_);
  waiting_ = std::move(reason);
}

Health::Verdict Health::Ready(int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!fatal_.empty()) return {false, "fatal error: " + fatal_};
  if (!store_errors_.empty()) {
    // Any one of them says why; the others are in the log.
    return {false, "state store: " + store_errors_.begin()->second};
  }
  if (!brokers_reachable_) return {false, "no Kafka broker reachable"};
  if (assigned_ == 0) {
    if (!waiting_.empty()) return {false, waiting_};
    return {false, brokers_reported_
                       ? "no partitions assigned"
                       : "no partitions assigned (no Kafka broker has "
                         "answered yet)"};
  }
  if (pending_) {
    const int64_t since = last_commit_ms_ >= 0 ? last_commit_ms_ : started_ms_;
    if (now_ms - since > commit_staleness_ms_) {
      return {false, absl::StrCat("no commit for ", (now_ms - since) / 1000,
                                  " s with events waiting")};
    }
  }
  return {true, "ready"};
}

Health::Verdict Health::Alive() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!fatal_.empty()) return {false, "fatal error: " + fatal_};
  return {true, "alive"};
}

}  // namespace encore
