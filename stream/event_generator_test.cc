#include "stream/event_generator.h"

#include <map>

#include "gtest/gtest.h"
#include "stream/validation.h"

namespace encore {
namespace {

TEST(EventGeneratorTest, SameSeedSameEvents) {
  GeneratorOptions o;
  o.users = 100;
  EventGenerator a(o), b(o);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(a.Next().SerializeAsString(), b.Next().SerializeAsString());
  }
  o.seed = 2;
  EventGenerator c(o);
  EventGenerator d(GeneratorOptions{.users = 100});
  int same = 0;
  for (int i = 0; i < 100; ++i) {
    same += c.Next().SerializeAsString() == d.Next().SerializeAsString();
  }
  EXPECT_LT(same, 100);
}

TEST(EventGeneratorTest, EventsAreValidHeavyTailedAndLearnable) {
  GeneratorOptions o;
  o.users = 1000;
  EventGenerator gen(o);
  std::map<std::string, int> per_user;
  int plays = 0, skips = 0, impressions = 0;
  int64_t first = 0, last = 0;
  for (int i = 0; i < 20000; ++i) {
    ListenEvent e = gen.Next();
    ASSERT_TRUE(ValidateEvent(e, e.user_id(), 0, {}).ok()) << e.DebugString();
    ++per_user[e.user_id()];
    if (i == 0) first = e.event_time_ms();
    last = std::max(last, e.event_time_ms());
    plays += e.kind() == ListenEvent::PLAY;
    skips += e.kind() == ListenEvent::SKIP;
    impressions += e.kind() == ListenEvent::IMPRESSION;
  }
  EXPECT_GT(plays, 0);
  EXPECT_GT(skips, 0);
  EXPECT_GT(impressions, plays);
  EXPECT_GT(last, first);
  // Zipf(1.1) over 1000 users: the top user alone has > 5 % of events.
  int top = 0;
  for (const auto& [u, n] : per_user) top = std::max(top, n);
  EXPECT_GT(top, 20000 / 20);
  // Latent preferences differ across arms for a user.
  double lo = 1, hi = 0;
  for (int a = 0; a < o.arms; ++a) {
    lo = std::min(lo, gen.Preference(0, a));
    hi = std::max(hi, gen.Preference(0, a));
  }
  EXPECT_GT(hi - lo, 0.1);
}

}  // namespace
}  // namespace encore
