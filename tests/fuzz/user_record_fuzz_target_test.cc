// Replays crafted stored values through the codec fuzz target in the normal
// test suite: real states from the model, every truncation of one, bytes
// flipped, wrong wire types, arrays whose sizes disagree with the model's,
// unknown fields at the top and inside nested messages, random bytes.
#include "tests/fuzz/user_record_fuzz_target.h"

#include <random>
#include <string>

#include "gtest/gtest.h"
#include "state/model.h"

namespace encore::fuzz {
namespace {

bool Feed(const std::string& bytes) {
  return DecodeEncodeApply(reinterpret_cast<const uint8_t*>(bytes.data()),
                           bytes.size());
}

// A user with every part of the state filled in by the model.
UserState RealUser() {
  const ModelConfig model;
  UserRecord user;
  constexpr int64_t kT = 1'790'000'000'000;
  for (int i = 0; i < 300; ++i) {
    ListenEvent e;
    e.set_user_id("u1");
    e.set_event_id("e" + std::to_string(i));
    e.set_event_time_ms(kT + i * 60'000);
    e.set_kind(i % 5 == 0   ? ListenEvent::IMPRESSION
               : i % 5 == 1 ? ListenEvent::SKIP
                            : ListenEvent::PLAY);
    e.set_arm_id("arm-" + std::to_string(i % 7));
    e.set_request_id("r" + std::to_string(i - i % 5));
    e.set_propensity(0.25);
    e.set_track_id("t" + std::to_string(i % 90));
    e.set_artist_id("a" + std::to_string(i % 80));
    e.set_ms_played(1000 * (i % 200));
    e.set_track_duration_ms(200'000);
    ApplyEvent(model, e, &user);
  }
  UserState state;
  ToProto(user, &state);
  return state;
}

TEST(UserRecordFuzzTargetTest, RealStatesAndTheirTruncations) {
  const std::string bytes = RealUser().SerializeAsString();
  ASSERT_GT(bytes.size(), 2000u);
  EXPECT_TRUE(Feed(bytes));
  int decoded = 0;
  for (size_t n = 0; n < bytes.size(); n += 7) {
    decoded += Feed(bytes.substr(0, n));  // aborts on a broken invariant
  }
  EXPECT_GT(decoded, 0);  // cuts between fields still parse
}

TEST(UserRecordFuzzTargetTest, ShapesTheModelDidNotWrite) {
  UserState state = RealUser();
  state.mutable_counters()->mutable_plays()->RemoveLast();    // size mismatch
  state.mutable_features()->mutable_hour_of_day()->Add(1.0);  // 25 bins
  state.mutable_distinct_artists()->set_registers("abc");     // not 2^p
  state.set_recent_event_ids_next(1'000'000);
  state.mutable_pending(0)->mutable_context()->Add(7.0);  // 7 values
  state.mutable_arms()->SwapElements(0, 1);               // unsorted
  for (int i = 0; i < 100; ++i) state.add_arms()->set_arm_id("z");
  EXPECT_TRUE(Feed(state.SerializeAsString()));

  // Arm ids repeated past the bound, all the one the events reward.
  UserState repeated = RealUser();
  repeated.clear_arms();
  for (int i = 0; i < 70; ++i) repeated.add_arms()->set_arm_id("arm-a");
  EXPECT_TRUE(Feed(repeated.SerializeAsString()));

  UserState unknown = RealUser();
  unknown.GetReflection()->MutableUnknownFields(&unknown)->AddVarint(77, 1);
  auto* arm = unknown.mutable_arms(0);
  arm->GetReflection()->MutableUnknownFields(arm)->AddFixed64(50, 9);
  EXPECT_TRUE(Feed(unknown.SerializeAsString()));
}

TEST(UserRecordFuzzTargetTest, MutatedAndRandomBytesNeverBreakAnInvariant) {
  const std::string bytes = RealUser().SerializeAsString();
  std::mt19937_64 rng(5);
  int decoded = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string mutated = bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      mutated[rng() % mutated.size()] = static_cast<char>(rng());
    }
    decoded += Feed(mutated);
  }
  for (int i = 0; i < 2000; ++i) {
    std::string random(rng() % 64, '\0');
    for (char& c : random) c = static_cast<char>(rng());
    decoded += Feed(random);
  }
  EXPECT_GT(decoded, 100);         // both kinds of input were exercised
  EXPECT_FALSE(Feed("\x0a\x7f"));  // a string longer than the input
}

}  // namespace
}  // namespace encore::fuzz
