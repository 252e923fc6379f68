#include "tests/fuzz/event_fuzz_target.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "state/listen_event.h"
#include "state/model.h"
#include "stream/validation.h"

namespace encore::fuzz {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

void CheckState(const ModelConfig& model, const UserState& s) {
  const DecayedCounters& c = s.counters();
  for (int i = 0; i < c.plays_size(); ++i) {
    Check(std::isfinite(c.plays(i)) && c.plays(i) >= 0, "plays finite >= 0");
    Check(std::isfinite(c.skips(i)) && c.skips(i) >= 0, "skips finite >= 0");
    Check(std::isfinite(c.ms_played(i)) && c.ms_played(i) >= 0,
          "ms_played finite >= 0");
  }
  Check(s.arms_size() <= static_cast<int>(model.max_arms_per_user),
        "arms within bound");
  for (int i = 0; i < s.arms_size(); ++i) {
    const ArmEvidence& a = s.arms(i);
    Check(std::isfinite(a.successes()) && a.successes() >= 0, "successes");
    Check(std::isfinite(a.failures()) && a.failures() >= 0, "failures");
    if (i > 0) Check(s.arms(i - 1).arm_id() < a.arm_id(), "arms sorted");
  }
  Check(s.first_seen_ms() <= s.last_seen_ms(), "first <= last seen");
  Check(s.pending_size() <= static_cast<int>(model.max_pending_per_user),
        "pending impressions within bound");
  for (int i = 1; i < s.pending_size(); ++i) {
    Check(s.pending(i - 1).time_ms() <= s.pending(i).time_ms(),
          "pending sorted by time");
  }
  Check(s.recent_plays_size() <= static_cast<int>(model.recent_plays),
        "recent plays within bound");
  Check(s.recent_event_ids_size() <= static_cast<int>(model.dedup_window),
        "event ids within bound");
  Check(s.top_artists().items_size() <= 2 * static_cast<int>(model.top_artists),
        "top artists within bound");
  const UserFeatures& f = s.features();
  Check(std::isfinite(f.completion_sum()) && f.completion_weight() >= 0 &&
            f.completion_sum() <= f.completion_weight() * (1 + 1e-9),
        "completion mean within [0, 1]");
  Check(f.early_skips() + f.late_skips() <= f.starts() * (1 + 1e-9) + 1e-9,
        "skips <= starts");
  // The bound documented in state/MODEL.md, "Bounds".
  const std::string wire = s.SerializeAsString();
  Check(wire.size() <= 64 * 1024, "state size bound");
  UserState back;
  Check(back.ParseFromString(wire), "state parses");
  Check(back.SerializeAsString() == wire, "state round-trips");
}

// Every field equal, doubles by their bits.
bool SameFields(const ListenEventView& a, const ListenEventView& b) {
  return a.event_id() == b.event_id() && a.user_id() == b.user_id() &&
         a.event_time_ms() == b.event_time_ms() && a.kind() == b.kind() &&
         a.track_id() == b.track_id() && a.artist_id() == b.artist_id() &&
         a.arm_id() == b.arm_id() && a.ms_played() == b.ms_played() &&
         a.track_duration_ms() == b.track_duration_ms() &&
         a.request_id() == b.request_id() &&
         std::bit_cast<uint64_t>(a.propensity()) ==
             std::bit_cast<uint64_t>(b.propensity()) &&
         a.platform() == b.platform() &&
         a.utc_offset_minutes() == b.utc_offset_minutes();
}

}  // namespace

int DecodeValidateApply(const uint8_t* data, size_t size) {
  static const ModelConfig model;
  static const ValidationLimits limits;
  UserRecord user;
  ListenEvent event;
  int applied = 0;
  size_t pos = 0;
  while (pos + 3 <= size) {
    const uint8_t flags = data[pos];
    const size_t len =
        data[pos + 1] | (static_cast<size_t>(data[pos + 2]) << 8);
    pos += 3;
    const size_t n = std::min(len, size - pos);
    const std::string payload(reinterpret_cast<const char*>(data + pos), n);
    pos += n;
    event.Clear();
    ListenEventView fast;
    const bool taken = DecodeListenEvent(payload, &fast);
    if (!event.ParseFromString(payload)) {
      Check(!taken, "the direct decoder takes only what protobuf parses");
      continue;
    }
    if (taken) {
      Check(SameFields(fast, event), "the direct decoder reads as protobuf");
    }
    std::string key;
    switch (flags & 3) {
      case 0:
        key = event.user_id();
        break;
      case 1:
        break;  // no key
      case 2:
        key = event.user_id() + "x";
        break;
      default:
        key = payload.substr(0, 8);
        break;
    }
    // A message timestamp near the event time (computed without overflow
    // for any event time), or none.
    const int64_t t =
        std::clamp<int64_t>(event.event_time_ms(), 0, INT64_C(1) << 50);
    const int64_t message_time =
        (flags & 4) ? 0 : t - 1000 + (flags >> 3) * 600'000;
    Verdict v = ValidateEvent(event, key, message_time, limits);
    Check(v.ok() == (v.reason == RejectReason::kNone), "verdict consistent");
    // The processor's path (the direct decoder, protobuf where it declines)
    // gives the same verdict on the same fields.
    ListenEvent parsed;
    ListenEventView view;
    const Verdict processor_v =
        DecodeAndValidate(payload, key, message_time, limits, &parsed, &view);
    Check(processor_v.reason == v.reason, "one verdict on both paths");
    Check(SameFields(view, event), "the processor's path reads as protobuf");
    if (!v.ok()) continue;
    // A user's state only ever sees that user's events.
    if (!user.user_id.empty() && user.user_id != event.user_id()) continue;
    ApplyEvent(model, event, &user);
    ExpireImpressions(model, t, &user);
    ++applied;
    UserState state;
    ToProto(user, &state);
    CheckState(model, state);
  }
  return applied;
}

}  // namespace encore::fuzz
