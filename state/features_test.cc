// The full per-user model: features, sessions, recency, de-duplication,
// reward attribution and the per-user bound (state/MODEL.md).
#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "state/aggregates.h"
#include "state/model.h"
#include "state/sketches.h"

namespace encore {
namespace {

constexpr int64_t kT0 = 1'793'491'200'000;  // 2026-11-01T00:00:00Z, a Sunday
constexpr int64_t kMin = 60'000;

ListenEvent Listen(ListenEvent::Kind kind, int64_t t, int64_t ms_played,
                   int64_t duration = 200'000) {
  ListenEvent e;
  e.set_user_id("u1");
  e.set_event_time_ms(t);
  e.set_kind(kind);
  e.set_track_id(absl::StrCat("t", t));
  e.set_artist_id("a1");
  e.set_ms_played(ms_played);
  e.set_track_duration_ms(duration);
  return e;
}

ListenEvent Impression(int64_t t, const std::string& request,
                       const std::string& arm, double propensity) {
  ListenEvent e;
  e.set_user_id("u1");
  e.set_event_id(request + "-i");
  e.set_event_time_ms(t);
  e.set_kind(ListenEvent::IMPRESSION);
  e.set_request_id(request);
  e.set_arm_id(arm);
  e.set_propensity(propensity);
  return e;
}

ListenEvent Response(ListenEvent::Kind kind, int64_t t,
                     const std::string& request, const std::string& arm,
                     int64_t ms_played) {
  ListenEvent e = Listen(kind, t, ms_played);
  e.set_event_id(request + "-r");
  e.set_request_id(request);
  e.set_arm_id(arm);
  return e;
}

double Decay(int64_t dt, int64_t h) { return std::exp2(-double(dt) / h); }

class RecordingSink : public RewardSink {
 public:
  struct Seen {
    std::string arm;
    int64_t time_ms;
    double reward, completion, propensity;
    Context context;
  };
  void OnReward(const ModelConfig&, const Reward& r) override {
    seen.push_back({std::string(r.arm_id), r.time_ms, r.reward, r.completion,
                    r.propensity, r.context ? *r.context : Context{}});
  }
  struct Outcome {
    std::string arm;
    double reward, propensity;
  };
  void OnImpressionPending(const ModelConfig&, absl::string_view,
                           int64_t) override {
    ++pending;
  }
  void OnOutcomeFinal(const ModelConfig&, const LoggedOutcome& o) override {
    outcomes.push_back({std::string(o.arm_id), o.reward, o.propensity});
  }
  std::vector<Seen> seen;
  std::vector<Outcome> outcomes;
  int pending = 0;
};

TEST(FeaturesTest, CompletionAndSkipRatesMatchClosedForm) {
  ModelConfig config;
  const int64_t h = config.feature_half_life_ms;
  UserState s;
  // PLAY 150 of 200 s at t0; SKIP after 10 s at t0+1h; SKIP after 40 s at
  // t0+2h; PLAY longer than the track at t0+3h (ratio capped at 1).
  ApplyEvent(config, Listen(ListenEvent::PLAY, kT0, 150'000), &s);
  ApplyEvent(config, Listen(ListenEvent::SKIP, kT0 + 60 * kMin, 10'000), &s);
  ApplyEvent(config, Listen(ListenEvent::SKIP, kT0 + 120 * kMin, 40'000), &s);
  ApplyEvent(config, Listen(ListenEvent::PLAY, kT0 + 180 * kMin, 300'000), &s);
  const int64_t ref = kT0 + 180 * kMin;
  const double w[4] = {Decay(ref - kT0, h), Decay(ref - kT0 - 60 * kMin, h),
                       Decay(ref - kT0 - 120 * kMin, h), 1.0};
  const double c[4] = {0.75, 0.05, 0.2, 1.0};
  double weight = 0, sum = 0, sum_sq = 0;
  for (int i = 0; i < 4; ++i) {
    weight += w[i];
    sum += w[i] * c[i];
    sum_sq += w[i] * c[i] * c[i];
  }
  const UserFeatures& f = s.features();
  EXPECT_EQ(f.ref_time_ms(), ref);
  EXPECT_NEAR(f.completion_weight(), weight, 1e-12);
  EXPECT_NEAR(f.completion_sum(), sum, 1e-12);
  EXPECT_NEAR(f.completion_sum_sq(), sum_sq, 1e-12);
  EXPECT_NEAR(f.starts(), weight, 1e-12);
  EXPECT_NEAR(f.early_skips(), w[1], 1e-12);
  EXPECT_NEAR(f.late_skips(), w[2], 1e-12);

  const Context x = UserContext(config, s, ref);
  EXPECT_EQ(x[0], 1.0);
  EXPECT_NEAR(x[1], sum / weight, 1e-12);
  EXPECT_NEAR(x[2], w[1] / weight, 1e-12);
  EXPECT_NEAR(x[3], w[2] / (weight - w[1]), 1e-12);
  EXPECT_NEAR(x[4], std::log1p(weight) / 7.0, 1e-12);
}

TEST(FeaturesTest, HourAndWeekdayHistogramsUseTheEventsOffset) {
  ModelConfig config;
  UserState s;
  // 2026-11-01 is a Sunday. 23:30 UTC at +60 min is Monday 00:30 local.
  ListenEvent e =
      Listen(ListenEvent::PLAY, kT0 + 23 * 60 * kMin + 30 * kMin, 60'000);
  e.set_utc_offset_minutes(60);
  ApplyEvent(config, e, &s);
  EXPECT_EQ(LocalHour(e.event_time_ms(), 60), 0);
  EXPECT_EQ(LocalWeekday(e.event_time_ms(), 60), 0);    // Monday
  EXPECT_EQ(LocalWeekday(kT0, 0), 6);                   // Sunday
  EXPECT_EQ(LocalHour(kT0 + 5 * 60 * kMin, -330), 23);  // 05:00Z at -05:30
  EXPECT_EQ(s.features().hour_of_day(0), 1.0);
  EXPECT_EQ(s.features().day_of_week(0), 1.0);
  // Without an offset: UTC.
  ApplyEvent(
      config,
      Listen(ListenEvent::PLAY, kT0 + 24 * 60 * kMin + 13 * 60 * kMin, 1000),
      &s);
  EXPECT_GT(s.features().hour_of_day(13), 0.0);
  EXPECT_GT(s.features().day_of_week(0), 1.0);  // Monday again, in UTC
}

TEST(FeaturesTest, DecayedFeaturesDoNotDependOnArrivalOrder) {
  ModelConfig config;
  std::mt19937_64 rng(7);
  std::vector<ListenEvent> events;
  for (int i = 0; i < 300; ++i) {
    const int64_t t = kT0 + static_cast<int64_t>(rng() % (30 * kDayMs));
    ListenEvent e = Listen(i % 3 ? ListenEvent::PLAY : ListenEvent::SKIP, t,
                           static_cast<int64_t>(rng() % 250'000));
    e.set_artist_id(absl::StrCat("a", rng() % 10));  // < sketch capacity
    events.push_back(e);
  }
  UserState in_order, shuffled;
  std::vector<ListenEvent> sorted = events;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.event_time_ms() < b.event_time_ms();
  });
  for (const auto& e : sorted) ApplyEvent(config, e, &in_order);
  for (const auto& e : events) ApplyEvent(config, e, &shuffled);
  const UserFeatures& a = in_order.features();
  const UserFeatures& b = shuffled.features();
  auto near = [](double x, double y) {
    EXPECT_NEAR(x, y, 1e-9 * std::max(1.0, std::abs(x)));
  };
  near(a.completion_weight(), b.completion_weight());
  near(a.completion_sum(), b.completion_sum());
  near(a.completion_sum_sq(), b.completion_sum_sq());
  near(a.early_skips(), b.early_skips());
  near(a.late_skips(), b.late_skips());
  for (int i = 0; i < 24; ++i) near(a.hour_of_day(i), b.hour_of_day(i));
  for (int i = 0; i < 7; ++i) near(a.day_of_week(i), b.day_of_week(i));
  // Fewer distinct artists than counters: the sketch is exact, so equal.
  auto top_a = SpaceSavingTop(in_order.top_artists(), 10, 0, 1);
  auto top_b = SpaceSavingTop(shuffled.top_artists(), 10, 0, 1);
  ASSERT_EQ(top_a.size(), top_b.size());
  for (size_t i = 0; i < top_a.size(); ++i) {
    EXPECT_EQ(top_a[i].id(), top_b[i].id());
    near(top_a[i].weight(), top_b[i].weight());
    EXPECT_EQ(top_b[i].error(), 0.0);
  }
  // Recent plays are order-aware but end up the same set, newest first.
  ASSERT_EQ(in_order.recent_plays_size(), shuffled.recent_plays_size());
  for (int i = 0; i < in_order.recent_plays_size(); ++i) {
    EXPECT_EQ(in_order.recent_plays(i).time_ms(),
              shuffled.recent_plays(i).time_ms());
  }
  EXPECT_EQ(DistinctEstimate(in_order.distinct_artists(), 10), 10.0);
}

TEST(SessionsTest, GapStartsANewSessionAndMeanLengthIsDecayed) {
  ModelConfig config;  // gap 30 min
  const int64_t h = config.feature_half_life_ms;
  UserState s;
  // Session 1: t0 .. t0+20min (3 events). Session 2: t0+60 .. t0+70.
  // Session 3 starts at t0+200.
  for (int64_t m : {0, 10, 20, 60, 70, 200}) {
    ApplyEvent(config,
               Listen(m == 10 ? ListenEvent::SKIP : ListenEvent::PLAY,
                      kT0 + m * kMin, 30'000),
               &s);
  }
  const Sessions& ses = s.sessions();
  EXPECT_EQ(ses.count(), 3u);
  EXPECT_EQ(ses.start_ms(), kT0 + 200 * kMin);
  EXPECT_EQ(ses.plays(), 1u);
  // Completed sessions (20 and 10 min), closed at their last events.
  const int64_t ref = kT0 + 70 * kMin;
  EXPECT_EQ(ses.ref_time_ms(), ref);
  const double w1 = Decay(ref - (kT0 + 20 * kMin), h);
  EXPECT_NEAR(ses.completed_weight(), w1 + 1.0, 1e-12);
  EXPECT_NEAR(ses.completed_length_ms(), w1 * 20 * kMin + 10 * kMin, 1e-6);

  // A late event inside the current session extends it backwards; one far
  // older only counts as out of order.
  ApplyEvent(config, Listen(ListenEvent::SKIP, kT0 + 185 * kMin, 1000), &s);
  EXPECT_EQ(s.sessions().start_ms(), kT0 + 185 * kMin);
  EXPECT_EQ(s.sessions().skips(), 1u);
  ApplyEvent(config, Listen(ListenEvent::PLAY, kT0 + 5 * kMin, 1000), &s);
  EXPECT_EQ(s.sessions().out_of_order_events(), 1u);
  EXPECT_EQ(s.sessions().count(), 3u);
}

TEST(RecentPlaysTest, NewestFirstBoundedAndLateEventsPlaced) {
  ModelConfig config;
  config.recent_plays = 3;
  UserState s;
  for (int64_t m : {10, 20, 30, 40}) {
    ApplyEvent(config, Listen(ListenEvent::PLAY, kT0 + m * kMin, 1000), &s);
  }
  ApplyEvent(config, Listen(ListenEvent::SKIP, kT0 + 50 * kMin, 1000), &s);
  ASSERT_EQ(s.recent_plays_size(), 3);  // skips are not plays
  EXPECT_EQ(s.recent_plays(0).time_ms(), kT0 + 40 * kMin);
  EXPECT_EQ(s.recent_plays(2).time_ms(), kT0 + 20 * kMin);
  ApplyEvent(config, Listen(ListenEvent::PLAY, kT0 + 35 * kMin, 1000), &s);
  EXPECT_EQ(s.recent_plays(1).time_ms(), kT0 + 35 * kMin);
  EXPECT_EQ(s.recent_plays(2).time_ms(), kT0 + 30 * kMin);
  ApplyEvent(config, Listen(ListenEvent::PLAY, kT0 + 1 * kMin, 1000), &s);
  EXPECT_EQ(s.recent_plays(2).time_ms(), kT0 + 30 * kMin);  // too old
}

TEST(DedupTest, RecentEventIdsAreIgnoredAndCounted) {
  ModelConfig config;
  config.dedup_window = 4;
  UserState s;
  ListenEvent e = Listen(ListenEvent::PLAY, kT0, 60'000);
  e.set_event_id("e0");
  EXPECT_EQ(ApplyEvent(config, e, &s), ApplyOutcome::kApplied);
  const std::string before = s.SerializeAsString();
  EXPECT_EQ(ApplyEvent(config, e, &s), ApplyOutcome::kDuplicate);
  EXPECT_EQ(s.duplicates(), 1u);
  EXPECT_EQ(s.plays(), 1u);
  // Only the duplicate counter changed.
  UserState expected;
  expected.ParseFromString(before);
  expected.set_duplicates(1);
  EXPECT_EQ(s.SerializeAsString(), expected.SerializeAsString());
  // After 4 newer ids the window no longer holds e0.
  for (int i = 1; i <= 4; ++i) {
    ListenEvent n = Listen(ListenEvent::PLAY, kT0 + i, 1000);
    n.set_event_id(absl::StrCat("e", i));
    EXPECT_EQ(ApplyEvent(config, n, &s), ApplyOutcome::kApplied);
  }
  EXPECT_EQ(s.recent_event_ids_size(), 4);
  EXPECT_EQ(ApplyEvent(config, e, &s), ApplyOutcome::kApplied);
  EXPECT_EQ(s.plays(), 6u);
}

TEST(AttributionTest, ResponseWithinWindowCarriesPropensityAndContext) {
  ModelConfig config;  // window 30 min, success >= 30 s
  UserState s;
  RecordingSink sink;
  ApplyEvent(config, Listen(ListenEvent::PLAY, kT0 - kHourMs, 100'000), &s,
             &sink);
  const Context before = UserContext(config, s, kT0);
  ApplyEvent(config, Impression(kT0, "r1", "arm-a", 0.25), &s, &sink);
  ApplyEvent(config, Impression(kT0, "r2", "arm-b", 0.5), &s, &sink);
  ASSERT_EQ(s.pending_size(), 2);
  EXPECT_EQ(NextExpiry(config, s), kT0 + 30 * kMin);
  ApplyEvent(config,
             Response(ListenEvent::PLAY, kT0 + 5 * kMin, "r1", "arm-a", 45'000),
             &s, &sink);
  ASSERT_EQ(sink.seen.size(), 1u);
  EXPECT_EQ(sink.seen[0].arm, "arm-a");
  EXPECT_EQ(sink.seen[0].reward, 1.0);
  EXPECT_NEAR(sink.seen[0].completion, 45.0 / 200.0, 1e-12);
  EXPECT_EQ(sink.seen[0].propensity, 0.25);
  EXPECT_EQ(sink.seen[0].context, before);  // as when shown
  EXPECT_EQ(s.rewards_attributed(), 1u);
  // The answered impression stays pending, its outcome recorded, until the
  // watermark closes its window; no outcome is final yet.
  ASSERT_EQ(s.pending_size(), 2);
  EXPECT_TRUE(s.pending(0).answered());
  EXPECT_EQ(s.pending(0).reward(), 1.0);
  EXPECT_TRUE(sink.outcomes.empty());
  // A second response to the same impression is not attributed again.
  UserState copy = s;
  ListenEvent again =
      Response(ListenEvent::PLAY, kT0 + 6 * kMin, "r1", "arm-a", 45'000);
  again.set_event_id("r1-again");
  ApplyEvent(config, again, &copy);
  EXPECT_EQ(copy.rewards_attributed(), 1u);
  EXPECT_EQ(copy.rewards_unattributed(), 1u);

  // The watermark passing the windows' end closes both: r2 resolved as
  // reward 0 at the window's end, r1 with its recorded outcome; not before.
  EXPECT_EQ(ExpireImpressions(config, kT0 + 30 * kMin, &s, &sink), 0);
  int unanswered = -1;
  EXPECT_EQ(
      ExpireImpressions(config, kT0 + 30 * kMin + 1, &s, &sink, &unanswered),
      2);
  EXPECT_EQ(unanswered, 1);
  ASSERT_EQ(sink.outcomes.size(), 2u);
  EXPECT_EQ(sink.outcomes[0].arm, "arm-a");
  EXPECT_EQ(sink.outcomes[0].reward, 1.0);
  EXPECT_EQ(sink.outcomes[0].propensity, 0.25);
  EXPECT_EQ(sink.outcomes[1].arm, "arm-b");
  EXPECT_EQ(sink.outcomes[1].reward, 0.0);
  EXPECT_EQ(sink.outcomes[1].propensity, 0.5);
  EXPECT_EQ(sink.pending, 2);
  ASSERT_EQ(sink.seen.size(), 2u);
  EXPECT_EQ(sink.seen[1].arm, "arm-b");
  EXPECT_EQ(sink.seen[1].reward, 0.0);
  EXPECT_EQ(sink.seen[1].time_ms, kT0 + 30 * kMin);
  EXPECT_EQ(sink.seen[1].propensity, 0.5);
  EXPECT_EQ(s.impressions_expired(), 1u);
  EXPECT_EQ(NextExpiry(config, s), -1);
  const ArmEvidence* b = FindArm(s, "arm-b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->failures(), 1.0);
  EXPECT_EQ(b->successes(), 0.0);

  // A response after the window, or to another arm, is not attributed.
  ApplyEvent(config, Impression(kT0 + kHourMs, "r3", "arm-a", 0.5), &s, &sink);
  ApplyEvent(config,
             Response(ListenEvent::SKIP, kT0 + kHourMs + 31 * kMin, "r3",
                      "arm-a", 1'000),
             &s, &sink);
  EXPECT_EQ(s.rewards_unattributed(), 1u);
  EXPECT_EQ(sink.seen.back().propensity, 0.0);
  EXPECT_EQ(s.pending_size(), 1);
  EXPECT_EQ(sink.outcomes.size(), 2u);
}

TEST(AttributionTest, PendingImpressionsAreBounded) {
  ModelConfig config;
  config.max_pending_per_user = 4;
  UserState s;
  for (int i = 0; i < 10; ++i) {
    ApplyEvent(config, Impression(kT0 + i, absl::StrCat("r", i), "arm", 0.5),
               &s);
  }
  EXPECT_EQ(s.pending_size(), 4);
  EXPECT_EQ(s.impressions_dropped(), 6u);
  EXPECT_EQ(s.pending(0).request_id(), "r6");  // the oldest went first
  // ... each resolved as reward 0 at the displacing impression's time.
  const ArmEvidence* arm = FindArm(s, "arm");
  ASSERT_NE(arm, nullptr);
  EXPECT_EQ(arm->updates(), 6u);
  EXPECT_EQ(arm->successes(), 0.0);
  EXPECT_EQ(arm->ref_time_ms(), kT0 + 9);
}

TEST(AggregatesTest, SumOverPartitionsEqualsOneAggregate) {
  ModelConfig config;
  RecordingSink sink;
  UserState s;
  std::vector<Reward> rewards;
  std::mt19937_64 rng(3);
  ArmAggregate all, p0, p1;
  std::vector<Context> contexts(200);
  for (int i = 0; i < 200; ++i) {
    Context& x = contexts[i];
    for (double& v : x) v = double(rng() % 1000) / 1000.0;
    Reward r;
    r.arm_id = "arm";
    r.time_ms = kT0 + static_cast<int64_t>(rng() % (10 * kDayMs));
    r.reward = rng() % 2;
    r.completion = double(rng() % 100) / 100.0;
    r.propensity = 0.25;
    r.context = &x;
    AddRewardToAggregate(config, r, &all);
    AddRewardToAggregate(config, r, i % 2 ? &p0 : &p1);
    LoggedOutcome o;
    o.arm_id = r.arm_id;
    o.reward = r.reward;
    o.propensity = r.propensity;
    AddOutcomeToAggregate(o, &all);
    AddOutcomeToAggregate(o, i % 2 ? &p0 : &p1);
  }
  MergeAggregate(config, p1, &p0);
  EXPECT_EQ(p0.rewards(), all.rewards());
  EXPECT_EQ(p0.ref_time_ms(), all.ref_time_ms());
  EXPECT_NEAR(p0.successes(), all.successes(), 1e-9);
  EXPECT_NEAR(p0.failures(), all.failures(), 1e-9);
  EXPECT_NEAR(p0.reward_sum_sq(), all.reward_sum_sq(), 1e-9);
  ASSERT_EQ(p0.xx_size(), all.xx_size());
  for (int k = 0; k < all.xx_size(); ++k)
    EXPECT_NEAR(p0.xx(k), all.xx(k), 1e-9);
  for (int k = 0; k < all.xr_size(); ++k)
    EXPECT_NEAR(p0.xr(k), all.xr(k), 1e-9);
  EXPECT_EQ(p0.off_policy().n(), 200u);
  EXPECT_NEAR(p0.off_policy().sum_w(), 800.0, 1e-9);
  EXPECT_NEAR(p0.off_policy().sum_wr(), all.off_policy().sum_wr(), 1e-9);
}

TEST(AggregatesTest, PartitionBoundDropsTheLeastRecentArm) {
  ModelConfig config;
  config.max_arms_per_partition = 3;
  PartitionAggregates aggregates;
  for (int i = 0; i < 5; ++i) {
    Reward r;
    const std::string arm = absl::StrCat("arm-", i);
    r.arm_id = arm;
    r.time_ms = kT0 + (i == 0 ? 100 : i);  // arm-0 is the most recent
    aggregates.OnReward(config, r);
  }
  EXPECT_EQ(aggregates.size(), 3u);
  EXPECT_EQ(aggregates.dropped(), 2u);
  EXPECT_NE(aggregates.Find("arm-0"), nullptr);
  EXPECT_EQ(aggregates.Find("arm-1"), nullptr);
  EXPECT_NE(aggregates.Find("arm-3"), nullptr);
  EXPECT_NE(aggregates.Find("arm-4"), nullptr);
  const AggregateChanges changes = aggregates.Changes();
  ASSERT_EQ(changes.changed.size(), 3u);
  EXPECT_EQ(changes.changed[0]->arm_id(), "arm-0");  // in arm_id order
  EXPECT_EQ(changes.changed[1]->arm_id(), "arm-3");
  EXPECT_EQ(changes.changed[2]->arm_id(), "arm-4");
  EXPECT_EQ(changes.deleted, (std::vector<std::string>{"arm-1", "arm-2"}));
  aggregates.MarkCommitted();
  EXPECT_FALSE(aggregates.HasChanges());
}

// Many arms over a small bound, rewards out of time order, commits between:
// the arms kept, dropped and reported changed are those of a plain
// reference (an ordered map, the victim found by a scan), so the recency
// heap's stale entries and rebuilds change nothing.
TEST(AggregatesTest, PartitionBoundMatchesAReference) {
  ModelConfig config;
  config.max_arms_per_partition = 8;
  PartitionAggregates aggregates;
  std::map<std::string, int64_t> ref;  // arm -> last reward time
  std::set<std::string> ref_dirty, ref_deleted;
  uint64_t ref_dropped = 0;
  std::mt19937_64 rng(17);
  for (int step = 0; step < 20000; ++step) {
    const std::string arm = absl::StrCat("arm-", rng() % 20);
    const int64_t t = kT0 + static_cast<int64_t>(step) -
                      static_cast<int64_t>(rng() % 50);  // some go back
    const int kind = static_cast<int>(rng() % 3);
    if (!ref.contains(arm)) {
      while (ref.size() >= config.max_arms_per_partition) {
        auto victim = ref.begin();
        for (auto it = ref.begin(); it != ref.end(); ++it) {
          if (it->second < victim->second) victim = it;  // ties: first id
        }
        ref_dirty.erase(victim->first);
        ref_deleted.insert(victim->first);
        ref.erase(victim);
        ++ref_dropped;
      }
      ref[arm] = 0;
      ref_deleted.erase(arm);
    }
    ref_dirty.insert(arm);
    if (kind == 0) {
      Reward r;
      r.arm_id = arm;
      r.time_ms = t;
      r.reward = 1;
      aggregates.OnReward(config, r);
      ref[arm] = std::max(ref[arm], t);
    } else if (kind == 1) {
      aggregates.OnImpressionPending(config, arm, t);
    } else {
      LoggedOutcome o;
      o.arm_id = arm;
      o.propensity = 0.5;
      aggregates.OnOutcomeFinal(config, o);
    }
    if (step % 97 == 0) {
      const AggregateChanges changes = aggregates.Changes();
      std::vector<std::string> changed;
      for (const ArmAggregate* a : changes.changed)
        changed.push_back(a->arm_id());
      ASSERT_EQ(changed,
                std::vector<std::string>(ref_dirty.begin(), ref_dirty.end()))
          << step;
      ASSERT_EQ(changes.deleted, std::vector<std::string>(ref_deleted.begin(),
                                                          ref_deleted.end()))
          << step;
      aggregates.MarkCommitted();
      ref_dirty.clear();
      ref_deleted.clear();
    }
  }
  EXPECT_EQ(aggregates.dropped(), ref_dropped);
  EXPECT_GT(ref_dropped, 1000u);
  const std::vector<const ArmAggregate*> sorted = aggregates.SortedArms();
  ASSERT_EQ(sorted.size(), ref.size());
  auto it = ref.begin();
  for (const ArmAggregate* a : sorted) {
    EXPECT_EQ(a->arm_id(), it->first);
    EXPECT_EQ(a->last_event_time_ms(), it->second);
    ++it;
  }
}

// The documented per-user bound (state/MODEL.md, "Bounds") holds for an
// adversarial user: 10^6 events with distinct tracks, artists, arms,
// requests and event ids, all ids at the validation limit of 256 bytes.
TEST(BoundsTest, AdversarialUserStaysWithinTheDocumentedBound) {
  ModelConfig config;
  UserRecord user_record;  // the form the processor applies events to
  RecordingSink sink;
  size_t max_size = 0;
  auto id = [](const char* kind, int i) {
    std::string out = absl::StrCat(kind, "-", i, "-");
    out.resize(256, 'x');
    return out;
  };
  const std::string user(256, 'u');
  for (int i = 0; i < 1'000'000; ++i) {
    ListenEvent e;
    e.set_user_id(user);
    e.set_event_id(id("e", i));
    e.set_event_time_ms(kT0 + i * 1000);
    e.set_request_id(id("r", i));
    e.set_arm_id(id("arm", i));
    e.set_utc_offset_minutes(i % 1000);
    if (i % 2 == 0) {
      e.set_kind(ListenEvent::IMPRESSION);
      e.set_propensity(0.5);
    } else {
      e.set_kind(i % 3 ? ListenEvent::PLAY : ListenEvent::SKIP);
      e.set_track_id(id("t", i));
      e.set_artist_id(id("a", i));
      e.set_ms_played(1 + i % 100'000);
      e.set_track_duration_ms(200'000);
    }
    ApplyEvent(config, e, &user_record, &sink);
    if (i % 1000 == 999) {
      ExpireImpressions(config, e.event_time_ms(), &user_record, &sink);
      max_size = std::max(max_size, EncodedSize(user_record));
    }
  }
  UserState s;
  ToProto(user_record, &s);
  EXPECT_EQ(s.arms_size(), static_cast<int>(config.max_arms_per_user));
  EXPECT_EQ(s.top_artists().items_size(), 2 * int(config.top_artists));
  EXPECT_EQ(s.recent_plays_size(), int(config.recent_plays));
  EXPECT_LE(s.pending_size(), int(config.max_pending_per_user));
  EXPECT_EQ(s.recent_event_ids_size(), int(config.dedup_window));
  EXPECT_EQ(s.distinct_artists().registers().size(),
            size_t{1} << config.hll_precision);
  EXPECT_EQ(s.distinct_artists().exact_size(), 0);
  const double distinct =
      DistinctEstimate(s.distinct_artists(), config.hll_precision);
  EXPECT_NEAR(distinct, 500'000, 500'000 * 3 * 1.04 / 32);
  // The bound written in MODEL.md for the default configuration.
  EXPECT_LE(max_size, size_t{64} * 1024);
  std::printf("adversarial user: max serialized state %zu bytes\n", max_size);
}

}  // namespace
}  // namespace encore
