#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stream/backfill.h"

namespace encore {
namespace {

using ::testing::ElementsAre;

BackfillPlan PlanOf(const std::vector<int64_t>& sizes) {
  BackfillPlan plan;
  plan.topic = "t";
  for (size_t i = 0; i < sizes.size(); ++i) {
    const auto p = static_cast<int32_t>(i);
    plan.start[p] = 100;
    plan.end[p] = 100 + sizes[i];
  }
  return plan;
}

TEST(SplitPlanTest, LargestRangesGoFirstOntoTheLeastLoadedWorker) {
  // The sizes of the bench topic's partitions (zipf users, 4 partitions).
  const BackfillPlan plan = PlanOf({334687, 762977, 552449, 349887});
  EXPECT_THAT(SplitPlan(plan, 2),
              ElementsAre(ElementsAre(0, 1), ElementsAre(2, 3)));
  EXPECT_EQ(plan.TotalMessages(), 334687 + 762977 + 552449 + 349887);
}

TEST(SplitPlanTest, NeverMoreGroupsThanPartitionsAndAlwaysOne) {
  const BackfillPlan plan = PlanOf({10, 20});
  EXPECT_THAT(SplitPlan(plan, 8), ElementsAre(ElementsAre(1), ElementsAre(0)));
  EXPECT_THAT(SplitPlan(plan, 0), ElementsAre(ElementsAre(0, 1)));
  EXPECT_THAT(SplitPlan(plan, 1), ElementsAre(ElementsAre(0, 1)));
}

TEST(SplitPlanTest, EveryPartitionInExactlyOneGroupWhateverTheSizes) {
  const BackfillPlan plan = PlanOf({0, 5, 5, 0, 7, 1, 1, 9, 3});
  for (int workers = 1; workers <= 10; ++workers) {
    std::vector<int> seen(9, 0);
    for (const auto& group : SplitPlan(plan, workers)) {
      for (int32_t p : group) ++seen[static_cast<size_t>(p)];
    }
    EXPECT_THAT(seen, ::testing::Each(1)) << workers << " workers";
  }
}

TEST(SplitPlanTest, NoGroupIsLeftEmptyWhenRangesAreEmpty) {
  // Partitions with nothing to read (a --from-time past their last message)
  // still go one to a group: an empty group would be a worker without
  // partitions.
  EXPECT_THAT(SplitPlan(PlanOf({0, 0, 0}), 2),
              ElementsAre(ElementsAre(0, 2), ElementsAre(1)));
  EXPECT_THAT(SplitPlan(PlanOf({0, 0, 0, 6}), 3),
              ElementsAre(ElementsAre(3), ElementsAre(0, 2), ElementsAre(1)));
}

TEST(SplitPlanTest, EmptyRangesAndResumedPlansAreBalancedByWhatIsLeft) {
  // Equal ranges: round robin in partition order.
  EXPECT_THAT(SplitPlan(PlanOf({4, 4, 4, 4}), 2),
              ElementsAre(ElementsAre(0, 2), ElementsAre(1, 3)));
  // One partition holds as much as the other three together.
  EXPECT_THAT(SplitPlan(PlanOf({9, 3, 3, 3}), 2),
              ElementsAre(ElementsAre(0), ElementsAre(1, 2, 3)));
}

}  // namespace
}  // namespace encore
