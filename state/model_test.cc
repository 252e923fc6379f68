#include "state/model.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace encore {
namespace {

ListenEvent Event(ListenEvent::Kind kind, int64_t t, int64_t ms_played,
                  std::string arm = "") {
  ListenEvent e;
  e.set_user_id("u1");
  e.set_event_time_ms(t);
  e.set_kind(kind);
  e.set_track_id("t1");
  e.set_artist_id("a1");
  e.set_ms_played(ms_played);
  e.set_track_duration_ms(200'000);
  e.set_arm_id(std::move(arm));
  return e;
}

TEST(DecayFactorTest, ClosedForm) {
  EXPECT_DOUBLE_EQ(bandits::DecayFactor(0, kHourMs), 1.0);
  EXPECT_DOUBLE_EQ(bandits::DecayFactor(kHourMs, kHourMs), 0.5);
  EXPECT_DOUBLE_EQ(bandits::DecayFactor(3 * kHourMs, kHourMs), 0.125);
  EXPECT_DOUBLE_EQ(bandits::DecayFactor(kDayMs, 0), 1.0);  // no forgetting
  EXPECT_NEAR(bandits::DecayFactor(kHourMs / 2, kHourMs), std::sqrt(0.5),
              1e-15);
}

TEST(DecayedAddTest, EqualsSumOfDecayedTermsInAnyOrder) {
  const int64_t h = kHourMs;
  std::vector<std::pair<int64_t, double>> obs = {
      {1'000'000, 1.0}, {5'000'000, 2.0}, {2'500'000, 4.0}, {9'000'000, 0.5}};
  const int64_t newest = 9'000'000;
  double expected = 0;
  for (auto [t, x] : obs) expected += x * std::exp2(-double(newest - t) / h);

  std::sort(obs.begin(), obs.end());
  do {
    int64_t ref = 0;
    double value = 0;
    for (auto [t, x] : obs) DecayedAdd(x, t, h, &ref, &value);
    EXPECT_EQ(ref, newest);
    EXPECT_NEAR(value, expected, 1e-12 * expected);
  } while (std::next_permutation(obs.begin(), obs.end()));
}

TEST(ApplyEventTest, CountersMatchClosedForm) {
  ModelConfig config;
  UserState state;
  const int64_t t0 = 1'700'000'000'000;
  ApplyEvent(config, Event(ListenEvent::PLAY, t0, 60'000), &state);
  ApplyEvent(config, Event(ListenEvent::SKIP, t0 + kHourMs, 5'000), &state);
  ApplyEvent(config, Event(ListenEvent::IMPRESSION, t0 + 2 * kHourMs, 0),
             &state);

  EXPECT_EQ(state.user_id(), "u1");
  EXPECT_EQ(state.events(), 3u);
  EXPECT_EQ(state.plays(), 1u);
  EXPECT_EQ(state.skips(), 1u);
  EXPECT_EQ(state.impressions(), 1u);
  EXPECT_EQ(state.first_seen_ms(), t0);
  EXPECT_EQ(state.last_seen_ms(), t0 + 2 * kHourMs);
  // Counters are kept as of the newest play/skip: t0 + 1h.
  const DecayedCounters& c = state.counters();
  EXPECT_EQ(c.ref_time_ms(), t0 + kHourMs);
  ASSERT_EQ(c.plays_size(), 4);
  EXPECT_DOUBLE_EQ(c.plays(0), 0.5);  // 1 h half-life, 1 h old
  EXPECT_DOUBLE_EQ(c.plays(1), std::exp2(-1.0 / 24));
  EXPECT_DOUBLE_EQ(c.skips(0), 1.0);
  EXPECT_DOUBLE_EQ(c.ms_played(0), 60'000 * 0.5 + 5'000);
  EXPECT_DOUBLE_EQ(c.ms_played(3),
                   60'000 * std::exp2(-1.0 / (24 * 30)) + 5'000);
}

TEST(ApplyEventTest, OrderIndependentUpToRounding) {
  ModelConfig config;
  std::mt19937_64 rng(7);
  std::vector<ListenEvent> events;
  const int64_t t0 = 1'700'000'000'000;
  const char* arms[] = {"daily", "new", "radio"};
  for (int i = 0; i < 300; ++i) {
    auto kind = (rng() % 3 == 0) ? ListenEvent::SKIP : ListenEvent::PLAY;
    events.push_back(Event(kind, t0 + int64_t(rng() % (40 * kDayMs)),
                           int64_t(rng() % 240'000), arms[rng() % 3]));
  }
  UserState in_order;
  for (const auto& e : events) ApplyEvent(config, e, &in_order);
  std::shuffle(events.begin(), events.end(), rng);
  UserState shuffled;
  for (const auto& e : events) ApplyEvent(config, e, &shuffled);

  const auto& a = in_order.counters();
  const auto& b = shuffled.counters();
  EXPECT_EQ(a.ref_time_ms(), b.ref_time_ms());
  for (int i = 0; i < a.plays_size(); ++i) {
    EXPECT_NEAR(a.plays(i), b.plays(i), 1e-9 * (1 + a.plays(i)));
    EXPECT_NEAR(a.skips(i), b.skips(i), 1e-9 * (1 + a.skips(i)));
    EXPECT_NEAR(a.ms_played(i), b.ms_played(i), 1e-9 * (1 + a.ms_played(i)));
  }
  ASSERT_EQ(in_order.arms_size(), 3);
  ASSERT_EQ(shuffled.arms_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(in_order.arms(i).arm_id(), shuffled.arms(i).arm_id());
    EXPECT_NEAR(in_order.arms(i).successes(), shuffled.arms(i).successes(),
                1e-9);
    EXPECT_NEAR(in_order.arms(i).failures(), shuffled.arms(i).failures(), 1e-9);
  }
  EXPECT_EQ(in_order.first_seen_ms(), shuffled.first_seen_ms());
  EXPECT_EQ(in_order.last_seen_ms(), shuffled.last_seen_ms());
}

TEST(ApplyEventTest, BetaEvidenceFollowsRewardRuleAndForgets) {
  ModelConfig config;
  config.arm_half_life_ms = kDayMs;
  UserState state;
  const int64_t t0 = 1'700'000'000'000;
  ApplyEvent(config, Event(ListenEvent::PLAY, t0, 30'000, "daily"), &state);
  ApplyEvent(config, Event(ListenEvent::PLAY, t0 + kDayMs, 29'999, "daily"),
             &state);
  ApplyEvent(config, Event(ListenEvent::SKIP, t0 + kDayMs, 100'000, "daily"),
             &state);
  ApplyEvent(config, Event(ListenEvent::PLAY, t0, 100'000), &state);  // no arm

  ASSERT_EQ(state.arms_size(), 1);
  const ArmEvidence& arm = state.arms(0);
  EXPECT_EQ(arm.arm_id(), "daily");
  EXPECT_EQ(arm.updates(), 3u);
  EXPECT_EQ(arm.ref_time_ms(), t0 + kDayMs);
  EXPECT_DOUBLE_EQ(arm.successes(), 0.5);  // one success, a half-life ago
  EXPECT_DOUBLE_EQ(arm.failures(), 2.0);   // a short play and a skip, now
  EXPECT_EQ(FindArm(state, "daily"), &state.arms(0));
  EXPECT_EQ(FindArm(state, "other"), nullptr);
}

TEST(ApplyEventTest, ArmsStaySortedAndBounded) {
  ModelConfig config;
  config.max_arms_per_user = 3;
  UserState state;
  const int64_t t0 = 1'700'000'000'000;
  const char* arms[] = {"e", "b", "d", "a", "c"};
  for (int i = 0; i < 5; ++i) {
    ApplyEvent(config, Event(ListenEvent::PLAY, t0 + i, 60'000, arms[i]),
               &state);
  }
  // The two oldest ("e" at t0, "b" at t0+1) were dropped.
  ASSERT_EQ(state.arms_size(), 3);
  EXPECT_EQ(state.arms(0).arm_id(), "a");
  EXPECT_EQ(state.arms(1).arm_id(), "c");
  EXPECT_EQ(state.arms(2).arm_id(), "d");
  EXPECT_EQ(state.arms_dropped(), 2u);
}

TEST(ModelConfigTest, RejectsOutOfRangeValues) {
  ModelConfig ok;
  EXPECT_TRUE(ok.Validate().ok());
  ModelConfig bad = ok;
  bad.half_lives_ms = {};
  EXPECT_EQ(bad.Validate().code(), absl::StatusCode::kInvalidArgument);
  bad = ok;
  bad.half_lives_ms = {kHourMs, 0};
  EXPECT_EQ(bad.Validate().code(), absl::StatusCode::kInvalidArgument);
  bad = ok;
  bad.prior_beta = 0;
  EXPECT_EQ(bad.Validate().code(), absl::StatusCode::kInvalidArgument);
  bad = ok;
  bad.max_arms_per_user = 0;
  EXPECT_EQ(bad.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ModelConfigTest, ProtoRoundTripKeepsZerosAndOldManifestsGetDefaults) {
  ModelConfig config;
  config.nig_mu0 = 0;
  config.linucb_alpha = 0;
  config.lints_scale = 0;
  config.arm_half_life_ms = 0;
  config.attribution_window_ms = 5 * 60'000;
  const ModelConfig back = ModelConfig::FromProto(config.ToProto());
  EXPECT_EQ(back.ToProto().SerializeAsString(),
            config.ToProto().SerializeAsString());
  EXPECT_EQ(back.linucb_alpha, 0.0);
  // A manifest from before the full model has none of the new fields.
  ModelConfigProto old;
  old.add_half_lives_ms(kHourMs);
  old.set_prior_alpha(2);
  old.set_prior_beta(3);
  const ModelConfig defaults;
  const ModelConfig read = ModelConfig::FromProto(old);
  EXPECT_EQ(read.prior_alpha, 2);
  EXPECT_EQ(read.attribution_window_ms, defaults.attribution_window_ms);
  EXPECT_EQ(read.prior_strength, defaults.prior_strength);
}

}  // namespace
}  // namespace encore
