// Partition handover through the checkpoint store, on the real broker: a
// member is SIGKILLed mid-stream and replaced by one on an empty disk, then
// a second member joins and takes half the partitions; both restore what
// they lack from the store (file://) and replay the rest from Kafka. Every
// partition's final digest equals that of one uninterrupted run over the
// same events, and the store ends up holding the final state, which a
// reader host pulls (once, and following the store) into a snapshot
// directory with the clean run's content digest. Other cases: a paused
// member is fenced; a handover through an s3:// store (the S3 server of the
// ctest fixture); three members over six partitions through a kill, a
// join, a clean leave and a pause past the session timeout, with a reader
// host following the store.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/checkpoint_store.h"
#include "state/digest.h"
#include "state/object_store.h"
#include "state/snapshot_reader.h"
#include "stream/event_generator.h"
#include "stream/event_producer.h"
#include "tests/testing/encore_runs.h"
#include "tests/testing/replay_digest.h"
#include "tests/testing/s3_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;

constexpr int kPartitions = 4;

// Stops a background loop (its flag goes false) and joins its thread when
// the scope ends, also on an early ASSERT return.
struct StopAndJoin {
  std::atomic<bool>* running;
  std::thread* thread;
  ~StopAndJoin() {
    running->store(false);
    if (thread->joinable()) thread->join();
  }
};

// Each partition's entry in the latest manifest of each snapshot dir that
// has it, the highest next offset winning (a member's latest snapshot holds
// only the partitions it owned then).
std::map<int32_t, PartitionManifest> Published(
    const std::vector<std::string>& snapshot_dirs) {
  std::map<int32_t, PartitionManifest> out;
  for (const std::string& dir : snapshot_dirs) {
    absl::StatusOr<SnapshotManifest> m = ReadLatestManifest(dir);
    if (!m.ok()) continue;
    for (const PartitionManifest& p : m->partitions()) {
      auto it = out.find(p.partition());
      if (it == out.end() || it->second.next_offset() < p.next_offset()) {
        out[p.partition()] = p;
      }
    }
  }
  return out;
}

// For a partition that ended with another digest than a clean run: each
// state of it still on disk (the members' kept snapshots, the store's
// checkpoints) beside a clean replay to the same offset. The first wrong
// one says where the state went wrong, and who made it.
std::string ExplainDivergence(const std::string& topic, int32_t partition,
                              const std::vector<std::string>& snapshot_dirs,
                              const std::string& store_uri,
                              const std::string& work_dir) {
  struct State {
    std::string what;
    int64_t offset;
    std::string digest;
  };
  std::vector<State> states;
  for (const std::string& dir : snapshot_dirs) {
    for (const std::string& path : ListSnapshots(dir)) {
      absl::StatusOr<SnapshotManifest> m = ReadManifest(path);
      if (!m.ok()) continue;
      for (const PartitionManifest& p : m->partitions()) {
        if (p.partition() == partition) {
          states.push_back({path, p.next_offset(), p.digest()});
        }
      }
    }
  }
  if (auto objects = OpenObjectStore(store_uri); objects.ok()) {
    CheckpointStore checkpoints(std::move(*objects), topic);
    for (const std::string& name :
         checkpoints.CheckpointNames(partition).value_or(
             std::vector<std::string>{})) {
      absl::StatusOr<PartitionCheckpoint> c =
          checkpoints.ReadCheckpoint(partition, name);
      if (!c.ok() || c->next_offset() < 0) continue;
      states.push_back({absl::StrCat("checkpoint ", name, " by ", c->writer(),
                                     " (snapshot ", c->snapshot_id(), ")"),
                        c->next_offset(), c->digest()});
    }
  }
  std::vector<int64_t> offsets;
  for (const State& s : states) offsets.push_back(s.offset);
  absl::StatusOr<std::map<int64_t, std::string>> clean = testing::ReplayDigests(
      testing::TestBrokers(), topic, partition, offsets, work_dir);
  if (!clean.ok()) return "no clean replay: " + clean.status().ToString();
  std::sort(states.begin(), states.end(),
            [](const State& a, const State& b) { return a.offset < b.offset; });
  std::string out = absl::StrCat("partition ", partition,
                                 " states on disk against a clean replay:\n");
  // A run of states equal to the replay's is one line; at most 12 that
  // differ are listed.
  std::vector<bool> same;
  for (const State& s : states) {
    auto it = clean->find(s.offset);
    same.push_back(it != clean->end() && it->second == s.digest);
  }
  size_t run = 0;
  int listed = 0, unlisted = 0;
  for (size_t i = 0; i < states.size(); ++i) {
    const State& s = states[i];
    if (same[i]) {
      ++run;
      if (i + 1 < states.size() && same[i + 1]) continue;
      absl::StrAppend(&out, "  ", run, " same as the replay, up to offset ",
                      s.offset, " (", s.what, ")\n");
      run = 0;
    } else if (listed < 12) {
      ++listed;
      absl::StrAppend(&out, "  DIFFERS at offset ", s.offset, ": ", s.what,
                      "\n");
    } else {
      ++unlisted;
    }
  }
  if (unlisted > 0) absl::StrAppend(&out, "  and ", unlisted, " more differ\n");
  return out;
}

int64_t OffsetSum(const std::map<int32_t, PartitionManifest>& parts) {
  int64_t sum = 0;
  for (const auto& [p, m] : parts) sum += std::max<int64_t>(m.next_offset(), 0);
  return sum;
}

bool WaitUntil(const std::function<bool()>& done, int timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// The partitions a member's log says it holds: assigned since the last
// start of a process writing to it, and not revoked since.
std::set<int32_t> HeldPartitions(const std::string& log) {
  constexpr absl::string_view kMarker = " info partition ";
  std::set<int32_t> held;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (absl::StrContains(line, "effective configuration:")) {
      held.clear();  // a new process
      continue;
    }
    const absl::string_view text(line);
    const size_t at = text.find(kMarker);
    if (at == absl::string_view::npos) continue;
    const absl::string_view rest = text.substr(at + kMarker.size());
    const size_t space = rest.find(' ');
    int32_t partition = 0;
    if (space == absl::string_view::npos ||
        !absl::SimpleAtoi(rest.substr(0, space), &partition)) {
      continue;
    }
    const absl::string_view what = rest.substr(space + 1);
    if (absl::StartsWith(what, "assigned: resuming at")) held.insert(partition);
    if (what == "revoked") held.erase(partition);
  }
  return held;
}

// The sum of each partition's next offset as published by the member that
// holds it; -1 while a member holds nothing, a partition is held twice, or
// its holder has not published it yet. A member's latest snapshot may still
// list partitions it has handed over, at offsets their new holder
// (restoring an older checkpoint) has not reached: counting those would
// stop that holder short. A member holding nothing has yet to rejoin the
// group, and the rebalance that follows would move partitions again.
int64_t HeldOffsetSum(const std::vector<const testing::RunDirs*>& members) {
  std::set<int32_t> seen;
  int64_t sum = 0;
  for (const testing::RunDirs* m : members) {
    const std::set<int32_t> held = HeldPartitions(m->log);
    if (held.empty()) return -1;
    absl::StatusOr<SnapshotManifest> manifest =
        ReadLatestManifest(m->snapshot_dir);
    if (!manifest.ok()) return -1;
    for (int32_t p : held) {
      if (!seen.insert(p).second) return -1;
      const auto& parts = manifest->partitions();
      auto it = std::find_if(
          parts.begin(), parts.end(),
          [&](const PartitionManifest& pm) { return pm.partition() == p; });
      if (it == parts.end()) return -1;
      sum += std::max<int64_t>(it->next_offset(), 0);
    }
  }
  return sum;
}

// Both members caught up with `produced` events, each holding partitions
// and having published them to the end, then stopped cleanly.
void CatchUpAndStop(testing::ChildProcess& one,
                    const testing::RunDirs& one_dirs,
                    testing::ChildProcess& two,
                    const testing::RunDirs& two_dirs, int64_t produced) {
  EXPECT_TRUE(WaitUntil(
      [&] {
        return HeldOffsetSum({&one_dirs, &two_dirs}) == produced;
      },
      120'000))
      << "no catching up; see " << one_dirs.log << " and " << two_dirs.log;
  one.Signal(SIGTERM);
  two.Signal(SIGTERM);
  for (auto [child, log] :
       {std::pair(&one, one_dirs.log), std::pair(&two, two_dirs.log)}) {
    auto code = child->Wait(60'000);
    ASSERT_THAT(code, IsOk());
    EXPECT_EQ(*code, 0) << log;
  }
}

// The latest manifest of one uninterrupted member, no store, over the
// topic's `produced` events.
absl::StatusOr<SnapshotManifest> CleanRun(const std::string& topic,
                                          int64_t produced,
                                          const testing::TempDir& dir) {
  testing::RunDirs clean{topic,
                         testing::UniqueName("clean"),
                         dir.Sub("clean-state"),
                         dir.Sub("clean-snap"),
                         dir.Sub("clean.log"),
                         {"--workers=1"}};
  absl::StatusOr<int> code = testing::RunUntilCaughtUp(clean, produced);
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError("see " + clean.log);
  return ReadLatestManifest(clean.snapshot_dir);
}

// A fresh topic of kPartitions partitions fed on demand, and a file://
// checkpoint store beside it.
class HandoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topic_ = testing::UniqueName("handover");
    store_uri_ = "file://" + dir_.Sub("store");
    auto producer =
        EventProducer::Open({testing::TestBrokers(), {}}, topic_, kPartitions);
    ASSERT_THAT(producer, IsOk());
    producer_ = std::move(*producer);
    checkpoints_ = std::make_unique<CheckpointStore>(
        std::move(*OpenObjectStore(store_uri_)), topic_);
  }

  void Produce(int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_THAT(producer_->Send(gen_.Next()), IsOk());
    }
    ASSERT_THAT(producer_->Flush(60'000), IsOk());
    produced_ += n;
  }

  // True once the store holds a checkpoint with state of every partition.
  bool EveryPartitionStored() {
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto latest = checkpoints_->Latest(p);
      if (!latest.ok() || !latest->has_value()) return false;
    }
    return true;
  }

  // Runs `member` until the store holds a checkpoint of it for every
  // partition, then stops it cleanly. A snapshot taken before a partition's
  // first commit holds nothing of it (a slow member may take several), so
  // a crash point counted from a member's first upload would land before
  // or after that on different machines. Restarted on the same disk, the
  // member claims each partition again with state: from its first upload
  // on, every partition is in the store.
  void CheckpointEveryPartition(const testing::RunDirs& member) {
    auto child =
        testing::ChildProcess::Start(testing::RunArgs(member), member.log);
    ASSERT_THAT(child, IsOk());
    ASSERT_TRUE(WaitUntil([&] { return EveryPartitionStored(); }, 120'000))
        << "see " << member.log;
    child->Signal(SIGTERM);
    auto code = child->Wait(60'000);
    ASSERT_THAT(code, IsOk());
    ASSERT_EQ(*code, 0) << "see " << member.log;
  }

  testing::TempDir dir_;
  std::string topic_;
  std::string store_uri_;
  std::unique_ptr<EventProducer> producer_;
  EventGenerator gen_{GeneratorOptions{.users = 4000, .seed = 11}};
  int64_t produced_ = 0;
  std::unique_ptr<CheckpointStore> checkpoints_;
};

TEST_F(HandoverTest, MembersRestoreFromTheStoreAndEndWithACleanRunsDigests) {
  auto stored_sum = [&] {
    int64_t sum = 0;
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto latest = checkpoints_->Latest(p);
      if (!latest.ok() || !latest->has_value()) return int64_t{-1};
      sum += (*latest)->next_offset();
    }
    return sum;
  };

  // Member A (two workers) checkpoints every partition to the store, is
  // restarted, and dies as it is about to upload its third snapshot since:
  // its last commits are ahead of the store. The members of this group
  // rebalance cooperatively (the other case uses the default, eager
  // protocols).
  const std::string cooperative =
      "--kafka-config=partition.assignment.strategy=cooperative-sticky";
  const std::string group = testing::UniqueName("handover-group");
  testing::RunDirs a{
      topic_,
      group,
      dir_.Sub("a-state"),
      dir_.Sub("a-snap"),
      dir_.Sub("a.log"),
      {"--checkpoint-store=" + store_uri_, "--workers=2", cooperative}};
  Produce(20'000);
  CheckpointEveryPartition(a);
  if (HasFatalFailure()) return;
  auto member_a = testing::ChildProcess::Start(
      testing::RunArgs(a), a.log,
      {{"ENCORE_TEST_CRASH_AT", "checkpoint-upload:3"}});
  ASSERT_THAT(member_a, IsOk());
  for (int i = 0; i < 30; ++i) {
    Produce(1'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Events go on arriving until A dies: only a snapshot with new content is
  // published and uploaded, so a slow A (a sanitizer build on a loaded
  // machine) could otherwise catch up, stop uploading and never reach its
  // third upload. Bounded: about two minutes.
  for (int i = 0; i < 1200 && member_a->Running(); ++i) {
    Produce(1'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto killed = member_a->Wait(1'000);
  ASSERT_THAT(killed, IsOk());
  ASSERT_EQ(*killed, 128 + SIGKILL)
      << "A never reached its third upload; see " << a.log;
  const int64_t published_by_a = testing::PublishedOffsetSum(a.snapshot_dir);
  std::cerr << "A killed: published " << published_by_a << ", stored "
            << stored_sum() << " of " << produced_ << "\n";
  ASSERT_GT(stored_sum(), 0)
      << "some partition has no checkpoint; see " << a.log;
  ASSERT_LT(stored_sum(), published_by_a);

  // Its replacement B (same static member id, empty disk) takes every
  // partition back from the store. Members from here on start a partition
  // with no state at the end of the topic_: without the store they would
  // silently miss everything before.
  const std::vector<std::string> with_store = {
      "--checkpoint-store=" + store_uri_, "--reset=latest", cooperative};
  testing::RunDirs b{topic_,
                     group,
                     dir_.Sub("b-state"),
                     dir_.Sub("b-snap"),
                     dir_.Sub("b.log"),
                     with_store};
  auto member_b = testing::ChildProcess::Start(testing::RunArgs(b), b.log);
  ASSERT_THAT(member_b, IsOk());
  ASSERT_TRUE(testing::WaitForOffsetSum(b.snapshot_dir, produced_, 120'000))
      << "see " << b.log;
  EXPECT_EQ(testing::CountInFile(b.log, "restored from"), kPartitions) << b.log;

  // C joins as a second member on an empty disk and takes some partitions
  // from B: their checkpoints are B's last uploads, behind B's last commits.
  testing::RunDirs c{topic_,
                     group,
                     dir_.Sub("c-state"),
                     dir_.Sub("c-snap"),
                     dir_.Sub("c.log"),
                     with_store};
  c.extra_args.push_back("--kafka-config=group.instance.id=" + group + "-c");
  auto member_c = testing::ChildProcess::Start(testing::RunArgs(c), c.log);
  ASSERT_THAT(member_c, IsOk());
  ASSERT_TRUE(WaitUntil(
      [&] { return testing::CountInFile(c.log, "restored from") > 0; },
      120'000))
      << "C restored nothing; see " << c.log;
  // A reader host follows the store meanwhile.
  const std::vector<std::string> pull = {"snapshot", "pull",
                                         "--checkpoint-store=" + store_uri_,
                                         "--topic=" + topic_};
  std::vector<std::string> follow_args = pull;
  follow_args.insert(
      follow_args.end(),
      {"--to=" + dir_.Sub("followed"), "--follow", "--follow-interval-s=0.3"});
  auto follower =
      testing::ChildProcess::Start(follow_args, dir_.Sub("follow.log"));
  ASSERT_THAT(follower, IsOk());
  Produce(20'000);
  CatchUpAndStop(*member_b, b, *member_c, c, produced_);
  auto reference = CleanRun(topic_, produced_, dir_);
  ASSERT_THAT(reference, IsOk());
  ASSERT_EQ(reference->partitions_size(), kPartitions);

  // Pulled once, and followed: the same content as the clean run, whole.
  std::vector<std::string> once_args = pull;
  once_args.push_back("--to=" + dir_.Sub("pulled"));
  auto pulled = testing::RunEncore(once_args, dir_.Sub("pull.log"), 120'000);
  ASSERT_THAT(pulled, IsOk());
  ASSERT_EQ(*pulled, 0) << dir_.Sub("pull.log");
  auto pulled_manifest = ReadLatestManifest(dir_.Sub("pulled"));
  ASSERT_THAT(pulled_manifest, IsOk());
  EXPECT_EQ(pulled_manifest->content_digest(), reference->content_digest());
  EXPECT_EQ(pulled_manifest->user_count(), reference->user_count());
  auto verified = testing::RunEncore(
      {"snapshot", "verify", "--snapshot-dir=" + dir_.Sub("pulled")},
      dir_.Sub("verify.log"), 120'000);
  ASSERT_THAT(verified, IsOk());
  EXPECT_EQ(*verified, 0) << dir_.Sub("verify.log");
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto m = ReadLatestManifest(dir_.Sub("followed"));
        return m.ok() && m->content_digest() == reference->content_digest();
      },
      60'000))
      << "see " << dir_.Sub("follow.log");
  follower->Signal(SIGTERM);
  auto follower_code = follower->Wait(30'000);
  ASSERT_THAT(follower_code, IsOk());
  EXPECT_EQ(*follower_code, 0);
  // It followed: more than one snapshot, later ones reusing local files.
  EXPECT_GE(testing::CountInFile(dir_.Sub("follow.log"), "partition(s) pulled"),
            2);

  // Cooperatively, C's arrival took partitions from B without taking back
  // and handing again the ones B kept: B was assigned each partition once.
  EXPECT_EQ(testing::CountInFile(b.log, "assigned: resuming"), kPartitions)
      << b.log;

  const std::map<int32_t, PartitionManifest> members =
      Published({b.snapshot_dir, c.snapshot_dir});
  ASSERT_EQ(members.size(), static_cast<size_t>(kPartitions));
  for (const PartitionManifest& want : reference->partitions()) {
    const PartitionManifest& got = members.at(want.partition());
    EXPECT_EQ(got.next_offset(), want.next_offset()) << want.partition();
    EXPECT_EQ(got.digest(), want.digest()) << "partition " << want.partition();
    EXPECT_EQ(got.users(), want.users()) << want.partition();
    // A clean stop uploads the final checkpoint: the store holds it.
    auto latest = checkpoints_->Latest(want.partition());
    ASSERT_THAT(latest, IsOk());
    ASSERT_TRUE(latest->has_value());
    EXPECT_EQ((*latest)->next_offset(), want.next_offset());
    EXPECT_EQ((*latest)->digest(), want.digest());
  }
}

// True once the process `pid` is stopped (state T in /proc/<pid>/stat).
bool IsStopped(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() &&
         stat[paren + 2] == 'T';
}

// Checkpoint manifests of owner epoch `epoch` in the file:// store at
// `root`.
int ManifestsOfEpoch(const std::string& root, uint64_t epoch) {
  const std::string prefix = absl::StrFormat("%020d-", epoch);
  int n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    n += e.path().parent_path().filename() == "checkpoints" &&
         e.path().filename().string().rfind(prefix, 0) == 0;
  }
  return n;
}

TEST_F(HandoverTest, AMemberPausedWhileItsPartitionsMoveIsFenced) {
  // A checkpoints every partition to the store and is restarted: it claims
  // them again (epoch 2), then pauses as it is about to upload its second
  // snapshot since (events keep coming until it does).
  const std::string group = testing::UniqueName("fenced-group");
  testing::RunDirs a{topic_,
                     group,
                     dir_.Sub("a-state"),
                     dir_.Sub("a-snap"),
                     dir_.Sub("a.log"),
                     {"--checkpoint-store=" + store_uri_, "--workers=1"}};
  Produce(10'000);
  CheckpointEveryPartition(a);
  if (HasFatalFailure()) return;
  auto member_a = testing::ChildProcess::Start(
      testing::RunArgs(a), a.log,
      {{"ENCORE_TEST_STOP_AT", "checkpoint-upload:2"}});
  ASSERT_THAT(member_a, IsOk());
  for (int i = 0; i < 300 && !IsStopped(member_a->pid()); ++i) {
    Produce(200);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(IsStopped(member_a->pid())) << "see " << a.log;
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto latest = checkpoints_->Latest(p);
    ASSERT_THAT(latest, IsOk());
    ASSERT_TRUE(latest->has_value()) << "partition " << p << "; see " << a.log;
    EXPECT_EQ((*latest)->owner_epoch(), 2u) << "partition " << p;
  }
  const int stale_before = ManifestsOfEpoch(dir_.Sub("store"), 2);

  // While A is paused its session ends and B, another member on an empty
  // disk, is given every partition: it claims them and restores.
  testing::RunDirs b{topic_,
                     group,
                     dir_.Sub("b-state"),
                     dir_.Sub("b-snap"),
                     dir_.Sub("b.log"),
                     {"--checkpoint-store=" + store_uri_, "--reset=latest",
                      "--kafka-config=group.instance.id=" + group + "-b"}};
  auto member_b = testing::ChildProcess::Start(testing::RunArgs(b), b.log);
  ASSERT_THAT(member_b, IsOk());
  ASSERT_TRUE(WaitUntil(
      [&] {
        return testing::CountInFile(b.log, "restored from") == kPartitions;
      },
      120'000))
      << "see " << b.log;
  Produce(5'000);
  ASSERT_TRUE(testing::WaitForOffsetSum(b.snapshot_dir, produced_, 120'000))
      << "see " << b.log;

  // A resumes inside its upload: every partition of it is refused, and
  // nothing it wrote is the latest.
  member_a->Signal(SIGCONT);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return testing::CountInFile(a.log, "not uploaded: fenced") >=
               kPartitions;
      },
      60'000))
      << "see " << a.log;
  EXPECT_EQ(ManifestsOfEpoch(dir_.Sub("store"), 2), stale_before);
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto latest = checkpoints_->Latest(p);
    ASSERT_THAT(latest, IsOk());
    ASSERT_TRUE(latest->has_value()) << "partition " << p;
    EXPECT_GE((*latest)->owner_epoch(), 3u) << "partition " << p;
  }

  // A rejoins and the group splits the partitions; both end with the
  // digests of one uninterrupted run.
  Produce(5'000);
  CatchUpAndStop(*member_a, a, *member_b, b, produced_);
  auto reference = CleanRun(topic_, produced_, dir_);
  ASSERT_THAT(reference, IsOk());
  const std::map<int32_t, PartitionManifest> members =
      Published({a.snapshot_dir, b.snapshot_dir});
  ASSERT_EQ(members.size(), static_cast<size_t>(kPartitions));
  for (const PartitionManifest& want : reference->partitions()) {
    const PartitionManifest& got = members.at(want.partition());
    EXPECT_EQ(got.next_offset(), want.next_offset())
        << "partition " << want.partition();
    EXPECT_EQ(got.digest(), want.digest()) << "partition " << want.partition();
    if (got.digest() != want.digest()) {
      std::cerr << ExplainDivergence(
          topic_, want.partition(), {a.snapshot_dir, b.snapshot_dir},
          store_uri_, dir_.Sub(absl::StrCat("replay-", want.partition())));
    }
  }
}

TEST_F(HandoverTest, AReplacementOnAnEmptyDiskRestoresFromS3) {
  ASSERT_TRUE(testing::HaveTestS3())
      << "needs the s3 ctest fixture (ENCORE_TEST_S3_URI)";
  // The same handover through an S3-compatible service: A stops cleanly
  // (its final snapshot uploaded), B takes over on an empty disk.
  const std::string s3 = testing::UniqueS3Uri("handover");
  auto objects = OpenObjectStore(s3);
  ASSERT_THAT(objects, IsOk());
  CheckpointStore store(std::move(*objects), topic_);
  const std::string group = testing::UniqueName("handover-s3-group");
  testing::RunDirs a{topic_,
                     group,
                     dir_.Sub("a-state"),
                     dir_.Sub("a-snap"),
                     dir_.Sub("a.log"),
                     {"--checkpoint-store=" + s3, "--workers=2"}};
  Produce(20'000);
  auto a_code = testing::RunUntilCaughtUp(a, produced_);
  ASSERT_THAT(a_code, IsOk());
  ASSERT_EQ(*a_code, 0) << a.log;
  int64_t stored = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto latest = store.Latest(p);
    ASSERT_THAT(latest, IsOk());
    ASSERT_TRUE(latest->has_value()) << "partition " << p << "; see " << a.log;
    stored += (*latest)->next_offset();
  }
  EXPECT_EQ(stored, produced_) << a.log;

  Produce(10'000);
  testing::RunDirs b{topic_,
                     group,
                     dir_.Sub("b-state"),
                     dir_.Sub("b-snap"),
                     dir_.Sub("b.log"),
                     {"--checkpoint-store=" + s3, "--reset=latest"}};
  auto b_code = testing::RunUntilCaughtUp(b, produced_);
  ASSERT_THAT(b_code, IsOk());
  ASSERT_EQ(*b_code, 0) << b.log;
  EXPECT_EQ(testing::CountInFile(b.log, "restored from s3://"), kPartitions)
      << b.log;
  auto reference = CleanRun(topic_, produced_, dir_);
  ASSERT_THAT(reference, IsOk());
  auto manifest = ReadLatestManifest(b.snapshot_dir);
  ASSERT_THAT(manifest, IsOk());
  EXPECT_EQ(manifest->content_digest(), reference->content_digest());
  EXPECT_EQ(manifest->user_count(), reference->user_count());

  // Every partition counted its events against the topic's 4 partitions
  // from its start (A's history, restored by B): readers route users, and
  // find what searching every partition finds.
  EXPECT_EQ(manifest->topic_partitions(), kPartitions);
  auto routed = SnapshotReader::OpenLatest(b.snapshot_dir);
  ASSERT_THAT(routed, IsOk());
  EXPECT_TRUE((*routed)->routes_users());
  auto searching = SnapshotReader::OpenLatest(b.snapshot_dir,
                                              {.search_all_partitions = true});
  ASSERT_THAT(searching, IsOk());
  int found = 0;
  for (int u = 0; u < 200; ++u) {
    const std::string id = absl::StrFormat("user-%07d", u);
    auto one = (*routed)->Lookup(id);
    auto all = (*searching)->Lookup(id);
    ASSERT_THAT(one, IsOk());
    ASSERT_THAT(all, IsOk());
    ASSERT_EQ(one->has_value(), all->has_value()) << id;
    found += one->has_value();
  }
  EXPECT_GT(found, 0);
}

TEST_F(HandoverTest, ThreeMembersThroughAKillAJoinALeaveAndAPause) {
  // Six partitions, three members, events arriving all along: one member
  // is SIGKILLed, a fourth joins, one leaves cleanly, one is paused past
  // its session timeout and resumed. A reader host follows the store
  // meanwhile and never sees less than the whole topic once it has seen it.
  constexpr int kSix = 6;
  const std::string topic = testing::UniqueName("scale-out");
  auto producer =
      EventProducer::Open({testing::TestBrokers(), {}}, topic, kSix);
  ASSERT_THAT(producer, IsOk());
  std::atomic<int64_t> produced{0};
  std::atomic<bool> producing{true};
  std::atomic<bool> produce_failed{false};
  EventGenerator gen(GeneratorOptions{.users = 6000, .seed = 23});
  std::thread feeder([&] {
    // Bounded: at most 10 minutes of 400 events per 50 ms.
    for (int i = 0; i < 12'000 && producing.load(); ++i) {
      for (int j = 0; j < 400; ++j) {
        if (!(*producer)->Send(gen.Next()).ok()) produce_failed = true;
      }
      if (!(*producer)->Flush(60'000).ok()) produce_failed = true;
      produced += 400;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  StopAndJoin feeder_stop{&producing, &feeder};

  const std::string group = testing::UniqueName("scale-out-group");
  const std::string store = "file://" + dir_.Sub("six-store");
  auto member_dirs = [&](const std::string& name) {
    return testing::RunDirs{
        topic,
        group,
        dir_.Sub(name + "-state"),
        dir_.Sub(name + "-snap"),
        dir_.Sub(name + ".log"),
        {"--checkpoint-store=" + store, "--workers=1",
         "--kafka-config=partition.assignment.strategy=cooperative-sticky",
         "--kafka-config=group.instance.id=" + group + "-" + name}};
  };
  std::map<std::string, testing::RunDirs> dirs;
  std::map<std::string, testing::ChildProcess> members;
  auto start = [&](const std::string& name) {
    dirs.emplace(name, member_dirs(name));
    auto child = testing::ChildProcess::Start(testing::RunArgs(dirs.at(name)),
                                              dirs.at(name).log);
    ASSERT_THAT(child, IsOk());
    members.emplace(name, std::move(*child));
  };
  auto snapshot_dirs = [&] {
    std::vector<std::string> out;
    for (const auto& [name, d] : dirs) out.push_back(d.snapshot_dir);
    return out;
  };
  auto covered = [&] { return OffsetSum(Published(snapshot_dirs())); };

  // The first member starts alone, the two others join. A partition with
  // no checkpoint yet starts at the beginning of the topic (the default
  // --reset), which still holds every event: the result is exact either
  // way.
  ASSERT_TRUE(WaitUntil([&] { return produced.load() > 2'000; }, 60'000));
  start("m1");
  ASSERT_TRUE(WaitUntil([&] { return covered() > 0; }, 120'000))
      << dirs.at("m1").log;
  start("m2");
  start("m3");
  ASSERT_TRUE(WaitUntil(
      [&] {
        return testing::CountInFile(dirs.at("m2").log, "assigned:") > 0 &&
               testing::CountInFile(dirs.at("m3").log, "assigned:") > 0;
      },
      120'000))
      << "m2 or m3 got nothing";

  // A reader host follows the store.
  auto follower = testing::ChildProcess::Start(
      {"snapshot", "pull", "--checkpoint-store=" + store, "--topic=" + topic,
       "--to=" + dir_.Sub("six-followed"), "--follow",
       "--follow-interval-s=0.2"},
      dir_.Sub("six-follow.log"));
  ASSERT_THAT(follower, IsOk());
  std::atomic<bool> reading{true};
  std::atomic<int> reads{0}, partial{0}, unreadable{0};
  std::thread reader([&] {
    int most = 0;
    for (int i = 0; i < 100'000 && reading.load(); ++i) {
      auto r = SnapshotReader::OpenLatest(dir_.Sub("six-followed"));
      if (r.ok()) {
        const int n = (*r)->manifest().partitions_size();
        if (n < most) ++partial;
        most = std::max(most, n);
        if (!(*r)->Lookup("user-0000001").ok()) ++unreadable;
        ++reads;
      } else if (!absl::IsNotFound(r.status())) {
        ++unreadable;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  StopAndJoin reader_stop{&reading, &reader};

  // m2 dies mid-stream; after its session times out its partitions move.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  members.at("m2").Signal(SIGKILL);
  ASSERT_THAT(members.at("m2").Wait(30'000), IsOk());
  // m4 joins.
  start("m4");
  ASSERT_TRUE(WaitUntil(
      [&] { return testing::CountInFile(dirs.at("m4").log, "assigned:") > 0; },
      120'000))
      << dirs.at("m4").log;
  // m3 leaves cleanly.
  members.at("m3").Signal(SIGTERM);
  auto m3_code = members.at("m3").Wait(60'000);
  ASSERT_THAT(m3_code, IsOk());
  EXPECT_EQ(*m3_code, 0) << dirs.at("m3").log;
  // m1 is paused past its session timeout (10 s), then resumed: its
  // partitions moved meanwhile, and it takes some back by rejoining.
  members.at("m1").Signal(SIGSTOP);
  std::this_thread::sleep_for(std::chrono::seconds(14));
  members.at("m1").Signal(SIGCONT);

  // Events stop; the two remaining members catch up and stop.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  producing = false;
  feeder.join();
  ASSERT_FALSE(produce_failed.load());
  const int64_t total = produced.load();
  CatchUpAndStop(members.at("m1"), dirs.at("m1"), members.at("m4"),
                 dirs.at("m4"), total);
  // The topic has no holes: a member that jumped over offsets lost events.
  for (const auto& [name, d] : dirs) {
    EXPECT_EQ(testing::CountInFile(d.log, "were skipped"), 0) << d.log;
  }

  // Every partition ends with the digest of one uninterrupted run, and so
  // does their combination.
  auto reference = CleanRun(topic, total, dir_);
  ASSERT_THAT(reference, IsOk());
  ASSERT_EQ(reference->partitions_size(), kSix);
  EXPECT_EQ(testing::CountInFile(dir_.Sub("clean.log"), "were skipped"), 0);
  const std::map<int32_t, PartitionManifest> merged =
      Published(snapshot_dirs());
  ASSERT_EQ(merged.size(), static_cast<size_t>(kSix));
  std::vector<std::pair<int32_t, std::string>> digests;
  for (const PartitionManifest& want : reference->partitions()) {
    const PartitionManifest& got = merged.at(want.partition());
    EXPECT_EQ(got.next_offset(), want.next_offset()) << want.partition();
    EXPECT_EQ(got.digest(), want.digest()) << "partition " << want.partition();
    if (got.digest() != want.digest()) {
      std::cerr << ExplainDivergence(
          topic, want.partition(), snapshot_dirs(), store,
          dir_.Sub(absl::StrCat("replay-", want.partition())));
    }
    digests.push_back({got.partition(), absl::HexStringToBytes(got.digest())});
  }
  EXPECT_EQ(HexDigest(CombineDigests(digests)), reference->content_digest());

  // The reader host ends with the same content, and never saw a snapshot
  // of fewer partitions after a whole one, nor one it could not read.
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto m = ReadLatestManifest(dir_.Sub("six-followed"));
        return m.ok() && m->content_digest() == reference->content_digest();
      },
      60'000))
      << "see " << dir_.Sub("six-follow.log");
  reading = false;
  reader.join();
  follower->Signal(SIGTERM);
  auto follower_code = follower->Wait(30'000);
  ASSERT_THAT(follower_code, IsOk());
  EXPECT_EQ(*follower_code, 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(partial.load(), 0);
  EXPECT_EQ(unreadable.load(), 0);
  // Partitions did move through the store.
  int restores = 0, jumps = 0;
  for (const auto& [name, d] : dirs) {
    restores += testing::CountInFile(d.log, "restored from");
    jumps += testing::CountInFile(d.log, "the consumer jumped");
  }
  EXPECT_GT(restores, 0);
  std::cerr << total << " events; " << restores << " partition restores; "
            << jumps << " consumer jumps fetched again; m1 revoked "
            << testing::CountInFile(dirs.at("m1").log, "revoked")
            << " times, fenced "
            << testing::CountInFile(dirs.at("m1").log, "fenced")
            << " times; the reader opened " << reads.load() << " snapshots\n";
}

}  // namespace
}  // namespace encore
