#include "stream/cache_footprint.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "state/model.h"
#include "stream/event_generator.h"

namespace encore {
namespace {

// Heap of a parsed state: protobuf's own estimate, without malloc headers
// (kCacheEntryOverheadBytes and the 3x factor leave room for them).
size_t SpaceUsed(const UserState& s) { return s.SpaceUsedLong(); }

TEST(CacheFootprintTest, CoversGeneratedUsersAndTheirEventsOnAverage) {
  ModelConfig config;
  EventGenerator gen(GeneratorOptions{.users = 5000, .seed = 3});
  std::map<std::string, UserState> users;
  size_t charged_events = 0;
  for (int i = 0; i < 100'000; ++i) {
    const ListenEvent e = gen.Next();
    ApplyEvent(config, e, &users[e.user_id()]);
    charged_events += EventFootprint(e.ByteSizeLong());
  }
  size_t grown = 0;
  for (const auto& [id, state] : users) {
    const size_t used = SpaceUsed(state);
    // Every user on its own: the estimate from its serialized size.
    EXPECT_GE(CachedUserFootprint(state.ByteSizeLong(), id.size()), used) << id;
    grown += used - sizeof(UserState);
  }
  // Events on average: the per-event charge covers what the states grew by
  // (user creation included) between two measurements.
  EXPECT_GE(charged_events, grown);
  std::printf("%zu users: grown %zu B, charged %zu B for the events\n",
              users.size(), grown, charged_events);
}

TEST(CacheFootprintTest, CoversTheAdversarialUser) {
  ModelConfig config;
  UserState s;
  auto id = [](const char* kind, int i) {
    std::string out = absl::StrCat(kind, "-", i, "-");
    out.resize(256, 'x');
    return out;
  };
  const std::string user(256, 'u');
  for (int i = 0; i < 3000; ++i) {
    ListenEvent e;
    e.set_user_id(user);
    e.set_event_id(id("e", i));
    e.set_event_time_ms(1'800'000'000'000 + i * 1000LL);
    e.set_request_id(id("r", i));
    e.set_arm_id(id("arm", i));
    if (i % 2 == 0) {
      e.set_kind(ListenEvent::IMPRESSION);
      e.set_propensity(0.5);
    } else {
      e.set_kind(ListenEvent::PLAY);
      e.set_track_id(id("t", i));
      e.set_artist_id(id("a", i));
      e.set_ms_played(1 + i);
      e.set_track_duration_ms(200'000);
    }
    ApplyEvent(config, e, &s);
    if (i % 100 == 99) ExpireImpressions(config, e.event_time_ms(), &s);
    ASSERT_GE(CachedUserFootprint(s.ByteSizeLong(), user.size()), SpaceUsed(s))
        << "after event " << i;
  }
  EXPECT_EQ(s.arms_size(), static_cast<int>(config.max_arms_per_user));
}

}  // namespace
}  // namespace encore
