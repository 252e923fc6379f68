#include "state/log_replay.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace encore {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kMin = 60'000;

ListenEvent Event(ListenEvent::Kind kind, const std::string& user, int64_t t,
                  const std::string& request, const std::string& arm,
                  int64_t ms_played = 0) {
  ListenEvent e;
  e.set_kind(kind);
  e.set_user_id(user);
  e.set_event_time_ms(t);
  e.set_event_id(absl::StrCat(request, kind, t));
  e.set_request_id(request);
  e.set_arm_id(arm);
  if (kind == ListenEvent::IMPRESSION) {
    e.set_propensity(0.25);
  } else {
    e.set_track_id("t");
    e.set_ms_played(ms_played);
    e.set_track_duration_ms(200'000);
  }
  return e;
}

TEST(LogReplayTest, RowsAppearWhenFinalWithTheirContextAndReward) {
  const ModelConfig model;
  LogReplay replay(model);
  // u plays something first, so its context is not the unknown user's.
  replay.Apply(0, Event(ListenEvent::PLAY, "u", kT0 - kMin, "", "", 100'000));
  UserState mirror;
  ApplyEvent(model, Event(ListenEvent::PLAY, "u", kT0 - kMin, "", "", 100'000),
             &mirror);
  const Context shown = UserContext(model, mirror, kT0);
  replay.Apply(0, Event(ListenEvent::IMPRESSION, "u", kT0, "q1", "a"));
  replay.Apply(1, Event(ListenEvent::IMPRESSION, "v", kT0, "q2", "b"));
  replay.Apply(0, Event(ListenEvent::PLAY, "u", kT0 + kMin, "q1", "a", 60'000));
  EXPECT_TRUE(replay.TakeRows().empty());  // windows still open
  EXPECT_EQ(replay.in_flight(), 2u);

  // Partition 0's watermark passes u's window; partition 1's does not.
  replay.Apply(0, Event(ListenEvent::SKIP, "w", kT0 + 31 * kMin, "", "", 1));
  std::vector<LoggedRow> rows = replay.TakeRows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].user_id, "u");
  EXPECT_EQ(rows[0].arm_id, "a");
  EXPECT_EQ(rows[0].shown_ms, kT0);
  EXPECT_EQ(rows[0].propensity, 0.25);
  EXPECT_EQ(rows[0].reward, 1.0);
  EXPECT_EQ(rows[0].context, shown);
  EXPECT_EQ(replay.in_flight(), 1u);

  replay.Apply(1, Event(ListenEvent::SKIP, "x", kT0 + 40 * kMin, "", "", 1));
  rows = replay.TakeRows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].user_id, "v");
  EXPECT_EQ(rows[0].reward, 0.0);
  EXPECT_EQ(rows[0].context[0], 1.0);  // an unknown user: (1, 0, ...)
  EXPECT_EQ(replay.in_flight(), 0u);
}

}  // namespace
}  // namespace encore
