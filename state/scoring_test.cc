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
  auto greedy = RankArms(model, nullptr, &u, {"b", "c", "a"}, RankMethod::kMean,
                         1, 1'000'000);
  ASSERT_EQ(greedy.size(), 3u);
  EXPECT_EQ(greedy[0].arm_id, "a");  // 9/12
  EXPECT_EQ(greedy[1].arm_id, "c");  // the prior's 1/2
  EXPECT_EQ(greedy[2].arm_id, "b");  // 2/12
  EXPECT_EQ(greedy[0].updates, 10u);
  EXPECT_EQ(greedy[1].updates, 0u);
  // Bayes-UCB: the untried arm's wide prior has the highest upper quantile.
  auto optimistic = RankArms(model, nullptr, &u, {"b", "c", "a"},
                             RankMethod::kUcb, 1, 1'000'000);
  EXPECT_EQ(optimistic[0].arm_id, "c");
  EXPECT_EQ(optimistic[1].arm_id, "a");
  EXPECT_EQ(optimistic[2].arm_id, "b");
  auto mean =
      RankArms(model, nullptr, &u, {"a"}, RankMethod::kMean, 1, 1'000'000);
  EXPECT_DOUBLE_EQ(mean[0].score, 9.0 / 12.0);
  // Bayes-UCB at quantile 1 - 1/(20 + 2) is above the mean.
  auto ucb =
      RankArms(model, nullptr, &u, {"a"}, RankMethod::kUcb, 1, 1'000'000);
  EXPECT_DOUBLE_EQ(ucb[0].score,
                   bandits::Quantile(mean[0].posterior, 1.0 - 1.0 / 22.0));
  EXPECT_GT(ucb[0].score, mean[0].score);
}

TEST(ScoringTest, ThompsonIsSeededPerArmIndependentOfOrder) {
  ModelConfig model;
  UserState u = UserWithArms();
  auto t = RankMethod::kThompson;
  auto one = RankArms(model, nullptr, &u, {"a", "b", "c"}, t, 42, 1'000'000);
  auto two = RankArms(model, nullptr, &u, {"c", "a", "b"}, t, 42, 1'000'000);
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].arm_id, two[i].arm_id);
    EXPECT_DOUBLE_EQ(one[i].score, two[i].score);
  }
  auto other_seed =
      RankArms(model, nullptr, &u, {"a", "b", "c"}, t, 43, 1'000'000);
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
    auto r = RankArms(model, nullptr, &u, {"a", "b"}, t, seed, 1'000'000);
    EXPECT_GT(r[1].score, 0);
    EXPECT_LT(r[0].score, 1);
    a_first += r[0].arm_id == "a";
  }
  EXPECT_GT(a_first, 480);
}

TEST(ScoringTest, UnknownUserGetsThePopulationPriorShrunkToItsStrength) {
  ModelConfig model;  // prior Beta(1, 1), strength 4
  Population population;
  ArmAggregate a;
  a.set_arm_id("a");
  a.set_ref_time_ms(1'000'000);
  a.set_successes(7);  // population posterior Beta(8, 4): mean 2/3
  a.set_failures(3);
  a.set_rewards(10);
  AddToPopulation(model, a, &population);
  auto ranked = RankArms(model, &population, nullptr, {"a", "new"},
                         RankMethod::kMean, 1, 1'000'000);
  ASSERT_EQ(ranked.size(), 2u);
  EXPECT_EQ(ranked[0].arm_id, "a");
  EXPECT_DOUBLE_EQ(ranked[0].prior.alpha, 4.0 * 8.0 / 12.0);
  EXPECT_DOUBLE_EQ(ranked[0].prior.beta, 4.0 * 4.0 / 12.0);
  EXPECT_DOUBLE_EQ(ranked[0].score, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(ranked[1].prior.alpha, 1.0);  // no population evidence
  // A known user's evidence adds to the population prior.
  UserState u = UserWithArms();  // arm "a": 8 successes, 2 failures
  bandits::BetaPosterior p =
      ArmPosterior(model, &population, &u, "a", 1'000'000);
  EXPECT_DOUBLE_EQ(p.alpha, 4.0 * 8.0 / 12.0 + 8);
  EXPECT_DOUBLE_EQ(p.beta, 4.0 * 4.0 / 12.0 + 2);
}

TEST(ScoringTest, LinearMethodsUseThePopulationStatisticsAtTheUsersContext) {
  ModelConfig model;
  model.ridge = 1.0;
  // Arm "good" was rewarded 1 for 50 contexts x = e0, arm "bad" 0.
  Population population;
  for (const char* arm : {"good", "bad"}) {
    ArmAggregate a;
    a.set_arm_id(arm);
    a.set_ref_time_ms(1'000'000);
    a.set_context_dim(kContextDim);
    a.mutable_xx()->Resize(kContextDim * (kContextDim + 1) / 2, 0.0);
    a.mutable_xr()->Resize(kContextDim, 0.0);
    a.set_xx(0, 50);  // (0, 0)
    a.set_xr(0, std::string(arm) == "good" ? 50 : 0);
    a.set_rewards(50);
    AddToPopulation(model, a, &population);
  }
  // Unknown user: x = e0. theta_0 = 50 / (1 + 50), width = 1/sqrt(51).
  auto ucb = RankArms(model, &population, nullptr, {"bad", "good"},
                      RankMethod::kLinUcb, 1, 1'000'000);
  ASSERT_EQ(ucb[0].arm_id, "good");
  EXPECT_NEAR(ucb[0].linear_mean, 50.0 / 51.0, 1e-12);
  EXPECT_NEAR(ucb[0].linear_width, 1.0 / std::sqrt(51.0), 1e-12);
  EXPECT_NEAR(ucb[0].score, 50.0 / 51.0 + 1.0 / std::sqrt(51.0), 1e-12);
  EXPECT_NEAR(ucb[1].score, 1.0 / std::sqrt(51.0), 1e-12);
  int good_first = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    auto ts = RankArms(model, &population, nullptr, {"bad", "good"},
                       RankMethod::kLinTs, seed, 1'000'000);
    good_first += ts[0].arm_id == "good";
  }
  EXPECT_GT(good_first, 190);
}

TEST(ScoringTest, NigThompsonFollowsTheCompletionEvidence) {
  ModelConfig model;
  UserState u;
  u.set_user_id("u");
  ArmEvidence* hi = u.add_arms();
  hi->set_arm_id("hi");
  hi->set_ref_time_ms(1'000'000);
  hi->set_reward_weight(40);
  hi->set_reward_sum(36);  // mean 0.9
  hi->set_reward_sum_sq(32.8);
  ArmEvidence* lo = u.add_arms();
  lo->set_arm_id("lo");
  lo->set_ref_time_ms(1'000'000);
  lo->set_reward_weight(40);
  lo->set_reward_sum(8);  // mean 0.2
  lo->set_reward_sum_sq(2.4);
  bandits::NigPosterior p = ArmCompletionPosterior(model, &u, "hi", 1'000'000);
  EXPECT_NEAR(p.mu, (0.5 + 36) / 41, 1e-12);
  EXPECT_NEAR(p.kappa, 41, 1e-12);
  int hi_first = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    auto r = RankArms(model, nullptr, &u, {"lo", "hi"},
                      RankMethod::kNigThompson, seed, 1'000'000);
    hi_first += r[0].arm_id == "hi";
  }
  EXPECT_EQ(hi_first, 200);
  EXPECT_EQ(*ParseRankMethod("linucb"), RankMethod::kLinUcb);
  EXPECT_EQ(*ParseRankMethod("bayes-ucb"), RankMethod::kUcb);
  EXPECT_FALSE(ParseRankMethod("greedy").ok());
}

TEST(ScoringTest, TopArmsByEngagementAreDecayedSuccesses) {
  ModelConfig model;             // arm half-life 7 d
  UserState u = UserWithArms();  // a: 8 successes, b: 1, both at 1e6 ms
  auto top = TopArmsByEngagement(model, u, 1, 1'000'000 + 7 * kDayMs);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].first, "a");
  EXPECT_DOUBLE_EQ(top[0].second, 4.0);  // one half-life later
  EXPECT_EQ(TopArmsByEngagement(model, u, 5, 1'000'000).size(), 2u);
}

}  // namespace
}  // namespace encore
