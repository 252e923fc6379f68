#include "stream/processor.h"

#include <chrono>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/population.h"
#include "state/snapshot_reader.h"
#include "stream/engine.h"
#include "stream/event_generator.h"
#include "tests/testing/fake_source.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::FakeRecord;
using ::encore::testing::FakeSource;
using ::encore::testing::FaultyStore;
using ::encore::testing::IsOk;
using ::encore::testing::RecordingDeadLetterSink;
using ::encore::testing::TempDir;

using Log = std::map<int32_t, std::vector<FakeRecord>>;

constexpr int kPartitions = 3;

// 3000 generated events spread over partitions by user, with invalid
// messages mixed in; `bad` receives the (partition, offset) of those.
// The requests are 5 s apart on average, so the log spans hours of event
// time: impressions without a response expire (30 min window) throughout.
Log MakeLog(std::set<std::pair<int32_t, int64_t>>* bad) {
  Log log;
  EventGenerator gen(
      GeneratorOptions{.users = 200, .seed = 11, .mean_request_gap_ms = 5000});
  for (int i = 0; i < 3000; ++i) {
    ListenEvent e = gen.Next();
    const int32_t p = static_cast<int32_t>(
        std::hash<std::string>()(e.user_id()) % kPartitions);
    log[p].push_back({e.user_id(), e.SerializeAsString(), e.event_time_ms()});
    if (i % 97 == 0) {
      bad->insert({p, static_cast<int64_t>(log[p].size())});
      log[p].push_back({e.user_id(), "\xff\xfe garbage", e.event_time_ms()});
    }
    if (i % 211 == 0) {
      e.set_ms_played(-5);
      bad->insert({p, static_cast<int64_t>(log[p].size())});
      log[p].push_back({e.user_id(), e.SerializeAsString(), e.event_time_ms()});
    }
  }
  return log;
}

class ProcessorTest : public ::testing::Test {
 protected:
  ProcessorOptions Options() {
    ProcessorOptions o;
    o.topic = "events";
    o.commit_max_events = commit_max_events_;
    o.commit_interval_ms = 1'000'000;
    o.cache_max_users = cache_max_users_;
    o.cache_max_bytes = cache_max_bytes_;
    o.model = model_;
    return o;
  }

  // Runs a member with workers_ engine workers until `polls` polls are
  // done (then "crashes": everything uncommitted is dropped, nothing is
  // closed) or, with polls < 0, to the end with a final commit and
  // snapshot. Returns the last digest.
  std::string Run(const Log& log, const std::string& dir, int polls) {
    std::vector<std::unique_ptr<StateStore>> stores;
    std::vector<WorkerParts> parts;
    for (int i = 0; i < workers_; ++i) {
      auto store = OpenRocksStateStore(dir + "/state", "events", {});
      EXPECT_THAT(store, IsOk());
      if (!store.ok()) return "";
      stores.push_back(std::move(*store));
      parts.push_back({stores.back().get(), &dead_letters_});
    }
    auto publisher = SnapshotPublisher::Open({dir + "/snap", 2}, &clock_);
    EXPECT_THAT(publisher, IsOk());
    Metrics metrics(std::make_shared<prometheus::Registry>());
    EngineOptions options;
    options.processor = Options();
    options.snapshot_interval_ms = snapshot_interval_ms_;
    options.poll_batch = poll_batch_;
    Engine engine(options, parts, publisher->get(), &clock_, &metrics);
    std::atomic<bool> stop{false};
    FakeSource source(&log, &engine, polls < 0 ? &stop : nullptr);
    if (polls < 0) {
      EXPECT_THAT(engine.Run(source, stop), IsOk());
      auto m = ReadLatestManifest(dir + "/snap");
      EXPECT_THAT(m, IsOk());
      return m.ok() ? m->content_digest() : "";
    }
    std::vector<Message> batch;
    for (int i = 0; i < polls; ++i) {
      EXPECT_THAT(source.Poll(40, 0, &batch), IsOk());
      EXPECT_THAT(engine.HandleBatch(batch), IsOk());
      if (engine.CommitDue()) {
        EXPECT_THAT(engine.Commit(), IsOk());
      }
    }
    return "";  // crash: no final commit, no close
  }

  FakeClock clock_{1'800'000'000'000};
  RecordingDeadLetterSink dead_letters_;
  int workers_ = 1;
  int64_t snapshot_interval_ms_ = 1'000'000'000;
  int64_t commit_max_events_ = 97;
  size_t cache_max_users_ = 50;  // forces evictions and store reads
  size_t cache_max_bytes_ = size_t{256} << 20;
  int poll_batch_ = EngineOptions().poll_batch;
  ModelConfig model_;
};

TEST_F(ProcessorTest, CrashesAtAnyPointGiveTheSameStateAsACleanRun) {
  std::set<std::pair<int32_t, int64_t>> bad;
  const Log log = MakeLog(&bad);
  TempDir clean_dir, crash_dir;
  const std::string clean = Run(log, clean_dir.path(), -1);
  ASSERT_FALSE(clean.empty());
  std::set<std::pair<int32_t, int64_t>> dead;
  for (const auto& d : dead_letters_.records())
    dead.insert({d.partition, d.offset});
  EXPECT_EQ(dead, bad);

  for (int polls : {1, 3, 7, 12, 20}) Run(log, crash_dir.path(), polls);
  EXPECT_EQ(Run(log, crash_dir.path(), -1), clean);
  // The same with three workers, crashing at other points, and a restart
  // with two: partitions are independent, so the state is the same.
  TempDir workers_dir;
  workers_ = 3;
  for (int polls : {2, 5, 11}) Run(log, workers_dir.path(), polls);
  workers_ = 2;
  EXPECT_EQ(Run(log, workers_dir.path(), -1), clean);
  // Dead letters are at-least-once: every bad message, perhaps more than once.
  dead.clear();
  for (const auto& d : dead_letters_.records())
    dead.insert({d.partition, d.offset});
  EXPECT_EQ(dead, bad);
}

TEST_F(ProcessorTest, ASnapshotAfterEveryPollNeitherStallsNorChangesTheState) {
  std::set<std::pair<int32_t, int64_t>> bad;
  const Log log = MakeLog(&bad);
  TempDir clean_dir, dir;
  const std::string clean = Run(log, clean_dir.path(), -1);
  ASSERT_FALSE(clean.empty());
  // Every step holds the workers for a snapshot right after the last hold
  // was released (a worker may not have woken from that one yet).
  snapshot_interval_ms_ = 0;
  workers_ = 3;
  EXPECT_EQ(Run(log, dir.path(), -1), clean);
}

TEST_F(ProcessorTest, FailedCommitsDoNotAdvanceOffsetsAndRecover) {
  std::set<std::pair<int32_t, int64_t>> bad;
  const Log log = MakeLog(&bad);
  TempDir clean_dir, dir;
  const std::string clean = Run(log, clean_dir.path(), -1);

  {
    auto store = OpenRocksStateStore(dir.path() + "/state", "events", {});
    ASSERT_THAT(store, IsOk());
    FaultyStore faulty(store->get());
    auto publisher =
        SnapshotPublisher::Open({dir.path() + "/snap", 2}, &clock_);
    ASSERT_THAT(publisher, IsOk());
    Metrics metrics(std::make_shared<prometheus::Registry>());
    Processor processor(Options(), &faulty, &dead_letters_, &clock_, &metrics);
    FakeSource source(&log, &processor);
    std::vector<Message> batch;
    ASSERT_THAT(source.Poll(300, 0, &batch), IsOk());
    for (const Message& m : batch) ASSERT_THAT(processor.Handle(m), IsOk());
    ASSERT_THAT(processor.Commit(), IsOk());
    const auto committed = processor.CommittedOffsets();
    ASSERT_THAT(source.Poll(300, 0, &batch), IsOk());
    for (const Message& m : batch) ASSERT_THAT(processor.Handle(m), IsOk());
    faulty.FailNextCommits(1);
    EXPECT_EQ(processor.Commit().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(metrics.store_healthy.Value(), 0);
    // The partition whose commit failed did not advance.
    int unchanged = 0;
    for (const auto& [p, off] : processor.CommittedOffsets()) {
      unchanged += committed.at(p) == off;
    }
    EXPECT_GE(unchanged, 1);
    EXPECT_THAT(processor.Commit(), IsOk());  // recovers once the store does
    EXPECT_EQ(metrics.store_healthy.Value(), 1);
    // Crash here: the rest is redone by a new member.
  }
  EXPECT_EQ(Run(log, dir.path(), -1), clean);
}

TEST_F(ProcessorTest, AnEngineWhoseStoreRefusesCommitsStillShutsDown) {
  std::set<std::pair<int32_t, int64_t>> bad;
  const Log log = MakeLog(&bad);
  TempDir dir;
  auto store = OpenRocksStateStore(dir.path() + "/state", "events", {});
  ASSERT_THAT(store, IsOk());
  FaultyStore faulty(store->get());
  faulty.FailNextCommits(1'000'000'000);
  Metrics metrics(std::make_shared<prometheus::Registry>());
  {
    EngineOptions options;
    options.processor = Options();
    Engine engine(options, {{&faulty, &dead_letters_}}, nullptr, &clock_,
                  &metrics);
    FakeSource source(&log, &engine);
    std::vector<Message> batch;
    ASSERT_THAT(source.Poll(50, 0, &batch), IsOk());
    ASSERT_THAT(engine.HandleBatch(batch), IsOk());
    // A commit is due: the idle worker starts retrying it, and keeps
    // failing until the engine goes away.
    clock_.AdvanceMs(2'000'000);
    while (faulty.commits_failed() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }  // returns: the worker gives up its retries
  EXPECT_EQ(faulty.commits(), 0);
}

// A partition with nothing new is not committed, unless its store needs
// a repair that only a commit makes (e.g. RocksDB stopped flushing it
// after a full disk, and it would be left out of every snapshot).
TEST_F(ProcessorTest, APartitionWhoseStoreNeedsRepairIsCommittedAnyway) {
  std::set<std::pair<int32_t, int64_t>> bad;
  const Log log = MakeLog(&bad);
  TempDir dir;
  auto store = OpenRocksStateStore(dir.path() + "/state", "events", {});
  ASSERT_THAT(store, IsOk());
  FaultyStore faulty(store->get());
  Metrics metrics(std::make_shared<prometheus::Registry>());
  Processor processor(Options(), &faulty, &dead_letters_, &clock_, &metrics);
  FakeSource source(&log, &processor);
  std::vector<Message> batch;
  ASSERT_THAT(source.Poll(500, 0, &batch), IsOk());
  ASSERT_THAT(processor.HandleBatch(batch), IsOk());
  ASSERT_THAT(processor.Commit(), IsOk());
  const int after_events = faulty.commits();
  ASSERT_GT(after_events, 0);
  ASSERT_THAT(processor.Commit(), IsOk());
  EXPECT_EQ(faulty.commits(), after_events);  // nothing new, nothing written
  faulty.NeedRepair(1);
  ASSERT_THAT(processor.Commit(), IsOk());
  EXPECT_EQ(faulty.commits(), after_events + 1);
  EXPECT_FALSE(faulty.NeedsRepair(1));
  ASSERT_THAT(processor.Commit(), IsOk());
  EXPECT_EQ(faulty.commits(), after_events + 1);
}

// Runs `log` to the end in `dir` and expects the snapshot to hold, for
// every user, the state that applying its partition's events one at a time
// gives: an event first moves the watermark and expires every user's
// impressions it passes, then applies.
void ExpectEachUsersEventsApplied(const Log& log, const ModelConfig& model,
                                  const std::string& dir) {
  auto reader = SnapshotReader::OpenLatest(dir + "/snap");
  ASSERT_THAT(reader, IsOk());
  std::map<std::string, UserState> expected;
  uint64_t expired = 0, attributed = 0;
  for (const auto& [p, records] : log) {
    std::set<std::string> users;
    int64_t watermark = 0;
    for (const FakeRecord& r : records) {
      ListenEvent e;
      if (!DecodeAndValidate(r.payload, r.key, r.timestamp_ms, {}, &e).ok())
        continue;
      watermark = std::max(watermark, e.event_time_ms());
      for (const std::string& u : users) {
        ExpireImpressions(model, watermark, &expected[u]);
      }
      ApplyEvent(model, e, &expected[e.user_id()]);
      users.insert(e.user_id());
    }
  }
  for (const auto& [user, state] : expected) {
    expired += state.impressions_expired();
    attributed += state.rewards_attributed();
  }
  EXPECT_GT(expired, 100u);  // the log exercises expiry
  EXPECT_GT(attributed, 100u);
  EXPECT_EQ((*reader)->manifest().user_count(), expected.size());
  for (const auto& [user, state] : expected) {
    auto got = (*reader)->Lookup(user);
    ASSERT_THAT(got, IsOk());
    ASSERT_TRUE(got->has_value()) << user;
    EXPECT_EQ((*got)->SerializeAsString(), state.SerializeAsString()) << user;
  }
  uint64_t next_total = 0;
  for (const auto& p : (*reader)->manifest().partitions())
    next_total += p.next_offset();
  uint64_t records = 0;
  for (const auto& [p, r] : log) records += r.size();
  EXPECT_EQ(next_total, records);
}

TEST_F(ProcessorTest, StoredStateEqualsApplyingEachUsersEvents) {
  std::set<std::pair<int32_t, int64_t>> bad;
  const Log log = MakeLog(&bad);
  TempDir dir;
  Run(log, dir.path(), -1);
  ExpectEachUsersEventsApplied(log, model_, dir.path());
}

// Small polls and a short window: each batch closes impressions that were
// indexed when it began (the users Prefetch() foresees, closed through
// their prefetched records) and impressions shown in the same batch (which
// it did not foresee), interleaved, while a small cache evicts. Users and
// arm aggregates (whose sums depend on the order of closes) come out as
// from one poll of the whole log.
TEST_F(ProcessorTest, ForeseenAndUnforeseenDueUsersAreClosedAlike) {
  std::set<std::pair<int32_t, int64_t>> bad;
  const Log log = MakeLog(&bad);
  TempDir whole_dir, dir;
  model_.attribution_window_ms = 60'000;
  const std::string whole = Run(log, whole_dir.path(), -1);
  ASSERT_FALSE(whole.empty());
  poll_batch_ = 40;
  EXPECT_EQ(Run(log, dir.path(), -1), whole);
  ExpectEachUsersEventsApplied(log, model_, dir.path());
}

TEST_F(ProcessorTest, SnapshotCarriesOffPolicyEstimatesOfItsAggregates) {
  std::set<std::pair<int32_t, int64_t>> bad;
  const Log log = MakeLog(&bad);
  TempDir dir;
  Run(log, dir.path(), -1);
  auto reader = SnapshotReader::OpenLatest(dir.path() + "/snap");
  ASSERT_THAT(reader, IsOk());
  auto population = (*reader)->ReadPopulation();
  ASSERT_THAT(population, IsOk());
  ASSERT_EQ(population->size(), 8u);  // the generator's arms
  uint64_t rewards = 0;
  for (const auto& [arm, a] : *population) rewards += a.rewards();

  const OffPolicySummary& op = (*reader)->manifest().off_policy();
  // Every impression ended as an attributed or expired reward (all with the
  // logged propensity 1/8), except those still pending at the end.
  EXPECT_GT(op.logged_rewards(), 500u);
  EXPECT_LE(op.logged_rewards(), rewards);
  // The first snapshot has no greedy estimate yet (it is scored on the rows
  // after the snapshot that publishes its arm: state/population.h).
  ASSERT_EQ(op.estimates_size(), 1);
  // The generator logs uniformly over the 8 arms, so IPS and SNIPS of the
  // uniform policy are the logged mean reward exactly.
  const PolicyEstimate& uniform = op.estimates(0);
  EXPECT_EQ(uniform.policy(), "uniform");
  EXPECT_NEAR(uniform.ips(), op.logged_value(), 1e-12);
  EXPECT_NEAR(uniform.snips(), op.logged_value(), 1e-12);
  EXPECT_LT(uniform.ips_low(), uniform.ips());
  EXPECT_GT(uniform.ips_high(), uniform.ips());
  // The greedy arm it publishes for the next interval.
  const ModelConfig model = (*reader)->model();
  const int64_t as_of = (*reader)->manifest().watermark_ms();
  EXPECT_EQ(op.published_greedy_arm(), GreedyArm(model, *population, as_of));
  EXPECT_FALSE(op.published_greedy_arm().empty());
  // snapshot verify recomputes the summary from the aggregates.
  EXPECT_THAT(VerifySnapshot((*reader)->path()), IsOk());
}

// The byte budget alone (no user-count bound, no commits by event count or
// time): clean users are evicted and read again, dirty ones committed early
// (in the middle of a batch too), the estimate stays near the budget, and
// the state is the same as with an unbounded cache.
TEST_F(ProcessorTest, ByteBudgetEvictsAndCommitsWithoutChangingTheState) {
  std::set<std::pair<int32_t, int64_t>> bad;
  const Log log = MakeLog(&bad);
  TempDir unbounded_dir, dir;
  cache_max_users_ = 1'000'000;
  commit_max_events_ = 1'000'000;
  const std::string unbounded = Run(log, unbounded_dir.path(), -1);
  ASSERT_FALSE(unbounded.empty());

  // ~170 users estimated at 2-15 KiB each: 64 KiB holds a handful.
  cache_max_bytes_ = 64 << 10;
  auto store = OpenRocksStateStore(dir.path() + "/state", "events", {});
  ASSERT_THAT(store, IsOk());
  FaultyStore faulty(store->get());
  auto publisher = SnapshotPublisher::Open({dir.path() + "/snap", 2}, &clock_);
  ASSERT_THAT(publisher, IsOk());
  Metrics metrics(std::make_shared<prometheus::Registry>());
  Processor processor(Options(), &faulty, &dead_letters_, &clock_, &metrics);
  FakeSource source(&log, &processor);
  std::vector<Message> batch;
  size_t max_bytes = 0;
  for (int i = 0; i < 100; ++i) {  // ~3100 messages, 500 a batch
    ASSERT_THAT(source.Poll(500, 0, &batch), IsOk());
    if (batch.empty()) break;
    ASSERT_THAT(processor.HandleBatch(batch), IsOk());
    max_bytes = std::max(max_bytes, processor.cache_bytes());
    if (processor.CommitDue()) {
      ASSERT_THAT(processor.Commit(), IsOk());
    }
  }
  ASSERT_THAT(processor.Commit(), IsOk());
  std::vector<SnapshotPart> parts(kPartitions);
  for (int p = 0; p < kPartitions; ++p) {
    parts[p].store = &faulty;
    parts[p].meta.set_partition(p);
  }
  auto prepared = (*publisher)->Checkpoint(parts);
  ASSERT_THAT(prepared, IsOk());
  ASSERT_THAT((*publisher)->Complete(*prepared, "events", Options().model),
              IsOk());
  auto manifest = ReadLatestManifest(dir.path() + "/snap");
  ASSERT_THAT(manifest, IsOk());
  EXPECT_EQ(manifest->content_digest(), unbounded);

  const int users = static_cast<int>(manifest->user_count());
  EXPECT_GT(faulty.commits(), 10 * kPartitions);  // forced by bytes
  EXPECT_GT(faulty.user_reads(), 2 * users);      // evicted, read again
  EXPECT_LT(metrics.cached_users.Value(), users / 4.0);
  EXPECT_GT(metrics.cache_bytes.Value(), 0);
  EXPECT_LE(metrics.cache_bytes.Value(), cache_max_bytes_);
  // Between commits: the budget plus what users re-measured at a commit
  // can add to it. (Since issue 15 answered impressions stay pending until
  // their window closes, up to 16 x ~40 B more per user of this log: peaks
  // measured 76-85 KiB, 71-75 KiB before.)
  EXPECT_LE(max_bytes, cache_max_bytes_ + cache_max_bytes_ * 3 / 8);
  std::printf("%d users, %d commits, %d reads, peak estimate %zu B\n", users,
              faulty.commits(), faulty.user_reads(), max_bytes);
}

// Backfill workers: processors over different partitions share one Metrics
// and Health; process-wide gauges show the sum of their shares, and a
// processor that goes away takes its share with it.
// Users whose pending impressions a batch's events close are read with
// the batch's other uncached users in one batched read, not one at a time
// as each comes due.
TEST_F(ProcessorTest, UsersWhoseImpressionsExpireAreReadInTheBatchedRead) {
  constexpr int64_t kT0 = 1'790'000'000'000;
  constexpr int kShown = 20;
  Log log;
  for (int i = 0; i < kShown; ++i) {
    ListenEvent e;
    e.set_event_id(absl::StrCat("imp-", i));
    e.set_user_id(absl::StrCat("u", i));
    e.set_event_time_ms(kT0 + i);
    e.set_kind(ListenEvent::IMPRESSION);
    e.set_arm_id("shelf");
    e.set_request_id(absl::StrCat("r", i));
    e.set_propensity(0.5);
    log[0].push_back({e.user_id(), e.SerializeAsString(), kT0 + i});
  }
  ListenEvent late;  // past every impression's 30 min window
  late.set_event_id("play");
  late.set_user_id("z");
  late.set_event_time_ms(kT0 + 31 * 60'000);
  late.set_kind(ListenEvent::PLAY);
  late.set_track_id("t");
  late.set_artist_id("a");
  late.set_ms_played(40'000);
  late.set_track_duration_ms(200'000);
  log[0].push_back({"z", late.SerializeAsString(), late.event_time_ms()});

  TempDir dir;
  auto store = OpenRocksStateStore(dir.path() + "/state", "events", {});
  ASSERT_THAT(store, IsOk());
  FaultyStore faulty(store->get());
  Metrics metrics(std::make_shared<prometheus::Registry>());
  cache_max_users_ = 5;  // most of the shown users are evicted
  Processor processor(Options(), &faulty, &dead_letters_, &clock_, &metrics);
  ASSERT_THAT(processor.OnAssigned({0}), IsOk());
  FakeSource source(&log, &processor);
  std::vector<Message> batch;
  ASSERT_THAT(source.Poll(kShown, 0, &batch), IsOk());
  ASSERT_EQ(batch.size(), static_cast<size_t>(kShown));
  ASSERT_THAT(processor.HandleBatch(batch), IsOk());
  ASSERT_THAT(processor.Commit(), IsOk());

  const int single = faulty.single_reads(), read = faulty.user_reads();
  ASSERT_THAT(source.Poll(10, 0, &batch), IsOk());
  ASSERT_EQ(batch.size(), 1u);
  ASSERT_THAT(processor.HandleBatch(batch), IsOk());
  EXPECT_EQ(faulty.single_reads(), single);
  // "z" and every shown user that was evicted (all but at most 5).
  EXPECT_GE(faulty.user_reads() - read, 1 + kShown - 5);
  ASSERT_THAT(processor.Commit(), IsOk());
  auto stored = faulty.ReadUser(0, "u0");
  ASSERT_THAT(stored, IsOk());
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->state.impressions_expired, 1u);
  EXPECT_TRUE((*stored)->state.pending.empty());
}

TEST_F(ProcessorTest, OffsetsAPartitionSkipsAreCounted) {
  TempDir dir;
  auto store = OpenRocksStateStore(dir.path() + "/state", "events", {});
  ASSERT_THAT(store, IsOk());
  Metrics metrics(std::make_shared<prometheus::Registry>());
  Processor processor(Options(), store->get(), &dead_letters_, &clock_,
                      &metrics);
  ASSERT_THAT(processor.OnAssigned({0}), IsOk());
  EventGenerator gen(GeneratorOptions{.users = 5, .seed = 3});
  std::vector<std::string> payloads;
  std::vector<std::string> keys;
  for (int i = 0; i < 4; ++i) {
    ListenEvent e = gen.Next();
    keys.push_back(e.user_id());
    payloads.push_back(e.SerializeAsString());
  }
  auto message = [&](int i, int64_t offset) {
    Message m;
    m.partition = 0;
    m.offset = offset;
    m.key = keys[static_cast<size_t>(i)];
    m.payload = payloads[static_cast<size_t>(i)];
    return m;
  };
  // From the reset point the first offset is whatever the log starts at.
  ASSERT_THAT(processor.Handle(message(0, 7)), IsOk());
  ASSERT_THAT(processor.Handle(message(1, 8)), IsOk());
  EXPECT_EQ(metrics.offsets_skipped.Value(), 0);
  // 9 to 11 never came; a message seen again (a re-fetch) skips nothing.
  ASSERT_THAT(processor.Handle(message(2, 12)), IsOk());
  ASSERT_THAT(processor.Handle(message(2, 12)), IsOk());
  EXPECT_EQ(metrics.offsets_skipped.Value(), 3);
  ASSERT_THAT(processor.Handle(message(3, 14)), IsOk());
  EXPECT_EQ(metrics.offsets_skipped.Value(), 4);
  ASSERT_THAT(processor.Commit(), IsOk());
  EXPECT_EQ(processor.CommittedOffsets().at(0), 15);
}

TEST_F(ProcessorTest, ProcessorsSharingMetricsShowTheSumOfTheirShares) {
  std::set<std::pair<int32_t, int64_t>> bad;
  const Log log = MakeLog(&bad);
  Log first, second;
  for (const auto& [p, records] : log) (p < 2 ? first : second)[p] = records;
  TempDir dir;
  Metrics metrics(std::make_shared<prometheus::Registry>());
  Health health;
  auto open = [&](const std::string& name) {
    auto store = OpenRocksStateStore(dir.path() + "/" + name, "events", {});
    EXPECT_THAT(store, IsOk());
    return std::move(*store);
  };
  std::unique_ptr<StateStore> store_a = open("a"), store_b = open("b");
  auto a = std::make_unique<Processor>(Options(), store_a.get(), &dead_letters_,
                                       &clock_, &metrics, &health);
  auto b = std::make_unique<Processor>(Options(), store_b.get(), &dead_letters_,
                                       &clock_, &metrics, &health);
  FakeSource source_a(&first, a.get()), source_b(&second, b.get());
  std::vector<Message> batch;
  for (int i = 0; i < 100 && !(source_a.AtEnd() && source_b.AtEnd()); ++i) {
    ASSERT_THAT(source_a.Poll(500, 0, &batch), IsOk());
    ASSERT_THAT(a->HandleBatch(batch), IsOk());
    ASSERT_THAT(source_b.Poll(300, 0, &batch), IsOk());
    ASSERT_THAT(b->HandleBatch(batch), IsOk());
  }
  ASSERT_TRUE(source_a.AtEnd() && source_b.AtEnd());
  ASSERT_THAT(a->Commit(), IsOk());
  ASSERT_THAT(b->Commit(), IsOk());
  ASSERT_GT(a->cache_bytes(), 0u);
  ASSERT_GT(b->cache_bytes(), 0u);

  EXPECT_EQ(metrics.assigned_partitions.Value(), kPartitions);
  EXPECT_EQ(metrics.cache_bytes.Value(),
            static_cast<double>(a->cache_bytes() + b->cache_bytes()));
  EXPECT_EQ(metrics.cache_dirty_bytes.Value(), 0);
  EXPECT_TRUE(health.Ready(clock_.MonotonicMs()).ok);

  a.reset();
  EXPECT_EQ(metrics.assigned_partitions.Value(), 1);
  EXPECT_EQ(metrics.cache_bytes.Value(), static_cast<double>(b->cache_bytes()));
  EXPECT_TRUE(health.Ready(clock_.MonotonicMs()).ok);
  b.reset();
  EXPECT_EQ(metrics.assigned_partitions.Value(), 0);
  EXPECT_EQ(metrics.cached_users.Value(), 0);
  EXPECT_EQ(metrics.cache_bytes.Value(), 0);
  EXPECT_FALSE(health.Ready(clock_.MonotonicMs()).ok);
}

}  // namespace
}  // namespace encore
