#include "stream/validation.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "state/listen_event.h"

namespace encore {
namespace {

constexpr int64_t kT = 1'790'000'000'000;

ListenEvent Play() {
  ListenEvent e;
  e.set_event_id("e1");
  e.set_user_id("u1");
  e.set_event_time_ms(kT);
  e.set_kind(ListenEvent::PLAY);
  e.set_track_id("t1");
  e.set_artist_id("a1");
  e.set_ms_played(60'000);
  e.set_track_duration_ms(200'000);
  return e;
}

RejectReason Check(const ListenEvent& e, absl::string_view key = "u1",
                   int64_t message_time = kT) {
  return ValidateEvent(e, key, message_time, ValidationLimits{}).reason;
}

TEST(ValidationTest, AcceptsWellFormedEvents) {
  EXPECT_EQ(Check(Play()), RejectReason::kNone);
  EXPECT_EQ(Check(Play(), ""), RejectReason::kNone);  // no key: not checked
  ListenEvent imp;
  imp.set_user_id("u1");
  imp.set_event_time_ms(kT);
  imp.set_kind(ListenEvent::IMPRESSION);
  imp.set_arm_id("daily");
  imp.set_propensity(0.25);
  EXPECT_EQ(Check(imp), RejectReason::kNone);
}

TEST(ValidationTest, RejectsEachRuleWithItsReason) {
  ListenEvent e = Play();
  e.clear_user_id();
  EXPECT_EQ(Check(e, ""), RejectReason::kMissingUserId);

  EXPECT_EQ(Check(Play(), "u2"), RejectReason::kKeyMismatch);

  e = Play();
  e.set_track_id(std::string(257, 'x'));
  EXPECT_EQ(Check(e), RejectReason::kOversizedField);
  e = Play();
  e.set_user_id(std::string(300, 'u'));
  EXPECT_EQ(Check(e, ""), RejectReason::kOversizedField);

  e = Play();
  e.set_kind(ListenEvent::KIND_UNSPECIFIED);
  EXPECT_EQ(Check(e), RejectReason::kUnknownKind);
  e.set_kind(static_cast<ListenEvent::Kind>(42));
  EXPECT_EQ(Check(e), RejectReason::kUnknownKind);

  e = Play();
  e.set_event_time_ms(0);
  EXPECT_EQ(Check(e), RejectReason::kBadTimestamp);
  e.set_event_time_ms(-5);
  EXPECT_EQ(Check(e), RejectReason::kBadTimestamp);
  e.set_event_time_ms(std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Check(e), RejectReason::kBadTimestamp);

  e = Play();
  e.set_event_time_ms(kT + 3'600'001);  // over an hour after the message
  EXPECT_EQ(Check(e), RejectReason::kFutureTimestamp);
  EXPECT_EQ(Check(e, "u1", /*message_time=*/0), RejectReason::kNone);
  // A hostile producer timestamp cannot overflow the check.
  EXPECT_EQ(Check(Play(), "u1", std::numeric_limits<int64_t>::max()),
            RejectReason::kNone);

  e = Play();
  e.set_ms_played(-1);
  EXPECT_EQ(Check(e), RejectReason::kNegativeDuration);
  e = Play();
  e.set_track_duration_ms(-1);
  EXPECT_EQ(Check(e), RejectReason::kNegativeDuration);
  e = Play();
  e.set_ms_played(6 * 3'600'000 + 1);
  EXPECT_EQ(Check(e), RejectReason::kAbsurdDuration);

  e = Play();
  e.clear_track_id();
  EXPECT_EQ(Check(e), RejectReason::kMissingField);

  ListenEvent imp;
  imp.set_user_id("u1");
  imp.set_event_time_ms(kT);
  imp.set_kind(ListenEvent::IMPRESSION);
  EXPECT_EQ(Check(imp), RejectReason::kMissingField);
  imp.set_arm_id("daily");
  for (double p : {0.0, -0.1, 1.5, std::nan("")}) {
    imp.set_propensity(p);
    EXPECT_EQ(Check(imp), RejectReason::kBadPropensity) << p;
  }
}

TEST(ValidationTest, UndecodableBytesAreDecodeErrors) {
  ListenEvent e;
  const std::string garbage("\xff\xff\xff\xff\x0f", 5);
  Verdict v = DecodeAndValidate(garbage, "", 0, {}, &e);
  EXPECT_EQ(v.reason, RejectReason::kDecodeError);
  EXPECT_FALSE(v.detail.empty());
  std::string good = Play().SerializeAsString();
  EXPECT_TRUE(DecodeAndValidate(good, "u1", kT, {}, &e).ok());
  EXPECT_EQ(DecodeAndValidate(good.substr(0, good.size() - 3), "u1", kT, {}, &e)
                .reason,
            RejectReason::kDecodeError);
}

// Payloads the direct decoder declines (a non-ASCII string, a field this
// build does not know) are parsed by protobuf, and the view then holds the
// parsed fields: they are accepted or rejected on their content as before.
TEST(ValidationTest, PayloadsTheDirectDecoderDeclinesAreParsed) {
  ListenEvent accented = Play();
  accented.set_artist_id("Beyonc\xc3\xa9");
  ListenEvent unknown = Play();
  unknown.GetReflection()->MutableUnknownFields(&unknown)->AddVarint(99, 7);
  for (const ListenEvent& e : {accented, unknown}) {
    const std::string payload = e.SerializeAsString();
    ListenEventView direct;
    ASSERT_FALSE(DecodeListenEvent(payload, &direct));
    ListenEvent parsed;
    ListenEventView view;
    ASSERT_TRUE(DecodeAndValidate(payload, "u1", kT, {}, &parsed, &view).ok());
    EXPECT_EQ(view.user_id(), "u1");
    EXPECT_EQ(view.artist_id(), e.artist_id());
    EXPECT_EQ(view.track_id(), "t1");
    EXPECT_EQ(view.event_time_ms(), kT);
    EXPECT_EQ(view.kind(), ListenEvent::PLAY);
    EXPECT_EQ(view.ms_played(), 60'000);
    EXPECT_EQ(view.artist_id().data(), parsed.artist_id().data());
  }
  accented.clear_track_id();
  ListenEvent parsed;
  ListenEventView view;
  EXPECT_EQ(DecodeAndValidate(accented.SerializeAsString(), "u1", kT, {},
                              &parsed, &view)
                .reason,
            RejectReason::kMissingField);
  const std::string garbage("\xff\xff\xff\xff\x0f", 5);
  EXPECT_EQ(DecodeAndValidate(garbage, "", 0, {}, &parsed, &view).reason,
            RejectReason::kDecodeError);
}

TEST(ValidationTest, ReasonNamesAreDistinctSnakeCase) {
  std::set<absl::string_view> names;
  for (int i = 0; i < kNumRejectReasons; ++i) {
    absl::string_view n = RejectReasonName(static_cast<RejectReason>(i));
    EXPECT_EQ(n.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"),
              absl::string_view::npos);
    names.insert(n);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kNumRejectReasons));
}

}  // namespace
}  // namespace encore
