// The per-user model: how one validated ListenEvent changes a UserState.
//
// Everything here is pure and uses event time only: the same events give the
// same state whatever the wall clock says. Decayed values are kept "as of"
// the newest event time seen (a moving landmark, see DecayedAdd), so applying
// the same events in any order gives the same values up to float rounding,
// and values never overflow however long the stream runs.
//
//   ModelConfig config;                 // defaults documented below
//   UserState state;
//   ApplyEvent(config, event, &state);  // event already validated
#ifndef ENCORE_STATE_MODEL_H_
#define ENCORE_STATE_MODEL_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "bandits/beta.h"
#include "proto/event.pb.h"
#include "proto/manifest.pb.h"
#include "proto/user_state.pb.h"

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

  // InvalidArgument if a value is out of range (no half-life, a non-positive
  // half-life, a non-positive prior, max_arms_per_user == 0).
  absl::Status Validate() const;
  ModelConfigProto ToProto() const;
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
bool IsSuccess(const ModelConfig& config, const ListenEvent& event);

// Applies one validated event to `state` (which may be empty: a new user).
// REQUIRES: event passed ValidateEvent(); state->user_id() is empty or equals
// event.user_id(). Keeps arms sorted by arm_id and within max_arms_per_user.
void ApplyEvent(const ModelConfig& config, const ListenEvent& event,
                UserState* state);

// The evidence for `arm_id` in `state`, or nullptr if the user has none.
const ArmEvidence* FindArm(const UserState& state, absl::string_view arm_id);

}  // namespace encore

#endif  // ENCORE_STATE_MODEL_H_
