#include "state/user_record_wire.h"

#include <string>

#include "bandits/rng.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "state/user_record_testing.h"

namespace encore {
namespace {

using user_state_testing::Encoded;

// What DecodeFrom read before the fast path: protobuf's parse, converted.
bool ParseWithProtobuf(const std::string& bytes, UserRecord* user) {
  UserState state;
  if (!state.ParseFromString(bytes)) return false;
  *user = FromProto(state);
  return true;
}

// The same record: the same bytes (every field, presence included) and the
// same memory charged for it (every buffer's capacity).
void ExpectSameRecord(const UserRecord& fast, const UserRecord& parsed,
                      const std::string& what) {
  ASSERT_EQ(Encoded(fast), Encoded(parsed)) << what;
  ASSERT_EQ(MemoryFootprint(fast), MemoryFootprint(parsed)) << what;
  ASSERT_EQ(fast.arms.capacity(), parsed.arms.capacity()) << what;
  ASSERT_EQ(fast.pending.capacity(), parsed.pending.capacity()) << what;
  ASSERT_EQ(fast.user_id.capacity(), parsed.user_id.capacity()) << what;
}

TEST(UserRecordWireTest, ReadsWhatProtobufWritesAsProtobufDoes) {
  bandits::Rng rng(7);
  for (int i = 0; i < 3000; ++i) {
    UserState state;
    user_state_testing::FillRandomly(rng, &state);
    const std::string bytes = state.SerializeAsString();
    UserRecord fast, parsed;
    ASSERT_TRUE(DecodeCanonical(bytes, &fast)) << state.DebugString();
    ASSERT_TRUE(ParseWithProtobuf(bytes, &parsed));
    ExpectSameRecord(fast, parsed, state.DebugString());
  }
}

// Damaged bytes (flipped bits, cut short, spliced): whenever the fast path
// takes them, protobuf reads them too and to the same record; whatever it
// declines, DecodeFrom leaves to protobuf.
TEST(UserRecordWireTest, TakesDamagedBytesOnlyAsProtobufReadsThem) {
  bandits::Rng rng(11);
  google::protobuf::LogSilencer quiet;  // protobuf logs each bad string
  int taken = 0, declined = 0;
  for (int i = 0; i < 20000; ++i) {
    UserState state;
    user_state_testing::FillRandomly(rng, &state);
    std::string bytes = state.SerializeAsString();
    if (bytes.empty()) continue;
    switch (rng.NextU64() % 3) {
      case 0:
        bytes[rng.NextU64() % bytes.size()] ^=
            static_cast<char>(1u << (rng.NextU64() % 8));
        break;
      case 1:
        bytes.resize(rng.NextU64() % bytes.size());
        break;
      default:
        bytes.insert(rng.NextU64() % bytes.size(),
                     bytes.substr(0, rng.NextU64() % bytes.size()));
        break;
    }
    UserRecord fast, parsed;
    const bool valid = ParseWithProtobuf(bytes, &parsed);
    if (DecodeCanonical(bytes, &fast)) {
      ++taken;
      ASSERT_TRUE(valid) << i;
      ExpectSameRecord(fast, parsed, std::to_string(i));
    } else {
      ++declined;
    }
    UserRecord decoded;
    ASSERT_EQ(DecodeFrom(bytes, &decoded), valid) << i;
    if (valid) ExpectSameRecord(decoded, parsed, std::to_string(i));
  }
  // Both branches were exercised.
  EXPECT_GT(taken, 1000);
  EXPECT_GT(declined, 1000);
}

TEST(UserRecordWireTest, LeavesUnusualFormsToProtobuf) {
  UserState state;
  state.set_user_id("u1");
  state.add_arms()->set_arm_id("a");
  UserRecord user;

  // A field this build does not know (kept as an unknown field).
  UserState unknown = state;
  unknown.GetReflection()->MutableUnknownFields(&unknown)->AddVarint(99, 7);
  EXPECT_FALSE(DecodeCanonical(unknown.SerializeAsString(), &user));
  ASSERT_TRUE(DecodeFrom(unknown.SerializeAsString(), &user));
  EXPECT_FALSE(user.unknown_fields.empty());

  // A non-ASCII (valid UTF-8) string.
  UserState accented = state;
  accented.set_user_id("z\xc3\xa9");
  EXPECT_FALSE(DecodeCanonical(accented.SerializeAsString(), &user));
  ASSERT_TRUE(DecodeFrom(accented.SerializeAsString(), &user));
  EXPECT_EQ(user.user_id, "z\xc3\xa9");

  // A message field given twice: protobuf merges the two.
  UserState first, second;
  first.mutable_sessions()->set_count(3);
  second.mutable_sessions()->set_plays(2);
  const std::string twice =
      first.SerializeAsString() + second.SerializeAsString();
  EXPECT_FALSE(DecodeCanonical(twice, &user));
  ASSERT_TRUE(DecodeFrom(twice, &user));
  EXPECT_EQ(user.sessions.count, 3u);
  EXPECT_EQ(user.sessions.plays, 2u);

  // Overlong encodings protobuf refuses: a tag and a length in six bytes
  // (it reads them in at most five; values in at most ten).
  const std::string long_tag = std::string("\x88\x80\x80\x80\x80\x00\x01", 7);
  const std::string long_length =
      std::string("\x0a\x81\x80\x80\x80\x80\x00", 7) + "u";
  const std::string long_value = std::string("\x10\x81\x80\x80\x80\x80\x00", 7);
  for (const std::string& bytes : {long_tag, long_length}) {
    EXPECT_FALSE(UserState().ParseFromString(bytes));
    EXPECT_FALSE(DecodeCanonical(bytes, &user));
    EXPECT_FALSE(DecodeFrom(bytes, &user));
  }
  ASSERT_TRUE(DecodeCanonical(long_value, &user));
  EXPECT_EQ(user.first_seen_ms, 1);

  // Doubles written unpacked (one tag per value), as a parser must accept.
  const std::string unpacked =
      std::string("\x12\x00", 2) + "\x62\x09\x41" + std::string(8, '\0');
  EXPECT_FALSE(DecodeCanonical(unpacked, &user));
  UserState parsed;
  ASSERT_TRUE(parsed.ParseFromString(unpacked));
  ASSERT_TRUE(DecodeFrom(unpacked, &user));
  EXPECT_EQ(user.features.hour_of_day.size(), 1u);
}

TEST(UserRecordWireTest, ReplacesWhatTheRecordHeld) {
  UserState state;
  state.set_user_id("someone-with-a-long-identifier");
  state.add_arms()->set_arm_id("arm");
  UserRecord user;
  ASSERT_TRUE(DecodeCanonical(state.SerializeAsString(), &user));
  ASSERT_TRUE(DecodeCanonical("", &user));
  EXPECT_EQ(Encoded(user), "");
  EXPECT_TRUE(user.arms.empty());
}

}  // namespace
}  // namespace encore
