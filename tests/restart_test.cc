// Exactly-once across crashes on the real broker: `encore run` is SIGKILLed
// several times mid-stream and restarted, some of the runs committing
// without the WAL (a crash then loses the commits since the last flush,
// and their events are applied again); the final snapshot's content digest
// equals that of one uninterrupted run over the same events.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/snapshot_reader.h"
#include "stream/event_generator.h"
#include "stream/event_producer.h"
#include "tests/testing/encore_runs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;

TEST(RestartTest, KilledRunsEndWithTheDigestOfACleanRun) {
  testing::TempDir dir;
  const std::string topic = testing::UniqueName("restart");
  auto producer = EventProducer::Open({testing::TestBrokers(), {}}, topic, 4);
  ASSERT_THAT(producer, IsOk());

  // Events keep arriving while runs are crashed and killed, so every kill
  // lands mid-stream: inside a batch, a commit or a publication. 100k
  // arrive at ~25k/s; then, until the kills begin, a trickle (~1k/s), so
  // that a crash point waiting for a run's second snapshot always gets one
  // (a run that had caught up with a finished feed published no more and
  // never crashed: it happened under ASan once the store's timing moved);
  // then the last 50k at ~10k/s, only once the kills have begun (a slow
  // build spends many seconds on the crash points: a feeder on a fixed
  // clock had finished by then and the kills landed on a caught-up run).
  // The total depends on how long the crash points take; it is known once
  // the feeder is done.
  constexpr int64_t kBeforeKills = 100'000;
  constexpr int64_t kDuringKills = 50'000;
  constexpr int64_t kMaxTrickle = 100'000;  // ~100 s of crash points
  std::atomic<bool> produce_failed{false}, kills_began{false};
  std::atomic<int64_t> produced{0};
  std::thread feeder([&] {
    EventGenerator gen(GeneratorOptions{.users = 5000, .seed = 3});
    auto send = [&] {
      if (!(*producer)->Send(gen.Next()).ok()) produce_failed = true;
      ++produced;
    };
    auto paced = [&](int64_t n, int64_t per_ms) {  // n events, per_ms a ms
      const auto start = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < n; ++i) {
        if (i % 1000 == 0) {
          std::this_thread::sleep_until(start +
                                        std::chrono::milliseconds(i / per_ms));
        }
        send();
      }
    };
    paced(kBeforeKills, 25);
    if (!(*producer)->Flush(60'000).ok()) produce_failed = true;
    for (int64_t i = 0; i < kMaxTrickle && !kills_began.load(); i += 10) {
      for (int j = 0; j < 10; ++j) send();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    while (!kills_began.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    paced(kDuringKills, 10);
    if (!(*producer)->Flush(60'000).ok()) produce_failed = true;
  });

  // The killed runs spread the 4 partitions over 3 workers, the clean run
  // has one: the digests must not depend on that either.
  testing::RunDirs killed{topic,
                          testing::UniqueName("killed"),
                          dir.Sub("k-state"),
                          dir.Sub("k-snap"),
                          dir.Sub("killed.log"),
                          {"--workers=3"}};
  // Crashes at chosen instants, while events still arrive: between two
  // partitions' commits, after the checkpoints of a snapshot but before its
  // manifest, and after the snapshot directory is in place but before
  // LATEST moves. The first runs without a WAL: the commits it made since
  // its last flush go with it.
  for (const char* point : {"commit-partition:3", "snapshot-checkpointed:2",
                            "snapshot-renamed:2"}) {
    std::vector<std::string> args = testing::RunArgs(killed);
    if (point == std::string("commit-partition:3")) {
      args.push_back("--commit-wal=false");
    }
    auto child = testing::ChildProcess::Start(
        args, killed.log, {{"ENCORE_TEST_CRASH_AT", point}});
    ASSERT_THAT(child, IsOk());
    auto status = child->Wait(60'000);
    ASSERT_THAT(status, IsOk());
    EXPECT_EQ(*status, 128 + SIGKILL) << point << " was never reached";
    std::cerr << "crash at " << point << ", published progress "
              << testing::PublishedOffsetSum(killed.snapshot_dir) << "\n";
  }
  int64_t last_progress = testing::PublishedOffsetSum(killed.snapshot_dir);
  std::vector<int64_t> kill_progress;
  kills_began = true;
  for (int k = 1; k <= 5; ++k) {
    std::vector<std::string> args = testing::RunArgs(killed);
    if (k % 2 == 1) args.push_back("--commit-wal=false");
    auto child = testing::ChildProcess::Start(args, killed.log);
    ASSERT_THAT(child, IsOk());
    // Let this run make some progress of its own, then kill it.
    testing::WaitForOffsetSum(killed.snapshot_dir, last_progress + 5'000,
                              30'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(37 * k));
    child->Signal(SIGKILL);
    auto status = child->Wait(10'000);
    ASSERT_THAT(status, IsOk());
    EXPECT_EQ(*status, 128 + SIGKILL);
    last_progress = testing::PublishedOffsetSum(killed.snapshot_dir);
    kill_progress.push_back(last_progress);
    std::cerr << "kill " << k << " at published progress " << last_progress
              << " (" << produced.load() << " produced so far)\n";
  }
  feeder.join();
  ASSERT_FALSE(produce_failed.load());
  const int64_t events = produced.load();
  int mid_stream_kills = 0;
  for (int64_t progress : kill_progress) mid_stream_kills += progress < events;
  EXPECT_GE(mid_stream_kills, 3) << "of " << events << " events";
  auto code = testing::RunUntilCaughtUp(killed, events);
  ASSERT_THAT(code, IsOk());
  ASSERT_EQ(*code, 0) << "see " << killed.log;

  testing::RunDirs clean{topic,
                         testing::UniqueName("clean"),
                         dir.Sub("clean-state"),
                         dir.Sub("clean-snap"),
                         dir.Sub("clean.log"),
                         {"--workers=1"}};
  code = testing::RunUntilCaughtUp(clean, events);
  ASSERT_THAT(code, IsOk());
  ASSERT_EQ(*code, 0) << "see " << clean.log;

  auto clean_manifest = ReadLatestManifest(clean.snapshot_dir);
  auto killed_manifest = ReadLatestManifest(killed.snapshot_dir);
  ASSERT_THAT(clean_manifest, IsOk());
  ASSERT_THAT(killed_manifest, IsOk());
  EXPECT_EQ(killed_manifest->user_count(), clean_manifest->user_count());
  EXPECT_EQ(killed_manifest->content_digest(),
            clean_manifest->content_digest());
  ASSERT_EQ(killed_manifest->partitions_size(),
            clean_manifest->partitions_size());
  for (int i = 0; i < clean_manifest->partitions_size(); ++i) {
    EXPECT_EQ(killed_manifest->partitions(i).next_offset(),
              clean_manifest->partitions(i).next_offset());
  }
}

}  // namespace
}  // namespace encore
