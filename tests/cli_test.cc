// The CLI contract: every subcommand has --help (exit 0); bad use exits
// non-zero with a one-line reason naming the subcommand.
#include <stdio.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/model_record.h"
#include "state/snapshot_publisher.h"
#include "state/state_store.h"
#include "tests/testing/kafka_env.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Result {
  int code;
  std::string out;  // stdout and stderr
};

Result Encore(const std::string& args) {
  const std::string cmd = testing::EncoreBinary() + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  Result r{-1, ""};
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(CliTest, EverySubcommandHasHelp) {
  for (const char* sub : {"run", "read", "score", "snapshot", "backfill", "gen",
                          "produce", "ope"}) {
    SCOPED_TRACE(sub);
    Result r = Encore(std::string(sub) + " --help");
    EXPECT_EQ(r.code, 0);
    EXPECT_THAT(r.out, StartsWith(std::string("encore ") + sub + ": "));
    EXPECT_THAT(r.out, HasSubstr("--brokers"));
  }
  Result run = Encore("run --help");
  EXPECT_THAT(run.out, HasSubstr("--state-dir"));
  EXPECT_THAT(run.out, HasSubstr("--prior-alpha"));
  Result backfill = Encore("backfill --help");
  EXPECT_THAT(backfill.out, HasSubstr("--state-dir"));
  EXPECT_THAT(backfill.out, HasSubstr("--from-beginning"));
  EXPECT_THAT(run.out, HasSubstr("--commit-interval-ms"));
  // produce takes --partitions (defined by gen) and says so.
  EXPECT_THAT(Encore("produce --help").out, HasSubstr("--partitions"));
  Result ope = Encore("ope --help");
  EXPECT_THAT(ope.out, HasSubstr("--from-beginning"));
  EXPECT_THAT(ope.out, HasSubstr("--policy"));
  EXPECT_THAT(ope.out, HasSubstr("--thompson-draws"));
  Result top = Encore("--help");
  EXPECT_EQ(top.code, 0);
  EXPECT_THAT(top.out, HasSubstr("snapshot"));
}

TEST(CliTest, BadUseExitsNonZeroWithOneLineReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"run --brokers=127.0.0.1:1", "encore run: --topic is required\n"},
      {"run --topic=t --state-dir=/tmp/x --snapshot-dir=/tmp/y --reset=middle",
       "encore run: --reset must be earliest or latest\n"},
      {"read --user=u", "encore read: --snapshot-dir is required\n"},
      {"score --snapshot-dir=/tmp/none --user=u --arms=a --method=best",
       "encore score: "},
      {"snapshot list --snapshot-dir=/tmp/x", "encore snapshot: usage: "},
      {"produce --topic=t", "encore produce: --from-jsonl is required\n"},
      {"frobnicate", "encore: unknown subcommand 'frobnicate'"},
      {"backfill --topic=t --state-dir=/tmp/x --snapshot-dir=/tmp/y",
       "encore backfill: exactly one of --from-time and --from-beginning"},
      {"backfill --topic=t --state-dir=/tmp/x --snapshot-dir=/tmp/y "
       "--from-time=yesterday",
       "encore backfill: --from-time: "},
  };
  for (const auto& [args, want] : cases) {
    SCOPED_TRACE(args);
    Result r = Encore(args);
    EXPECT_NE(r.code, 0);
    EXPECT_THAT(r.out, StartsWith(want));
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  }
}

TEST(CliTest, FlagfileSuppliesFlags) {
  testing::TempDir dir;
  const std::string flagfile = dir.Sub("encore.flags");
  FILE* f = fopen(flagfile.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("--snapshot_dir=/nonexistent/from-flagfile\n", f);
  fclose(f);
  Result r = Encore("snapshot info --flagfile=" + flagfile);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("/nonexistent/from-flagfile"));
}

// A state dir remembers the model parameters it was written with; a run
// asking for others is refused, naming the flag and both values, before
// anything is consumed.
TEST(CliTest, RunRefusesAStateDirWrittenWithOtherModelParameters) {
  testing::TempDir dir;
  const std::string state = dir.Sub("state");
  std::filesystem::create_directories(state);
  ASSERT_TRUE(encore::CheckOrRecordModel(state, encore::ModelConfig()).ok());
  Result r = Encore("run --brokers=127.0.0.1:1 --topic=t --state-dir=" + state +
                    " --snapshot-dir=" + dir.Sub("snap") +
                    " --metrics-listen= --attribution-window-min=10");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out,
              HasSubstr("--attribution-window-min (attribution_window_ms): "
                        "the state dir has 1800000, this run 600000"));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("snap") + "/LATEST"));
}

TEST(CliTest, MissingSnapshotIsARuntimeFailure) {
  Result r = Encore("snapshot info --snapshot-dir=/nonexistent/encore");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out,
            "encore snapshot: no snapshot published in "
            "/nonexistent/encore yet\n");
}

TEST(CliTest, SnapshotVerifyAndReadFallBackOnACorruptLatestSnapshot) {
  testing::TempDir dir;
  const std::string snap = dir.Sub("snap");
  {
    auto store = OpenRocksStateStore(dir.Sub("state"), "events", {});
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->OpenPartition(0).ok());
    FakeClock clock(1'800'000'000'000);
    auto publisher = SnapshotPublisher::Open({snap, 3}, &clock);
    ASSERT_TRUE(publisher.ok());
    for (int i = 1; i <= 2; ++i) {
      UserState u;
      u.set_user_id("u");
      u.set_events(i);
      PartitionMeta meta;
      meta.set_partition(0);
      meta.set_next_offset(i);
      ASSERT_TRUE((*store)->Commit(0, {&u}, meta).ok());
      ASSERT_TRUE((*publisher)->Publish(**store, "events", {meta}, {}).ok());
    }
  }
  Result ok = Encore("snapshot verify --snapshot-dir=" + snap + " --all");
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_EQ(std::count(ok.out.begin(), ok.out.end(), '\n'), 2);

  // Truncate the newest SST of the latest snapshot (not shared with the
  // older one).
  std::string newest;
  for (const auto& e : std::filesystem::directory_iterator(
           snap + "/" + SnapshotDirName(2) + "/p-00000")) {
    const std::string path = e.path().string();
    if (e.path().extension() == ".sst" && path > newest) newest = path;
  }
  std::filesystem::resize_file(newest, 7);
  Result bad = Encore("snapshot verify --snapshot-dir=" + snap);
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.out, HasSubstr("BAD"));
  Result read = Encore("read --snapshot-dir=" + snap + " --user=u --json");
  EXPECT_EQ(read.code, 0) << read.out;
  EXPECT_THAT(read.out, HasSubstr("warning: latest snapshot"));
  EXPECT_THAT(read.out, HasSubstr("\"events\":\"1\""));
}

}  // namespace
}  // namespace encore
