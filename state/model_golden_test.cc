// Pins the exact bytes the model writes: a fixed pseudo-random event stream,
// exercising every branch of state/model.cc (duplicates, out-of-order times,
// sessions, recent plays, top artists past their capacity, distinct artists
// past the exact bound, arms past their bound, impressions answered, dropped
// and expired), is applied under a small-bounds and the default configuration,
// and the hash of every stored state and of every call the sink received
// must not change.
//
// The stored state is digested and replayed byte for byte (state/FORMAT.md),
// so a rewrite of the model's in-memory representation must keep these
// values. The constants were recorded with the protobuf model at 9c5a284; a
// deliberate change of the model changes them, and says so in its commit.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bandits/rng.h"
#include "gtest/gtest.h"
#include "state/model.h"
#include "state/sketches.h"

namespace encore {
namespace {

// Folds everything the sink receives into one running hash.
class HashingSink : public RewardSink {
 public:
  void OnReward(const ModelConfig&, const Reward& r) override {
    Mix(absl::StrCat("R", r.arm_id, ":", r.time_ms, ":", Bits(r.reward), ":",
                     Bits(r.completion), ":", Bits(r.propensity)));
    if (r.context != nullptr) {
      for (double x : *r.context) Mix(absl::StrCat("x", Bits(x)));
    }
  }
  void OnImpressionPending(const ModelConfig&, absl::string_view arm_id,
                           int64_t time_ms) override {
    Mix(absl::StrCat("P", arm_id, ":", time_ms));
  }
  void OnOutcomeFinal(const ModelConfig&, const LoggedOutcome& o) override {
    Mix(absl::StrCat("F", o.arm_id, ":", o.shown_ms, ":", Bits(o.reward), ":",
                     Bits(o.propensity)));
  }
  uint64_t hash() const { return hash_; }
  uint64_t calls() const { return calls_; }

 private:
  static uint64_t Bits(double x) { return std::bit_cast<uint64_t>(x); }
  void Mix(const std::string& s) {
    hash_ = StableHash64(absl::StrCat(hash_, "/", s));
    ++calls_;
  }
  uint64_t hash_ = 0;
  uint64_t calls_ = 0;
};

struct Outcome {
  // What the stream exercised, summed over users: each must be > 0.
  std::map<std::string, uint64_t> coverage;
  uint64_t states_hash = 0;
  uint64_t sink_hash = 0;
  uint64_t sink_calls = 0;
  uint64_t state_bytes = 0;
};

// A stream over `users` users: mostly plays and skips of a few hundred
// tracks by ~60 artists, impressions with request ids answered (or not) a
// little later, responses naming an arm without an impression, repeated
// event ids, times jittered backwards and forwards across session gaps.
Outcome RunStream(const ModelConfig& config, int users, int events,
                  uint64_t seed) {
  bandits::Rng rng(seed);
  std::map<std::string, UserRecord> states;  // the form the processor uses
  HashingSink sink;
  int64_t clock = 1'700'000'000'000;
  int64_t watermark = 0;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>>
      shown;  // user -> (request, arm) awaiting a response
  std::map<std::string, ListenEvent> last;  // each user's last event
  for (int i = 0; i < events; ++i) {
    clock += static_cast<int64_t>(rng.NextU64() % 120'000);
    if (rng.NextU64() % 50 == 0) clock += 3 * kHourMs;  // a long pause
    const std::string user = absl::StrCat("user-", rng.NextU64() % users);
    ListenEvent e;
    e.set_user_id(user);
    int64_t t = clock;
    const uint64_t jitter = rng.NextU64() % 20;
    if (jitter == 0) t -= static_cast<int64_t>(rng.NextU64() % (2 * kHourMs));
    if (jitter == 1) t += static_cast<int64_t>(rng.NextU64() % 60'000);
    e.set_event_time_ms(t);
    e.set_event_id(absl::StrCat("e", rng.NextU64() % (events * 9 / 10)));
    if (rng.NextU64() % 7 == 0) e.clear_event_id();
    e.set_utc_offset_minutes(static_cast<int32_t>(rng.NextU64() % 5) * 60 -
                             120);
    const uint64_t kind = rng.NextU64() % 10;
    auto& waiting = shown[user];
    if (kind < 3) {
      e.set_kind(ListenEvent::IMPRESSION);
      e.set_arm_id(absl::StrCat("arm-", rng.NextU64() % 9));
      if (rng.NextU64() % 5 != 0) {
        e.set_request_id(absl::StrCat("req-", i));
        waiting.emplace_back(e.request_id(), e.arm_id());
      }
      e.set_propensity(0.05 + 0.9 * rng.Uniform());
    } else {
      e.set_kind(kind < 8 ? ListenEvent::PLAY : ListenEvent::SKIP);
      e.set_track_id(absl::StrCat("track-", rng.NextU64() % 300));
      e.set_artist_id(absl::StrCat("artist-", rng.NextU64() % 60));
      if (rng.NextU64() % 9 == 0) e.clear_artist_id();
      e.set_track_duration_ms(
          rng.NextU64() % 6 == 0 ? 0 : 120'000 + rng.NextU64() % 180'000);
      e.set_ms_played(static_cast<int64_t>(rng.NextU64() % 240'000));
      if (rng.NextU64() % 10 == 0) e.set_ms_played(0);
      const uint64_t answer = rng.NextU64() % 4;
      if (answer == 0 && !waiting.empty()) {
        const size_t k = rng.NextU64() % waiting.size();
        e.set_request_id(waiting[k].first);
        e.set_arm_id(waiting[k].second);
        waiting.erase(waiting.begin() + static_cast<ptrdiff_t>(k));
      } else if (answer == 1) {
        e.set_arm_id(absl::StrCat("arm-", rng.NextU64() % 9));
      }
    }
    if (rng.NextU64() % 25 == 0 && last.count(user) > 0) {
      e = last[user];  // delivered twice
    }
    last[user] = e;
    UserRecord& state = states[user];
    // The processor expires a user's impressions before applying an event
    // that moves the watermark past them.
    watermark = std::max(watermark, t);
    ExpireImpressions(config, watermark, &state, &sink);
    ApplyEvent(config, e, &state, &sink);
    if (rng.NextU64() % 40 == 0) {
      for (auto& [id, s] : states)
        ExpireImpressions(config, watermark, &s, &sink);
    }
  }
  Outcome out;
  for (const auto& [id, record] : states) {
    std::string bytes;
    EncodeTo(record, &bytes);
    UserState s;
    EXPECT_TRUE(s.ParseFromString(bytes));
    out.states_hash = StableHash64(absl::StrCat(out.states_hash, bytes));
    out.state_bytes += bytes.size();
    out.coverage["duplicates"] += s.duplicates();
    out.coverage["arms_dropped"] += s.arms_dropped();
    out.coverage["rewards_attributed"] += s.rewards_attributed();
    out.coverage["rewards_unattributed"] += s.rewards_unattributed();
    out.coverage["impressions_dropped"] += s.impressions_dropped();
    out.coverage["impressions_expired"] += s.impressions_expired();
    out.coverage["out_of_order_events"] += s.sessions().out_of_order_events();
    out.coverage["hll"] += !s.distinct_artists().registers().empty();
    out.coverage["top_artists_error"] +=
        s.top_artists().items_size() > 0 &&
        SpaceSavingMaxError(s.top_artists()) > 0;
    out.coverage["pending"] += s.pending_size();
  }
  out.sink_hash = sink.hash();
  out.sink_calls = sink.calls();
  return out;
}

ModelConfig SmallBounds() {
  ModelConfig config;
  config.half_lives_ms = {kHourMs, kDayMs};
  config.max_arms_per_user = 4;
  config.top_artists = 3;  // 6 counters for ~60 artists
  config.recent_plays = 5;
  config.distinct_exact_max = 8;
  config.hll_precision = 4;
  config.dedup_window = 6;
  config.max_pending_per_user = 2;
  config.session_gap_ms = 10 * 60'000;
  config.attribution_window_ms = 2 * kHourMs;  // outlives the pending bound
  return config;
}

TEST(ModelGoldenTest, SmallBoundsStreamKeepsItsBytes) {
  const Outcome out = RunStream(SmallBounds(), 40, 20'000, 7);
  EXPECT_EQ(out.states_hash, 6766957501947998410ull) << "states";
  EXPECT_EQ(out.sink_hash, 7351668143873054885ull) << "sink";
  EXPECT_EQ(out.sink_calls, 86510u);
  EXPECT_EQ(out.state_bytes, 44879u);
  for (const auto& [what, n] : out.coverage) EXPECT_GT(n, 0u) << what;
}

TEST(ModelGoldenTest, DefaultConfigStreamKeepsItsBytes) {
  const Outcome out = RunStream(ModelConfig(), 25, 20'000, 8);
  EXPECT_EQ(out.states_hash, 4231499021095367157ull) << "states";
  EXPECT_EQ(out.sink_hash, 11409216448135437243ull) << "sink";
  EXPECT_EQ(out.sink_calls, 88757u);
  EXPECT_EQ(out.state_bytes, 125613u);
  // Its bounds are too wide for this stream to reach them.
  for (const auto& [what, n] : out.coverage) {
    if (what != "arms_dropped" && what != "impressions_dropped" &&
        what != "hll") {
      EXPECT_GT(n, 0u) << what;
    }
  }
}

}  // namespace
}  // namespace encore
