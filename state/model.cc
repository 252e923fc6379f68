#include "state/model.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/string_view.h"

namespace encore {
namespace {

// Resizes the counter arrays to the configured number of half-lives; a state
// written with other half-lives is reset (the configuration is fixed per
// state directory, so this only happens to new users).
void EnsureShape(const ModelConfig& config, UserState* state) {
  const int n = static_cast<int>(config.half_lives_ms.size());
  bool same = state->half_lives_ms_size() == n;
  for (int i = 0; same && i < n; ++i) {
    same = state->half_lives_ms(i) == config.half_lives_ms[i];
  }
  if (same) return;
  state->clear_half_lives_ms();
  for (int64_t h : config.half_lives_ms) state->add_half_lives_ms(h);
  DecayedCounters* c = state->mutable_counters();
  c->Clear();
  c->mutable_plays()->Resize(n, 0.0);
  c->mutable_skips()->Resize(n, 0.0);
  c->mutable_ms_played()->Resize(n, 0.0);
}

// Adds to every half-life of one counter family. All families share
// counters.ref_time_ms, which only moves once all of them have been
// decayed forward.
void AddToCounters(const ModelConfig& config, int64_t time_ms, double play,
                   double skip, double ms, DecayedCounters* c) {
  const int64_t ref = c->ref_time_ms();
  const int64_t new_ref = std::max(ref, time_ms);
  for (size_t i = 0; i < config.half_lives_ms.size(); ++i) {
    const int64_t h = config.half_lives_ms[i];
    const double forward = DecayFactor(new_ref - ref, h);
    const double back = DecayFactor(new_ref - time_ms, h);
    c->set_plays(i, c->plays(i) * forward + play * back);
    c->set_skips(i, c->skips(i) * forward + skip * back);
    c->set_ms_played(i, c->ms_played(i) * forward + ms * back);
  }
  c->set_ref_time_ms(new_ref);
}

ArmEvidence* FindOrAddArm(const ModelConfig& config, absl::string_view arm_id,
                          UserState* state) {
  auto* arms = state->mutable_arms();
  auto it = std::lower_bound(arms->begin(), arms->end(), arm_id,
                             [](const ArmEvidence& a, absl::string_view id) {
                               return a.arm_id() < id;
                             });
  if (it != arms->end() && it->arm_id() == arm_id) return &*it;

  const int index = static_cast<int>(it - arms->begin());
  arms->Add()->set_arm_id(std::string(arm_id));
  // Rotate the new element from the back into its sorted position.
  for (int i = arms->size() - 1; i > index; --i) arms->SwapElements(i, i - 1);
  return arms->Mutable(index);
}

// Drops arms until the bound holds: the one with the oldest last reward goes
// first, ties broken by arm_id, so the result does not depend on history
// beyond the stored values. `keep` is never dropped.
void EnforceArmBound(const ModelConfig& config, absl::string_view keep,
                     UserState* state) {
  auto* arms = state->mutable_arms();
  while (arms->size() > static_cast<int>(config.max_arms_per_user)) {
    int victim = -1;
    for (int i = 0; i < arms->size(); ++i) {
      if (arms->Get(i).arm_id() == keep) continue;
      if (victim < 0 || arms->Get(i).last_event_time_ms() <
                            arms->Get(victim).last_event_time_ms()) {
        victim = i;
      }
    }
    arms->erase(arms->begin() + victim);
    state->set_arms_dropped(state->arms_dropped() + 1);
  }
}

}  // namespace

absl::Status ModelConfig::Validate() const {
  if (half_lives_ms.empty()) {
    return absl::InvalidArgumentError("at least one half-life is required");
  }
  for (int64_t h : half_lives_ms) {
    if (h <= 0) return absl::InvalidArgumentError("half-lives must be > 0");
  }
  if (!(prior_alpha > 0) || !(prior_beta > 0)) {
    return absl::InvalidArgumentError("Beta prior parameters must be > 0");
  }
  if (max_arms_per_user == 0) {
    return absl::InvalidArgumentError("max_arms_per_user must be > 0");
  }
  return absl::OkStatus();
}

ModelConfigProto ModelConfig::ToProto() const {
  ModelConfigProto p;
  for (int64_t h : half_lives_ms) p.add_half_lives_ms(h);
  p.set_prior_alpha(prior_alpha);
  p.set_prior_beta(prior_beta);
  p.set_arm_half_life_ms(arm_half_life_ms);
  p.set_success_min_ms_played(success_min_ms_played);
  p.set_max_arms_per_user(max_arms_per_user);
  return p;
}

void DecayedAdd(double amount, int64_t time_ms, int64_t half_life_ms,
                int64_t* ref_time_ms, double* value) {
  if (time_ms > *ref_time_ms) {
    *value *= DecayFactor(time_ms - *ref_time_ms, half_life_ms);
    *ref_time_ms = time_ms;
  }
  *value += amount * DecayFactor(*ref_time_ms - time_ms, half_life_ms);
}

double DecayedValueAt(double value, int64_t ref_time_ms, int64_t as_of_ms,
                      int64_t half_life_ms) {
  return value * DecayFactor(as_of_ms - ref_time_ms, half_life_ms);
}

bool IsSuccess(const ModelConfig& config, const ListenEvent& event) {
  return event.kind() == ListenEvent::PLAY &&
         event.ms_played() >= config.success_min_ms_played;
}

void ApplyEvent(const ModelConfig& config, const ListenEvent& event,
                UserState* state) {
  const int64_t t = event.event_time_ms();
  if (state->events() == 0) {
    state->set_user_id(event.user_id());
    state->set_first_seen_ms(t);
    state->set_last_seen_ms(t);
  } else {
    state->set_first_seen_ms(std::min(state->first_seen_ms(), t));
    state->set_last_seen_ms(std::max(state->last_seen_ms(), t));
  }
  state->set_events(state->events() + 1);
  EnsureShape(config, state);

  switch (event.kind()) {
    case ListenEvent::IMPRESSION:
      state->set_impressions(state->impressions() + 1);
      return;  // an impression alone is not a reward
    case ListenEvent::PLAY:
      state->set_plays(state->plays() + 1);
      AddToCounters(config, t, 1.0, 0.0, static_cast<double>(event.ms_played()),
                    state->mutable_counters());
      break;
    case ListenEvent::SKIP:
      state->set_skips(state->skips() + 1);
      AddToCounters(config, t, 0.0, 1.0, static_cast<double>(event.ms_played()),
                    state->mutable_counters());
      break;
    default:
      return;  // unreachable for validated events
  }

  if (event.arm_id().empty()) return;
  ArmEvidence* arm = FindOrAddArm(config, event.arm_id(), state);
  int64_t ref = arm->ref_time_ms();
  double successes = arm->successes();
  double failures = arm->failures();
  if (arm->updates() == 0) ref = t;
  const bool success = IsSuccess(config, event);
  int64_t ref_f = ref;
  DecayedAdd(success ? 1.0 : 0.0, t, config.arm_half_life_ms, &ref, &successes);
  DecayedAdd(success ? 0.0 : 1.0, t, config.arm_half_life_ms, &ref_f,
             &failures);
  arm->set_ref_time_ms(ref);
  arm->set_successes(successes);
  arm->set_failures(failures);
  arm->set_last_event_time_ms(std::max(arm->last_event_time_ms(), t));
  arm->set_updates(arm->updates() + 1);
  EnforceArmBound(config, event.arm_id(), state);
}

const ArmEvidence* FindArm(const UserState& state, absl::string_view arm_id) {
  auto it = std::lower_bound(state.arms().begin(), state.arms().end(), arm_id,
                             [](const ArmEvidence& a, absl::string_view id) {
                               return a.arm_id() < id;
                             });
  if (it != state.arms().end() && it->arm_id() == arm_id) return &*it;
  return nullptr;
}

}  // namespace encore
