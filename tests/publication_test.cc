// Atomic publication on the real path: while `encore run` publishes a
// snapshot every 0.2 s (keeping only 2), a reader polling LATEST never opens
// a partial snapshot: every snapshot it opens has all its partitions, and
// their contents hash to the digests of its manifest.
#include <signal.h>

#include <atomic>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/digest.h"
#include "state/snapshot_reader.h"
#include "stream/event_generator.h"
#include "stream/event_producer.h"
#include "tests/testing/encore_runs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;

TEST(PublicationTest, PollingReaderNeverOpensAPartialSnapshot) {
  constexpr int64_t kEvents = 60'000;
  testing::TempDir dir;
  testing::RunDirs run{testing::UniqueName("pub"), testing::UniqueName("g"),
                       dir.Sub("state"), dir.Sub("snap"), dir.Sub("run.log")};
  auto producer =
      EventProducer::Open({testing::TestBrokers(), {}}, run.topic, 4);
  ASSERT_THAT(producer, IsOk());
  std::vector<std::string> args = testing::RunArgs(run);
  args.push_back("--snapshot-keep=2");
  auto child = testing::ChildProcess::Start(args, run.log);
  ASSERT_THAT(child, IsOk());

  std::atomic<bool> done{false};
  std::atomic<int> verified{0}, vanished{0}, bad{0};
  std::set<uint64_t> ids;
  std::thread reader([&] {
    while (!done.load()) {
      auto r = SnapshotReader::OpenLatest(run.snapshot_dir);
      if (absl::IsNotFound(r.status())) continue;
      if (!r.ok()) {
        ++bad;
        ADD_FAILURE() << r.status();
        continue;
      }
      const SnapshotManifest& m = (*r)->manifest();
      std::vector<std::pair<int32_t, std::string>> digests;
      bool gone = false;
      for (const PartitionManifest& p : m.partitions()) {
        auto d = DigestDatabase((*r)->path() + "/" + p.directory());
        // Retention may delete a snapshot while it is being re-scanned (the
        // reader's own open files still work, a fresh scan does not): that
        // is not a partial snapshot, provided two newer ones exist by now
        // (keep = 2).
        if (!d.ok()) {
          auto now = ReadLatestManifest(run.snapshot_dir);
          if (!now.ok() || now->snapshot_id() < m.snapshot_id() + 2) {
            ++bad;
            ADD_FAILURE() << d.status();
          }
          gone = true;
          break;
        }
        ASSERT_THAT(d, IsOk());
        if (HexDigest(d->digest) != p.digest()) ++bad;
        digests.emplace_back(p.partition(), d->digest);
      }
      if (gone) {
        ++vanished;
        continue;
      }
      if (m.partitions_size() != 4) ++bad;
      if (HexDigest(CombineDigests(digests)) != m.content_digest()) ++bad;
      ids.insert(m.snapshot_id());
      ++verified;
    }
  });

  EventGenerator gen(GeneratorOptions{.users = 3000, .seed = 9});
  // A first thousand, then wait until encore has joined and published, so
  // the rest arrives while it publishes.
  for (int i = 0; i < 1000; ++i)
    ASSERT_THAT((*producer)->Send(gen.Next()), IsOk());
  ASSERT_THAT((*producer)->Flush(30'000), IsOk());
  ASSERT_TRUE(testing::WaitForOffsetSum(run.snapshot_dir, 1000, 60'000));
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 1000; i < kEvents; ++i) {
    if (i % 1000 == 0) {
      std::this_thread::sleep_until(start + std::chrono::milliseconds(i / 20));
    }
    ASSERT_THAT((*producer)->Send(gen.Next()), IsOk());
  }
  ASSERT_THAT((*producer)->Flush(60'000), IsOk());
  EXPECT_TRUE(testing::WaitForOffsetSum(run.snapshot_dir, kEvents, 60'000));
  done = true;
  reader.join();
  child->Signal(SIGTERM);
  auto code = child->Wait(60'000);
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0);

  EXPECT_EQ(bad.load(), 0);
  EXPECT_GE(ids.size(), 5u)
      << "verified " << verified << ", vanished " << vanished;
  std::cerr << "verified " << verified << " opens of " << ids.size()
            << " distinct snapshots; " << vanished
            << " removed by retention mid-check\n";
}

}  // namespace
}  // namespace encore
