// Driving `encore run` against the test broker until it has caught up.
#ifndef ENCORE_TESTS_TESTING_ENCORE_RUNS_H_
#define ENCORE_TESTS_TESTING_ENCORE_RUNS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/testing/kafka_env.h"

namespace encore::testing {

struct RunDirs {
  std::string topic;
  std::string group;
  std::string state_dir;
  std::string snapshot_dir;
  std::string log;
  // Added to RunArgs (e.g. "--workers=1").
  std::vector<std::string> extra_args = {};
};

// The `encore run` arguments for `dirs`, with fast commits and snapshots.
std::vector<std::string> RunArgs(const RunDirs& dirs);

// Sum of next offsets in the latest manifest (0 if none yet).
int64_t PublishedOffsetSum(const std::string& snapshot_dir);

// Waits until the latest snapshot covers `total` messages (or timeout).
bool WaitForOffsetSum(const std::string& snapshot_dir, int64_t total,
                      int timeout_ms);

// How many times `needle` occurs in the file at `path` (0 if absent).
int CountInFile(const std::string& path, const std::string& needle);

// Starts `encore run`, waits until its snapshots cover `total` messages,
// stops it with SIGTERM and returns its exit code.
absl::StatusOr<int> RunUntilCaughtUp(const RunDirs& dirs, int64_t total);

}  // namespace encore::testing

#endif  // ENCORE_TESTS_TESTING_ENCORE_RUNS_H_
