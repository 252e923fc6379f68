// The bandit simulation at a small size: Thompson sampling over encore's
// published snapshots beats epsilon-greedy, and forgetting (arm_half_life_ms)
// lets it recover after the users' preferences drift. Everything goes
// through the real processor, RocksDB store and snapshots; no Kafka.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/bandit_simulation.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore::testing {
namespace {

// The small world: 14 users, 5 arms, 16 requests per user per hour, 48
// simulated hours with the drift at hour 24, so each user makes 384
// requests per phase; forgetting with a 12 h arm half-life (~277 requests of
// effective memory per user). Over seeds 1-10 (bench/regret_sim at this
// size) every assertion below held, the ratios ranging: Thompson /
// epsilon-greedy total regret 0.69-0.96, after the drift 0.67-0.88;
// after the drift with / without forgetting 0.47-0.65; last 6 h / first 3 h
// after the drift 0.07-0.22. Seed 1: 0.75, 0.72, 0.63 and 0.12.
constexpr uint64_t kSeed = 1;
constexpr int64_t kHalfLifeMs = 12 * kHourMs;

// Each run publishes 48 snapshots, each fsyncing several files: on a busy
// shared disk that is most of the run time, and durability is not under
// test. Runs go to a memory-backed directory unless TEST_TMPDIR says where.
std::string ScratchBase() {
  const char* env = getenv("TEST_TMPDIR");
  if (env != nullptr && *env != '\0') return "";
  return access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "";
}

SimulationOptions Small(const std::string& dir, int64_t half_life_ms) {
  SimulationOptions o;  // the defaults are the small world
  o.seed = kSeed;
  o.model.arm_half_life_ms = half_life_ms;
  o.work_dir = dir;
  return o;
}

class SimulationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    spdlog::set_level(spdlog::level::warn);
    results_ = new std::map<std::string, SimulationResult>;
    struct Run {
      std::string name;
      PolicySpec policy;
      int64_t half_life_ms;
      absl::StatusOr<SimulationResult> result = absl::UnknownError("not run");
    };
    std::vector<Run> runs = {
        {"thompson", {.kind = PolicyKind::kThompson}, kHalfLifeMs},
        {"epsilon-greedy",
         {.kind = PolicyKind::kEpsilonGreedy, .epsilon = 0.1},
         kHalfLifeMs},
        {"thompson-no-forgetting", {.kind = PolicyKind::kThompson}, 0},
    };
    // Independent worlds: run them side by side (the suite also runs under
    // ASan, where each takes several seconds).
    std::vector<std::thread> threads;
    for (Run& run : runs) {
      threads.emplace_back([&run] {
        TempDir dir(ScratchBase());
        run.result = RunBanditSimulation(Small(dir.path(), run.half_life_ms),
                                         run.policy);
      });
    }
    for (std::thread& t : threads) t.join();
    for (Run& run : runs) {
      ASSERT_THAT(run.result, IsOk()) << run.name;
      (*results_)[run.name] = *std::move(run.result);
    }
  }
  static void TearDownTestSuite() {
    delete results_;
    results_ = nullptr;
  }
  static const SimulationResult& Result(const std::string& name) {
    return results_->at(name);
  }

  static std::map<std::string, SimulationResult>* results_;
};

std::map<std::string, SimulationResult>* SimulationTest::results_ = nullptr;

TEST_F(SimulationTest, EveryEventTakesTheRealPath) {
  ASSERT_EQ(results_->size(), 3u);
  for (const auto& [name, r] : *results_) {
    SCOPED_TRACE(name);
    EXPECT_EQ(r.drift_hour, 24);
    EXPECT_EQ(r.dead_letters, 0);
    EXPECT_EQ(r.snapshots, 48);  // one per simulated hour
    EXPECT_EQ(r.requests_before_drift, 14 * 16 * 24);
    EXPECT_EQ(r.requests_after_drift, 14 * 16 * 24);
    // Every response found its impression; the rest expired as reward 0.
    EXPECT_EQ(r.rewards_unattributed, 0);
    EXPECT_GT(r.rewards_attributed, 0);
    EXPECT_GT(r.impressions_expired, 0);
    EXPECT_GT(r.events, r.requests_before_drift + r.requests_after_drift);
  }
}

TEST_F(SimulationTest, ThompsonHasLowerRegretThanEpsilonGreedy) {
  const SimulationResult& ts = Result("thompson");
  const SimulationResult& eg = Result("epsilon-greedy");
  EXPECT_LT(ts.total_regret(), eg.total_regret());  // seed 1: 957 vs 1278
  // Most of the gain is after the drift, where Thompson's exploration finds
  // the new best arms and epsilon-greedy waits for its 10 %. (Before it,
  // with forgetting, the two are close: forgetting keeps Thompson
  // re-exploring arms it had ruled out.)
  EXPECT_LT(ts.regret_after_drift, 0.9 * eg.regret_after_drift)
      << ts.regret_after_drift << " vs " << eg.regret_after_drift;
}

TEST_F(SimulationTest, ForgettingRecoversAfterTheDrift) {
  const SimulationResult& ts = Result("thompson");
  const SimulationResult& stuck = Result("thompson-no-forgetting");
  const int drift = ts.drift_hour;
  const int end = static_cast<int>(ts.hourly_regret.size());
  // Less regret after the drift than without forgetting (seed 1: 666 vs
  // 1064)...
  EXPECT_LT(ts.regret_after_drift, 0.8 * stuck.regret_after_drift)
      << ts.regret_after_drift << " vs " << stuck.regret_after_drift;
  // ...because it recovers: the last hours are far better than the first
  // hours after the drift, and better than without forgetting, where old
  // evidence for the formerly best arms still weighs.
  EXPECT_LT(ts.MeanRegret(end - 6, end), 0.3 * ts.MeanRegret(drift, drift + 3));
  EXPECT_LT(ts.MeanRegret(end - 6, end), stuck.MeanRegret(end - 6, end));
}

TEST_F(SimulationTest, TheSameSeedGivesTheSameRun) {
  // The first 8 hours again: the same choices, hence the same regret.
  TempDir dir(ScratchBase());
  SimulationOptions o = Small(dir.path(), kHalfLifeMs);
  o.hours = 8;
  o.drift_hour = 24;
  absl::StatusOr<SimulationResult> again =
      RunBanditSimulation(o, {.kind = PolicyKind::kThompson});
  ASSERT_THAT(again, IsOk());
  const std::vector<double>& full = Result("thompson").hourly_regret;
  EXPECT_EQ(again->hourly_regret,
            std::vector<double>(full.begin(), full.begin() + 8));
}

}  // namespace
}  // namespace encore::testing
