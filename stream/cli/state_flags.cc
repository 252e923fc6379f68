// Flags of the commands that keep state (run, backfill): where the state and
// dead letters go, memory budgets, and the model parameters.
#include "stream/cli/state_flags.h"

#include "state/model.h"

ABSL_FLAG(std::string, state_dir, "", "Directory of the RocksDB state.");
ABSL_FLAG(std::string, dead_letter_topic, "",
          "Topic for rejected messages (default: <topic>.dlq).");
ABSL_FLAG(int, snapshot_keep, 5, "Snapshots kept for rollback.");
ABSL_FLAG(uint64_t, cache_max_users, 1000000,
          "Users kept in the write-back cache.");
ABSL_FLAG(uint64_t, block_cache_mb, 256, "RocksDB block cache, shared.");
ABSL_FLAG(double, prior_alpha, 1.0, "Beta prior alpha of every arm.");
ABSL_FLAG(double, prior_beta, 1.0, "Beta prior beta of every arm.");
ABSL_FLAG(double, arm_half_life_h, 168,
          "Half-life of arm evidence in event-time hours; 0 = never forget.");
ABSL_FLAG(uint32_t, max_arms_per_user, 64, "Arms kept per user.");

namespace encore::cli {

absl::StatusOr<ModelConfig> ModelConfigFromFlags() {
  ModelConfig model;
  model.prior_alpha = absl::GetFlag(FLAGS_prior_alpha);
  model.prior_beta = absl::GetFlag(FLAGS_prior_beta);
  model.arm_half_life_ms =
      static_cast<int64_t>(absl::GetFlag(FLAGS_arm_half_life_h) * kHourMs);
  model.max_arms_per_user = absl::GetFlag(FLAGS_max_arms_per_user);
  absl::Status s = model.Validate();
  if (!s.ok()) return s;
  return model;
}

std::string DeadLetterTopic(const std::string& topic) {
  const std::string flag = absl::GetFlag(FLAGS_dead_letter_topic);
  return flag.empty() ? topic + ".dlq" : flag;
}

}  // namespace encore::cli
