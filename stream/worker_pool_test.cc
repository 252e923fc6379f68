#include "stream/worker_pool.h"

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace encore {
namespace {

TEST(WorkerPoolTest, EveryWorkerRunsOncePerStepOnItsOwnThread) {
  WorkerPool pool(3);
  ASSERT_EQ(pool.size(), 3);
  for (int step = 0; step < 50; ++step) {
    std::vector<int> calls(3, 0);
    std::vector<std::thread::id> ids(3);
    pool.RunOnAll([&](int w) {
      ++calls[w];
      ids[w] = std::this_thread::get_id();
    });
    // Plain (non-atomic) writes of every worker are visible after the step.
    EXPECT_EQ(calls, std::vector<int>({1, 1, 1}));
    EXPECT_EQ(ids[0], std::this_thread::get_id());
    EXPECT_EQ(std::set<std::thread::id>(ids.begin(), ids.end()).size(), 3u);
  }
}

TEST(WorkerPoolTest, StepsRunInParallel) {
  // Each worker waits until all have started: this only finishes if the
  // calls of one step overlap in time.
  WorkerPool pool(4);
  std::atomic<int> started{0};
  pool.RunOnAll([&](int) {
    started.fetch_add(1);
    while (started.load() < 4) std::this_thread::yield();
  });
  EXPECT_EQ(started.load(), 4);
}

TEST(WorkerPoolTest, OneWorkerRunsOnTheCallingThread) {
  WorkerPool pool(1);
  std::thread::id id;
  pool.RunOnAll([&](int w) {
    EXPECT_EQ(w, 0);
    id = std::this_thread::get_id();
  });
  EXPECT_EQ(id, std::this_thread::get_id());
}

TEST(WorkerPoolTest, ANonPositiveCountMeansOneWorker) {
  WorkerPool pool(0);
  EXPECT_EQ(pool.size(), 1);
}

}  // namespace
}  // namespace encore
