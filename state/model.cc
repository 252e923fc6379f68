#include "state/model.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/string_view.h"
#include "state/sketches.h"

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

// Moves a family of decayed values sharing one landmark to include time
// `time_ms`: returns the factor to apply to an amount observed at time_ms,
// after scaling every value in `values` forward if the landmark moves.
template <size_t N>
double MoveLandmark(int64_t time_ms, int64_t half_life_ms, int64_t* ref_time_ms,
                    std::array<double*, N> values) {
  if (time_ms > *ref_time_ms) {
    const double forward = DecayFactor(time_ms - *ref_time_ms, half_life_ms);
    for (double* v : values) *v *= forward;
    *ref_time_ms = time_ms;
  }
  return DecayFactor(*ref_time_ms - time_ms, half_life_ms);
}

// Scales a repeated double field in place.
void ScaleAll(google::protobuf::RepeatedField<double>* values, double factor) {
  for (double& v : *values) v *= factor;
}

void UpdateFeatures(const ModelConfig& config, const ListenEvent& event,
                    UserFeatures* f) {
  const int64_t t = event.event_time_ms();
  const int64_t h = config.feature_half_life_ms;
  if (f->hour_of_day_size() != 24) f->mutable_hour_of_day()->Resize(24, 0.0);
  if (f->day_of_week_size() != 7) f->mutable_day_of_week()->Resize(7, 0.0);
  if (t >= f->ref_time_ms())
    f->set_utc_offset_minutes(event.utc_offset_minutes());
  if (t > f->ref_time_ms()) {
    const double forward = DecayFactor(t - f->ref_time_ms(), h);
    f->set_completion_weight(f->completion_weight() * forward);
    f->set_completion_sum(f->completion_sum() * forward);
    f->set_completion_sum_sq(f->completion_sum_sq() * forward);
    f->set_starts(f->starts() * forward);
    f->set_early_skips(f->early_skips() * forward);
    f->set_late_skips(f->late_skips() * forward);
    ScaleAll(f->mutable_hour_of_day(), forward);
    ScaleAll(f->mutable_day_of_week(), forward);
    f->set_ref_time_ms(t);
  }
  const double w = DecayFactor(f->ref_time_ms() - t, h);
  if (event.track_duration_ms() > 0) {
    const double c =
        std::min(1.0, static_cast<double>(event.ms_played()) /
                          static_cast<double>(event.track_duration_ms()));
    f->set_completion_weight(f->completion_weight() + w);
    f->set_completion_sum(f->completion_sum() + w * c);
    f->set_completion_sum_sq(f->completion_sum_sq() + w * c * c);
  }
  f->set_starts(f->starts() + w);
  if (event.kind() == ListenEvent::SKIP) {
    if (event.ms_played() < config.early_skip_ms) {
      f->set_early_skips(f->early_skips() + w);
    } else {
      f->set_late_skips(f->late_skips() + w);
    }
  }
  const int32_t offset = event.utc_offset_minutes();
  f->set_hour_of_day(LocalHour(t, offset),
                     f->hour_of_day(LocalHour(t, offset)) + w);
  f->set_day_of_week(LocalWeekday(t, offset),
                     f->day_of_week(LocalWeekday(t, offset)) + w);
}

// Sessions are order-aware: an event within session_gap of the current
// session extends it (also backwards); a newer event beyond the gap closes
// it and starts the next; an older one beyond the gap belongs to a closed
// session and is only counted.
void UpdateSessions(const ModelConfig& config, const ListenEvent& event,
                    Sessions* s) {
  const int64_t t = event.event_time_ms();
  const int64_t gap = config.session_gap_ms;
  const bool play = event.kind() == ListenEvent::PLAY;
  if (s->count() == 0 || t > s->last_ms() + gap) {
    if (s->count() > 0) {
      // Close the current session at its last event.
      const int64_t end = s->last_ms();
      int64_t ref = s->ref_time_ms();
      double weight = s->completed_weight();
      double length = s->completed_length_ms();
      const double w = MoveLandmark<2>(end, config.feature_half_life_ms, &ref,
                                       {&weight, &length});
      s->set_ref_time_ms(ref);
      s->set_completed_weight(weight + w);
      s->set_completed_length_ms(length +
                                 w * static_cast<double>(end - s->start_ms()));
    }
    s->set_count(s->count() + 1);
    s->set_start_ms(t);
    s->set_last_ms(t);
    s->set_plays(play ? 1 : 0);
    s->set_skips(play ? 0 : 1);
    return;
  }
  if (t < s->start_ms() - gap) {
    s->set_out_of_order_events(s->out_of_order_events() + 1);
    return;
  }
  s->set_start_ms(std::min(s->start_ms(), t));
  s->set_last_ms(std::max(s->last_ms(), t));
  if (play) {
    s->set_plays(s->plays() + 1);
  } else {
    s->set_skips(s->skips() + 1);
  }
}

// Keeps recent_plays newest first (ties: track_id), at most recent_plays.
void UpdateRecentPlays(const ModelConfig& config, const ListenEvent& event,
                       UserState* state) {
  auto* recent = state->mutable_recent_plays();
  const int64_t t = event.event_time_ms();
  auto before = [&](const RecentPlay& r) {
    return r.time_ms() > t ||
           (r.time_ms() == t && r.track_id() < event.track_id());
  };
  int index = 0;
  while (index < recent->size() && before(recent->Get(index))) ++index;
  if (index >= static_cast<int>(config.recent_plays)) return;  // too old
  RecentPlay* added = recent->Add();
  added->set_track_id(event.track_id());
  added->set_time_ms(t);
  for (int i = recent->size() - 1; i > index; --i)
    recent->SwapElements(i, i - 1);
  while (recent->size() > static_cast<int>(config.recent_plays)) {
    recent->RemoveLast();
  }
}

// True if the event id was seen recently (and then nothing else changes);
// otherwise remembers it.
bool IsDuplicate(const ModelConfig& config, const ListenEvent& event,
                 UserState* state) {
  if (event.event_id().empty() || config.dedup_window == 0) return false;
  const uint64_t id = StableHash64(event.event_id());
  auto* ids = state->mutable_recent_event_ids();
  for (uint64_t seen : *ids) {
    if (seen == id) return true;
  }
  if (ids->size() < static_cast<int>(config.dedup_window)) {
    ids->Add(id);
    state->set_recent_event_ids_next(ids->size() % config.dedup_window);
  } else {
    const uint32_t next = state->recent_event_ids_next() % config.dedup_window;
    ids->Set(static_cast<int>(next), id);
    state->set_recent_event_ids_next((next + 1) % config.dedup_window);
  }
  return false;
}

bool PendingBefore(const PendingImpression& a, const PendingImpression& b) {
  if (a.time_ms() != b.time_ms()) return a.time_ms() < b.time_ms();
  if (a.request_id() != b.request_id()) return a.request_id() < b.request_id();
  return a.arm_id() < b.arm_id();
}

// Adds the impression; returns the oldest ones beyond the bound, removed.
std::vector<PendingImpression> AddPending(const ModelConfig& config,
                                          const ListenEvent& event,
                                          const Context& context,
                                          UserState* state) {
  PendingImpression p;
  p.set_request_id(event.request_id());
  p.set_arm_id(event.arm_id());
  p.set_time_ms(event.event_time_ms());
  p.set_propensity(event.propensity());
  for (double x : context) p.add_context(x);
  auto* pending = state->mutable_pending();
  auto it =
      std::upper_bound(pending->begin(), pending->end(), p, PendingBefore);
  const int index = static_cast<int>(it - pending->begin());
  *pending->Add() = std::move(p);
  for (int i = pending->size() - 1; i > index; --i) {
    pending->SwapElements(i, i - 1);
  }
  // The bound applies to unanswered and to answered impressions (waiting
  // for their window to close, state/MODEL.md) separately, so answered ones
  // never push an unanswered one out early: beyond it, the oldest of the
  // kind is closed now (an unanswered one as reward 0, counted as dropped).
  std::vector<PendingImpression> evicted;
  const int bound = static_cast<int>(config.max_pending_per_user);
  for (const bool answered : {false, true}) {
    int count = 0;
    for (const PendingImpression& q : *pending)
      count += q.answered() == answered;
    for (int i = 0; count > bound && i < pending->size();) {
      if (pending->Get(i).answered() != answered) {
        ++i;
        continue;
      }
      evicted.push_back(std::move(*pending->Mutable(i)));  // the oldest
      pending->erase(pending->begin() + i);
      --count;
      if (!answered) {
        state->set_impressions_dropped(state->impressions_dropped() + 1);
      }
    }
  }
  std::sort(evicted.begin(), evicted.end(), PendingBefore);
  return evicted;
}

// Applies a reward to the user's own posteriors for the arm, then hands it
// to the sink.
void ApplyReward(const ModelConfig& config, const Reward& reward,
                 UserState* state, RewardSink* sink) {
  ArmEvidence* arm = FindOrAddArm(config, reward.arm_id, state);
  int64_t ref = arm->updates() == 0 ? reward.time_ms : arm->ref_time_ms();
  double successes = arm->successes(), failures = arm->failures();
  double weight = arm->reward_weight(), sum = arm->reward_sum(),
         sum_sq = arm->reward_sum_sq();
  const double w =
      MoveLandmark<5>(reward.time_ms, config.arm_half_life_ms, &ref,
                      {&successes, &failures, &weight, &sum, &sum_sq});
  arm->set_ref_time_ms(ref);
  arm->set_successes(successes + w * reward.reward);
  arm->set_failures(failures + w * (1.0 - reward.reward));
  arm->set_reward_weight(weight + w);
  arm->set_reward_sum(sum + w * reward.completion);
  arm->set_reward_sum_sq(sum_sq + w * reward.completion * reward.completion);
  arm->set_last_event_time_ms(
      std::max(arm->last_event_time_ms(), reward.time_ms));
  arm->set_updates(arm->updates() + 1);
  EnforceArmBound(config, reward.arm_id, state);
  if (sink != nullptr) sink->OnReward(config, reward);
}

Context ShownContext(const PendingImpression& p) {
  Context x{};
  for (int i = 0; i < kContextDim && i < p.context_size(); ++i) {
    x[i] = p.context(i);
  }
  return x;
}

// Closes a pending impression: an unanswered one is resolved as "no
// response" (reward 0 to the user's posterior) at `time_ms`; then its final
// outcome goes to the off-policy sums.
void ClosePending(const ModelConfig& config, const PendingImpression& p,
                  int64_t time_ms, UserState* state, RewardSink* sink) {
  if (!p.answered()) {
    const Context shown = ShownContext(p);
    Reward reward;
    reward.arm_id = p.arm_id();
    reward.time_ms = time_ms;
    reward.propensity = p.propensity();
    reward.context = &shown;
    ApplyReward(config, reward, state, sink);
  }
  if (sink != nullptr) {
    LoggedOutcome outcome;
    outcome.arm_id = p.arm_id();
    outcome.shown_ms = p.time_ms();
    outcome.reward = p.answered() ? p.reward() : 0.0;
    outcome.propensity = p.propensity();
    sink->OnOutcomeFinal(config, outcome);
  }
}

}  // namespace

bool IsSuccess(const ModelConfig& config, const ListenEvent& event) {
  return event.kind() == ListenEvent::PLAY &&
         event.ms_played() >= config.success_min_ms_played;
}

ApplyOutcome ApplyEvent(const ModelConfig& config, const ListenEvent& event,
                        UserState* state, RewardSink* sink) {
  if (IsDuplicate(config, event, state)) {
    state->set_duplicates(state->duplicates() + 1);
    return ApplyOutcome::kDuplicate;
  }
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

  // A response to a pending impression of the same request and arm, within
  // the window, carries that impression's propensity and context.
  int match = -1;
  if (event.kind() != ListenEvent::IMPRESSION && !event.arm_id().empty() &&
      !event.request_id().empty()) {
    const auto& pending = state->pending();
    for (int i = 0; i < pending.size(); ++i) {
      const PendingImpression& p = pending.Get(i);
      if (!p.answered() && p.request_id() == event.request_id() &&
          p.arm_id() == event.arm_id() && t >= p.time_ms() &&
          t - p.time_ms() <= config.attribution_window_ms) {
        match = i;
        break;
      }
    }
  }
  // The context the user had before this event (linear models), where it is
  // used: kept with a pending impression, or given with a reward that no
  // impression answers.
  Context context{};
  const bool needs_context =
      !event.arm_id().empty() &&
      (event.kind() == ListenEvent::IMPRESSION ? !event.request_id().empty()
                                               : match < 0);
  if (needs_context) context = UserContext(config, *state, t);

  switch (event.kind()) {
    case ListenEvent::IMPRESSION:
      state->set_impressions(state->impressions() + 1);
      if (!event.request_id().empty()) {
        // Beyond the bound the oldest pending impression is resolved early
        // as "no response", at this impression's time: with this many
        // newer impressions outstanding it is almost surely unanswered.
        std::vector<PendingImpression> evicted =
            AddPending(config, event, context, state);
        if (sink != nullptr) {
          sink->OnImpressionPending(config, event.arm_id(), t);
        }
        for (const PendingImpression& p : evicted) {
          ClosePending(config, p, std::max(t, p.time_ms()), state, sink);
        }
      }
      return ApplyOutcome::kApplied;  // not a reward by itself
    case ListenEvent::PLAY:
      state->set_plays(state->plays() + 1);
      AddToCounters(config, t, 1.0, 0.0, static_cast<double>(event.ms_played()),
                    state->mutable_counters());
      UpdateRecentPlays(config, event, state);
      break;
    case ListenEvent::SKIP:
      state->set_skips(state->skips() + 1);
      AddToCounters(config, t, 0.0, 1.0, static_cast<double>(event.ms_played()),
                    state->mutable_counters());
      break;
    default:
      return ApplyOutcome::kApplied;  // unreachable for validated events
  }
  UpdateFeatures(config, event, state->mutable_features());
  UpdateSessions(config, event, state->mutable_sessions());
  if (!event.artist_id().empty()) {
    if (event.ms_played() > 0) {
      SpaceSavingAdd(event.artist_id(), static_cast<double>(event.ms_played()),
                     t, config.feature_half_life_ms, 2 * config.top_artists,
                     state->mutable_top_artists());
    }
    DistinctAdd(StableHash64(event.artist_id()), config.distinct_exact_max,
                static_cast<int>(config.hll_precision),
                state->mutable_distinct_artists());
  }

  if (event.arm_id().empty()) return ApplyOutcome::kApplied;
  Reward reward;
  reward.arm_id = event.arm_id();
  reward.time_ms = t;
  reward.reward = IsSuccess(config, event) ? 1.0 : 0.0;
  reward.completion =
      event.track_duration_ms() > 0
          ? std::min(1.0, static_cast<double>(event.ms_played()) /
                              static_cast<double>(event.track_duration_ms()))
          : reward.reward;
  reward.context = &context;
  Context shown{};
  auto* pending = state->mutable_pending();
  if (match >= 0) {
    // The outcome is recorded on the impression, which stays pending until
    // the watermark closes its window: only then does it enter the
    // off-policy sums, so they never hold answered impressions whose
    // unanswered neighbours are still in flight. The posterior learns now.
    PendingImpression* p = pending->Mutable(match);
    shown = ShownContext(*p);
    reward.propensity = p->propensity();
    reward.context = &shown;
    // Only what closing it needs stays: arm, time, propensity, reward (the
    // context has served the posteriors; answered ones are never matched
    // again, so the request id has served too). A fresh message, so that
    // the memory of the dropped fields goes too.
    PendingImpression closed;
    closed.set_arm_id(p->arm_id());
    closed.set_time_ms(p->time_ms());
    closed.set_propensity(p->propensity());
    closed.set_answered(true);
    closed.set_reward(reward.reward);
    *p = std::move(closed);
    state->set_rewards_attributed(state->rewards_attributed() + 1);
  } else {
    state->set_rewards_unattributed(state->rewards_unattributed() + 1);
  }
  ApplyReward(config, reward, state, sink);
  return ApplyOutcome::kApplied;
}

int ExpireImpressions(const ModelConfig& config, int64_t watermark_ms,
                      UserState* state, RewardSink* sink, int* unanswered) {
  int closed = 0;
  if (unanswered != nullptr) *unanswered = 0;
  // Pending impressions are sorted by time: closed ones are a prefix.
  while (state->pending_size() > 0 &&
         state->pending(0).time_ms() + config.attribution_window_ms <
             watermark_ms) {
    PendingImpression p = std::move(*state->mutable_pending(0));
    state->mutable_pending()->erase(state->mutable_pending()->begin());
    if (!p.answered()) {
      state->set_impressions_expired(state->impressions_expired() + 1);
      if (unanswered != nullptr) ++*unanswered;
    }
    ClosePending(config, p, p.time_ms() + config.attribution_window_ms, state,
                 sink);
    ++closed;
  }
  return closed;
}

int64_t NextExpiry(const ModelConfig& config, const UserState& state) {
  if (state.pending_size() == 0) return -1;
  return state.pending(0).time_ms() + config.attribution_window_ms;
}

}  // namespace encore
