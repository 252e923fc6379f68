#include "state/model.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/string_view.h"
#include "state/sketches.h"

namespace encore {
namespace {

// Copies an event's string into a record's: assign() grows the buffer as
// copy-assigning the protobuf event's std::string did, so the record's
// memory (what the write-back cache charges) is the same.
void Assign(absl::string_view from, std::string* to) {
  to->assign(from.data(), from.size());
}

// Resizes the counter arrays to the configured number of half-lives; a state
// written with other half-lives, or whose arrays do not match them (only a
// corrupt one), is reset (the configuration is fixed per state directory,
// so this only happens to new users).
void EnsureShape(const ModelConfig& config, UserRecord* state) {
  state->has_counters = true;
  const size_t n = config.half_lives_ms.size();
  const CountersRecord& c = state->counters;
  if (state->half_lives_ms == config.half_lives_ms && c.plays.size() == n &&
      c.skips.size() == n && c.ms_played.size() == n) {
    return;
  }
  state->half_lives_ms = config.half_lives_ms;
  CountersRecord& reset = state->counters;
  reset.ref_time_ms = 0;
  reset.plays.assign(n, 0.0);
  reset.skips.assign(n, 0.0);
  reset.ms_played.assign(n, 0.0);
}

// Adds to every half-life of one counter family. All families share
// counters.ref_time_ms, which only moves once all of them have been
// decayed forward.
void AddToCounters(const ModelConfig& config, int64_t time_ms, double play,
                   double skip, double ms, CountersRecord* c) {
  const int64_t ref = c->ref_time_ms;
  const int64_t new_ref = std::max(ref, time_ms);
  for (size_t i = 0; i < config.half_lives_ms.size(); ++i) {
    const int64_t h = config.half_lives_ms[i];
    const double forward = DecayFactor(new_ref - ref, h);
    const double back = DecayFactor(new_ref - time_ms, h);
    c->plays[i] = c->plays[i] * forward + play * back;
    c->skips[i] = c->skips[i] * forward + skip * back;
    c->ms_played[i] = c->ms_played[i] * forward + ms * back;
  }
  c->ref_time_ms = new_ref;
}

ArmRecord* FindOrAddArm(absl::string_view arm_id, UserRecord* state) {
  std::vector<ArmRecord>& arms = state->arms;
  auto it = std::lower_bound(
      arms.begin(), arms.end(), arm_id,
      [](const ArmRecord& a, absl::string_view id) { return a.arm_id < id; });
  if (it != arms.end() && it->arm_id == arm_id) return &*it;
  it = arms.insert(it, ArmRecord());
  it->arm_id.assign(arm_id.data(), arm_id.size());
  return &*it;
}

// Drops arms until the bound holds: the one with the oldest last reward goes
// first, ties broken by arm_id, so the result does not depend on history
// beyond the stored values. `keep` is never dropped.
void EnforceArmBound(const ModelConfig& config, absl::string_view keep,
                     UserRecord* state) {
  std::vector<ArmRecord>& arms = state->arms;
  while (arms.size() > config.max_arms_per_user) {
    size_t victim = arms.size();
    for (size_t i = 0; i < arms.size(); ++i) {
      if (arms[i].arm_id == keep) continue;
      if (victim == arms.size() ||
          arms[i].last_event_time_ms < arms[victim].last_event_time_ms) {
        victim = i;
      }
    }
    // Only a corrupt stored state repeats an arm id: if every arm is `keep`,
    // a repeat goes (the last one; the one just updated is the first).
    if (victim == arms.size()) victim = arms.size() - 1;
    arms.erase(arms.begin() + static_cast<ptrdiff_t>(victim));
    ++state->arms_dropped;
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

void UpdateFeatures(const ModelConfig& config, const ListenEventView& event,
                    FeaturesRecord* f) {
  const int64_t t = event.event_time_ms();
  const int64_t h = config.feature_half_life_ms;
  // A stored array of another size grows or shrinks, keeping its prefix.
  if (f->hour_of_day.size() != 24) f->hour_of_day.resize(24, 0.0);
  if (f->day_of_week.size() != 7) f->day_of_week.resize(7, 0.0);
  if (t >= f->ref_time_ms) f->utc_offset_minutes = event.utc_offset_minutes();
  if (t > f->ref_time_ms) {
    const double forward = DecayFactor(t - f->ref_time_ms, h);
    f->completion_weight *= forward;
    f->completion_sum *= forward;
    f->completion_sum_sq *= forward;
    f->starts *= forward;
    f->early_skips *= forward;
    f->late_skips *= forward;
    for (double& v : f->hour_of_day) v *= forward;
    for (double& v : f->day_of_week) v *= forward;
    f->ref_time_ms = t;
  }
  const double w = DecayFactor(f->ref_time_ms - t, h);
  if (event.track_duration_ms() > 0) {
    const double c =
        std::min(1.0, static_cast<double>(event.ms_played()) /
                          static_cast<double>(event.track_duration_ms()));
    f->completion_weight += w;
    f->completion_sum += w * c;
    f->completion_sum_sq += w * c * c;
  }
  f->starts += w;
  if (event.kind() == ListenEvent::SKIP) {
    if (event.ms_played() < config.early_skip_ms) {
      f->early_skips += w;
    } else {
      f->late_skips += w;
    }
  }
  const int32_t offset = event.utc_offset_minutes();
  f->hour_of_day[LocalHour(t, offset)] += w;
  f->day_of_week[LocalWeekday(t, offset)] += w;
}

// Sessions are order-aware: an event within session_gap of the current
// session extends it (also backwards); a newer event beyond the gap closes
// it and starts the next; an older one beyond the gap belongs to a closed
// session and is only counted.
void UpdateSessions(const ModelConfig& config, const ListenEventView& event,
                    SessionsRecord* s) {
  const int64_t t = event.event_time_ms();
  const int64_t gap = config.session_gap_ms;
  const bool play = event.kind() == ListenEvent::PLAY;
  if (s->count == 0 || t > s->last_ms + gap) {
    if (s->count > 0) {
      // Close the current session at its last event.
      const int64_t end = s->last_ms;
      const double w =
          MoveLandmark<2>(end, config.feature_half_life_ms, &s->ref_time_ms,
                          {&s->completed_weight, &s->completed_length_ms});
      s->completed_weight += w;
      s->completed_length_ms += w * static_cast<double>(end - s->start_ms);
    }
    ++s->count;
    s->start_ms = t;
    s->last_ms = t;
    s->plays = play ? 1 : 0;
    s->skips = play ? 0 : 1;
    return;
  }
  if (t < s->start_ms - gap) {
    ++s->out_of_order_events;
    return;
  }
  s->start_ms = std::min(s->start_ms, t);
  s->last_ms = std::max(s->last_ms, t);
  if (play) {
    ++s->plays;
  } else {
    ++s->skips;
  }
}

// Keeps recent_plays newest first (ties: track_id), at most recent_plays.
void UpdateRecentPlays(const ModelConfig& config, const ListenEventView& event,
                       UserRecord* state) {
  RecentPlays& recent = state->recent_plays;
  const int64_t t = event.event_time_ms();
  auto before = [&](const RecentPlayRecord& r) {
    return r.time_ms > t || (r.time_ms == t && r.track_id < event.track_id());
  };
  size_t index = 0;
  while (index < recent.size() && before(recent[index])) ++index;
  if (index >= config.recent_plays) return;  // too old
  RecentPlayRecord& added = recent.Insert(index, config.recent_plays);
  Assign(event.track_id(), &added.track_id);
  added.time_ms = t;
}

// Whether `ids` holds `id`. Most events are not duplicates, so the whole
// window is read: four independent comparisons a step, no early exit.
bool Contains(const std::vector<uint64_t>& ids, uint64_t id) {
  const uint64_t* p = ids.data();
  const size_t n = ids.size();
  size_t i = 0;
  bool a = false, b = false, c = false, d = false;
  for (; i + 4 <= n; i += 4) {
    a |= p[i] == id;
    b |= p[i + 1] == id;
    c |= p[i + 2] == id;
    d |= p[i + 3] == id;
  }
  for (; i < n; ++i) a |= p[i] == id;
  return a || b || c || d;
}

// True if the event id was seen recently (and then nothing else changes);
// otherwise remembers it.
bool IsDuplicate(const ModelConfig& config, const ListenEventView& event,
                 UserRecord* state) {
  if (event.event_id().empty() || config.dedup_window == 0) return false;
  const uint64_t id = StableHash64(event.event_id());
  std::vector<uint64_t>& ids = state->recent_event_ids;
  if (Contains(ids, id)) return true;
  if (ids.size() < config.dedup_window) {
    ids.push_back(id);
    state->recent_event_ids_next =
        static_cast<uint32_t>(ids.size() % config.dedup_window);
  } else {
    const uint32_t next = state->recent_event_ids_next % config.dedup_window;
    ids[next] = id;
    state->recent_event_ids_next = (next + 1) % config.dedup_window;
  }
  return false;
}

bool PendingBefore(const PendingRecord& a, const PendingRecord& b) {
  if (a.time_ms != b.time_ms) return a.time_ms < b.time_ms;
  if (a.request_id != b.request_id) return a.request_id < b.request_id;
  return a.arm_id < b.arm_id;
}

// Adds the impression; returns the oldest ones beyond the bound, removed.
std::vector<PendingRecord> AddPending(const ModelConfig& config,
                                      const ListenEventView& event,
                                      const Context& context,
                                      UserRecord* state) {
  PendingRecord p;
  Assign(event.request_id(), &p.request_id);
  Assign(event.arm_id(), &p.arm_id);
  p.time_ms = event.event_time_ms();
  p.propensity = event.propensity();
  p.context.assign(context.begin(), context.end());
  std::vector<PendingRecord>& pending = state->pending;
  auto it = std::upper_bound(pending.begin(), pending.end(), p, PendingBefore);
  pending.insert(it, std::move(p));
  // The bound applies to unanswered and to answered impressions (waiting
  // for their window to close, state/MODEL.md) separately, so answered ones
  // never push an unanswered one out early: beyond it, the oldest of the
  // kind is closed now (an unanswered one as reward 0, counted as dropped).
  std::vector<PendingRecord> evicted;
  const size_t bound = config.max_pending_per_user;
  for (const bool answered : {false, true}) {
    size_t count = 0;
    for (const PendingRecord& q : pending) count += q.answered == answered;
    for (size_t i = 0; count > bound && i < pending.size();) {
      if (pending[i].answered != answered) {
        ++i;
        continue;
      }
      evicted.push_back(std::move(pending[i]));  // the oldest
      pending.erase(pending.begin() + static_cast<ptrdiff_t>(i));
      --count;
      if (!answered) ++state->impressions_dropped;
    }
  }
  std::sort(evicted.begin(), evicted.end(), PendingBefore);
  return evicted;
}

// Applies a reward to the user's own posteriors for the arm, then hands it
// to the sink.
void ApplyReward(const ModelConfig& config, const Reward& reward,
                 UserRecord* state, RewardSink* sink) {
  ArmRecord* arm = FindOrAddArm(reward.arm_id, state);
  if (arm->updates == 0) arm->ref_time_ms = reward.time_ms;
  const double w = MoveLandmark<5>(
      reward.time_ms, config.arm_half_life_ms, &arm->ref_time_ms,
      {&arm->successes, &arm->failures, &arm->reward_weight, &arm->reward_sum,
       &arm->reward_sum_sq});
  arm->successes += w * reward.reward;
  arm->failures += w * (1.0 - reward.reward);
  arm->reward_weight += w;
  arm->reward_sum += w * reward.completion;
  arm->reward_sum_sq += w * reward.completion * reward.completion;
  arm->last_event_time_ms = std::max(arm->last_event_time_ms, reward.time_ms);
  ++arm->updates;
  EnforceArmBound(config, reward.arm_id, state);
  if (sink != nullptr) sink->OnReward(config, reward);
}

Context ShownContext(const PendingRecord& p) {
  Context x{};
  for (size_t i = 0; i < x.size() && i < p.context.size(); ++i) {
    x[i] = p.context[i];
  }
  return x;
}

// Closes a pending impression: an unanswered one is resolved as "no
// response" (reward 0 to the user's posterior) at `time_ms`; then its final
// outcome goes to the off-policy sums.
void ClosePending(const ModelConfig& config, const PendingRecord& p,
                  int64_t time_ms, UserRecord* state, RewardSink* sink) {
  if (!p.answered) {
    const Context shown = ShownContext(p);
    Reward reward;
    reward.arm_id = p.arm_id;
    reward.time_ms = time_ms;
    reward.propensity = p.propensity;
    reward.context = &shown;
    ApplyReward(config, reward, state, sink);
  }
  if (sink != nullptr) {
    LoggedOutcome outcome;
    outcome.arm_id = p.arm_id;
    outcome.shown_ms = p.time_ms;
    outcome.reward = p.answered ? p.reward : 0.0;
    outcome.propensity = p.propensity;
    sink->OnOutcomeFinal(config, outcome);
  }
}

}  // namespace

bool IsSuccess(const ModelConfig& config, const ListenEventView& event) {
  return event.kind() == ListenEvent::PLAY &&
         event.ms_played() >= config.success_min_ms_played;
}

ApplyOutcome ApplyEvent(const ModelConfig& config, const ListenEventView& event,
                        UserRecord* state, RewardSink* sink) {
  if (IsDuplicate(config, event, state)) {
    ++state->duplicates;
    return ApplyOutcome::kDuplicate;
  }
  const int64_t t = event.event_time_ms();
  if (state->events == 0) {
    Assign(event.user_id(), &state->user_id);
    state->first_seen_ms = t;
    state->last_seen_ms = t;
  } else {
    state->first_seen_ms = std::min(state->first_seen_ms, t);
    state->last_seen_ms = std::max(state->last_seen_ms, t);
  }
  ++state->events;
  EnsureShape(config, state);

  // A response to a pending impression of the same request and arm, within
  // the window, carries that impression's propensity and context.
  PendingRecord* match = nullptr;
  if (event.kind() != ListenEvent::IMPRESSION && !event.arm_id().empty() &&
      !event.request_id().empty()) {
    for (PendingRecord& p : state->pending) {
      if (!p.answered && p.request_id == event.request_id() &&
          p.arm_id == event.arm_id() && t >= p.time_ms &&
          t - p.time_ms <= config.attribution_window_ms) {
        match = &p;
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
                                               : match == nullptr);
  if (needs_context) context = UserContext(config, state->features, t);

  switch (event.kind()) {
    case ListenEvent::IMPRESSION:
      ++state->impressions;
      if (!event.request_id().empty()) {
        // Beyond the bound the oldest pending impression is resolved early
        // as "no response", at this impression's time: with this many
        // newer impressions outstanding it is almost surely unanswered.
        std::vector<PendingRecord> evicted =
            AddPending(config, event, context, state);
        if (sink != nullptr) {
          sink->OnImpressionPending(config, event.arm_id(), t);
        }
        for (const PendingRecord& p : evicted) {
          ClosePending(config, p, std::max(t, p.time_ms), state, sink);
        }
      }
      return ApplyOutcome::kApplied;  // not a reward by itself
    case ListenEvent::PLAY:
      ++state->plays;
      AddToCounters(config, t, 1.0, 0.0, static_cast<double>(event.ms_played()),
                    &state->counters);
      UpdateRecentPlays(config, event, state);
      break;
    case ListenEvent::SKIP:
      ++state->skips;
      AddToCounters(config, t, 0.0, 1.0, static_cast<double>(event.ms_played()),
                    &state->counters);
      break;
    default:
      return ApplyOutcome::kApplied;  // unreachable for validated events
  }
  state->has_features = true;
  UpdateFeatures(config, event, &state->features);
  state->has_sessions = true;
  UpdateSessions(config, event, &state->sessions);
  if (!event.artist_id().empty()) {
    if (event.ms_played() > 0) {
      state->has_top_artists = true;
      SpaceSavingAdd(event.artist_id(), static_cast<double>(event.ms_played()),
                     t, config.feature_half_life_ms, 2 * config.top_artists,
                     &state->top_artists);
    }
    state->has_distinct_artists = true;
    DistinctAdd(StableHash64(event.artist_id()), config.distinct_exact_max,
                static_cast<int>(config.hll_precision),
                &state->distinct_artists);
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
  if (match != nullptr) {
    // The outcome is recorded on the impression, which stays pending until
    // the watermark closes its window: only then does it enter the
    // off-policy sums, so they never hold answered impressions whose
    // unanswered neighbours are still in flight. The posterior learns now.
    shown = ShownContext(*match);
    reward.propensity = match->propensity;
    reward.context = &shown;
    // Only what closing it needs stays: arm, time, propensity, reward (the
    // context has served the posteriors; answered ones are never matched
    // again, so the request id has served too).
    match->request_id.clear();
    match->request_id.shrink_to_fit();
    match->context.clear();
    match->context.shrink_to_fit();
    match->answered = true;
    match->reward = reward.reward;
    ++state->rewards_attributed;
  } else {
    ++state->rewards_unattributed;
  }
  ApplyReward(config, reward, state, sink);
  return ApplyOutcome::kApplied;
}

ApplyOutcome ApplyEvent(const ModelConfig& config, const ListenEventView& event,
                        UserState* state, RewardSink* sink) {
  UserRecord user = FromProto(*state);
  const ApplyOutcome outcome = ApplyEvent(config, event, &user, sink);
  ToProto(user, state);
  return outcome;
}

int ExpireImpressions(const ModelConfig& config, int64_t watermark_ms,
                      UserRecord* state, RewardSink* sink, int* unanswered) {
  int closed = 0;
  if (unanswered != nullptr) *unanswered = 0;
  // Pending impressions are sorted by time: closed ones are a prefix.
  size_t n = 0;
  while (n < state->pending.size() &&
         state->pending[n].time_ms + config.attribution_window_ms <
             watermark_ms) {
    ++n;
  }
  if (n == 0) return 0;
  // Closing applies rewards to the arms, not to the pending list: move the
  // prefix out first so that it can be read while the state changes.
  std::vector<PendingRecord> due(
      std::make_move_iterator(state->pending.begin()),
      std::make_move_iterator(state->pending.begin() +
                              static_cast<ptrdiff_t>(n)));
  state->pending.erase(state->pending.begin(),
                       state->pending.begin() + static_cast<ptrdiff_t>(n));
  for (const PendingRecord& p : due) {
    if (!p.answered) {
      ++state->impressions_expired;
      if (unanswered != nullptr) ++*unanswered;
    }
    ClosePending(config, p, p.time_ms + config.attribution_window_ms, state,
                 sink);
    ++closed;
  }
  return closed;
}

int ExpireImpressions(const ModelConfig& config, int64_t watermark_ms,
                      UserState* state, RewardSink* sink, int* unanswered) {
  UserRecord user = FromProto(*state);
  const int closed =
      ExpireImpressions(config, watermark_ms, &user, sink, unanswered);
  ToProto(user, state);
  return closed;
}

int64_t NextExpiry(const ModelConfig& config, const UserRecord& state) {
  if (state.pending.empty()) return -1;
  return state.pending.front().time_ms + config.attribution_window_ms;
}

int64_t NextExpiry(const ModelConfig& config, const UserState& state) {
  if (state.pending_size() == 0) return -1;
  return state.pending(0).time_ms() + config.attribution_window_ms;
}

}  // namespace encore
