// Reference digests of one partition of a real topic: its messages from
// the start of the log, applied in this process by one engine with the
// default model, as an uninterrupted `encore run` applies them. A test whose
// members end with a partition digest other than a clean run's uses them to
// find the first published state that was already wrong.
#ifndef ENCORE_TESTS_TESTING_REPLAY_DIGEST_H_
#define ENCORE_TESTS_TESTING_REPLAY_DIGEST_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace encore::testing {

// The partition's hex digest after its messages before each of `offsets`
// (next offsets: 0 is the empty state). `work_dir` must not exist.
absl::StatusOr<std::map<int64_t, std::string>> ReplayDigests(
    const std::string& brokers, const std::string& topic, int32_t partition,
    const std::vector<int64_t>& offsets, const std::string& work_dir);

}  // namespace encore::testing

#endif  // ENCORE_TESTS_TESTING_REPLAY_DIGEST_H_
