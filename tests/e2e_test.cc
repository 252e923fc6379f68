// End to end on the real broker: known events (out-of-order times, invalid
// messages) -> `encore run` -> snapshot -> exact counters and posteriors for
// every user, and every invalid message in the dead-letter topic.
#include <chrono>
#include <cmath>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/snapshot_reader.h"
#include "stream/event_producer.h"
#include "tests/testing/encore_runs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;

constexpr int64_t kT0 = 1'790'000'000'000;  // 2026-09-21
constexpr int64_t kH = 3'600'000;

ListenEvent Ev(const std::string& user, ListenEvent::Kind kind, int64_t t,
               int64_t ms, const std::string& arm) {
  static int n = 0;
  ListenEvent e;
  e.set_event_id("ev-" + std::to_string(++n));
  e.set_user_id(user);
  e.set_kind(kind);
  e.set_event_time_ms(t);
  e.set_arm_id(arm);
  if (kind == ListenEvent::IMPRESSION) {
    e.set_propensity(0.5);
    e.set_request_id("req-" + std::to_string(n));
  } else {
    e.set_track_id("track-" + std::to_string(n % 3));
    e.set_artist_id("artist-1");
    e.set_ms_played(ms);
    e.set_track_duration_ms(240'000);
  }
  return e;
}

// Closed-form reference: a decayed sum is sum_i x_i 2^(-(T - t_i)/h) with T
// the newest contributing time.
double DecayedSum(const std::vector<std::pair<int64_t, double>>& obs,
                  int64_t h) {
  int64_t newest = 0;
  for (auto [t, x] : obs) newest = std::max(newest, t);
  double sum = 0;
  for (auto [t, x] : obs) sum += x * std::exp2(-double(newest - t) / double(h));
  return sum;
}

TEST(EndToEndTest, KnownEventsGiveExactStateAndDeadLetters) {
  testing::TempDir dir;
  testing::RunDirs run{testing::UniqueName("e2e"), testing::UniqueName("g"),
                       dir.Sub("state"), dir.Sub("snap"), dir.Sub("run.log")};
  std::vector<ListenEvent> good = {
      Ev("alice", ListenEvent::PLAY, kT0 + 2 * kH, 120'000, "daily"),
      Ev("alice", ListenEvent::PLAY, kT0, 10'000, "daily"),  // earlier: late
      Ev("alice", ListenEvent::SKIP, kT0 + kH, 5'000, "radio"),
      Ev("alice", ListenEvent::IMPRESSION, kT0 + 3 * kH, 0, "daily"),
      Ev("bob", ListenEvent::SKIP, kT0 + 5 * kH, 2'000, "daily"),
      Ev("bob", ListenEvent::PLAY, kT0 + 4 * kH, 200'000, ""),
      Ev("bob", ListenEvent::PLAY, kT0 + 26 * kH, 40'000, "radio"),
      Ev("bob", ListenEvent::PLAY, kT0 + 25 * kH, 30'000, "daily"),
      Ev("carol", ListenEvent::PLAY, kT0, 30'000, "radio"),
  };
  // alice's response to her impression (same request and arm, within the
  // attribution window), produced right after it (later events of the
  // partition would move the watermark past the window): an attributed
  // reward.
  ListenEvent response =
      Ev("alice", ListenEvent::PLAY, kT0 + 3 * kH + 60'000, 90'000, "daily");
  response.set_request_id(good[3].request_id());
  good.insert(good.begin() + 4, response);

  auto producer =
      EventProducer::Open({testing::TestBrokers(), {}}, run.topic, 3);
  ASSERT_THAT(producer, IsOk());
  std::map<std::string, std::string> bad_reasons;  // payload -> reason
  auto send_bad = [&](const std::string& key, const std::string& payload,
                      const std::string& reason) {
    ASSERT_THAT((*producer)->SendRaw(key, payload), IsOk());
    bad_reasons[payload] = reason;
  };
  for (size_t i = 0; i < good.size(); ++i) {
    ASSERT_THAT((*producer)->Send(good[i]), IsOk());
    if (i == 1)
      send_bad("alice", "\x0a\xff\xff not a protobuf", "decode_error");
    if (i == 4) {
      // Two days behind alice's partition's watermark (>= t0 + 2h): late.
      ListenEvent late =
          Ev("alice", ListenEvent::PLAY, kT0 - 48 * kH, 60'000, "daily");
      send_bad("alice", late.SerializeAsString(), "late");
      ListenEvent neg = Ev("bob", ListenEvent::PLAY, kT0, -1, "daily");
      send_bad("bob", neg.SerializeAsString(), "negative_duration");
      ListenEvent other = Ev("bob", ListenEvent::PLAY, kT0, 1000, "daily");
      send_bad("mallory", other.SerializeAsString(), "key_mismatch");
    }
    if (i == 7) {
      ListenEvent kind = Ev("carol", ListenEvent::PLAY, kT0, 1000, "x");
      kind.set_kind(static_cast<ListenEvent::Kind>(9));
      send_bad("carol", kind.SerializeAsString(), "unknown_kind");
      ListenEvent future =
          Ev("carol", ListenEvent::PLAY,
             std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                     .count() +
                 48 * kH,
             1000, "x");
      send_bad("carol", future.SerializeAsString(), "future_timestamp");
      ListenEvent nouser = Ev("", ListenEvent::PLAY, kT0, 1000, "x");
      send_bad("", nouser.SerializeAsString(), "missing_user_id");
    }
  }
  // A redelivered event (same event_id): ignored and counted once.
  ASSERT_THAT((*producer)->Send(good[0]), IsOk());
  ASSERT_THAT((*producer)->Flush(30'000), IsOk());
  const int64_t total = good.size() + bad_reasons.size() + 1;

  auto code = testing::RunUntilCaughtUp(run, total);
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0) << "see " << run.log;

  auto reader = SnapshotReader::OpenLatest(run.snapshot_dir);
  ASSERT_THAT(reader, IsOk());
  const SnapshotManifest& m = (*reader)->manifest();
  EXPECT_EQ(m.user_count(), 3u);
  EXPECT_EQ(m.topic(), run.topic);
  ModelConfig model;  // the defaults encore run used

  for (const std::string user : {"alice", "bob", "carol"}) {
    SCOPED_TRACE(user);
    auto got = (*reader)->Lookup(user);
    ASSERT_THAT(got, IsOk());
    ASSERT_TRUE(got->has_value());
    const UserState& s = **got;
    uint64_t plays = 0, skips = 0, imps = 0;
    int64_t first = INT64_MAX, last = 0;
    std::vector<std::pair<int64_t, double>> p_obs, s_obs, ms_obs;
    std::map<std::string, std::vector<std::pair<int64_t, double>>> succ, fail;
    std::map<std::string, std::vector<int64_t>> arm_times;
    for (const ListenEvent& e : good) {
      if (e.user_id() != user) continue;
      first = std::min(first, e.event_time_ms());
      last = std::max(last, e.event_time_ms());
      if (e.kind() == ListenEvent::IMPRESSION) {
        ++imps;
        continue;
      }
      const bool play = e.kind() == ListenEvent::PLAY;
      plays += play;
      skips += !play;
      p_obs.push_back({e.event_time_ms(), play ? 1.0 : 0.0});
      s_obs.push_back({e.event_time_ms(), play ? 0.0 : 1.0});
      ms_obs.push_back({e.event_time_ms(), double(e.ms_played())});
      if (!e.arm_id().empty()) {
        const bool success = play && e.ms_played() >= 30'000;
        succ[e.arm_id()].push_back({e.event_time_ms(), success ? 1.0 : 0.0});
        fail[e.arm_id()].push_back({e.event_time_ms(), success ? 0.0 : 1.0});
      }
    }
    EXPECT_EQ(s.plays(), plays);
    EXPECT_EQ(s.skips(), skips);
    EXPECT_EQ(s.impressions(), imps);
    EXPECT_EQ(s.first_seen_ms(), first);
    EXPECT_EQ(s.last_seen_ms(), last);
    ASSERT_EQ(s.counters().plays_size(), 4);
    for (int i = 0; i < 4; ++i) {
      const int64_t h = model.half_lives_ms[i];
      EXPECT_NEAR(s.counters().plays(i), DecayedSum(p_obs, h), 1e-9);
      EXPECT_NEAR(s.counters().skips(i), DecayedSum(s_obs, h), 1e-9);
      EXPECT_NEAR(s.counters().ms_played(i), DecayedSum(ms_obs, h), 1e-6);
    }
    ASSERT_EQ(s.arms_size(), static_cast<int>(succ.size()));
    for (const ArmEvidence& arm : s.arms()) {
      SCOPED_TRACE(arm.arm_id());
      EXPECT_NEAR(arm.successes(),
                  DecayedSum(succ[arm.arm_id()], model.arm_half_life_ms),
                  1e-12);
      EXPECT_NEAR(arm.failures(),
                  DecayedSum(fail[arm.arm_id()], model.arm_half_life_ms),
                  1e-12);
      EXPECT_EQ(arm.updates(), succ[arm.arm_id()].size());
    }
  }
  // Spot values, worked by hand: alice's "daily" arm saw a 10 s play
  // (failure) at t0, a 120 s play (success) at t0+2h and the attributed
  // 90 s play (success) at t0+3h+1min; 168 h half-life, as of the newest.
  auto alice = (*reader)->Lookup("alice");
  ASSERT_THAT(alice, IsOk());
  const ArmEvidence* daily = FindArm(**alice, "daily");
  ASSERT_NE(daily, nullptr);
  const double late_h = 3.0 + 1.0 / 60.0;
  EXPECT_NEAR(daily->successes(), 1.0 + std::exp2(-(late_h - 2.0) / 168.0),
              1e-12);
  EXPECT_NEAR(daily->failures(), std::exp2(-late_h / 168.0), 1e-12);
  // Plays at t0, t0+2h and t0+3h+1min, 1h half-life, as of the newest.
  EXPECT_NEAR((*alice)->counters().plays(0),
              1.0 + std::exp2(-(kH + 60'000.0) / kH) +
                  std::exp2(-(3.0 * kH + 60'000.0) / kH),
              1e-12);
  EXPECT_EQ((*alice)->duplicates(), 1u);
  EXPECT_EQ((*alice)->rewards_attributed(), 1u);
  EXPECT_EQ((*alice)->pending_size(), 0);
  EXPECT_EQ((*alice)->recent_plays_size(), 3);
  EXPECT_EQ((*alice)->recent_plays(0).time_ms(), kT0 + 3 * kH + 60'000);

  // Every invalid message is in the dead-letter topic with its reason and
  // origin.
  auto dead =
      testing::ReadTopic(run.topic + ".dlq", bad_reasons.size(), 30'000);
  ASSERT_THAT(dead, IsOk());
  ASSERT_EQ(dead->size(), bad_reasons.size());
  for (const auto& r : *dead) {
    ASSERT_TRUE(bad_reasons.count(r.payload)) << r.payload;
    EXPECT_EQ(r.headers.at("encore.reason"), bad_reasons[r.payload]);
    EXPECT_EQ(r.headers.at("encore.origin.topic"), run.topic);
    EXPECT_FALSE(r.headers.at("encore.origin.offset").empty());
    EXPECT_FALSE(r.headers.at("encore.origin.partition").empty());
  }
}

}  // namespace
}  // namespace encore
