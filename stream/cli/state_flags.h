// Flags shared by the commands that keep state (encore run, encore backfill).
#ifndef ENCORE_STREAM_CLI_STATE_FLAGS_H_
#define ENCORE_STREAM_CLI_STATE_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "state/model.h"

ABSL_DECLARE_FLAG(std::string, state_dir);
ABSL_DECLARE_FLAG(std::string, dead_letter_topic);
ABSL_DECLARE_FLAG(int, snapshot_keep);
ABSL_DECLARE_FLAG(uint64_t, cache_max_users);
ABSL_DECLARE_FLAG(uint64_t, block_cache_mb);
ABSL_DECLARE_FLAG(double, prior_alpha);
ABSL_DECLARE_FLAG(double, prior_beta);
ABSL_DECLARE_FLAG(double, arm_half_life_h);
ABSL_DECLARE_FLAG(uint32_t, max_arms_per_user);

namespace encore::cli {

// The model parameters from --prior-alpha, --prior-beta, --arm-half-life-h
// and --max-arms-per-user; InvalidArgument if out of range.
absl::StatusOr<ModelConfig> ModelConfigFromFlags();

// --dead-letter-topic, or <topic>.dlq.
std::string DeadLetterTopic(const std::string& topic);

}  // namespace encore::cli

#endif  // ENCORE_STREAM_CLI_STATE_FLAGS_H_
