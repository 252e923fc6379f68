#include "stream/partition_worker.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

namespace encore {

void MessageChunk::Add(const Message& m) {
  Span span{bytes_.size(), m.key.size(), 0, m.payload.size()};
  bytes_.append(m.key.data(), m.key.size());
  span.payload = bytes_.size();
  bytes_.append(m.payload.data(), m.payload.size());
  messages_.push_back(m);
  spans_.push_back(span);
  sealed_ = false;
}

const std::vector<Message>& MessageChunk::messages() {
  if (!sealed_) {
    // bytes_ may have moved while growing: point the views at it now.
    for (size_t i = 0; i < messages_.size(); ++i) {
      const Span& s = spans_[i];
      messages_[i].key = absl::string_view(bytes_.data() + s.key, s.key_len);
      messages_[i].payload =
          absl::string_view(bytes_.data() + s.payload, s.payload_len);
    }
    sealed_ = true;
  }
  return messages_;
}

void RoomSignal::Notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;
  }
  cv_.notify_all();
}

uint64_t RoomSignal::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

void RoomSignal::WaitAfter(uint64_t generation,
                           std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return generation_ != generation; });
}

uint64_t StepBarrier::Begin(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  expected_ = n;
  arrived_ = 0;
  return generation_;
}

void StepBarrier::Arrive(uint64_t generation) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation == generation_) ++arrived_;
  }
  cv_.notify_all();
}

void StepBarrier::WaitAll() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return arrived_ >= expected_; });
}

absl::Status CommitWithRetry(Processor& processor,
                             const std::function<bool()>& stopping) {
  int backoff_ms = 100;
  while (true) {
    absl::Status s = processor.Commit();
    if (s.ok() || stopping()) {
      processor.SetStalled(false);
      return s;
    }
    spdlog::error("state commit failed, not consuming until it succeeds: {}",
                  s.ToString());
    processor.SetStalled(true);
    for (int waited = 0; waited < backoff_ms && !stopping(); waited += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    backoff_ms = std::min(backoff_ms * 2, 10'000);
  }
}

PartitionWorker::PartitionWorker(Processor* processor, StateStore* store,
                                 PartitionWorkerOptions options,
                                 std::function<bool()> stopping)
    : processor_(processor),
      store_(store),
      options_(options),
      stopping_(std::move(stopping)),
      thread_([this] { ThreadMain(); }) {}

PartitionWorker::~PartitionWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  work_.notify_one();
  thread_.join();
}

void PartitionWorker::Enqueue(MessageChunk chunk) {
  if (chunk.empty()) return;
  std::unique_lock<std::mutex> lock(mu_);
  // The worker always makes progress: it applies, or retries a commit until
  // that succeeds or stopping() (then it fails).
  space_.wait(lock, [&] {
    return queued_messages_ < options_.max_queued_messages ||
           failure_.has_value();
  });
  if (failure_.has_value()) return;  // dropped
  queued_messages_ += chunk.size();
  queue_.push_back(Item{std::move(chunk), nullptr});
  lock.unlock();
  work_.notify_one();
}

int PartitionWorker::Room() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (failure_.has_value()) return std::numeric_limits<int>::max();
  if (queued_messages_ >= options_.max_queued_messages) return 0;
  return static_cast<int>(options_.max_queued_messages - queued_messages_);
}

void PartitionWorker::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Item{MessageChunk(), std::move(task)});
  }
  work_.notify_one();
}

WorkerProgress PartitionWorker::progress() const {
  std::lock_guard<std::mutex> lock(mu_);
  return progress_;
}

std::optional<absl::Status> PartitionWorker::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

void PartitionWorker::ThreadMain() {
  // Named for top -H and profiles: "encore-w<index>" (at most 15 bytes).
  pthread_setname_np(pthread_self(),
                     ("encore-w" + std::to_string(options_.index)).c_str());
  PublishProgress();
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    const bool woken =
        work_.wait_for(lock, std::chrono::milliseconds(options_.idle_check_ms),
                       [&] { return !queue_.empty() || shutdown_; });
    if (!woken) {
      // Idle: commit by interval, as a poll without messages would.
      lock.unlock();
      if (!failure().has_value()) CommitIfDue();
      lock.lock();
      continue;
    }
    if (queue_.empty()) return;  // shutdown with nothing left
    Item item = std::move(queue_.front());
    queue_.pop_front();
    queued_messages_ -= item.chunk.size();
    // Once failed or shutting down, chunks are dropped: what they hold is
    // redone from the stored offsets on the next start.
    const bool drop = failure_.has_value() || shutdown_;
    lock.unlock();
    space_.notify_one();
    if (options_.room != nullptr && !item.chunk.empty())
      options_.room->Notify();
    if (item.task) {
      item.task();
      PublishProgress();
    } else if (!drop) {
      Apply(item.chunk);
    }
    lock.lock();
  }
}

void PartitionWorker::Apply(MessageChunk& chunk) {
  unflushed_ += static_cast<int64_t>(chunk.size());
  absl::Status s = processor_->HandleBatch(chunk.messages());
  if (!s.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      failure_ = s;
    }
    space_.notify_all();
    if (options_.room != nullptr) options_.room->Notify();
    PublishProgress();
    return;
  }
  CommitIfDue();
  PublishProgress();
}

void PartitionWorker::CommitIfDue() {
  if (!processor_->CommitDue()) return;
  absl::Status s = CommitWithRetry(*processor_, stopping_);
  if (s.ok() && options_.flush_every_messages > 0 &&
      unflushed_ >= options_.flush_every_messages) {
    s = store_->Flush();
    if (s.ok()) unflushed_ = 0;
  }
  if (!s.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      failure_ = s;
    }
    space_.notify_all();
    if (options_.room != nullptr) options_.room->Notify();
  }
  PublishProgress();
}

void PartitionWorker::PublishProgress() {
  WorkerProgress p;
  p.committed = processor_->CommittedOffsets();
  p.pending = processor_->PendingOffsets();
  p.uncommitted = processor_->HasUncommitted();
  p.reached_end = processor_->ReachedEnd();
  std::lock_guard<std::mutex> lock(mu_);
  progress_ = std::move(p);
}

}  // namespace encore
