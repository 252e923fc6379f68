#include "tests/testing/fake_source.h"

namespace encore::testing {

absl::Status FakeSource::Poll(int max, int timeout_ms,
                              std::vector<Message>* out) {
  out->clear();
  if (closed_) return absl::FailedPreconditionError("closed");
  if (!assigned_) {
    assigned_ = true;
    std::vector<int32_t> ids;
    for (const auto& [p, records] : *log_) ids.push_back(p);
    absl::StatusOr<std::map<int32_t, int64_t>> starts =
        listener_->OnAssigned(ids);
    if (!starts.ok()) return starts.status();
    for (int32_t p : ids) {
      auto it = starts->find(p);
      position_[p] = it == starts->end() || it->second < 0 ? 0 : it->second;
    }
  }
  // Round-robin over partitions, a few records at a time, like a fetcher.
  bool progress = true;
  while (static_cast<int>(out->size()) < max && progress) {
    progress = false;
    for (auto& [p, pos] : position_) {
      const auto& records = log_->at(p);
      for (int i = 0; i < 3 && pos < static_cast<int64_t>(records.size()) &&
                      static_cast<int>(out->size()) < max;
           ++i, ++pos) {
        const FakeRecord& r = records[pos];
        out->push_back(Message{p, pos, r.timestamp_ms, r.key, r.payload});
        progress = true;
      }
    }
  }
  if (stop_at_end_ != nullptr && AtEnd()) stop_at_end_->store(true);
  return absl::OkStatus();
}

absl::Status FakeSource::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  std::vector<int32_t> ids;
  for (const auto& [p, pos] : position_) ids.push_back(p);
  return listener_->OnRevoked(ids);
}

bool FakeSource::AtEnd() const {
  if (!assigned_) return false;
  for (const auto& [p, pos] : position_) {
    if (pos < static_cast<int64_t>(log_->at(p).size())) return false;
  }
  return true;
}

absl::Status RecordingDeadLetterSink::Send(const std::string& origin_topic,
                                           const Message& m,
                                           const Verdict& verdict) {
  std::lock_guard<std::mutex> lock(mu_);
  records_.push_back(DeadLetter{m.partition, m.offset,
                                std::string(RejectReasonName(verdict.reason))});
  return absl::OkStatus();
}

}  // namespace encore::testing
