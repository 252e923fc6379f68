#include "state/listen_event.h"

#include <bit>
#include <cstdint>
#include <optional>
#include <string>

#include "bandits/rng.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "state/user_record_testing.h"

namespace encore {
namespace {

// Every field, compared as the model reads it (doubles by their bits, so
// NaN and -0.0 count).
void ExpectSameEvent(const ListenEventView& fast, const ListenEventView& parsed,
                     const std::string& what) {
  EXPECT_EQ(fast.event_id(), parsed.event_id()) << what;
  EXPECT_EQ(fast.user_id(), parsed.user_id()) << what;
  EXPECT_EQ(fast.event_time_ms(), parsed.event_time_ms()) << what;
  EXPECT_EQ(fast.kind(), parsed.kind()) << what;
  EXPECT_EQ(fast.track_id(), parsed.track_id()) << what;
  EXPECT_EQ(fast.artist_id(), parsed.artist_id()) << what;
  EXPECT_EQ(fast.arm_id(), parsed.arm_id()) << what;
  EXPECT_EQ(fast.ms_played(), parsed.ms_played()) << what;
  EXPECT_EQ(fast.track_duration_ms(), parsed.track_duration_ms()) << what;
  EXPECT_EQ(fast.request_id(), parsed.request_id()) << what;
  EXPECT_EQ(std::bit_cast<uint64_t>(fast.propensity()),
            std::bit_cast<uint64_t>(parsed.propensity()))
      << what;
  EXPECT_EQ(fast.platform(), parsed.platform()) << what;
  EXPECT_EQ(fast.utc_offset_minutes(), parsed.utc_offset_minutes()) << what;
}

TEST(ListenEventTest, ReadsWhatProtobufWritesAsProtobufDoes) {
  bandits::Rng rng(5);
  for (int i = 0; i < 5000; ++i) {
    ListenEvent event;
    user_state_testing::FillRandomly(rng, &event);
    const std::string bytes = event.SerializeAsString();
    ListenEventView fast;
    ASSERT_TRUE(DecodeListenEvent(bytes, &fast)) << event.DebugString();
    ListenEvent parsed;
    ASSERT_TRUE(parsed.ParseFromString(bytes));
    ExpectSameEvent(fast, parsed, event.DebugString());
    // A zero time is not written, so it has none to peek at.
    const std::optional<int64_t> peeked = PeekEventTime(bytes);
    if (event.event_time_ms() == 0) {
      EXPECT_FALSE(peeked.has_value()) << event.DebugString();
    } else {
      EXPECT_EQ(peeked, event.event_time_ms()) << event.DebugString();
    }
    // The strings view the payload itself: nothing was copied.
    if (!fast.user_id().empty()) {
      EXPECT_GE(fast.user_id().data(), bytes.data());
      EXPECT_LT(fast.user_id().data(), bytes.data() + bytes.size());
    }
  }
}

// Damaged bytes (flipped bits, cut short, spliced, a field repeated):
// whenever the fast path takes them, protobuf parses them too and to the
// same fields; what it declines goes to protobuf's parser.
TEST(ListenEventTest, TakesDamagedBytesOnlyAsProtobufReadsThem) {
  bandits::Rng rng(9);
  google::protobuf::LogSilencer quiet;  // protobuf logs each bad string
  int taken = 0, declined = 0;
  for (int i = 0; i < 30000; ++i) {
    ListenEvent event;
    user_state_testing::FillRandomly(rng, &event);
    std::string bytes = event.SerializeAsString();
    if (bytes.empty()) continue;
    switch (rng.NextU64() % 4) {
      case 0:
        bytes[rng.NextU64() % bytes.size()] ^=
            static_cast<char>(1u << (rng.NextU64() % 8));
        break;
      case 1:
        bytes.resize(rng.NextU64() % bytes.size());
        break;
      case 2:
        bytes.insert(rng.NextU64() % bytes.size(),
                     bytes.substr(0, rng.NextU64() % bytes.size()));
        break;
      default: {
        // Another event's fields after these: each given twice.
        ListenEvent other;
        user_state_testing::FillRandomly(rng, &other);
        bytes += other.SerializeAsString();
        break;
      }
    }
    ListenEvent parsed;
    const bool valid = parsed.ParseFromString(bytes);
    if (valid) {  // the peeked time is the parsed one
      const std::optional<int64_t> peeked = PeekEventTime(bytes);
      EXPECT_EQ(peeked.value_or(0), parsed.event_time_ms()) << i;
    }
    ListenEventView fast;
    if (DecodeListenEvent(bytes, &fast)) {
      ++taken;
      ASSERT_TRUE(valid) << i;
      ExpectSameEvent(fast, parsed, std::to_string(i));
    } else {
      ++declined;
    }
  }
  // Both branches were exercised.
  EXPECT_GT(taken, 3000);
  EXPECT_GT(declined, 3000);
}

TEST(ListenEventTest, LeavesUnusualFormsToProtobuf) {
  ListenEvent event;
  event.set_user_id("u1");
  event.set_track_id("t1");
  ListenEventView view;

  // A field this build does not know (a newer producer's): protobuf keeps
  // it among the unknown fields.
  ListenEvent unknown = event;
  unknown.GetReflection()->MutableUnknownFields(&unknown)->AddVarint(99, 7);
  EXPECT_FALSE(DecodeListenEvent(unknown.SerializeAsString(), &view));

  // A non-ASCII (valid UTF-8) string, and one that is not UTF-8 at all.
  ListenEvent accented = event;
  accented.set_artist_id("z\xc3\xa9");
  EXPECT_FALSE(DecodeListenEvent(accented.SerializeAsString(), &view));
  // The high bit in the first word of a longer string (the check reads 8
  // bytes at a time, then byte by byte).
  ListenEvent long_accented = event;
  long_accented.set_track_id("\xc3\xa9t\xc3\xa9 in paris, a long title");
  EXPECT_FALSE(DecodeListenEvent(long_accented.SerializeAsString(), &view));
  long_accented.set_track_id("a long title, \xc3\xa9t\xc3\xa9 in paris");
  EXPECT_FALSE(DecodeListenEvent(long_accented.SerializeAsString(), &view));
  long_accented.set_track_id("a long title, ete in paris");
  EXPECT_TRUE(DecodeListenEvent(long_accented.SerializeAsString(), &view));
  const std::string invalid = std::string("\x12\x02\xff\xfe", 4);
  EXPECT_FALSE(DecodeListenEvent(invalid, &view));
  google::protobuf::LogSilencer quiet;
  EXPECT_FALSE(ListenEvent().ParseFromString(invalid));

  // A known field of another wire type (protobuf keeps it as unknown).
  const std::string time_as_string = std::string("\x1a\x01x", 3);
  EXPECT_FALSE(DecodeListenEvent(time_as_string, &view));
  EXPECT_TRUE(ListenEvent().ParseFromString(time_as_string));

  // Overlong tags protobuf refuses; values of ten bytes it takes.
  const std::string long_tag = std::string("\x98\x80\x80\x80\x80\x00\x01", 7);
  EXPECT_FALSE(ListenEvent().ParseFromString(long_tag));
  EXPECT_FALSE(DecodeListenEvent(long_tag, &view));

  // A negative int32 (a ten-byte varint) and a string given twice: the
  // last one wins.
  ListenEvent first, second;
  first.set_utc_offset_minutes(-300);
  first.set_user_id("first");
  second.set_user_id("second");
  const std::string twice =
      first.SerializeAsString() + second.SerializeAsString();
  ASSERT_TRUE(DecodeListenEvent(twice, &view));
  EXPECT_EQ(view.user_id(), "second");
  EXPECT_EQ(view.utc_offset_minutes(), -300);

  // An unnamed kind is read as protobuf stores it (validation rejects it).
  ListenEvent odd_kind = event;
  odd_kind.set_kind(static_cast<ListenEvent::Kind>(42));
  ASSERT_TRUE(DecodeListenEvent(odd_kind.SerializeAsString(), &view));
  EXPECT_EQ(static_cast<int>(view.kind()), 42);
}

// Forms the wire reader declines are peeked at by protobuf's rules.
TEST(ListenEventTest, PeeksAtTheTimeOfAnyWireFormat) {
  ListenEvent event;
  event.set_event_time_ms(1'790'000'000'000);
  event.set_user_id("u1");
  const std::string plain = event.SerializeAsString();
  EXPECT_EQ(PeekEventTime(plain), 1'790'000'000'000);
  EXPECT_FALSE(PeekEventTime("").has_value());

  // Unknown fixed32 and group fields (wire types 5, 3 and 4) before it.
  ListenEvent unusual = event;
  google::protobuf::UnknownFieldSet* unknown =
      unusual.GetReflection()->MutableUnknownFields(&unusual);
  unknown->AddFixed32(20, 7);
  unknown->AddGroup(21)->AddVarint(1, 2);
  const std::string with_unknown = unusual.SerializeAsString();
  ListenEventView view;
  ASSERT_FALSE(DecodeListenEvent(with_unknown, &view));
  EXPECT_EQ(PeekEventTime(with_unknown), 1'790'000'000'000);

  // A later time wins; a field 3 of another wire type is skipped.
  ListenEvent later;
  later.set_event_time_ms(1'790'000'000'005);
  const std::string time_as_string = std::string("\x1a\x01x", 3);
  EXPECT_EQ(PeekEventTime(plain + later.SerializeAsString() + time_as_string),
            1'790'000'000'005);

  // Invalid UTF-8 does not hide the time; bytes that cannot be skipped do.
  const std::string bad_string = std::string("\x12\x02\xff\xfe", 4);
  EXPECT_EQ(PeekEventTime(plain + bad_string), 1'790'000'000'000);
  EXPECT_FALSE(PeekEventTime(plain + "\x12\x09ab").has_value());
  EXPECT_FALSE(PeekEventTime(plain + "\x18").has_value());
}

TEST(ListenEventTest, ReplacesWhatTheViewHeld) {
  ListenEvent full;
  full.set_user_id("u1");
  full.set_arm_id("shelf");
  full.set_ms_played(5);
  const std::string full_bytes = full.SerializeAsString();
  ListenEventView view;
  ASSERT_TRUE(DecodeListenEvent(full_bytes, &view));
  ListenEvent bare;
  bare.set_user_id("u2");
  const std::string bytes = bare.SerializeAsString();
  ASSERT_TRUE(DecodeListenEvent(bytes, &view));
  EXPECT_EQ(view.user_id(), "u2");
  EXPECT_EQ(view.arm_id(), "");
  EXPECT_EQ(view.ms_played(), 0);
  ASSERT_TRUE(DecodeListenEvent("", &view));
  EXPECT_EQ(view.user_id(), "");
}

}  // namespace
}  // namespace encore
