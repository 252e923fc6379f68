#include "stream/topic_setup.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace encore {
namespace {

using ::encore::testing::StatusIs;

// Nothing listens on port 1: every connection attempt is refused.
const KafkaClientConfig kNoBroker{"127.0.0.1:1", {}};

// A stop request ends the wait for a broker at once: with an hour to wait
// between looks, only the stop can end it (the test would time out).
TEST(TopicSetupTest, StopEndsTheWaitForABroker) {
  std::atomic<bool> stop{false};
  std::vector<std::string> reasons;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.store(true);
  });
  absl::Status s =
      PrepareTopics(kNoBroker,
                    {.topic = "events",
                     .dead_letter_topic = "events.dlq",
                     .poll_interval_ms = 3'600'000},
                    stop,
                    [&](const std::string& why) { reasons.push_back(why); })
          .status();
  stopper.join();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kCancelled));
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_THAT(reasons[0],
              ::testing::StartsWith("waiting for a Kafka broker to answer"));
}

TEST(TopicSetupTest, AStopRequestedBeforehandReturnsAtOnce) {
  std::atomic<bool> stop{true};
  EXPECT_THAT(PrepareTopics(kNoBroker,
                            {.topic = "events", .dead_letter_topic = "d"}, stop)
                  .status(),
              StatusIs(absl::StatusCode::kCancelled));
}

}  // namespace
}  // namespace encore
