// Fakes for the stream seams: a scripted MessageSource over in-memory
// partitions, a recording DeadLetterSink, and a StateStore wrapper that fails
// chosen commits.
#ifndef ENCORE_TESTS_TESTING_FAKE_SOURCE_H_
#define ENCORE_TESTS_TESTING_FAKE_SOURCE_H_

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "state/state_store.h"
#include "stream/dead_letter.h"
#include "stream/message_source.h"

namespace encore::testing {

struct FakeRecord {
  std::string key;
  std::string payload;
  int64_t timestamp_ms = 0;
};

// Serves `log` (partition -> records; offset = index) to one member that is
// assigned every partition on its first Poll().
class FakeSource final : public MessageSource {
 public:
  // If `stop_at_end` is given, it is set once everything has been served.
  FakeSource(const std::map<int32_t, std::vector<FakeRecord>>* log,
             PartitionListener* listener,
             std::atomic<bool>* stop_at_end = nullptr)
      : log_(log), listener_(listener), stop_at_end_(stop_at_end) {}

  absl::Status Poll(int max, int timeout_ms,
                    std::vector<Message>* out) override;
  void CommitOffsetsAsync(const std::map<int32_t, int64_t>& next) override {
    kafka_committed_ = next;
  }
  absl::Status Close() override;

  // True once every partition has been served to its end.
  bool AtEnd() const;
  const std::map<int32_t, int64_t>& kafka_committed() const {
    return kafka_committed_;
  }

 private:
  const std::map<int32_t, std::vector<FakeRecord>>* log_;
  PartitionListener* listener_;
  std::atomic<bool>* stop_at_end_;
  bool assigned_ = false;
  bool closed_ = false;
  std::map<int32_t, int64_t> position_;
  std::map<int32_t, int64_t> kafka_committed_;
};

struct DeadLetter {
  int32_t partition;
  int64_t offset;
  std::string reason;
};

// Thread-safe: engine workers may share one.
class RecordingDeadLetterSink final : public DeadLetterSink {
 public:
  absl::Status Send(const std::string& origin_topic, const Message& m,
                    const Verdict& verdict) override;
  absl::Status Flush(int timeout_ms) override { return absl::OkStatus(); }
  uint64_t failures() const override { return 0; }
  // REQUIRES: no Send() in progress.
  const std::vector<DeadLetter>& records() const { return records_; }

 private:
  std::mutex mu_;
  std::vector<DeadLetter> records_;  // guarded by mu_
};

// Forwards to `inner`, failing Commit calls while fail_commits_ > 0, and
// user reads while FailReads(true).
class FaultyStore final : public StateStore {
 public:
  explicit FaultyStore(StateStore* inner) : inner_(inner) {}
  void FailNextCommits(int n) { fail_commits_ = n; }
  void FailReads(bool fail) { fail_reads_ = fail; }
  // NeedsRepair() says so for `partition` until its next commit (and, as
  // for everything not injected, whenever the inner store says so).
  void NeedRepair(int32_t partition) { needs_repair_ = partition; }
  int commits_failed() const { return commits_failed_; }
  int commits() const { return commits_; }
  int user_reads() const { return user_reads_; }      // users read, all ways
  int single_reads() const { return single_reads_; }  // one-user reads

  absl::StatusOr<PartitionMeta> OpenPartition(int32_t p) override {
    return inner_->OpenPartition(p);
  }
  absl::Status ClosePartition(int32_t p) override {
    return inner_->ClosePartition(p);
  }
  absl::StatusOr<std::optional<StoredUser>> ReadUser(
      int32_t p, absl::string_view user) override {
    ++user_reads_;
    ++single_reads_;
    if (fail_reads_) return absl::UnavailableError("injected: read failed");
    return inner_->ReadUser(p, user);
  }
  absl::StatusOr<std::vector<std::optional<StoredUser>>> ReadUsers(
      int32_t p, const std::vector<absl::string_view>& users) override {
    user_reads_ += static_cast<int>(users.size());
    if (fail_reads_) return absl::UnavailableError("injected: read failed");
    return inner_->ReadUsers(p, users);
  }
  absl::StatusOr<PartitionContents> ReadPartitionContents(int32_t p) override {
    return inner_->ReadPartitionContents(p);
  }
  using StateStore::Commit;
  absl::Status Commit(int32_t p, const CommitBatch& batch) override {
    if (fail_commits_ > 0) {
      --fail_commits_;
      ++commits_failed_;
      return absl::ResourceExhaustedError("injected: no space left on device");
    }
    ++commits_;
    if (needs_repair_ == p) needs_repair_ = -1;
    return inner_->Commit(p, batch);
  }
  bool NeedsRepair(int32_t p) override {
    return needs_repair_ == p || inner_->NeedsRepair(p);
  }
  absl::Status Checkpoint(int32_t p, const std::string& dir) override {
    return inner_->Checkpoint(p, dir);
  }
  StoreStats Stats() override { return inner_->Stats(); }
  absl::Status Flush() override { return inner_->Flush(); }
  void StartFlush() override { inner_->StartFlush(); }

 private:
  StateStore* inner_;
  // Atomic: an engine's worker thread counts while a test reads.
  std::atomic<int> fail_commits_{0};
  std::atomic<int> commits_failed_{0};
  std::atomic<int> commits_{0};
  std::atomic<int> user_reads_{0};
  std::atomic<int> single_reads_{0};
  std::atomic<bool> fail_reads_{false};
  std::atomic<int32_t> needs_repair_{-1};
};

}  // namespace encore::testing

#endif  // ENCORE_TESTS_TESTING_FAKE_SOURCE_H_
