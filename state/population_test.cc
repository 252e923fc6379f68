#include "state/population.h"

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "state/aggregates.h"
#include "state/model.h"

namespace encore {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kMin = 60'000;

// One logged impression of the synthetic log and its (optional) response.
struct Row {
  std::string user, request, arm;
  int64_t shown_ms = 0;
  double propensity = 1;
  bool answered = false;
  int64_t response_ms = 0;
  bool success = false;  // the response is a PLAY of >= 30 s
};

ListenEvent ImpressionOf(const Row& r) {
  ListenEvent e;
  e.set_kind(ListenEvent::IMPRESSION);
  e.set_user_id(r.user);
  e.set_event_time_ms(r.shown_ms);
  e.set_event_id(r.request + "-i");
  e.set_request_id(r.request);
  e.set_arm_id(r.arm);
  e.set_propensity(r.propensity);
  return e;
}

ListenEvent ResponseOf(const Row& r) {
  ListenEvent e;
  e.set_kind(r.success ? ListenEvent::PLAY : ListenEvent::SKIP);
  e.set_user_id(r.user);
  e.set_event_time_ms(r.response_ms);
  e.set_event_id(r.request + "-r");
  e.set_request_id(r.request);
  e.set_arm_id(r.arm);
  e.set_track_id("t");
  e.set_ms_played(r.success ? 60'000 : 5'000);
  e.set_track_duration_ms(200'000);
  return e;
}

// A random log: users shown one of `arms` arms with random propensities,
// about half answered within the window (some successes), events in time
// order across users.
std::vector<Row> RandomLog(uint64_t seed, int rows, int arms) {
  std::mt19937_64 rng(seed);
  std::vector<Row> out;
  int64_t t = kT0;
  for (int i = 0; i < rows; ++i) {
    Row r;
    r.user = absl::StrCat("u", rng() % 7);
    r.request = absl::StrCat("q", i);
    r.arm = absl::StrCat("arm-", rng() % arms);
    t += static_cast<int64_t>(rng() % (4 * kMin));
    r.shown_ms = t;
    r.propensity = 0.1 + 0.9 * static_cast<double>(rng() % 1000) / 1000.0;
    r.answered = rng() % 2 == 0;
    r.response_ms = t + static_cast<int64_t>(rng() % (25 * kMin));
    r.success = rng() % 3 == 0;
    out.push_back(r);
  }
  return out;
}

struct Replayed {
  Population population;
  int64_t watermark = 0;
};

// Applies the events in arrival order as the processor does: before each
// event, every pending impression whose window the new watermark passes is
// closed; then the event is applied.
Replayed Replay(const ModelConfig& config,
                const std::vector<ListenEvent>& events) {
  std::map<std::string, UserState> users;
  PartitionAggregates aggregates;
  int64_t watermark = 0;
  for (const ListenEvent& e : events) {
    watermark = std::max(watermark, e.event_time_ms());
    for (auto& [id, state] : users) {
      ExpireImpressions(config, watermark, &state, &aggregates);
    }
    ApplyEvent(config, e, &users[e.user_id()], &aggregates);
  }
  Replayed out;
  out.watermark = watermark;
  for (const ArmAggregate* a : aggregates.SortedArms()) {
    AddToPopulation(config, *a, &out.population);
  }
  return out;
}

// The events of `rows`, sorted by time (responses after their impression),
// the first `cut` of them.
std::vector<ListenEvent> Cut(const std::vector<Row>& rows, size_t cut) {
  std::vector<ListenEvent> events;
  for (const Row& r : rows) {
    events.push_back(ImpressionOf(r));
    if (r.answered) events.push_back(ResponseOf(r));
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const ListenEvent& a, const ListenEvent& b) {
                     return a.event_time_ms() < b.event_time_ms();
                   });
  events.resize(std::min(cut, events.size()));
  return events;
}

// A log cut anywhere, also mid-window, gives exactly the estimates of the
// rows whose window the watermark closed, computed in closed form from the
// rows themselves; the others are reported in flight.
TEST(InFlightTest, CutMidWindowEqualsClosedFormOverClosedRows) {
  const ModelConfig config;
  const int64_t w = config.attribution_window_ms;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const std::vector<Row> rows = RandomLog(seed, 60, 4);
    const size_t total = Cut(rows, SIZE_MAX).size();
    for (size_t cut : {total / 3, total / 2, total - 3, total}) {
      const std::vector<ListenEvent> events = Cut(rows, cut);
      const Replayed replayed = Replay(config, events);
      // Closed form: an impression in the cut is closed when its window
      // ended before the watermark; its reward is 1 when a >= 30 s PLAY
      // answering it is in the cut.
      int64_t watermark = 0;
      for (const ListenEvent& e : events) {
        watermark = std::max(watermark, e.event_time_ms());
      }
      ASSERT_EQ(watermark, replayed.watermark);
      double n = 0, sum_r = 0, sum_w = 0, sum_wr = 0;
      uint64_t in_flight = 0;
      std::map<std::string, bool> arms_seen;
      for (const Row& r : rows) {
        const bool shown = std::any_of(
            events.begin(), events.end(), [&](const ListenEvent& e) {
              return e.event_id() == r.request + "-i";
            });
        if (!shown) continue;
        arms_seen[r.arm] = true;
        if (!(r.shown_ms + w < watermark)) {
          ++in_flight;
          continue;
        }
        const bool answered_in_cut =
            r.answered && std::any_of(events.begin(), events.end(),
                                      [&](const ListenEvent& e) {
                                        return e.event_id() == r.request + "-r";
                                      });
        const double reward = answered_in_cut && r.success ? 1.0 : 0.0;
        n += 1;
        sum_r += reward;
        sum_w += 1 / r.propensity;
        sum_wr += reward / r.propensity;
      }
      const OffPolicySummary s =
          SummarizeOffPolicy(config, replayed.population, watermark);
      SCOPED_TRACE(absl::StrCat("seed ", seed, " cut ", cut));
      EXPECT_EQ(s.in_flight_impressions(), in_flight);
      ASSERT_EQ(s.logged_rewards(), static_cast<uint64_t>(n));
      if (n == 0) continue;
      EXPECT_NEAR(s.logged_value(), sum_r / n, 1e-12);
      ASSERT_GE(s.estimates_size(), 1);
      const PolicyEstimate& uniform = s.estimates(0);
      ASSERT_EQ(uniform.policy(), "uniform");
      const double k = static_cast<double>(arms_seen.size());
      EXPECT_NEAR(uniform.ips(), sum_wr / k / n, 1e-12);
      EXPECT_NEAR(uniform.snips(), sum_wr / sum_w, 1e-12);
    }
  }
}

// The same events give the same sums whether a response arrives right
// after its impression or after other users' events (arrival order across
// users does not matter), and nothing answered is counted before its
// window closes.
TEST(InFlightTest, AnsweredImpressionIsCountedOnlyWhenItsWindowCloses) {
  const ModelConfig config;
  Row r;
  r.user = "u";
  r.request = "q";
  r.arm = "a";
  r.shown_ms = kT0;
  r.propensity = 0.5;
  r.answered = true;
  r.response_ms = kT0 + kMin;
  r.success = true;
  Row other = r;
  other.user = "v";
  other.request = "q2";
  other.answered = false;
  const Replayed early =
      Replay(config, {ImpressionOf(r), ImpressionOf(other), ResponseOf(r)});
  OffPolicySummary s = SummarizeOffPolicy(config, early.population, kT0);
  EXPECT_EQ(s.logged_rewards(), 0u);  // the click waits for its non-click
  EXPECT_EQ(s.in_flight_impressions(), 2u);

  ListenEvent later = ImpressionOf(other);
  later.set_request_id("q3");
  later.set_event_id("q3-i");
  later.set_event_time_ms(kT0 + config.attribution_window_ms + 1);
  const Replayed closed = Replay(
      config, {ImpressionOf(r), ImpressionOf(other), ResponseOf(r), later});
  s = SummarizeOffPolicy(config, closed.population, later.event_time_ms());
  EXPECT_EQ(s.logged_rewards(), 2u);
  EXPECT_EQ(s.in_flight_impressions(), 1u);
  EXPECT_DOUBLE_EQ(s.logged_value(), 0.5);
}

// An arm aggregate with `rewards` rewards of which `successes` succeeded,
// all logged with propensity p (so also off-policy rows), at time kT0.
ArmAggregate Arm(const std::string& id, int rewards, int successes, double p) {
  ArmAggregate a;
  a.set_arm_id(id);
  a.set_ref_time_ms(kT0);
  a.set_last_event_time_ms(kT0);
  a.set_rewards(rewards);
  a.set_successes(successes);
  a.set_failures(rewards - successes);
  OffPolicyStats* o = a.mutable_off_policy();
  const double w = 1 / p;
  o->set_n(rewards);
  o->set_sum_r(successes);
  o->set_sum_w(w * rewards);
  o->set_sum_wr(w * successes);
  o->set_sum_w2(w * w * rewards);
  o->set_sum_w2r2(w * w * successes);
  o->set_sum_w2r(w * w * successes);
  return a;
}

Population PopulationOf(const std::vector<ArmAggregate>& arms) {
  const ModelConfig config;
  Population population;
  for (const ArmAggregate& a : arms) AddToPopulation(config, a, &population);
  return population;
}

// The example: with a low success rate, an arm with 4 impressions
// and 0 successes has posterior mean 1/6 under Beta(1, 1), far above every
// well-observed arm. It is not eligible (fewer than kGreedyMinRewards
// rewards), and under the pooled prior an arm with little evidence looks
// like the average arm, not like 1/2.
TEST(GreedyTest, ArmsWithTooLittleEvidenceAreNotChosen) {
  const ModelConfig config;
  Population population =
      PopulationOf({Arm("few", 4, 0, 0.01), Arm("a", 10'000, 50, 0.5),
                    Arm("b", 10'000, 80, 0.49)});
  EXPECT_EQ(GreedyArm(config, population, kT0), "b");
  // 29 rewards are not enough; 30 are, and 2 successes of 30 beat b.
  population =
      PopulationOf({Arm("few", 29, 5, 0.01), Arm("b", 10'000, 80, 0.5)});
  EXPECT_EQ(GreedyArm(config, population, kT0), "b");
  population =
      PopulationOf({Arm("few", 30, 2, 0.01), Arm("b", 10'000, 80, 0.5)});
  EXPECT_EQ(GreedyArm(config, population, kT0), "few");
  // Nothing qualifies: no greedy arm.
  EXPECT_EQ(GreedyArm(config, PopulationOf({Arm("few", 4, 0, 0.5)}), kT0), "");
}

// The greedy estimate of snapshot k scores the arm snapshot k-1 published,
// on the rows that became final between them only, accumulated over
// intervals; closed form from the rows of each interval.
TEST(GreedyTest, ProgressiveValidationScoresOnlyRowsAfterThePublication) {
  const ModelConfig config;
  // Snapshot 1: arm b is best (and is published); nothing is scored yet.
  OffPolicySummary s1 = SummarizeOffPolicy(
      config, PopulationOf({Arm("a", 100, 10, 0.5), Arm("b", 100, 30, 0.5)}),
      kT0);
  AdvanceGreedyProgress(nullptr, &s1);
  EXPECT_EQ(s1.published_greedy_arm(), "b");
  ASSERT_EQ(s1.estimates_size(), 1);  // uniform only
  EXPECT_EQ(s1.greedy_progress().scored(), 0u);

  // Snapshot 2: 60 more rows, 40 of arm a (4 successes) and 20 of arm b
  // (2 successes, where b's first 100 had 30): b now looks worse than
  // before, but it is scored on its 20 new rows only.
  OffPolicySummary s2 = SummarizeOffPolicy(
      config, PopulationOf({Arm("a", 140, 14, 0.5), Arm("b", 120, 32, 0.5)}),
      kT0);
  AdvanceGreedyProgress(&s1, &s2);
  ASSERT_EQ(s2.estimates_size(), 2);
  const PolicyEstimate& g = s2.estimates(1);
  EXPECT_EQ(g.policy(), "greedy-mean");
  EXPECT_EQ(g.greedy_arm(), "b");
  EXPECT_EQ(g.scored(), 60u);
  EXPECT_EQ(g.matched(), 20u);
  EXPECT_NEAR(g.ips(), 2 * 2.0 / 60, 1e-12);  // sum w r / N, w = 2
  EXPECT_NEAR(g.snips(), 2.0 / 20, 1e-12);
  EXPECT_LT(g.ips_low(), g.ips());
  EXPECT_GT(g.ips_high(), g.ips());

  // Snapshot 3: s2 published b again (32/120 > 14/140); 10 more rows of a
  // (5 successes) only: b's matched rows stay 20, the scored rows grow.
  EXPECT_EQ(s2.published_greedy_arm(), "b");
  OffPolicySummary s3 = SummarizeOffPolicy(
      config, PopulationOf({Arm("a", 150, 19, 0.5), Arm("b", 120, 32, 0.5)}),
      kT0);
  AdvanceGreedyProgress(&s2, &s3);
  const PolicyEstimate& g3 = s3.estimates(1);
  EXPECT_EQ(g3.scored(), 70u);
  EXPECT_EQ(g3.matched(), 20u);
  EXPECT_NEAR(g3.ips(), 4.0 / 70, 1e-12);
  EXPECT_EQ(s3.greedy_progress().intervals(), 2u);

  // A summary whose sums went backwards (a rebuilt state) starts afresh.
  OffPolicySummary rebuilt =
      SummarizeOffPolicy(config, PopulationOf({Arm("a", 10, 1, 0.5)}), kT0);
  AdvanceGreedyProgress(&s3, &rebuilt);
  EXPECT_EQ(rebuilt.greedy_progress().scored(), 0u);
  EXPECT_EQ(rebuilt.estimates_size(), 1);
}

}  // namespace
}  // namespace encore
