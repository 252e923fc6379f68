#include "tests/testing/encore_runs.h"

#include <signal.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "state/snapshot_reader.h"
#include "state/status_macros.h"

namespace encore::testing {

std::vector<std::string> RunArgs(const RunDirs& d) {
  std::vector<std::string> args = {
      "run", "--brokers=" + TestBrokers(), "--topic=" + d.topic,
      "--group=" + d.group, "--state-dir=" + d.state_dir,
      "--snapshot-dir=" + d.snapshot_dir, "--commit-interval-ms=100",
      "--snapshot-interval-s=0.2", "--snapshot-keep=3",
      "--metrics-listen=", "--sync-commits=false", "--block-cache-mb=32",
      "--write-buffer-mb=32",
      // Static membership: a restarted (or killed and restarted) member
      // takes its partitions back at once instead of waiting for the
      // dead one's session to time out.
      "--kafka-config=group.instance.id=" + d.group + "-member",
      "--kafka-config", "session.timeout.ms=10000"};
  args.insert(args.end(), d.extra_args.begin(), d.extra_args.end());
  return args;
}

int64_t PublishedOffsetSum(const std::string& snapshot_dir) {
  absl::StatusOr<SnapshotManifest> m = ReadLatestManifest(snapshot_dir);
  if (!m.ok()) return 0;
  int64_t sum = 0;
  for (const auto& p : m->partitions())
    sum += std::max<int64_t>(p.next_offset(), 0);
  return sum;
}

bool WaitForOffsetSum(const std::string& snapshot_dir, int64_t total,
                      int timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PublishedOffsetSum(snapshot_dir) >= total) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

namespace {

// encore run logs this once it handles SIGTERM as "stop cleanly".
constexpr char kStartedLine[] = "effective configuration";

}  // namespace

int CountInFile(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

absl::StatusOr<int> RunUntilCaughtUp(const RunDirs& dirs, int64_t total) {
  const int started_before = CountInFile(dirs.log, kStartedLine);
  ASSIGN_OR_RETURN(ChildProcess child,
                   ChildProcess::Start(RunArgs(dirs), dirs.log));
  // Everything may be published already (an earlier run caught up): a
  // SIGTERM before the child installed its handler would kill it instead of
  // stopping it cleanly, so wait until it says it started.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (CountInFile(dirs.log, kStartedLine) <= started_before &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const bool caught_up = WaitForOffsetSum(dirs.snapshot_dir, total, 120'000);
  child.Signal(SIGTERM);
  ASSIGN_OR_RETURN(int code, child.Wait(60'000));
  if (!caught_up) {
    return absl::DeadlineExceededError("encore run did not catch up; see " +
                                       dirs.log);
  }
  return code;
}

}  // namespace encore::testing
