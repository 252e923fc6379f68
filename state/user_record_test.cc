#include "state/user_record.h"

#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "bandits/rng.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "state/user_record_testing.h"

namespace encore {
namespace {

using user_state_testing::Encoded;

TEST(UserRecordTest, EncodesRandomStatesExactlyAsProtobuf) {
  bandits::Rng rng(42);
  for (int i = 0; i < 3000; ++i) {
    UserState state;
    user_state_testing::FillRandomly(rng, &state);
    const std::string expected = state.SerializeAsString();
    const UserRecord user = FromProto(state);
    ASSERT_EQ(Encoded(user), expected) << state.DebugString();
    ASSERT_EQ(EncodedSize(user), expected.size());
    UserRecord decoded;
    ASSERT_TRUE(DecodeFrom(expected, &decoded));
    ASSERT_EQ(Encoded(decoded), expected);
    UserState back;
    ToProto(user, &back);
    ASSERT_EQ(back.SerializeAsString(), expected);
  }
}

// More nested messages than the encoder keeps lengths for inline, and nested
// lengths of one, two and three varint bytes, in every place one can be.
TEST(UserRecordTest, EncodesLargeStatesExactlyAsProtobuf) {
  UserState state;
  state.set_user_id("user-0000001");
  for (int i = 0; i < 300; ++i) {
    HeavyHitter* item = state.mutable_top_artists()->add_items();
    item->set_id(std::string(20 + i % 60, static_cast<char>('a' + i % 26)));
    item->set_weight(i + 0.5);
    RecentPlay* play = state.add_recent_plays();
    play->set_track_id(std::string(i, 't'));
    play->set_time_ms(1'000'000 + i);
  }
  for (int i = 0; i < 40; ++i) {
    ArmEvidence* arm = state.add_arms();
    arm->set_arm_id(std::string(200 * i, 'x'));
    arm->set_successes(i);
    PendingImpression* p = state.add_pending();
    p->set_request_id("r" + std::to_string(i));
    for (int k = 0; k < 20 * i; ++k) p->add_context(k * 0.25);
  }
  const std::string expected = state.SerializeAsString();
  ASSERT_GT(state.top_artists().ByteSizeLong(), 16384u);  // 3 length bytes
  const UserRecord user = FromProto(state);
  EXPECT_EQ(Encoded(user), expected);
  EXPECT_EQ(EncodedSize(user), expected.size());
  // Appends after what the string holds.
  std::string bytes = "prefix";
  EncodeTo(user, &bytes);
  EXPECT_EQ(bytes, "prefix" + expected);
}

TEST(UserRecordTest, PresentEmptyMessagesAreWritten) {
  UserState state;
  state.mutable_features();
  state.mutable_sessions();
  state.add_arms();
  const UserRecord user = FromProto(state);
  EXPECT_TRUE(user.has_features);
  EXPECT_FALSE(user.has_counters);
  // Tags 12, 15 and 10, each with length 0.
  EXPECT_EQ(Encoded(user), state.SerializeAsString());
  EXPECT_EQ(Encoded(user).size(), 6u);
  EXPECT_TRUE(Encoded(UserRecord()).empty());
}

TEST(UserRecordTest, KeepsUnknownTopLevelFields) {
  UserState state;
  state.set_user_id("u1");
  google::protobuf::UnknownFieldSet* unknown =
      state.GetReflection()->MutableUnknownFields(&state);
  unknown->AddVarint(99, 7);
  unknown->AddLengthDelimited(100, "later");
  const std::string bytes = state.SerializeAsString();
  UserRecord user;
  ASSERT_TRUE(DecodeFrom(bytes, &user));
  EXPECT_EQ(Encoded(user), bytes);
  user.events = 3;  // changed by this build: the unknown fields stay
  UserState back;
  ASSERT_TRUE(back.ParseFromString(Encoded(user)));
  EXPECT_EQ(back.events(), 3u);
  EXPECT_EQ(back.GetReflection()->GetUnknownFields(back).field_count(), 2);
}

TEST(UserRecordTest, RejectsWhatIsNotAUserState) {
  UserRecord user;
  EXPECT_FALSE(
      DecodeFrom("\x0a\x05"
                 "ab",
                 &user));  // truncated string
  EXPECT_FALSE(DecodeFrom(std::string("\x0a\x02\xff\xfe", 4), &user));  // UTF-8
  EXPECT_TRUE(DecodeFrom("", &user));
  EXPECT_TRUE(user.user_id.empty());
}

// RecentPlays against a plain newest-first vector: inserts at random
// positions into lists that are growing, full (wrapped around) and cut by a
// smaller bound, with entries appended and cleared in between; encoding
// follows the logical order.
TEST(RecentPlaysTest, KeepsTheOrderOfAPlainList) {
  bandits::Rng rng(5);
  RecentPlays ring;
  std::vector<RecentPlayRecord> plain;
  size_t bound = 7;
  for (int step = 0; step < 20000; ++step) {
    const uint64_t what = rng.NextU64() % 100;
    if (what == 0) {
      ring.clear();
      plain.clear();
    } else if (what == 1) {
      bound = 1 + rng.NextU64() % 9;
    } else if (what == 2 && plain.size() < bound) {
      const RecentPlayRecord r{"appended-" + std::to_string(step), step};
      ring.push_back(r);
      plain.push_back(r);
    } else {
      const size_t index = rng.NextU64() % (std::min(plain.size(), bound) + 1);
      if (index >= bound) continue;
      const std::string id = "track-" + std::to_string(step);
      RecentPlayRecord& slot = ring.Insert(index, bound);
      slot.track_id = id;
      slot.time_ms = step;
      if (plain.size() >= bound) plain.resize(bound - 1);
      plain.insert(plain.begin() + static_cast<ptrdiff_t>(index), {id, step});
    }
    ASSERT_EQ(ring.size(), plain.size()) << "step " << step;
    size_t i = 0;
    for (const RecentPlayRecord& r : ring) {
      ASSERT_EQ(r.track_id, plain[i].track_id) << "step " << step << " @" << i;
      ASSERT_EQ(r.time_ms, plain[i].time_ms);
      ++i;
    }
  }
  UserRecord user;
  user.recent_plays = ring;
  UserState state;
  ToProto(user, &state);
  ASSERT_EQ(state.recent_plays_size(), static_cast<int>(plain.size()));
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(state.recent_plays(static_cast<int>(i)).track_id(),
              plain[i].track_id);
  }
}

}  // namespace
}  // namespace encore
