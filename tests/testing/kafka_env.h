// Helpers for tests against the real broker started by the ctest fixture
// (ops/kafka/start.sh): its address, unique topic names, reading topics back,
// and running the encore binary as a child process.
#ifndef ENCORE_TESTS_TESTING_KAFKA_ENV_H_
#define ENCORE_TESTS_TESTING_KAFKA_ENV_H_

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "stream/kafka_client.h"

namespace encore::testing {

// ENCORE_TEST_BROKERS, set by ctest for tests that require the broker.
std::string TestBrokers();

// A topic name no other test or run uses: prefix + pid + a counter + time.
std::string UniqueName(const std::string& prefix);

struct ConsumedRecord {
  int32_t partition;
  int64_t offset;
  std::string key;
  std::string payload;
  std::map<std::string, std::string> headers;
};

// Reads every record of `topic` (all partitions, from the beginning, no
// group) until `count` records were read or timeout_ms passed.
absl::StatusOr<std::vector<ConsumedRecord>> ReadTopic(const std::string& topic,
                                                      size_t count,
                                                      int timeout_ms);

// The encore binary built with the tests.
std::string EncoreBinary();

// A child process running `encore args...`, stdout/stderr to `log_path`.
class ChildProcess {
 public:
  // `env`: extra environment variables for the child only.
  static absl::StatusOr<ChildProcess> Start(
      const std::vector<std::string>& args, const std::string& log_path,
      const std::vector<std::pair<std::string, std::string>>& env = {});
  ChildProcess(ChildProcess&& other) noexcept
      : pid_(other.pid_), exit_code_(other.exit_code_) {
    other.pid_ = -1;
  }
  ~ChildProcess();

  void Signal(int sig);
  // Waits up to timeout_ms; returns the exit code, 128+signal if killed,
  // or DeadlineExceeded (the child is then SIGKILLed).
  absl::StatusOr<int> Wait(int timeout_ms);
  // True while the child has not exited (it is reaped when it has: Wait()
  // then returns its exit code at once).
  bool Running();
  pid_t pid() const { return pid_; }

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  // The exit code (or 128 + signal) of a child Running() reaped.
  static int ExitCode(int wait_status);
  pid_t pid_;
  std::optional<int> exit_code_;
};

// Runs `encore args...` to completion (bounded); returns exit code.
absl::StatusOr<int> RunEncore(const std::vector<std::string>& args,
                              const std::string& log_path, int timeout_ms);

}  // namespace encore::testing

#endif  // ENCORE_TESTS_TESTING_KAFKA_ENV_H_
