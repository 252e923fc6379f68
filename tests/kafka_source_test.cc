// KafkaSource's lanes against the real broker: each worker's partitions
// arrive in a lane of their own, a lane gives only what its worker has room
// for, and lanes keep delivering, in order and without gaps, across a
// rebalance that moves partitions to a second group member and back.
#include "stream/kafka_source.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "stream/event_producer.h"
#include "tests/testing/kafka_env.h"
#include "tests/testing/status_matchers.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;

constexpr int kBig = 1 << 20;

// Produces `n` messages keyed over 97 keys (the partitioner spreads them
// over the topic's 4 partitions).
void Produce(const std::string& topic, int n) {
  auto producer = EventProducer::Open({testing::TestBrokers(), {}}, topic, 4);
  ASSERT_THAT(producer, IsOk());
  for (int i = 0; i < n; ++i) {
    ASSERT_THAT((*producer)->SendRaw(absl::StrCat("user-", i % 97),
                                     absl::StrCat("message-", i)),
                IsOk());
  }
  ASSERT_THAT((*producer)->Flush(60'000), IsOk());
}

// The "applied" position of every partition, shared by the members of a
// group as a state store would be: a member starts a partition it is given
// where the previous owner stopped.
struct Positions {
  std::map<int32_t, int64_t> next;
  int delivered = 0;
};

// A group member whose listener owns what it is assigned and that checks
// every message of a partition it owns comes next in order.
class Member final : public PartitionListener {
 public:
  Member(Positions* positions, const std::string& topic,
         const std::string& group)
      : positions_(positions) {
    KafkaSourceOptions options;
    options.client = {testing::TestBrokers(), {}};
    options.topic = topic;
    options.group = group;
    options.statistics_interval_ms = 0;
    auto source = NewKafkaSource(options, this);
    EXPECT_THAT(source, IsOk());
    if (source.ok()) source_ = std::move(*source);
  }

  absl::StatusOr<std::map<int32_t, int64_t>> OnAssigned(
      const std::vector<int32_t>& partitions) override {
    std::map<int32_t, int64_t> starts;
    for (int32_t p : partitions) {
      owned_.insert(p);
      auto it = positions_->next.find(p);
      starts[p] = it == positions_->next.end() ? kResetOffset : it->second;
    }
    ++assignments_;
    return starts;
  }
  absl::Status OnRevoked(const std::vector<int32_t>& partitions) override {
    for (int32_t p : partitions) owned_.erase(p);
    return absl::OkStatus();
  }

  // One PollLanes; returns the lanes the messages came from (lane = p % 2).
  std::set<int> Poll(const std::vector<int>& room, int timeout_ms = 100) {
    std::vector<Message> batch;
    EXPECT_THAT(source_->PollLanes(1000, room, timeout_ms, &batch), IsOk());
    std::set<int> lanes;
    std::map<int, int> per_lane;
    for (const Message& m : batch) {
      lanes.insert(m.partition % 2);
      ++per_lane[m.partition % 2];
      // The engine ignores messages of partitions it does not own.
      if (owned_.count(m.partition) == 0) continue;
      int64_t& next = positions_->next[m.partition];
      EXPECT_EQ(m.offset, next) << "partition " << m.partition;
      next = m.offset + 1;
      ++positions_->delivered;
    }
    for (const auto& [lane, n] : per_lane) {
      EXPECT_LE(n, room[static_cast<size_t>(lane)]) << "lane " << lane;
    }
    return lanes;
  }

  MessageSource& source() { return *source_; }
  const std::set<int32_t>& owned() const { return owned_; }
  int assignments() const { return assignments_; }

 private:
  Positions* positions_;
  std::unique_ptr<MessageSource> source_;
  std::set<int32_t> owned_;
  int assignments_ = 0;
};

int LaneOf(int32_t p) { return p % 2; }

TEST(KafkaSourceTest, ALaneGivesOnlyWhatItsConsumerHasRoomFor) {
  const std::string topic = testing::UniqueName("lanes");
  constexpr int kMessages = 4000;
  Produce(topic, kMessages);
  Positions positions;
  Member member(&positions, topic, testing::UniqueName("lanes-group"));
  member.source().RouteLanes(2, LaneOf);

  // Only lane 1 has room: nothing of lane 0 comes, however long we poll.
  int polls_with_messages = 0;
  for (int i = 0; i < 30 && polls_with_messages < 5; ++i) {
    std::set<int> lanes = member.Poll({0, kBig});
    EXPECT_EQ(lanes.count(0), 0u);
    if (!lanes.empty()) ++polls_with_messages;
  }
  ASSERT_GT(polls_with_messages, 0) << "lane 1 delivered nothing";
  const int lane1_only = positions.delivered;
  EXPECT_EQ(member.owned().size(), 4u);

  // Lane 0 gets room for 7: at most 7 messages, all of lane 0.
  std::set<int> lanes;
  for (int i = 0; i < 100 && lanes.empty(); ++i) lanes = member.Poll({7, 0});
  EXPECT_EQ(lanes, std::set<int>({0}));
  EXPECT_LE(positions.delivered - lane1_only, 7);

  // Both lanes: everything, each partition in order from its first offset.
  for (int i = 0; i < 600 && positions.delivered < kMessages; ++i) {
    member.Poll({kBig, kBig});
  }
  EXPECT_EQ(positions.delivered, kMessages);
  EXPECT_THAT(member.source().Close(), IsOk());
}

TEST(KafkaSourceTest, LanesKeepDeliveringAcrossRebalances) {
  const std::string topic = testing::UniqueName("lanes-rebalance");
  const std::string group = testing::UniqueName("lanes-rebalance-group");
  constexpr int kFirst = 3000;
  Produce(topic, kFirst);
  Positions positions;
  auto a = std::make_unique<Member>(&positions, topic, group);
  a->source().RouteLanes(2, LaneOf);
  for (int i = 0; i < 300 && positions.delivered < kFirst / 3; ++i) {
    a->Poll({50, 50});  // small rooms: A is still busy when B joins
  }
  ASSERT_GT(positions.delivered, 0);

  // B joins: the partitions are revoked from A and split between the two
  // (librdkafka's eager protocol). Both poll until everything is delivered.
  auto b = std::make_unique<Member>(&positions, topic, group);
  b->source().RouteLanes(2, LaneOf);
  for (int i = 0; i < 500 && b->owned().empty(); ++i) {
    a->Poll({1, 1}, 20);  // A keeps polling (and applying) through the join
    b->Poll({1, 1}, 20);
  }
  ASSERT_FALSE(b->owned().empty()) << "B was given nothing";
  ASSERT_LT(positions.delivered, kFirst) << "nothing left to hand over";
  for (int i = 0; i < 600 && positions.delivered < kFirst; ++i) {
    a->Poll({50, 50}, 20);
    b->Poll({50, 50}, 20);
  }
  EXPECT_EQ(positions.delivered, kFirst);
  EXPECT_GE(a->assignments(), 2);
  EXPECT_FALSE(a->owned().empty());

  // B leaves: A is given B's partitions back, routed to its lanes again,
  // and delivers what arrives next on every partition.
  EXPECT_THAT(b->source().Close(), IsOk());
  b.reset();
  constexpr int kSecond = 2000;
  Produce(topic, kSecond);
  for (int i = 0; i < 600 && positions.delivered < kFirst + kSecond; ++i) {
    a->Poll({kBig, kBig});
  }
  EXPECT_EQ(positions.delivered, kFirst + kSecond);
  EXPECT_EQ(a->owned().size(), 4u);
  EXPECT_THAT(a->source().Close(), IsOk());
}

}  // namespace
}  // namespace encore
