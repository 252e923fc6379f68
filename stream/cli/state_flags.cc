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
ABSL_FLAG(double, feature_half_life_h, 168,
          "Half-life of the decayed user features, event-time hours.");
ABSL_FLAG(double, session_gap_min, 30,
          "Inactivity (event-time minutes) that starts a new session.");
ABSL_FLAG(double, attribution_window_min, 30,
          "Event-time minutes within which a play or skip is attributed to "
          "its impression; unanswered impressions then count as reward 0.");
ABSL_FLAG(double, lateness_h, 24,
          "Events more than this many hours behind their partition's "
          "watermark are rejected as late.");
ABSL_FLAG(uint32_t, top_artists, 20, "Top artists kept per user (K).");
ABSL_FLAG(uint32_t, recent_plays, 50, "Recently played tracks per user.");
ABSL_FLAG(uint32_t, max_arms_per_partition, 10000,
          "Arms with population statistics kept per partition.");
ABSL_FLAG(double, prior_strength, 4.0,
          "Weight (pseudo-rewards) of the population prior of a user's arm.");

namespace encore::cli {

absl::StatusOr<ModelConfig> ModelConfigFromFlags() {
  ModelConfig model;
  model.prior_alpha = absl::GetFlag(FLAGS_prior_alpha);
  model.prior_beta = absl::GetFlag(FLAGS_prior_beta);
  model.arm_half_life_ms =
      static_cast<int64_t>(absl::GetFlag(FLAGS_arm_half_life_h) * kHourMs);
  model.max_arms_per_user = absl::GetFlag(FLAGS_max_arms_per_user);
  model.feature_half_life_ms =
      static_cast<int64_t>(absl::GetFlag(FLAGS_feature_half_life_h) * kHourMs);
  model.session_gap_ms =
      static_cast<int64_t>(absl::GetFlag(FLAGS_session_gap_min) * 60'000);
  model.attribution_window_ms = static_cast<int64_t>(
      absl::GetFlag(FLAGS_attribution_window_min) * 60'000);
  model.lateness_ms =
      static_cast<int64_t>(absl::GetFlag(FLAGS_lateness_h) * kHourMs);
  model.top_artists = absl::GetFlag(FLAGS_top_artists);
  model.recent_plays = absl::GetFlag(FLAGS_recent_plays);
  model.max_arms_per_partition = absl::GetFlag(FLAGS_max_arms_per_partition);
  model.prior_strength = absl::GetFlag(FLAGS_prior_strength);
  absl::Status s = model.Validate();
  if (!s.ok()) return s;
  return model;
}

std::string DeadLetterTopic(const std::string& topic) {
  const std::string flag = absl::GetFlag(FLAGS_dead_letter_topic);
  return flag.empty() ? topic + ".dlq" : flag;
}

}  // namespace encore::cli
