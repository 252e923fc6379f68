// Replays logged events in memory, without a store, to recover each logged
// impression's row for off-policy evaluation (`encore ope`): who was shown
// which arm, with which propensity, in which context, and the final reward.
//
// Attribution, expiry and finality are exactly the processor's
// (state/MODEL.md, "Reward attribution"): per-partition watermarks, and an
// impression's row appears only once its outcome is final.
//
//   LogReplay replay(model);
//   for (each validated event e of partition p, in offset order)
//     replay.Apply(p, e);
//   for (const LoggedRow& row : replay.TakeRows()) ...
//   replay.in_flight();  // impressions whose window is still open
//
// Memory: one trimmed UserRecord per user seen (features, sessions, pending
// impressions, event ids; not arms, sketches or recent plays), and the
// context of each pending impression. Not thread-safe.
#ifndef ENCORE_STATE_LOG_REPLAY_H_
#define ENCORE_STATE_LOG_REPLAY_H_

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "proto/event.pb.h"
#include "proto/user_state.pb.h"
#include "state/model.h"

namespace encore {

// One logged impression whose outcome is final.
struct LoggedRow {
  std::string user_id;
  std::string arm_id;
  int64_t shown_ms = 0;
  double propensity = 0;
  double reward = 0;  // binary; 0 when unanswered
  Context context{};  // the user's context when shown
};

class LogReplay {
 public:
  explicit LogReplay(const ModelConfig& model) : model_(model) {}

  // Applies one event of `partition`. REQUIRES: the event passed
  // ValidateEvent() (and, as in the processor, is not too late for its
  // partition's watermark).
  ApplyOutcome Apply(int32_t partition, const ListenEvent& event);

  // The rows that became final since the last call, in order.
  std::vector<LoggedRow> TakeRows();

  // Logged impressions whose outcome is not final yet.
  uint64_t in_flight() const { return in_flight_; }
  size_t users() const { return users_.size(); }

 private:
  struct Partition {
    int64_t watermark_ms = 0;
    std::set<std::pair<int64_t, std::string>> expiries;
  };
  class Sink;
  using ContextKey = std::tuple<std::string, std::string, int64_t>;

  void Reindex(Partition& p, const std::string& user_id, UserRecord& state);

  const ModelConfig model_;
  std::map<int32_t, Partition> partitions_;
  std::unordered_map<std::string, UserRecord> users_;
  std::unordered_map<std::string, int64_t> user_expiry_;
  // (user, arm, shown) -> contexts of pending impressions, oldest first.
  std::map<ContextKey, std::deque<Context>> contexts_;
  std::vector<LoggedRow> rows_;
  uint64_t in_flight_ = 0;
};

}  // namespace encore

#endif  // ENCORE_STATE_LOG_REPLAY_H_
