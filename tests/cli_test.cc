// The CLI contract: every subcommand has --help (exit 0); bad use exits
// non-zero with a one-line reason naming the subcommand.
#include <stdio.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>
#include <thread>

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
using ::testing::Not;
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
    EXPECT_THAT(r.out, HasSubstr("--log-level"));
  }
  // Each subcommand shows its own flags only.
  for (const char* sub : {"run", "backfill", "gen", "produce"}) {
    EXPECT_THAT(Encore(std::string(sub) + " --help").out,
                HasSubstr("--brokers"))
        << sub;
  }
  Result read = Encore("read --help");
  EXPECT_THAT(read.out, HasSubstr("--user"));
  for (const char* other : {"--brokers", "--kafka-config", "--seed",
                            "--state-dir", "--arms", "--from-jsonl"}) {
    EXPECT_THAT(read.out, Not(HasSubstr(std::string("\n  ") + other + " ")))
        << other;
  }
  EXPECT_THAT(Encore("score --help").out, HasSubstr("--seed"));
  EXPECT_THAT(Encore("produce --help").out, HasSubstr("--partitions"));
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
       "encore run: --reset must be one of earliest, latest (got 'middle')\n"},
      {"run --topic=t --state-dir=/tmp/x --snapshot-dir=/tmp/y "
       "--checkpoint-store=/mnt/shared",
       "encore run: checkpoint store '/mnt/shared': expected file:///path or "
       "s3://bucket/prefix\n"},
      {"run --topic=t --state-dir=/tmp/x --snapshot-dir=/tmp/y "
       "--checkpoint-store=s3:///prefix",
       "encore run: checkpoint store 's3:///prefix': expected "
       "s3://bucket/prefix with a valid bucket name\n"},
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

// Values that would invert the model or mean something else than asked are
// usage errors (exit 2) naming the flag; unknown enum values list the
// allowed ones.
TEST(CliTest, OutOfRangeAndUnknownValuesAreRefusedByFlagName) {
  testing::TempDir dir;
  const std::string dirs = " --state-dir=" + dir.Sub("s") +
                           " --snapshot-dir=" + dir.Sub("p") +
                           " --brokers=127.0.0.1:1 ";
  const std::string run = "run --topic=t" + dirs;
  const std::string backfill = "backfill --topic=t --from-beginning" + dirs;
  const std::pair<std::string, std::string> cases[] = {
      {run + "--arm-half-life-h=-5",
       "encore run: --arm-half-life-h must be >= 0 (got -5)\n"},
      {backfill + "--arm-half-life-h=-5",
       "encore backfill: --arm-half-life-h must be >= 0 (got -5)\n"},
      {run + "--feature-half-life-h=-1",
       "encore run: --feature-half-life-h must be > 0 (got -1)\n"},
      {run + "--session-gap-min=0",
       "encore run: --session-gap-min must be > 0 (got 0)\n"},
      {run + "--attribution-window-min=-30",
       "encore run: --attribution-window-min must be > 0 (got -30)\n"},
      {run + "--lateness-h=-1",
       "encore run: --lateness-h must be > 0 (got -1)\n"},
      {run + "--prior-alpha=-1",
       "encore run: --prior-alpha must be > 0 (got -1)\n"},
      {run + "--prior-strength=-4",
       "encore run: --prior-strength must be > 0 (got -4)\n"},
      {run + "--snapshot-interval-s=-1",
       "encore run: --snapshot-interval-s must be > 0 (got -1)\n"},
      {run + "--snapshot-keep=0",
       "encore run: --snapshot-keep must be >= 1 (got 0)\n"},
      {run + "--commit-interval-ms=0",
       "encore run: --commit-interval-ms must be > 0 (got 0)\n"},
      {run + "--commit-max-events=-1",
       "encore run: --commit-max-events must be > 0 (got -1)\n"},
      {backfill + "--max-events-per-second=-10",
       "encore backfill: --max-events-per-second must be >= 0 (got -10)\n"},
      {"gen --topic=t --rate=-1", "encore gen: --rate must be >= 0 (got -1)\n"},
      {run + "--log-level=chatty",
       "encore run: --log-level must be one of trace, debug, info, warn, "
       "error, critical, off (got 'chatty')\n"},
      {"read --snapshot-dir=/x --user=u --log-format=yaml",
       "encore read: --log-format must be one of text, json (got 'yaml')\n"},
      {backfill + "--progress=fancy",
       "encore backfill: --progress must be one of auto, bar, log, off (got "
       "'fancy')\n"},
      {"score --snapshot-dir=/x --user=u --arms=a --method=best",
       "encore score: --method: unknown method 'best' (expected mean, "
       "thompson, ucb, nig-thompson, lints or linucb)\n"},
  };
  for (const auto& [args, want] : cases) {
    SCOPED_TRACE(args);
    Result r = Encore(args);
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.out, want);
  }
  // Nothing was created for a refused command.
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("s")));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("p")));
}

// One convention for every usage error, absl's parse errors included: exit
// 2 and one line "encore <subcommand>: <reason>" naming the flag.
TEST(CliTest, UsageErrorsHaveOneStyleAndExitCode) {
  testing::TempDir dir;
  const std::string run = "run --topic=t --state-dir=" + dir.Sub("s") +
                          " --snapshot-dir=" + dir.Sub("p") +
                          " --brokers=127.0.0.1:1 ";
  const std::pair<std::string, std::string> cases[] = {
      {run + "--commit-interval-ms=abc",
       "encore run: --commit-interval-ms: illegal value 'abc'"},
      {run + "--sync-commits=maybe",
       "encore run: --sync-commits: illegal value 'maybe'"},
      {run + "--frobnicate=1",
       "encore run: unknown flag --frobnicate (encore run --help lists its "
       "flags)\n"},
      {run + "--metrics-listen=garbage",
       "encore run: --metrics-listen must be host:port, e.g. 127.0.0.1:9464 "
       "(got 'garbage')\n"},
      {run + "--user=bob",
       "encore run: --user does not apply to encore run (encore run --help "
       "lists its flags)\n"},
      {run + "--json", "encore run: --json does not apply to encore run"},
      {"read --snapshot-dir=/x --user=u --brokers=b",
       "encore read: --brokers does not apply to encore read"},
      {"read --snapshot-dir=/x --user=u --kafka-config=a=b",
       "encore read: --kafka-config does not apply to encore read"},
      {"snapshot info --snapshot-dir=/x --seed=3",
       "encore snapshot: --seed does not apply to encore snapshot"},
      {run + "--commit-interval-ms",
       "encore run: --commit-interval-ms needs a value\n"},
      // The budget replaces the three limits, even given at their default.
      {run + "--memory-budget-mb=64 --block-cache-mb=256",
       "encore run: --memory-budget-mb replaces --block-cache-mb; give one "
       "or the other\n"},
  };
  for (const auto& [args, want] : cases) {
    SCOPED_TRACE(args);
    Result r = Encore(args);
    EXPECT_EQ(r.code, 2);
    EXPECT_THAT(r.out, StartsWith(want));
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  }
}

// Both spellings everywhere: dashed names in a flagfile, "--bool false".
TEST(CliTest, DashedNamesInFlagfilesAndSpacedBoolValuesWork) {
  testing::TempDir dir;
  const std::string flagfile = dir.Sub("encore.flags");
  FILE* f = fopen(flagfile.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("# comment\n\n--snapshot-dir=/nonexistent/dashed\n--json false\n", f);
  fclose(f);
  Result r = Encore("snapshot info --flagfile=" + flagfile);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out,
            "encore snapshot: snapshot directory /nonexistent/dashed does "
            "not exist\n");
  // "false" is the flag's value, not a stray argument.
  Result spaced =
      Encore("read --verify false --snapshot-dir=/nonexistent/x --user u");
  EXPECT_EQ(spaced.code, 1);
  EXPECT_THAT(spaced.out, HasSubstr("/nonexistent/x does not exist"));
  Result negated =
      Encore("read --noverify --snapshot-dir /nonexistent/x --user=u");
  EXPECT_EQ(negated.code, 1);
  EXPECT_THAT(negated.out, HasSubstr("/nonexistent/x does not exist"));
  // A flag of another subcommand in a flagfile is refused too.
  f = fopen(flagfile.c_str(), "w");
  fputs("--snapshot_dir=/x\n--brokers=b\n", f);
  fclose(f);
  Result other = Encore("read --user=u --flagfile=" + flagfile);
  EXPECT_EQ(other.code, 2);
  EXPECT_THAT(other.out, StartsWith("encore read: --brokers does not apply"));
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
            "encore snapshot: snapshot directory /nonexistent/encore does "
            "not exist\n");
  testing::TempDir dir;
  Result empty = Encore("snapshot info --snapshot-dir=" + dir.path());
  EXPECT_EQ(empty.code, 1);
  EXPECT_EQ(empty.out, "encore snapshot: no snapshot published in " +
                           dir.path() + " yet\n");
}

// Output that says what it knows: no made-up session length, no "~" on an
// exact count, a warning for duplicate or unknown arms, and for the linear
// methods the model value the ranking used.
TEST(CliTest, ReadAndScoreSayWhatTheyKnow) {
  testing::TempDir dir;
  const std::string snap = dir.Sub("snap");
  {
    auto store = OpenRocksStateStore(dir.Sub("state"), "events", {});
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->OpenPartition(0).ok());
    FakeClock clock(1'800'000'000'000);
    auto publisher = SnapshotPublisher::Open({snap, 3}, &clock);
    ASSERT_TRUE(publisher.ok());
    UserRecord u;
    u.user_id = "u";
    u.events = 1;
    u.arms.push_back({.arm_id = "known"});
    PartitionMeta meta;
    meta.set_partition(0);
    meta.set_next_offset(1);
    ASSERT_TRUE((*store)->Commit(0, {&u}, meta).ok());
    ASSERT_TRUE((*publisher)->Publish(**store, "events", {meta}, {}).ok());
  }
  Result read = Encore("read --snapshot-dir=" + snap + " --user=u");
  EXPECT_EQ(read.code, 0) << read.out;
  EXPECT_THAT(read.out, HasSubstr("none completed yet"));
  EXPECT_THAT(read.out, Not(HasSubstr("mean completed length")));
  EXPECT_THAT(read.out, HasSubstr("distinct artists 0\n"));
  // JSON with the .proto's field names, as the manifest and `score --json`.
  Result json = Encore("read --snapshot-dir=" + snap + " --user=u --json");
  EXPECT_EQ(json.code, 0) << json.out;
  EXPECT_THAT(json.out, HasSubstr("\"user_id\":\"u\""));
  EXPECT_THAT(json.out, HasSubstr("\"arms\":[{\"arm_id\":\"known\""));
  EXPECT_THAT(json.out, HasSubstr("\"first_seen_ms\":"));
  EXPECT_THAT(json.out, Not(HasSubstr("userId")));
  EXPECT_THAT(json.out, Not(HasSubstr("armId")));
  Result scored =
      Encore("score --snapshot-dir=" + snap + " --user=u --arms=known --json");
  EXPECT_EQ(scored.code, 0) << scored.out;
  EXPECT_THAT(scored.out, HasSubstr("\"arm_id\":\"known\""));

  Result score = Encore("score --snapshot-dir=" + snap +
                        " --user=u --arms=known,knwon,known --method=linucb");
  EXPECT_EQ(score.code, 0) << score.out;
  EXPECT_THAT(score.out, HasSubstr("warning: arm known is listed twice"));
  EXPECT_THAT(score.out, HasSubstr("warning: arm knwon has no evidence"));
  EXPECT_THAT(score.out, Not(HasSubstr("warning: arm known has")));
  EXPECT_THAT(score.out, HasSubstr("linear mean"));
  EXPECT_THAT(score.out, Not(HasSubstr("Beta(")));
  // Two arms ranked (the duplicate once).
  EXPECT_THAT(score.out, HasSubstr(" 2. "));
  EXPECT_THAT(score.out, Not(HasSubstr(" 3. ")));
}

// The last line of a string without its trailing newline.
std::string LastLine(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

// `gen` to a broker that cannot be resolved, or that refuses connections,
// ends (after its bounded wait) with one line giving the reason librdkafka
// met, not only "create topic".
TEST(CliTest, GenToAnUnreachableBrokerSaysWhy) {
  Result unresolvable, refused;
  std::thread a([&] {
    unresolvable = Encore(
        "gen --brokers=nonexistent.invalid:9092 --topic=ux-x --events=1");
  });
  std::thread b([&] {
    refused = Encore("gen --brokers=127.0.0.1:1 --topic=ux-x --events=1");
  });
  a.join();
  b.join();
  EXPECT_EQ(unresolvable.code, 1) << unresolvable.out;
  EXPECT_THAT(LastLine(unresolvable.out),
              StartsWith("encore gen: create topic ux-x: no broker answered "
                         "within 12 s (last broker error: "));
  EXPECT_THAT(LastLine(unresolvable.out),
              HasSubstr("Failed to resolve 'nonexistent.invalid:9092'"));
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_THAT(LastLine(refused.out),
              StartsWith("encore gen: create topic ux-x: no broker answered "
                         "within 12 s (last broker error: "));
  EXPECT_THAT(LastLine(refused.out),
              HasSubstr("Connect to ipv4#127.0.0.1:1 failed: Connection "
                        "refused"));
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
      UserRecord u;
      u.user_id = "u";
      u.events = static_cast<uint64_t>(i);
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
  // The numeric id `snapshot info` prints, or the directory name.
  for (const std::string& id : {std::string("1"), SnapshotDirName(1)}) {
    Result one =
        Encore("snapshot verify --snapshot-dir=" + snap + " --snapshot " + id);
    EXPECT_EQ(one.code, 0) << one.out;
    EXPECT_THAT(one.out, HasSubstr(SnapshotDirName(1) + ": OK"));
  }
  Result none =
      Encore("snapshot verify --snapshot-dir=" + snap + " --snapshot=16");
  EXPECT_EQ(none.code, 1);
  EXPECT_THAT(none.out,
              StartsWith("encore snapshot: no snapshot 16 in " + snap));

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
