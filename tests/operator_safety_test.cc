// Operator mistakes that used to lose data silently, on the real broker:
// a second process on the same state or snapshot directory is refused (and
// the first keeps publishing every partition), and restarts without new
// events publish no new snapshot (rollback points stay).
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/snapshot_publisher.h"
#include "state/snapshot_reader.h"
#include "stream/event_generator.h"
#include "stream/event_producer.h"
#include "stream/kafka_client.h"
#include "tests/testing/encore_runs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;
using ::encore::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Slurp(const std::string& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

// Waits until `path` contains `needle` `times` times (or timeout).
bool WaitForLog(const std::string& path, const std::string& needle, int times,
                int timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = Slurp(path);
    int n = 0;
    for (size_t at = text.find(needle); at != std::string::npos;
         at = text.find(needle, at + 1)) {
      ++n;
    }
    if (n >= times) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void Produce(EventProducer& producer, EventGenerator& gen, int n) {
  for (int i = 0; i < n; ++i) ASSERT_THAT(producer.Send(gen.Next()), IsOk());
  ASSERT_THAT(producer.Flush(30'000), IsOk());
}

TEST(OperatorSafetyTest, SecondProcessOnTheSameDirectoriesIsRefused) {
  testing::TempDir dir;
  testing::RunDirs first{testing::UniqueName("lock"), testing::UniqueName("g1"),
                         dir.Sub("state"), dir.Sub("snap"), dir.Sub("a.log")};
  auto producer =
      EventProducer::Open({testing::TestBrokers(), {}}, first.topic, 4);
  ASSERT_THAT(producer, IsOk());
  EventGenerator gen(GeneratorOptions{.users = 500, .seed = 5});
  Produce(**producer, gen, 2000);
  auto a = testing::ChildProcess::Start(testing::RunArgs(first), first.log);
  ASSERT_THAT(a, IsOk());
  ASSERT_TRUE(testing::WaitForOffsetSum(first.snapshot_dir, 2000, 60'000))
      << Slurp(first.log);

  char host[256] = {0};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  const std::string holder =
      " is in use by pid " + std::to_string(a->pid()) + " on host " + host;

  // Same dirs, another group: refused before it joins the group.
  testing::RunDirs second = first;
  second.group = testing::UniqueName("g2");
  second.log = dir.Sub("b.log");
  auto b = testing::RunEncore(testing::RunArgs(second), second.log, 60'000);
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(*b, 1);
  EXPECT_THAT(Slurp(second.log),
              HasSubstr("encore run: --state-dir " + first.state_dir + holder));

  // Only the snapshot dir shared: refused too, naming it.
  testing::RunDirs third = second;
  third.state_dir = dir.Sub("state-3");
  third.log = dir.Sub("c.log");
  auto c = testing::RunEncore(testing::RunArgs(third), third.log, 60'000);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(*c, 1);
  EXPECT_THAT(Slurp(third.log), HasSubstr("encore run: --snapshot-dir " +
                                          first.snapshot_dir + holder));

  // A backfill into the live state dir: refused as well.
  auto d = testing::RunEncore(
      {"backfill", "--brokers=" + testing::TestBrokers(),
       "--topic=" + first.topic, "--state-dir=" + first.state_dir,
       "--snapshot-dir=" + dir.Sub("snap-4"), "--from-beginning"},
      dir.Sub("d.log"), 60'000);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(*d, 1);
  EXPECT_THAT(Slurp(dir.Sub("d.log")),
              HasSubstr("--state-dir " + first.state_dir + holder));

  // The first one kept all its partitions and goes on publishing them all.
  Produce(**producer, gen, 2000);
  ASSERT_TRUE(testing::WaitForOffsetSum(first.snapshot_dir, 4000, 60'000))
      << Slurp(first.log);
  auto manifest = ReadLatestManifest(first.snapshot_dir);
  ASSERT_THAT(manifest, IsOk());
  EXPECT_EQ(manifest->partitions_size(), 4);
  // RunArgs passes group.instance.id and session.timeout.ms: the consumer's,
  // not given to the dead-letter producer (librdkafka warned at every start).
  EXPECT_THAT(Slurp(first.log), Not(HasSubstr("consumer property")));
  a->Signal(SIGTERM);
  auto code = a->Wait(60'000);
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0) << Slurp(first.log);

  // Once it is gone, the directories are free again.
  auto again =
      testing::ChildProcess::Start(testing::RunArgs(second), dir.Sub("e.log"));
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(WaitForLog(dir.Sub("e.log"), "assigned", 1, 60'000))
      << Slurp(dir.Sub("e.log"));
  again->Signal(SIGTERM);
  code = again->Wait(60'000);
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0) << Slurp(dir.Sub("e.log"));
}

TEST(OperatorSafetyTest, RestartsWithoutNewEventsPublishNoNewSnapshot) {
  testing::TempDir dir;
  testing::RunDirs run{testing::UniqueName("idle"), testing::UniqueName("g"),
                       dir.Sub("state"), dir.Sub("snap"), dir.Sub("run.log")};
  auto producer =
      EventProducer::Open({testing::TestBrokers(), {}}, run.topic, 4);
  ASSERT_THAT(producer, IsOk());
  EventGenerator gen(GeneratorOptions{.users = 500, .seed = 6});
  Produce(**producer, gen, 2000);
  auto code = testing::RunUntilCaughtUp(run, 2000);
  ASSERT_THAT(code, IsOk());
  ASSERT_EQ(*code, 0);
  const std::vector<uint64_t> before = ListSnapshotIds(run.snapshot_dir);
  ASSERT_FALSE(before.empty());
  auto published = ReadLatestManifest(run.snapshot_dir);
  ASSERT_THAT(published, IsOk());

  // RunArgs keeps 3 snapshots: four restarts that each published one would
  // evict every rollback point.
  for (int restart = 1; restart <= 4; ++restart) {
    const std::string log = dir.Sub("restart-" + std::to_string(restart));
    auto child = testing::ChildProcess::Start(testing::RunArgs(run), log);
    ASSERT_THAT(child, IsOk());
    // It joined, committed and found the latest snapshot current.
    EXPECT_TRUE(WaitForLog(log, "is still current", 1, 60'000)) << Slurp(log);
    child->Signal(SIGTERM);
    code = child->Wait(60'000);
    ASSERT_THAT(code, IsOk());
    EXPECT_EQ(*code, 0) << Slurp(log);
    EXPECT_EQ(ListSnapshotIds(run.snapshot_dir), before) << Slurp(log);
  }
  auto latest = ReadLatestManifest(run.snapshot_dir);
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->snapshot_id(), published->snapshot_id());
  EXPECT_EQ(latest->created_at_ms(), published->created_at_ms());

  // New events: a new snapshot.
  Produce(**producer, gen, 100);
  code = testing::RunUntilCaughtUp(run, 2100);
  ASSERT_THAT(code, IsOk());
  ASSERT_EQ(*code, 0);
  latest = ReadLatestManifest(run.snapshot_dir);
  ASSERT_THAT(latest, IsOk());
  EXPECT_GT(latest->snapshot_id(), published->snapshot_id());
  EXPECT_NE(latest->content_digest(), published->content_digest());
}

// The backfill's progress bar keeps to one terminal line (redrawn with
// "\r", never wider than the terminal: 80 columns when stderr is not
// one), shows the ETA as h:mm:ss and is not followed by per-partition
// lines; a --from-time past the end warns that there is nothing to replay.
TEST(OperatorSafetyTest, BackfillOutputIsReadable) {
  testing::TempDir dir;
  const std::string topic = testing::UniqueName("bar");
  auto producer = EventProducer::Open({testing::TestBrokers(), {}}, topic, 4);
  ASSERT_THAT(producer, IsOk());
  EventGenerator gen(GeneratorOptions{.users = 200, .seed = 8});
  Produce(**producer, gen, 3000);
  auto backfill = [&](const std::string& name, const std::string& from) {
    return testing::RunEncore(
        {"backfill", "--brokers=" + testing::TestBrokers(), "--topic=" + topic,
         "--state-dir=" + dir.Sub(name + "-state"),
         "--snapshot-dir=" + dir.Sub(name + "-snap"), "--progress=bar",
         "--block-cache-mb=32", "--max-events-per-second=3000", from},
        dir.Sub(name + ".log"), 120'000);
  };
  auto code = backfill("all", "--from-beginning");
  ASSERT_THAT(code, IsOk());
  ASSERT_EQ(*code, 0) << Slurp(dir.Sub("all.log"));
  const std::string log = Slurp(dir.Sub("all.log"));
  const size_t first = log.find('\r');
  ASSERT_NE(first, std::string::npos) << log;
  const size_t end = log.find('\n', first);
  ASSERT_NE(end, std::string::npos);
  int redraws = 0;
  for (absl::string_view draw : absl::StrSplit(
           absl::string_view(log).substr(first + 1, end - first - 1), '\r')) {
    ++redraws;
    EXPECT_LT(draw.size(), 80u + 3) << draw;  // + the erase-line escape
    EXPECT_TRUE(std::regex_search(std::string(draw),
                                  std::regex("ETA [0-9]+:[0-9]{2}:[0-9]{2}")))
        << draw;
  }
  EXPECT_GE(redraws, 2);
  EXPECT_THAT(log.substr(end), Not(HasSubstr("assigned")));

  code = backfill("future", "--from-time=2099-01-01T00:00:00Z");
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0);
  EXPECT_THAT(Slurp(dir.Sub("future.log")),
              HasSubstr("nothing to replay in " + topic +
                        ": --from-time is at or after the end of every "
                        "partition"));
}

// Runs `encore args...` with stdin, stdout and stderr on a new
// pseudo-terminal of `columns` columns (output processing off, so `text`
// holds the bytes encore wrote). Kills it after timeout_ms (code -1).
struct TerminalRun {
  int code = -1;
  std::string text;
};
TerminalRun RunInTerminal(const std::vector<std::string>& args, int columns,
                          int timeout_ms) {
  TerminalRun out;
  winsize size{};
  size.ws_row = 24;
  size.ws_col = static_cast<unsigned short>(columns);
  termios mode{};
  cfmakeraw(&mode);
  int master = -1, slave = -1;
  if (openpty(&master, &slave, nullptr, &mode, &size) != 0) return out;
  const std::string binary = testing::EncoreBinary();
  std::vector<char*> argv{const_cast<char*>(binary.c_str())};
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    setsid();
    ioctl(slave, TIOCSCTTY, 0);
    dup2(slave, 0);
    dup2(slave, 1);
    dup2(slave, 2);
    close(master);
    close(slave);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(slave);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = read(master, buf, sizeof(buf));
    if (n <= 0) break;  // EIO: the child closed the terminal (exited)
    out.text.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  if (std::chrono::steady_clock::now() >= deadline) kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  close(master);
  if (WIFEXITED(status)) out.code = WEXITSTATUS(status);
  return out;
}

// On a real terminal 50 columns wide (stderr a tty: --progress=auto picks
// the bar), every redraw of the backfill's bar starts with "\r", fits in
// the 50 columns (so it never wraps into new lines), shows the ETA as
// h:mm:ss, reaches 100 % on that same line, and no per-partition line
// follows it.
TEST(OperatorSafetyTest, BackfillBarFitsA50ColumnTerminal) {
  testing::TempDir dir;
  const std::string topic = testing::UniqueName("tty");
  auto producer = EventProducer::Open({testing::TestBrokers(), {}}, topic, 4);
  ASSERT_THAT(producer, IsOk());
  EventGenerator gen(GeneratorOptions{.users = 200, .seed = 9});
  Produce(**producer, gen, 3000);
  TerminalRun run =
      RunInTerminal({"backfill", "--brokers=" + testing::TestBrokers(),
                     "--topic=" + topic, "--state-dir=" + dir.Sub("state"),
                     "--snapshot-dir=" + dir.Sub("snap"), "--block-cache-mb=32",
                     "--max-events-per-second=3000", "--from-beginning"},
                    50, 120'000);
  ASSERT_EQ(run.code, 0) << run.text;
  const std::string& log = run.text;
  const size_t first = log.find('\r');
  ASSERT_NE(first, std::string::npos) << log;
  const size_t end = log.find('\n', first);
  ASSERT_NE(end, std::string::npos) << log;
  std::vector<std::string> draws = absl::StrSplit(
      absl::string_view(log).substr(first + 1, end - first - 1), '\r');
  ASSERT_GE(draws.size(), 2u) << log;
  for (std::string draw : draws) {
    const std::string erase = "\x1b[K";  // erase to the end of the line
    ASSERT_TRUE(absl::EndsWith(draw, erase)) << draw;
    draw.resize(draw.size() - erase.size());
    EXPECT_LT(draw.size(), 50u) << draw;
    EXPECT_TRUE(
        std::regex_search(draw, std::regex("ETA [0-9]+:[0-9]{2}:[0-9]{2}$")))
        << draw;
  }
  EXPECT_THAT(draws.back(), HasSubstr("100.0%"));
  EXPECT_THAT(log.substr(end), Not(HasSubstr("assigned")));
  EXPECT_THAT(log.substr(end), HasSubstr("backfill complete"));
}

// Whether `topic` exists, asked without letting the broker auto-create it.
absl::Status TopicExists(const std::string& topic) {
  auto admin = NewAdminClient({testing::TestBrokers(), {}});
  if (!admin.ok()) return admin.status();
  return TopicPartitions(admin->get(), topic, 10'000).status();
}

// A misspelt --topic creates nothing on the broker: `run` waits for the
// topic (saying so), without creating its dead-letter topic, a SIGTERM
// ends that wait cleanly, `backfill` refuses; once the topic exists, a
// waiting `run` goes on and the dead-letter topic is created.
TEST(OperatorSafetyTest, AMissingTopicIsWaitedForAndLeavesNothingBehind) {
  testing::TempDir dir;
  testing::RunDirs run{testing::UniqueName("missing"), testing::UniqueName("g"),
                       dir.Sub("state"), dir.Sub("snap"), dir.Sub("run.log")};
  const std::string dlq = run.topic + ".dlq";
  auto child = testing::ChildProcess::Start(testing::RunArgs(run), run.log);
  ASSERT_THAT(child, IsOk());
  ASSERT_TRUE(WaitForLog(run.log,
                         "topic " + run.topic + " does not exist on " +
                             testing::TestBrokers() +
                             " (misspelt --topic?): waiting for it",
                         1, 60'000))
      << Slurp(run.log);
  child->Signal(SIGTERM);
  auto code = child->Wait(30'000);
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0) << Slurp(run.log);
  EXPECT_THAT(Slurp(run.log), HasSubstr("stopped during start-up"));
  EXPECT_THAT(TopicExists(run.topic), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(TopicExists(dlq), StatusIs(absl::StatusCode::kNotFound));

  auto backfill = testing::RunEncore(
      {"backfill", "--brokers=" + testing::TestBrokers(),
       "--topic=" + run.topic, "--state-dir=" + dir.Sub("b-state"),
       "--snapshot-dir=" + dir.Sub("b-snap"), "--from-beginning"},
      dir.Sub("b.log"), 60'000);
  ASSERT_THAT(backfill, IsOk());
  EXPECT_EQ(*backfill, 1);
  EXPECT_THAT(
      Slurp(dir.Sub("b.log")),
      HasSubstr("encore backfill: topic " + run.topic + " does not exist"));
  EXPECT_THAT(TopicExists(run.topic), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(TopicExists(dlq), StatusIs(absl::StatusCode::kNotFound));

  // Producers start after encore: it waits, then consumes.
  run.log = dir.Sub("run-2.log");
  auto waiting = testing::ChildProcess::Start(testing::RunArgs(run), run.log);
  ASSERT_THAT(waiting, IsOk());
  ASSERT_TRUE(WaitForLog(run.log, "waiting for it to be created", 1, 60'000))
      << Slurp(run.log);
  auto producer =
      EventProducer::Open({testing::TestBrokers(), {}}, run.topic, 4);
  ASSERT_THAT(producer, IsOk());
  EventGenerator gen(GeneratorOptions{.users = 100, .seed = 10});
  Produce(**producer, gen, 500);
  EXPECT_TRUE(testing::WaitForOffsetSum(run.snapshot_dir, 500, 90'000))
      << Slurp(run.log);
  waiting->Signal(SIGTERM);
  code = waiting->Wait(60'000);
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0) << Slurp(run.log);
  EXPECT_THAT(TopicExists(dlq), IsOk());
}

// A SIGTERM while start-up waits for an unreachable broker ends the
// process at once, with the usual exit code; it used to wait out the
// dead-letter topic's creation first (12 s per worker).
TEST(OperatorSafetyTest, SigtermDuringStartUpEndsItPromptly) {
  testing::TempDir dir;
  const std::string log = dir.Sub("run.log");
  auto child = testing::ChildProcess::Start(
      {"run", "--brokers=127.0.0.1:1", "--topic=events", "--workers=2",
       "--state-dir=" + dir.Sub("state"), "--snapshot-dir=" + dir.Sub("snap"),
       "--metrics-listen="},
      log);
  ASSERT_THAT(child, IsOk());
  ASSERT_TRUE(
      WaitForLog(log, "waiting for a Kafka broker to answer", 1, 60'000))
      << Slurp(log);
  child->Signal(SIGTERM);
  // Generous, and still below the 12 s the creation alone used to take.
  auto code = child->Wait(8'000);
  ASSERT_THAT(code, IsOk()) << "no exit within 8 s of SIGTERM\n" << Slurp(log);
  EXPECT_EQ(*code, 0) << Slurp(log);
  EXPECT_THAT(Slurp(log), HasSubstr("stopped during start-up"));
  EXPECT_THAT(Slurp(log), HasSubstr("Connection refused"));
}

struct Output {
  int code;
  std::string text;  // stdout and stderr
};

Output Shell(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  Output out{-1, ""};
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.text.append(buf, n);
  const int status = pclose(p);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// `produce --from-jsonl` applies encore's validation: what would be
// dead-lettered is reported per line and not sent, and skipped lines make
// the exit code 1 unless --max-bad-lines allows them.
TEST(OperatorSafetyTest, ProduceReportsInvalidLinesAndFailsOnThem) {
  testing::TempDir dir;
  const std::string topic = testing::UniqueName("jsonl");
  const std::string file = dir.Sub("events.jsonl");
  {
    std::ofstream out(file);
    const std::string play =
        R"("kind": "PLAY", "event_time_ms": 1793491200000, "track_id": "t", )"
        R"("artist_id": "a", "track_duration_ms": 200000)";
    out << R"({"event_id": "e1", "user_id": "u1", "ms_played": 1000, )" << play
        << "}\n"
        << R"({"event_id": "e2", "ms_played": 1000, )" << play << "}\n"
        << R"({"event_id": "e3", "user_id": "u3", "ms_played": -5, )" << play
        << "}\n"
        << R"({"event_id": "e4", "user_id": "u4", "kind": "IMPRESSION", )"
        << R"("event_time_ms": 1793491200000, "arm_id": "x", )"
        << R"("request_id": "r", "propensity": 1.5})"
        << "\n"
        << "not json\n"
        << R"({"event_id": "e6", "user_id": "u6", "ms_played": 1000, )" << play
        << "}\n";
  }
  const std::string produce = testing::EncoreBinary() +
                              " produce --brokers=" + testing::TestBrokers() +
                              " --topic=" + topic + " --from-jsonl - < " + file;
  Output out = Shell(produce);
  EXPECT_EQ(out.code, 1) << out.text;
  EXPECT_THAT(out.text, HasSubstr("-:2: skipped: missing_user_id"));
  EXPECT_THAT(out.text, HasSubstr("-:3: skipped: negative_duration"));
  EXPECT_THAT(out.text, HasSubstr("-:4: skipped: bad_propensity"));
  EXPECT_THAT(out.text, HasSubstr("-:5: skipped: "));
  EXPECT_THAT(out.text, HasSubstr("produced 2 events to " + topic +
                                  ", skipped 4 bad lines"));
  EXPECT_THAT(out.text, HasSubstr("encore produce: 4 bad lines (more than "
                                  "--max-bad-lines=0)"));
  EXPECT_THAT(out.text, Not(HasSubstr("Did you really mean")));
  // Only the valid ones reached the topic.
  auto records = testing::ReadTopic(topic, 3, 5'000);
  ASSERT_THAT(records, IsOk());
  EXPECT_EQ(records->size(), 2u);

  Output allowed = Shell(produce + " --max-bad-lines 4");
  EXPECT_EQ(allowed.code, 0) << allowed.text;
  // --novalidate sends what parses (to exercise dead-lettering), warning.
  Output unchecked = Shell(produce + " --novalidate");
  EXPECT_EQ(unchecked.code, 1) << unchecked.text;  // the line not parsed
  EXPECT_THAT(unchecked.text,
              HasSubstr("-:3: sent although encore will reject it: "
                        "negative_duration"));
  EXPECT_THAT(unchecked.text, HasSubstr("produced 5 events"));
}

// `gen` says when it produced events that encore will dead-letter as
// dated in the future (more than the max skew after their produce time),
// and is silent when none are.
TEST(OperatorSafetyTest, GenWarnsOfEventsDatedAfterNow) {
  testing::TempDir dir;
  const std::string topic = testing::UniqueName("gen-future");
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto gen = [&](int64_t start_ms, const std::string& log) {
    return testing::RunEncore(
        {"gen", "--brokers=" + testing::TestBrokers(), "--topic=" + topic,
         "--users=100", "--events=80000", "--log-level=warn",
         "--start-time-ms=" + std::to_string(start_ms)},
        log, 60'000);
  };
  // 80,000 events are ~44,000 requests 250 ms apart on average, 156 ms at
  // the generator's diurnal peak (20:00 UTC): at least 1.9 h of event
  // time, whatever the hour the test runs at (40,000 fell short of the
  // hour near the peak).
  absl::StatusOr<int> code = gen(now_ms, dir.Sub("now.log"));
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0) << Slurp(dir.Sub("now.log"));
  EXPECT_THAT(Slurp(dir.Sub("now.log")),
              HasSubstr("are dated more than an hour after now; encore "
                        "dead-letters those as future_timestamp"));
  code = gen(now_ms - 86'400'000, dir.Sub("yesterday.log"));
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0) << Slurp(dir.Sub("yesterday.log"));
  EXPECT_THAT(Slurp(dir.Sub("yesterday.log")), Not(HasSubstr("warning")));
}

}  // namespace
}  // namespace encore
