// Replays crafted hostile inputs through the fuzz target in the normal test
// suite: random bytes, truncations, wrong wire types, huge fields, extreme
// numbers, NaN, an adversarial user with many distinct arms.
#include "tests/fuzz/event_fuzz_target.h"

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "proto/event.pb.h"

namespace encore::fuzz {
namespace {

void AddRecord(std::string* input, const std::string& payload,
               uint8_t flags = 0) {
  input->push_back(static_cast<char>(flags));
  input->push_back(static_cast<char>(payload.size() & 0xff));
  input->push_back(static_cast<char>((payload.size() >> 8) & 0xff));
  input->append(payload);
}

int Feed(const std::string& input) {
  return DecodeValidateApply(reinterpret_cast<const uint8_t*>(input.data()),
                             input.size());
}

ListenEvent Play(int64_t t, const std::string& arm) {
  ListenEvent e;
  e.set_user_id("u1");
  e.set_event_time_ms(t);
  e.set_kind(ListenEvent::PLAY);
  e.set_track_id("t");
  e.set_ms_played(40'000);
  e.set_track_duration_ms(200'000);
  e.set_arm_id(arm);
  return e;
}

TEST(EventFuzzTargetTest, ValidEventsApplyAndHostileOnesAreRejected) {
  constexpr int64_t kT = 1'790'000'000'000;
  std::string input;
  AddRecord(&input, Play(kT, "a").SerializeAsString());
  AddRecord(&input, Play(kT - 5'000, "b").SerializeAsString());  // late
  ListenEvent e = Play(kT, "a");
  e.set_ms_played(std::numeric_limits<int64_t>::max());
  AddRecord(&input, e.SerializeAsString());
  e = Play(std::numeric_limits<int64_t>::min(), "a");
  AddRecord(&input, e.SerializeAsString());
  e = Play(kT, "a");
  e.set_kind(ListenEvent::IMPRESSION);
  e.set_propensity(std::nan(""));
  AddRecord(&input, e.SerializeAsString());
  e = Play(kT, std::string(300, 'z'));  // oversized arm
  AddRecord(&input, e.SerializeAsString());
  AddRecord(&input, Play(kT, "a").SerializeAsString(), /*flags=*/2);  // key
  std::string truncated = Play(kT, "a").SerializeAsString();
  AddRecord(&input, truncated.substr(0, truncated.size() / 2));
  AddRecord(&input, std::string("\x0b\x0c\x0d\xff\xff\xff\xff\xff\xff", 9));
  EXPECT_EQ(Feed(input), 2);  // only the two valid plays
}

TEST(EventFuzzTargetTest, AnAdversarialUserStaysWithinTheStateBound) {
  constexpr int64_t kT = 1'790'000'000'000;
  std::string input;
  for (int i = 0; i < 5'000; ++i) {
    ListenEvent e =
        Play(kT + i, "arm-" + std::to_string(i) + std::string(200, 'x'));
    e.set_track_id(std::string(250, 't') + std::to_string(i));
    AddRecord(&input, e.SerializeAsString());
  }
  EXPECT_EQ(Feed(input), 5'000);  // the target aborts if the bound breaks
}

TEST(EventFuzzTargetTest, MutatedEventsNeverBreakAnInvariant) {
  // Valid events with random bytes flipped, dropped or appended: many still
  // parse and validate (and are applied), many do not; none may break an
  // invariant (the target aborts the test binary if one does).
  constexpr int64_t kT = 1'790'000'000'000;
  std::mt19937_64 rng(99);
  int applied = 0, inputs = 0;
  for (int round = 0; round < 2'000; ++round) {
    std::string input;
    for (int k = 0; k < 8; ++k) {
      std::string payload = Play(kT + static_cast<int64_t>(rng() % 100'000'000),
                                 "arm" + std::to_string(rng() % 100))
                                .SerializeAsString();
      const int edits = static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !payload.empty(); ++e) {
        const size_t at = rng() % payload.size();
        switch (rng() % 3) {
          case 0:
            payload[at] = static_cast<char>(rng());
            break;
          case 1:
            payload.erase(at, 1);
            break;
          default:
            payload.insert(at, 1, static_cast<char>(rng()));
            break;
        }
      }
      AddRecord(&input, payload, static_cast<uint8_t>(rng()));
      ++inputs;
    }
    applied += Feed(input);
  }
  EXPECT_GT(applied, inputs / 10);
  EXPECT_LT(applied, inputs);
}

}  // namespace
}  // namespace encore::fuzz
