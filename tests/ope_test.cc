// `encore ope` against the real broker: a known log is produced, replayed by
// the command, and its IPS / SNIPS / DR estimates must equal closed-form
// sums over the rows whose attribution window the watermark closed (the
// last window's impressions are reported in flight, not counted).
#include <stdio.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "state/scoring.h"
#include "state/snapshot_reader.h"
#include "stream/event_producer.h"
#include "tests/testing/kafka_env.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

constexpr int64_t kT0 = 1'790'000'000'000;
constexpr int64_t kMin = 60'000;

struct Row {
  std::string user, arm;
  int64_t shown_ms;
  double propensity;
  bool answered, success;
};

nlohmann::json Ope(const std::string& args) {
  const std::string cmd = testing::EncoreBinary() +
                          " ope --brokers=" + testing::TestBrokers() +
                          " --from-beginning --json " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (p != nullptr && (n = fread(buf, 1, sizeof(buf), p)) > 0)
    out.append(buf, n);
  if (p == nullptr || pclose(p) != 0) return nullptr;
  return nlohmann::json::parse(out, nullptr, false);
}

void ExpectRel(double got, double want) {
  EXPECT_NEAR(got, want, 1e-9 * std::max(1.0, std::fabs(want)));
}

class OpeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // 400 impressions of 4 arms to 25 users, 90 s apart, propensities
    // 0.1..0.9; about half answered within 20 min, a third of those with a
    // play of >= 30 s. One partition: one watermark.
    std::mt19937_64 rng(11);
    auto producer =
        EventProducer::Open({testing::TestBrokers(), {}}, topic_, 1);
    ASSERT_TRUE(producer.ok()) << producer.status();
    std::vector<ListenEvent> events;
    for (int i = 0; i < 400; ++i) {
      Row r;
      r.user = absl::StrCat("u", rng() % 25);
      r.arm = absl::StrCat("a", rng() % 4);
      r.shown_ms = kT0 + i * 90'000;
      r.propensity = 0.1 + 0.1 * static_cast<double>(rng() % 9);
      r.answered = rng() % 2 == 0;
      r.success = rng() % 3 == 0;
      rows_.push_back(r);
      ListenEvent e;
      e.set_kind(ListenEvent::IMPRESSION);
      e.set_user_id(r.user);
      e.set_event_time_ms(r.shown_ms);
      e.set_event_id(absl::StrCat("i", i));
      e.set_request_id(absl::StrCat("q", i));
      e.set_arm_id(r.arm);
      e.set_propensity(r.propensity);
      events.push_back(e);
      if (r.answered) {
        ListenEvent a;
        a.set_kind(r.success ? ListenEvent::PLAY : ListenEvent::SKIP);
        a.set_user_id(r.user);
        a.set_event_time_ms(r.shown_ms + 60'000 +
                            static_cast<int64_t>(rng() % (19 * kMin)));
        a.set_event_id(absl::StrCat("r", i));
        a.set_request_id(absl::StrCat("q", i));
        a.set_arm_id(r.arm);
        a.set_track_id("t");
        a.set_ms_played(r.success ? 90'000 : 4'000);
        a.set_track_duration_ms(200'000);
        events.push_back(a);
      }
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const ListenEvent& a, const ListenEvent& b) {
                       return a.event_time_ms() < b.event_time_ms();
                     });
    for (const ListenEvent& e : events) {
      watermark_ = std::max(watermark_, e.event_time_ms());
      ASSERT_TRUE((*producer)->Send(e).ok());
    }
    ASSERT_TRUE((*producer)->Flush(30000).ok());
    for (const Row& r : rows_) {
      if (r.shown_ms + ModelConfig().attribution_window_ms < watermark_) {
        closed_.push_back(r);
        arms_.insert(r.arm);
      }
    }
  }

  std::string topic_ = testing::UniqueName("ope");
  testing::TempDir dir_;
  std::vector<Row> rows_, closed_;
  std::set<std::string> arms_;
  int64_t watermark_ = 0;
};

TEST_F(OpeTest, UniformAndFilePolicyEqualClosedFormsOverClosedRows) {
  ASSERT_GT(closed_.size(), 300u);
  ASSERT_LT(closed_.size(), rows_.size());  // some are in flight
  nlohmann::json u = Ope("--topic=" + topic_ + " --policy=uniform");
  ASSERT_TRUE(u.is_object());
  EXPECT_EQ(u["rows"], closed_.size());
  EXPECT_EQ(u["in_flight"], rows_.size() - closed_.size());
  const double k = static_cast<double>(arms_.size());
  double n = 0, sw = 0, swr = 0, sr = 0;
  for (const Row& r : closed_) {
    const double reward = r.answered && r.success ? 1 : 0;
    n += 1;
    sr += reward;
    sw += 1 / r.propensity;
    swr += reward / r.propensity;
  }
  ExpectRel(u["logged_value"], sr / n);
  ExpectRel(u["ips"]["value"], swr / k / n);
  ExpectRel(u["snips"]["value"], swr / sw);
  EXPECT_LT(u["ips"]["low"].get<double>(), u["ips"]["value"].get<double>());
  EXPECT_GT(u["ips"]["high"].get<double>(), u["ips"]["value"].get<double>());
  EXPECT_FALSE(u.contains("dr"));  // no reward model without a snapshot

  const std::string file = dir_.Sub("policy.json");
  std::ofstream(file) << R"({"arms": {"a0": 0.7, "a2": 0.3}})";
  nlohmann::json f = Ope("--topic=" + topic_ + " --policy=" + file);
  ASSERT_TRUE(f.is_object());
  const std::map<std::string, double> pi = {{"a0", 0.7}, {"a2", 0.3}};
  double s_rho = 0, s_rho_r = 0;
  for (const Row& r : closed_) {
    const double reward = r.answered && r.success ? 1 : 0;
    const double p = pi.count(r.arm) ? pi.at(r.arm) : 0.0;
    s_rho += p / r.propensity;
    s_rho_r += p / r.propensity * reward;
  }
  ExpectRel(f["ips"]["value"], s_rho_r / n);
  ExpectRel(f["snips"]["value"], s_rho_r / s_rho);
}

// Greedy and DR from a snapshot (built by `encore backfill` of the same
// log): the per-row greedy arm and the reward model are the snapshot's
// posterior means of each user.
TEST_F(OpeTest, GreedyAndDoublyRobustUseTheSnapshotsPosteriors) {
  const std::string snap = dir_.Sub("snap");
  auto code = testing::RunEncore(
      {"backfill", "--brokers=" + testing::TestBrokers(), "--topic=" + topic_,
       "--from-beginning", "--state-dir=" + dir_.Sub("state"),
       "--snapshot-dir=" + snap, "--backfill-metrics-listen="},
      dir_.Sub("backfill.log"), 120'000);
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 0);
  nlohmann::json g =
      Ope("--topic=" + topic_ + " --policy=greedy --snapshot-dir=" + snap);
  ASSERT_TRUE(g.is_object());

  auto reader = SnapshotReader::OpenLatest(snap);
  ASSERT_TRUE(reader.ok());
  auto population = (*reader)->ReadPopulation();
  ASSERT_TRUE(population.ok());
  auto mean = [&](const std::string& user, const std::string& arm) {
    auto u = (*reader)->Lookup(user);
    const UserState* s = u.ok() && u->has_value() ? &**u : nullptr;
    const int64_t as_of = std::max((*reader)->manifest().watermark_ms(),
                                   s ? s->last_seen_ms() : int64_t{0});
    return bandits::Mean(
        ArmPosterior((*reader)->model(), &*population, s, arm, as_of));
  };
  double n = 0, s_rho = 0, s_rho_r = 0, s_dr = 0;
  for (const Row& r : closed_) {
    std::string best;
    double best_mean = -1;
    for (const std::string& a : arms_) {
      const double m = mean(r.user, a);
      if (m > best_mean) best_mean = m, best = a;
    }
    const double reward = r.answered && r.success ? 1 : 0;
    const double rho = (best == r.arm ? 1.0 : 0.0) / r.propensity;
    n += 1;
    s_rho += rho;
    s_rho_r += rho * reward;
    s_dr += best_mean + rho * (reward - mean(r.user, r.arm));
  }
  ExpectRel(g["ips"]["value"], s_rho_r / n);
  ExpectRel(g["snips"]["value"], s_rho_r / s_rho);
  ExpectRel(g["dr"]["value"], s_dr / n);
  EXPECT_GT(g["matched"].get<double>(), 20);  // not vacuous

  nlohmann::json t = Ope("--topic=" + topic_ +
                         " --policy=thompson --thompson-draws=200 --seed=3 "
                         "--snapshot-dir=" +
                         snap);
  ASSERT_TRUE(t.is_object());
  EXPECT_EQ(t["thompson_draws"], 200);
  EXPECT_EQ(t["rows"], closed_.size());
  EXPECT_TRUE(t.contains("dr"));
  // Seeded: the same estimate again.
  EXPECT_EQ(t["ips"], Ope("--topic=" + topic_ +
                          " --policy=thompson --thompson-draws=200 --seed=3 "
                          "--snapshot-dir=" +
                          snap)["ips"]);
}

}  // namespace
}  // namespace encore
