// Hostile input end to end: 100k malformed messages of every kind (random
// bytes, truncations, wrong wire types, huge fields, extreme numbers, NaN,
// empty keys, keys that disagree with user_id) interleaved with good events.
// encore does not crash, every bad message lands in the dead-letter topic
// with its reason, and every user's state equals that of a run over the good
// events alone.
#include <signal.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/snapshot_reader.h"
#include "stream/event_generator.h"
#include "stream/event_producer.h"
#include "tests/testing/encore_runs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;

struct Bad {
  std::string key;
  std::string payload;
  std::string reason;
};

// The i-th malformed message, built from a good event so that exactly one
// rule (named by `reason`) rejects it.
Bad MakeBad(int i, const ListenEvent& good, std::mt19937_64& rng) {
  ListenEvent e = good;
  switch (i % 10) {
    case 0: {  // random bytes behind an invalid wire type
      std::string bytes(1 + rng() % 200, '\0');
      for (char& c : bytes) c = static_cast<char>(rng());
      bytes[0] = '\x07';  // field 0, wire type 7: never valid
      return {good.user_id(), bytes, "decode_error"};
    }
    case 1: {  // truncated inside the last field
      e.set_platform("platform-name");
      std::string wire = e.SerializeAsString();
      return {good.user_id(), wire.substr(0, wire.size() - 3), "decode_error"};
    }
    case 2: {  // user_id (a string) sent as a varint: an unknown field
      e.clear_user_id();
      std::string wire = e.SerializeAsString();
      wire += std::string("\x10\x2a", 2);
      return {"", wire, "missing_user_id"};
    }
    case 3:  // huge field
      e.set_track_id(std::string(20'000, 'x'));
      return {good.user_id(), e.SerializeAsString(), "oversized_field"};
    case 4:  // extreme numbers
      e.set_event_time_ms(std::numeric_limits<int64_t>::max());
      return {good.user_id(), e.SerializeAsString(), "bad_timestamp"};
    case 5:
      e.set_ms_played(std::numeric_limits<int64_t>::min());
      return {good.user_id(), e.SerializeAsString(), "negative_duration"};
    case 6:  // NaN propensity
      e.set_kind(ListenEvent::IMPRESSION);
      e.set_arm_id("arm-00");
      e.set_ms_played(0);
      e.set_propensity(std::nan(""));
      return {good.user_id(), e.SerializeAsString(), "bad_propensity"};
    case 7:  // empty key and no user
      e.clear_user_id();
      return {"", e.SerializeAsString(), "missing_user_id"};
    case 8:  // key disagrees with user_id
      return {good.user_id() + "-other", e.SerializeAsString(), "key_mismatch"};
    default:  // unknown kind
      e.set_kind(static_cast<ListenEvent::Kind>(7 + rng() % 100));
      return {good.user_id(), e.SerializeAsString(), "unknown_kind"};
  }
}

TEST(HostileInputTest, MalformedMessagesAreDeadLetteredAndChangeNoState) {
  constexpr int kGood = 20'000;
  constexpr int kBad = 100'000;
  testing::TempDir dir;
  const std::string mixed_topic = testing::UniqueName("hostile");
  const std::string clean_topic = testing::UniqueName("clean");
  auto mixed =
      EventProducer::Open({testing::TestBrokers(), {}}, mixed_topic, 4);
  auto clean =
      EventProducer::Open({testing::TestBrokers(), {}}, clean_topic, 4);
  ASSERT_THAT(mixed, IsOk());
  ASSERT_THAT(clean, IsOk());

  EventGenerator gen(GeneratorOptions{.users = 1000, .seed = 41});
  std::mt19937_64 rng(41);
  std::set<std::string> users;
  std::map<std::string, int> expected_reasons;
  int bad = 0;
  for (int i = 0; i < kGood; ++i) {
    ListenEvent e = gen.Next();
    users.insert(e.user_id());
    ASSERT_THAT((*mixed)->Send(e), IsOk());
    ASSERT_THAT((*clean)->Send(e), IsOk());
    for (int k = 0; k < kBad / kGood; ++k, ++bad) {
      Bad b = MakeBad(bad, e, rng);
      ++expected_reasons[b.reason];
      ASSERT_THAT((*mixed)->SendRaw(b.key, b.payload), IsOk());
    }
  }
  ASSERT_THAT((*mixed)->Flush(120'000), IsOk());
  ASSERT_THAT((*clean)->Flush(120'000), IsOk());

  testing::RunDirs m{mixed_topic, testing::UniqueName("g"), dir.Sub("m-state"),
                     dir.Sub("m-snap"), dir.Sub("m.log")};
  testing::RunDirs c{clean_topic, testing::UniqueName("g"), dir.Sub("c-state"),
                     dir.Sub("c-snap"), dir.Sub("c.log")};
  auto code = testing::RunUntilCaughtUp(m, kGood + kBad);
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0) << "see " << m.log;  // no crash, clean stop
  code = testing::RunUntilCaughtUp(c, kGood);
  ASSERT_THAT(code, IsOk());
  EXPECT_EQ(*code, 0) << "see " << c.log;

  // Every user's state is what the good events alone give.
  auto got = SnapshotReader::OpenLatest(m.snapshot_dir);
  auto want = SnapshotReader::OpenLatest(c.snapshot_dir);
  ASSERT_THAT(got, IsOk());
  ASSERT_THAT(want, IsOk());
  EXPECT_EQ((*got)->manifest().user_count(), users.size());
  for (const std::string& user : users) {
    auto a = (*got)->Lookup(user);
    auto b = (*want)->Lookup(user);
    ASSERT_THAT(a, IsOk());
    ASSERT_THAT(b, IsOk());
    ASSERT_TRUE(a->has_value() && b->has_value()) << user;
    EXPECT_EQ((*a)->SerializeAsString(), (*b)->SerializeAsString()) << user;
  }

  // Every bad message is in the dead-letter topic with its reason (at least
  // once; a clean run sends each exactly once).
  auto dead = testing::ReadTopic(mixed_topic + ".dlq", kBad, 120'000);
  ASSERT_THAT(dead, IsOk());
  std::map<std::string, int> reasons;
  std::set<std::pair<std::string, std::string>> origins;
  for (const auto& r : *dead) {
    ++reasons[r.headers.at("encore.reason")];
    origins.insert({r.headers.at("encore.origin.partition"),
                    r.headers.at("encore.origin.offset")});
  }
  EXPECT_EQ(origins.size(), static_cast<size_t>(kBad));
  EXPECT_EQ(reasons, expected_reasons);
}

}  // namespace
}  // namespace encore
