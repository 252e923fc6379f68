#include "state/scoring.h"

#include <algorithm>

#include "gtest/gtest.h"

namespace encore {
namespace {

UserState UserWithArms() {
  UserState u;
  u.set_user_id("u1");
  ArmEvidence* a = u.add_arms();
  a->set_arm_id("a");
  a->set_successes(8);
  a->set_failures(2);
  a->set_ref_time_ms(1'000'000);
  a->set_updates(10);
  ArmEvidence* b = u.add_arms();
  b->set_arm_id("b");
  b->set_successes(1);
  b->set_failures(9);
  b->set_ref_time_ms(1'000'000);
  b->set_updates(10);
  return u;
}

TEST(ScoringTest, PosteriorIsPriorPlusDecayedEvidence) {
  ModelConfig model;
  model.prior_alpha = 2;
  model.prior_beta = 3;
  model.arm_half_life_ms = kDayMs;
  UserState u = UserWithArms();
  bandits::BetaPosterior now = ArmPosterior(model, &u, "a", 1'000'000);
  EXPECT_DOUBLE_EQ(now.alpha, 10);
  EXPECT_DOUBLE_EQ(now.beta, 5);
  bandits::BetaPosterior later =
      ArmPosterior(model, &u, "a", 1'000'000 + kDayMs);
  EXPECT_DOUBLE_EQ(later.alpha, 2 + 4);
  EXPECT_DOUBLE_EQ(later.beta, 3 + 1);
  bandits::BetaPosterior unknown_arm = ArmPosterior(model, &u, "zzz", 0);
  EXPECT_DOUBLE_EQ(unknown_arm.alpha, 2);
  bandits::BetaPosterior unknown_user = ArmPosterior(model, nullptr, "a", 0);
  EXPECT_DOUBLE_EQ(unknown_user.beta, 3);
}

TEST(ScoringTest, MeanIsGreedyAndUcbIsOptimisticAboutTheUnexplored) {
  ModelConfig model;
  UserState u = UserWithArms();
  auto greedy = RankArms(model, &u, {"b", "c", "a"},
                         bandits::ScoreMethod::kMean, 1, 1'000'000);
  ASSERT_EQ(greedy.size(), 3u);
  EXPECT_EQ(greedy[0].arm_id, "a");  // 9/12
  EXPECT_EQ(greedy[1].arm_id, "c");  // the prior's 1/2
  EXPECT_EQ(greedy[2].arm_id, "b");  // 2/12
  EXPECT_EQ(greedy[0].updates, 10u);
  EXPECT_EQ(greedy[1].updates, 0u);
  // Bayes-UCB: the untried arm's wide prior has the highest upper quantile.
  auto optimistic = RankArms(model, &u, {"b", "c", "a"},
                             bandits::ScoreMethod::kUcb, 1, 1'000'000);
  EXPECT_EQ(optimistic[0].arm_id, "c");
  EXPECT_EQ(optimistic[1].arm_id, "a");
  EXPECT_EQ(optimistic[2].arm_id, "b");
  auto mean =
      RankArms(model, &u, {"a"}, bandits::ScoreMethod::kMean, 1, 1'000'000);
  EXPECT_DOUBLE_EQ(mean[0].score, 9.0 / 12.0);
  // Bayes-UCB at quantile 1 - 1/(20 + 2) is above the mean.
  auto ucb =
      RankArms(model, &u, {"a"}, bandits::ScoreMethod::kUcb, 1, 1'000'000);
  EXPECT_DOUBLE_EQ(ucb[0].score,
                   bandits::Quantile(mean[0].posterior, 1.0 - 1.0 / 22.0));
  EXPECT_GT(ucb[0].score, mean[0].score);
}

TEST(ScoringTest, ThompsonIsSeededPerArmIndependentOfOrder) {
  ModelConfig model;
  UserState u = UserWithArms();
  auto t = bandits::ScoreMethod::kThompson;
  auto one = RankArms(model, &u, {"a", "b", "c"}, t, 42, 1'000'000);
  auto two = RankArms(model, &u, {"c", "a", "b"}, t, 42, 1'000'000);
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].arm_id, two[i].arm_id);
    EXPECT_DOUBLE_EQ(one[i].score, two[i].score);
  }
  auto other_seed = RankArms(model, &u, {"a", "b", "c"}, t, 43, 1'000'000);
  bool differs = false;
  for (size_t i = 0; i < one.size(); ++i) {
    auto it = std::find_if(
        other_seed.begin(), other_seed.end(),
        [&](const ArmScore& s) { return s.arm_id == one[i].arm_id; });
    differs |= it->score != one[i].score;
  }
  EXPECT_TRUE(differs);
  // Draws stay in (0, 1) and follow the evidence over many seeds.
  int a_first = 0;
  for (uint64_t seed = 0; seed < 500; ++seed) {
    auto r = RankArms(model, &u, {"a", "b"}, t, seed, 1'000'000);
    EXPECT_GT(r[1].score, 0);
    EXPECT_LT(r[0].score, 1);
    a_first += r[0].arm_id == "a";
  }
  EXPECT_GT(a_first, 480);
}

}  // namespace
}  // namespace encore
