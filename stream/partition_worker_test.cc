#include "stream/partition_worker.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/clock.h"
#include "stream/event_generator.h"
#include "stream/health.h"
#include "stream/metrics.h"
#include "tests/testing/fake_source.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::FaultyStore;
using ::encore::testing::IsOk;
using ::encore::testing::RecordingDeadLetterSink;
using ::encore::testing::TempDir;
using ::testing::HasSubstr;

TEST(MessageChunkTest, OwnsItsBytes) {
  MessageChunk chunk;
  std::string key = "user-1", payload = "payload-1";
  Message m;
  m.partition = 2;
  m.offset = 7;
  m.key = key;
  m.payload = payload;
  chunk.Add(m);
  // Enough further messages that the chunk's buffer grows and moves.
  for (int i = 0; i < 1000; ++i) chunk.Add(m);
  key.assign("xxxxxx");
  payload.assign("yyyyyyyyy");
  ASSERT_EQ(chunk.size(), 1001u);
  for (const Message& c : chunk.messages()) {
    EXPECT_EQ(c.partition, 2);
    EXPECT_EQ(c.offset, 7);
    EXPECT_EQ(c.key, "user-1");
    EXPECT_EQ(c.payload, "payload-1");
  }
}

TEST(StepBarrierTest, WaitsForEveryArrivalOfItsStep) {
  StepBarrier barrier;
  for (int round = 0; round < 3; ++round) {
    const uint64_t step = barrier.Begin(3);
    std::atomic<int> arrived{0};
    std::vector<std::thread> tasks;
    for (int i = 0; i < 3; ++i) {
      tasks.emplace_back([&, i] {
        // Arrivals at different times: WaitAll returns after the last.
        std::this_thread::sleep_for(std::chrono::milliseconds(10 * i));
        ++arrived;
        barrier.Arrive(step);
      });
    }
    barrier.WaitAll();
    EXPECT_EQ(arrived.load(), 3);
    for (std::thread& t : tasks) t.join();
  }
}

class PartitionWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenRocksStateStore(dir_.path() + "/state", "events", {});
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
    faulty_ = std::make_unique<FaultyStore>(store_.get());
    ProcessorOptions options;
    options.topic = "events";
    options.commit_interval_ms = 1'000'000;
    options.commit_max_events = 1'000'000;
    processor_ = std::make_unique<Processor>(
        options, faulty_.get(), &dead_letters_, &clock_, &metrics_);
    ASSERT_THAT(processor_->OnAssigned({0}), IsOk());
  }

  // `n` valid events of `partition` from offset `first`, as one chunk; all
  // of `user` if given.
  MessageChunk Events(int64_t first, int n, const std::string& user = "",
                      int32_t partition = 0) {
    MessageChunk chunk;
    for (int i = 0; i < n; ++i) {
      ListenEvent e = gen_.Next();
      if (!user.empty()) e.set_user_id(user);
      const std::string payload = e.SerializeAsString();
      Message m;
      m.partition = partition;
      m.offset = first + i;
      m.payload = payload;
      chunk.Add(m);  // copied: `payload` may go
    }
    return chunk;
  }

  // Runs `task` on the worker's thread and waits for it.
  void RunOn(PartitionWorker& worker, std::function<void()> task) {
    std::atomic<bool> done{false};
    worker.Post([&] {
      task();
      done = true;
    });
    while (!done.load()) std::this_thread::yield();
  }

  // Blocks the worker's thread in a task until `release` is set; returns
  // once it is blocked, so nothing queued after it is applied meanwhile.
  void Hold(PartitionWorker& worker, std::atomic<bool>& release) {
    std::atomic<bool> holding{false};
    worker.Post([&release, &holding] {
      holding = true;  // the last use of `holding`
      while (!release.load()) std::this_thread::yield();
    });
    while (!holding.load()) std::this_thread::yield();
  }

  TempDir dir_;
  FakeClock clock_{1'800'000'000'000};
  Metrics metrics_{std::make_shared<prometheus::Registry>()};
  RecordingDeadLetterSink dead_letters_;
  EventGenerator gen_{GeneratorOptions{.users = 50, .seed = 3}};
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<FaultyStore> faulty_;
  std::unique_ptr<Processor> processor_;
  std::atomic<bool> stop_{false};
};

TEST_F(PartitionWorkerTest, AppliesChunksInOrderOnItsThreadBeforeLaterTasks) {
  PartitionWorker worker(processor_.get(), faulty_.get(), {},
                         [this] { return stop_.load(); });
  for (int c = 0; c < 20; ++c) worker.Enqueue(Events(c * 50, 50));
  std::thread::id task_thread;
  std::map<int32_t, int64_t> pending;
  RunOn(worker, [&] {
    task_thread = std::this_thread::get_id();
    pending = processor_->PendingOffsets();
  });
  EXPECT_NE(task_thread, std::this_thread::get_id());
  // Every chunk queued before the task was applied, none skipped.
  EXPECT_EQ(pending, (std::map<int32_t, int64_t>{{0, 1000}}));
  EXPECT_TRUE(worker.progress().uncommitted);
  EXPECT_EQ(worker.progress().pending, pending);
  EXPECT_FALSE(worker.failure().has_value());
}

TEST_F(PartitionWorkerTest, CommitsByPolicyAndPublishesTheCommittedOffsets) {
  clock_.AdvanceMs(0);
  PartitionWorker worker(processor_.get(), faulty_.get(),
                         {.flush_every_messages = 1},
                         [this] { return stop_.load(); });
  worker.Enqueue(Events(0, 30));
  RunOn(worker, [] {});
  EXPECT_EQ(faulty_->commits(), 0);  // not due yet
  clock_.AdvanceMs(1'000'001);       // the commit interval passed
  // Idle, the worker checks the policy by itself.
  for (int i = 0; i < 1000 && worker.progress().uncommitted; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(faulty_->commits(), 1);
  EXPECT_EQ(worker.progress().committed, (std::map<int32_t, int64_t>{{0, 30}}));
  EXPECT_FALSE(worker.progress().uncommitted);
}

TEST_F(PartitionWorkerTest, AFailedMessageStopsTheApplyingButNotTheTasks) {
  PartitionWorker worker(processor_.get(), faulty_.get(), {},
                         [this] { return stop_.load(); });
  worker.Enqueue(Events(0, 10));
  RunOn(worker, [] {});
  faulty_->FailReads(true);
  worker.Enqueue(Events(10, 10, "new-user"));  // read from the store: fails
  RunOn(worker, [] {});
  faulty_->FailReads(false);
  worker.Enqueue(Events(20, 10));  // dropped: the worker failed
  bool ran = false;
  RunOn(worker, [&] { ran = true; });
  EXPECT_TRUE(ran);
  ASSERT_TRUE(worker.failure().has_value());
  EXPECT_EQ(worker.failure()->code(), absl::StatusCode::kUnavailable);
  // Nothing past the failed message was applied.
  EXPECT_LT(worker.progress().pending.at(0), 20);
}

TEST_F(PartitionWorkerTest, AFullQueueBlocksUntilTheWorkerMakesRoom) {
  PartitionWorker worker(processor_.get(), faulty_.get(),
                         {.max_queued_messages = 10},
                         [this] { return stop_.load(); });
  std::atomic<bool> release{false};
  Hold(worker, release);          // the queue cannot drain
  worker.Enqueue(Events(0, 10));  // fills the queue
  std::atomic<bool> returned{false};
  MessageChunk second = Events(10, 10);
  std::thread producer([&] {
    worker.Enqueue(std::move(second));  // blocks: full
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(returned.load());
  release = true;
  producer.join();  // returns once the worker made room
  EXPECT_TRUE(returned.load());
  std::map<int32_t, int64_t> pending;
  RunOn(worker, [&] { pending = processor_->PendingOffsets(); });
  EXPECT_EQ(pending, (std::map<int32_t, int64_t>{{0, 20}}));
}

TEST_F(PartitionWorkerTest, RoomShrinksWithTheQueueAndTheSignalWakesAWaiter) {
  RoomSignal room;
  PartitionWorker worker(processor_.get(), faulty_.get(),
                         {.max_queued_messages = 25, .room = &room},
                         [this] { return stop_.load(); });
  std::atomic<bool> release{false};
  Hold(worker, release);
  EXPECT_EQ(worker.Room(), 25);
  worker.Enqueue(Events(0, 10));
  EXPECT_EQ(worker.Room(), 15);
  worker.Enqueue(Events(10, 15));
  EXPECT_EQ(worker.Room(), 0);

  // A waiter that read the generation before the worker made room is woken
  // (the timeout is far longer than the test may take).
  const uint64_t seen = room.generation();
  std::atomic<bool> woken{false};
  std::thread waiter([&] {
    room.WaitAfter(seen, std::chrono::minutes(10));
    woken = true;
  });
  release = true;
  waiter.join();
  EXPECT_TRUE(woken.load());
  EXPECT_NE(room.generation(), seen);
  RunOn(worker, [] {});
  EXPECT_EQ(worker.Room(), 25);
}

// Two workers share the process's Health and metrics, as in `encore run`:
// one whose store refuses commits stops applying and keeps the instance
// unready and the store unhealthy, however well the other one commits.
TEST_F(PartitionWorkerTest, OneWorkersFailingStoreIsNotHiddenByAnothers) {
  Health health;
  ProcessorOptions options;
  options.topic = "events";
  options.commit_interval_ms = 1'000'000;
  options.commit_max_events = 10;  // every chunk of 10 commits
  FaultyStore failing(store_.get()), fine(store_.get());
  Processor a(options, &failing, &dead_letters_, &clock_, &metrics_, &health);
  Processor b(options, &fine, &dead_letters_, &clock_, &metrics_, &health);
  ASSERT_THAT(a.OnAssigned({1}), IsOk());
  ASSERT_THAT(b.OnAssigned({2}), IsOk());
  PartitionWorker wa(&a, &failing, {}, [this] { return stop_.load(); });
  PartitionWorker wb(&b, &fine, {.index = 1}, [this] { return stop_.load(); });
  failing.FailNextCommits(1'000'000);

  wa.Enqueue(Events(0, 10, "", 1));  // applied, then its commit fails
  for (int i = 0; i < 1000 && metrics_.workers_stalled.Value() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(metrics_.workers_stalled.Value(), 1);
  wa.Enqueue(Events(10, 10, "", 1));  // waits behind the failing commit
  wb.Enqueue(Events(0, 10, "", 2));   // applied and committed
  RunOn(wb, [] {});
  EXPECT_EQ(fine.commits(), 1);
  EXPECT_GE(failing.commits_failed(), 1);
  EXPECT_EQ(metrics_.store_healthy.Value(), 0);
  EXPECT_EQ(metrics_.workers_stalled.Value(), 1);
  EXPECT_FALSE(health.Ready(clock_.MonotonicMs()).ok);
  EXPECT_THAT(health.Ready(clock_.MonotonicMs()).reason,
              HasSubstr("no space left"));
  EXPECT_EQ(metrics_.events_consumed.Value(), 20);  // a's second chunk waits

  failing.FailNextCommits(0);  // space freed: the next retry succeeds
  std::map<int32_t, int64_t> pending;
  RunOn(wa, [&] { pending = a.PendingOffsets(); });
  EXPECT_EQ(pending, (std::map<int32_t, int64_t>{{1, 20}}));
  EXPECT_EQ(metrics_.workers_stalled.Value(), 0);
  EXPECT_EQ(metrics_.store_healthy.Value(), 1);
  EXPECT_TRUE(health.Ready(clock_.MonotonicMs()).ok);
  EXPECT_EQ(metrics_.events_consumed.Value(), 30);
}

}  // namespace
}  // namespace encore
