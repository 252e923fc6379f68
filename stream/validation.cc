#include "stream/validation.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace encore {
namespace {

constexpr int64_t kMinEventTimeMs = 946'684'800'000;    // 2000-01-01
constexpr int64_t kMaxEventTimeMs = 4'102'444'800'000;  // 2100-01-01

Verdict Reject(RejectReason reason, std::string detail) {
  return Verdict{reason, std::move(detail)};
}

}  // namespace

absl::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kNone:
      return "none";
    case RejectReason::kDecodeError:
      return "decode_error";
    case RejectReason::kMissingUserId:
      return "missing_user_id";
    case RejectReason::kKeyMismatch:
      return "key_mismatch";
    case RejectReason::kOversizedField:
      return "oversized_field";
    case RejectReason::kUnknownKind:
      return "unknown_kind";
    case RejectReason::kMissingField:
      return "missing_field";
    case RejectReason::kBadTimestamp:
      return "bad_timestamp";
    case RejectReason::kFutureTimestamp:
      return "future_timestamp";
    case RejectReason::kNegativeDuration:
      return "negative_duration";
    case RejectReason::kAbsurdDuration:
      return "absurd_duration";
    case RejectReason::kBadPropensity:
      return "bad_propensity";
    case RejectReason::kLate:
      return "late";
  }
  return "unknown";
}

Verdict ValidateEvent(const ListenEventView& e, absl::string_view key,
                      int64_t message_time_ms, const ValidationLimits& limits) {
  if (e.user_id().empty()) return Reject(RejectReason::kMissingUserId, "");
  const std::pair<const char*, absl::string_view> ids[] = {
      {"user_id", e.user_id()},   {"event_id", e.event_id()},
      {"track_id", e.track_id()}, {"artist_id", e.artist_id()},
      {"arm_id", e.arm_id()},     {"request_id", e.request_id()},
      {"platform", e.platform()}};
  for (const auto& [name, value] : ids) {
    if (value.size() > limits.max_id_bytes) {
      return Reject(RejectReason::kOversizedField,
                    absl::StrCat(name, " has ", value.size(), " bytes"));
    }
  }
  if (!key.empty() && key != e.user_id()) {
    return Reject(RejectReason::kKeyMismatch,
                  "message key differs from user_id");
  }
  if (!ListenEvent::Kind_IsValid(e.kind()) ||
      e.kind() == ListenEvent::KIND_UNSPECIFIED) {
    return Reject(RejectReason::kUnknownKind,
                  absl::StrCat("kind ", static_cast<int>(e.kind())));
  }
  if (e.event_time_ms() < kMinEventTimeMs ||
      e.event_time_ms() >= kMaxEventTimeMs) {
    return Reject(RejectReason::kBadTimestamp,
                  absl::StrCat("event_time_ms ", e.event_time_ms()));
  }
  // event_time_ms is in range here, so subtracting cannot overflow; the
  // message timestamp comes from the producer and may be anything.
  if (message_time_ms > 0 &&
      e.event_time_ms() - limits.max_future_skew_ms > message_time_ms) {
    return Reject(RejectReason::kFutureTimestamp,
                  absl::StrCat("event_time_ms ", e.event_time_ms(),
                               " is after message time ", message_time_ms));
  }
  if (e.ms_played() < 0 || e.track_duration_ms() < 0) {
    return Reject(RejectReason::kNegativeDuration,
                  absl::StrCat("ms_played ", e.ms_played(),
                               " track_duration_ms ", e.track_duration_ms()));
  }
  if (e.ms_played() > limits.max_duration_ms ||
      e.track_duration_ms() > limits.max_duration_ms) {
    return Reject(RejectReason::kAbsurdDuration,
                  absl::StrCat("ms_played ", e.ms_played(),
                               " track_duration_ms ", e.track_duration_ms()));
  }
  if (e.kind() == ListenEvent::IMPRESSION) {
    if (e.arm_id().empty()) {
      return Reject(RejectReason::kMissingField, "impression without arm_id");
    }
    if (std::isnan(e.propensity()) || e.propensity() <= 0 ||
        e.propensity() > 1) {
      return Reject(RejectReason::kBadPropensity,
                    absl::StrCat("propensity ", e.propensity()));
    }
    return Verdict{};
  }
  // PLAY or SKIP.
  if (e.track_id().empty()) {
    return Reject(RejectReason::kMissingField, "play/skip without track_id");
  }
  return Verdict{};
}

Verdict DecodeAndValidate(absl::string_view payload, absl::string_view key,
                          int64_t message_time_ms,
                          const ValidationLimits& limits, ListenEvent* event) {
  if (!event->ParseFromArray(payload.data(),
                             static_cast<int>(payload.size()))) {
    return Reject(RejectReason::kDecodeError,
                  absl::StrCat(payload.size(), " bytes do not parse"));
  }
  return ValidateEvent(*event, key, message_time_ms, limits);
}

Verdict DecodeAndValidate(absl::string_view payload, absl::string_view key,
                          int64_t message_time_ms,
                          const ValidationLimits& limits, ListenEvent* parsed,
                          ListenEventView* event) {
  if (!DecodeListenEvent(payload, event)) {
    if (!parsed->ParseFromArray(payload.data(),
                                static_cast<int>(payload.size()))) {
      return Reject(RejectReason::kDecodeError,
                    absl::StrCat(payload.size(), " bytes do not parse"));
    }
    *event = ListenEventView(*parsed);
  }
  return ValidateEvent(*event, key, message_time_ms, limits);
}

}  // namespace encore
