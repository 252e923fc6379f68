#include "state/log_replay.h"

#include <algorithm>

namespace encore {

// Turns the model's final outcomes of one user into rows.
class LogReplay::Sink final : public RewardSink {
 public:
  Sink(LogReplay* replay, const std::string& user_id)
      : replay_(replay), user_id_(user_id) {}
  void OnReward(const ModelConfig&, const Reward&) override {}
  void OnImpressionPending(const ModelConfig&, absl::string_view,
                           int64_t) override {
    ++replay_->in_flight_;
  }
  void OnOutcomeFinal(const ModelConfig&, const LoggedOutcome& o) override {
    if (replay_->in_flight_ > 0) --replay_->in_flight_;
    LoggedRow row;
    row.user_id = user_id_;
    row.arm_id = std::string(o.arm_id);
    row.shown_ms = o.shown_ms;
    row.propensity = o.propensity;
    row.reward = o.reward;
    auto it = replay_->contexts_.find({user_id_, row.arm_id, o.shown_ms});
    if (it != replay_->contexts_.end()) {
      row.context = it->second.front();
      it->second.pop_front();
      if (it->second.empty()) replay_->contexts_.erase(it);
    }
    replay_->rows_.push_back(std::move(row));
  }

 private:
  LogReplay* const replay_;
  const std::string& user_id_;
};

void LogReplay::Reindex(Partition& p, const std::string& user_id,
                        UserRecord& state) {
  const int64_t next = NextExpiry(model_, state);
  auto it = user_expiry_.find(user_id);
  const int64_t old = it == user_expiry_.end() ? -1 : it->second;
  if (next == old) return;
  if (old >= 0) p.expiries.erase({old, user_id});
  if (next >= 0) {
    p.expiries.emplace(next, user_id);
    user_expiry_[user_id] = next;
  } else if (it != user_expiry_.end()) {
    user_expiry_.erase(it);
  }
}

ApplyOutcome LogReplay::Apply(int32_t partition, const ListenEvent& event) {
  Partition& p = partitions_[partition];
  const int64_t watermark = std::max(p.watermark_ms, event.event_time_ms());
  // Close what the new watermark passes first, as the processor does.
  while (!p.expiries.empty() && p.expiries.begin()->first < watermark) {
    const std::string user_id = p.expiries.begin()->second;
    UserRecord& state = users_[user_id];
    Sink sink(this, user_id);
    ExpireImpressions(model_, watermark, &state, &sink);
    if (NextExpiry(model_, state) == p.expiries.begin()->first) {
      p.expiries.erase(p.expiries.begin());  // cannot happen; never loop
      user_expiry_.erase(user_id);
      continue;
    }
    Reindex(p, user_id, state);
  }
  p.watermark_ms = watermark;

  const std::string& user_id = event.user_id();
  UserRecord& state = users_[user_id];
  const bool logged =
      event.kind() == ListenEvent::IMPRESSION && !event.request_id().empty();
  ContextKey key{user_id, event.arm_id(), event.event_time_ms()};
  if (logged) {
    contexts_[key].push_back(
        UserContext(model_, state.features, event.event_time_ms()));
  }
  Sink sink(this, user_id);
  const ApplyOutcome outcome = ApplyEvent(model_, event, &state, &sink);
  if (logged && outcome == ApplyOutcome::kDuplicate) {
    auto it = contexts_.find(key);
    it->second.pop_back();
    if (it->second.empty()) contexts_.erase(it);
  }
  // What off-policy evaluation never reads.
  state.arms.clear();
  state.has_top_artists = false;
  state.top_artists = TopItemsRecord();
  state.has_distinct_artists = false;
  state.distinct_artists = DistinctRecord();
  state.recent_plays.clear();
  Reindex(p, user_id, state);
  return outcome;
}

std::vector<LoggedRow> LogReplay::TakeRows() {
  std::vector<LoggedRow> out;
  out.swap(rows_);
  return out;
}

}  // namespace encore
