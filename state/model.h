// The per-user model: how one validated ListenEvent changes a user's state,
// held as a UserRecord (the stored UserState's in-memory form).
//
// Everything here is pure and uses event time only: the same events give the
// same state whatever the wall clock says. Decayed values are kept "as of"
// the newest event time seen (a moving landmark, see DecayedAdd), so applying
// the same events in any order gives the same values up to float rounding,
// and values never overflow however long the stream runs.
//
//   ModelConfig config;                // defaults documented below
//   UserRecord user;                   // state/user_record.h
//   ApplyEvent(config, event, &user);  // event already validated
#ifndef ENCORE_STATE_MODEL_H_
#define ENCORE_STATE_MODEL_H_

#include <array>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "bandits/beta.h"
#include "proto/event.pb.h"
#include "proto/manifest.pb.h"
#include "proto/user_state.pb.h"
#include "state/listen_event.h"
#include "state/user_record.h"

namespace encore {

using bandits::DecayFactor;

inline constexpr int64_t kHourMs = 3'600'000;
inline constexpr int64_t kDayMs = 24 * kHourMs;

// The model's parameters. They shape the stored state, so every process that
// writes one state directory must use the same values; they are recorded in
// each snapshot manifest.
struct ModelConfig {
  // Half-lives of the decayed play / skip / ms_played counters.
  std::vector<int64_t> half_lives_ms = {kHourMs, kDayMs, 7 * kDayMs,
                                        30 * kDayMs};
  // Beta prior of every (user, arm) posterior.
  double prior_alpha = 1.0;
  double prior_beta = 1.0;
  // Evidence for an arm halves every arm_half_life_ms of event time; <= 0
  // disables forgetting.
  int64_t arm_half_life_ms = 7 * kDayMs;
  // A PLAY with at least this many ms played is a success; a shorter PLAY or
  // any SKIP is a failure.
  int64_t success_min_ms_played = 30'000;
  // At most this many arms are kept per user; beyond it the arm whose last
  // reward is oldest is dropped (ties: the smallest arm_id).
  uint32_t max_arms_per_user = 64;

  // Features (state/MODEL.md, "Features").
  int64_t feature_half_life_ms = 7 * kDayMs;
  int64_t early_skip_ms = 30'000;  // a SKIP before this is "early"
  uint32_t top_artists = 20;       // K; the sketch keeps 2K counters
  int64_t session_gap_ms = 30 * 60'000;
  uint32_t recent_plays = 50;        // last-N played tracks
  uint32_t distinct_exact_max = 64;  // exact distinct artists up to this
  uint32_t hll_precision = 10;       // then HyperLogLog, 2^p registers
  uint32_t dedup_window = 128;       // event ids remembered per user
  // Events older than the partition's watermark minus this are rejected
  // as late (stream/processor.cc).
  int64_t lateness_ms = 24 * kHourMs;

  // Reward attribution (state/MODEL.md, "Reward attribution").
  int64_t attribution_window_ms = 30 * 60'000;
  uint32_t max_pending_per_user = 16;
  // Per-arm aggregates kept per partition (population posteriors, linear
  // statistics, off-policy sums).
  uint32_t max_arms_per_partition = 10'000;

  // Read-time parameters: they do not shape the stored state.
  double prior_strength = 4.0;  // empirical-Bayes cold start, see MODEL.md
  double nig_mu0 = 0.5, nig_kappa0 = 1.0, nig_alpha0 = 1.0, nig_beta0 = 0.05;
  double ridge = 1.0;         // linear models: A = ridge * I + sum x x^T
  double linucb_alpha = 1.0;  // LinUCB width multiplier
  double lints_scale = 0.5;   // LinTS: theta ~ N(theta_hat, scale^2 A^-1)

  // InvalidArgument if a value is out of range (no half-life, a non-positive
  // half-life, a non-positive prior, a zero bound).
  absl::Status Validate() const;
  ModelConfigProto ToProto() const;
  // The inverse of ToProto(); a manifest written before the full model
  // (context_dim 0) keeps the defaults of the fields it lacks.
  static ModelConfig FromProto(const ModelConfigProto& proto);
};

// The context vector of the linear models (state/MODEL.md, "Context").
inline constexpr int kContextDim = 6;
using Context = std::array<double, kContextDim>;

// The user's context as of `time_ms`, from the stored features.
Context UserContext(const ModelConfig& config, const UserState& state,
                    int64_t time_ms);
Context UserContext(const ModelConfig& config, const FeaturesRecord& features,
                    int64_t time_ms);

// One reward for an arm, handed to a RewardSink as it is applied to the
// user's own posterior.
struct Reward {
  absl::string_view arm_id;
  int64_t time_ms = 0;
  double reward = 0;      // binary: 1 = success
  double completion = 0;  // continuous, in [0, 1]
  double propensity = 0;  // logged by the impression; 0 = none logged
  const Context* context = nullptr;
};

// The final outcome of one logged impression, for the off-policy sums: the
// impression was answered and the watermark closed its attribution window,
// or it expired unanswered, or it was dropped to keep the pending bound
// (state/MODEL.md, "Reward attribution").
struct LoggedOutcome {
  absl::string_view arm_id;
  int64_t shown_ms = 0;   // the impression's time
  double reward = 0;      // binary reward of its response; 0 if none
  double propensity = 0;  // as logged by the impression
};

// Receives what ApplyEvent / ExpireImpressions produce, in order: the
// partition's per-arm aggregates (state/aggregates.h).
class RewardSink {
 public:
  virtual ~RewardSink() = default;
  // A reward applied to the user's posterior of an arm.
  virtual void OnReward(const ModelConfig& config, const Reward& reward) = 0;
  // A logged impression became pending: its outcome is in flight.
  virtual void OnImpressionPending(const ModelConfig& /*config*/,
                                   absl::string_view /*arm_id*/,
                                   int64_t /*time_ms*/) {}
  // A pending impression's outcome became final (exactly once per
  // OnImpressionPending).
  virtual void OnOutcomeFinal(const ModelConfig& /*config*/,
                              const LoggedOutcome& /*outcome*/) {}
};

enum class ApplyOutcome {
  kApplied,
  kDuplicate,  // the user's recent event ids hold this event_id: ignored
};

// Adds `amount`, observed at `time_ms`, to a decayed value kept as of
// *ref_time_ms. If time_ms is newer than *ref_time_ms, the value is first
// decayed forward and *ref_time_ms moves to time_ms; if it is older, the
// amount is decayed back to *ref_time_ms before being added. Either way the
// result equals sum_i amount_i * 2^(-(ref - t_i)/h), which does not depend on
// the order of the additions.
void DecayedAdd(double amount, int64_t time_ms, int64_t half_life_ms,
                int64_t* ref_time_ms, double* value);

// The value of a decayed quantity kept as of ref_time_ms, read at as_of_ms
// (not decayed further if as_of_ms <= ref_time_ms).
double DecayedValueAt(double value, int64_t ref_time_ms, int64_t as_of_ms,
                      int64_t half_life_ms);

// True if `event` counts as a success for its arm's Beta posterior.
bool IsSuccess(const ModelConfig& config, const ListenEventView& event);

// Applies one validated event to `state` (which may be empty: a new user).
// Rewards it produces also go to `sink` (may be null).
// REQUIRES: event passed ValidateEvent(); state->user_id is empty or equals
// event.user_id(). Keeps every per-user bound (state/MODEL.md, "Bounds").
ApplyOutcome ApplyEvent(const ModelConfig& config, const ListenEventView& event,
                        UserRecord* state, RewardSink* sink = nullptr);
// The same on the stored form: converts to a UserRecord and back, so it
// costs a full decode and encode (for tests and tools, not per event).
ApplyOutcome ApplyEvent(const ModelConfig& config, const ListenEventView& event,
                        UserState* state, RewardSink* sink = nullptr);

// Closes every pending impression whose attribution window ended before
// `watermark_ms`: an unanswered one is resolved as reward 0 at the window's
// end (a reward to the user's posterior, counted in impressions_expired);
// every closed one's final outcome goes to sink->OnOutcomeFinal. Returns how
// many were closed; `*unanswered` (if not null) receives how many of them
// had no response.
int ExpireImpressions(const ModelConfig& config, int64_t watermark_ms,
                      UserRecord* state, RewardSink* sink = nullptr,
                      int* unanswered = nullptr);
int ExpireImpressions(const ModelConfig& config, int64_t watermark_ms,
                      UserState* state, RewardSink* sink = nullptr,
                      int* unanswered = nullptr);

// The event time after which ExpireImpressions would resolve the oldest
// pending impression (its window's end), or -1 if none is pending.
int64_t NextExpiry(const ModelConfig& config, const UserRecord& state);
int64_t NextExpiry(const ModelConfig& config, const UserState& state);

// Local time of day / day of week (Monday = 0) of `time_ms` at UTC offset
// `utc_offset_minutes`.
int LocalHour(int64_t time_ms, int32_t utc_offset_minutes);
int LocalWeekday(int64_t time_ms, int32_t utc_offset_minutes);

// The evidence for `arm_id` in `state`, or nullptr if the user has none.
const ArmEvidence* FindArm(const UserState& state, absl::string_view arm_id);

}  // namespace encore

#endif  // ENCORE_STATE_MODEL_H_
