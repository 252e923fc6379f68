// Decoding and validation of input messages (rules in stream/VALIDATION.md).
//
// A message that fails is dead-lettered with its reason and the stream goes
// on (DESIGN rule 5). Validation uses only the message itself, so replaying
// the same messages rejects the same ones: "too far in the future" is judged
// against the Kafka message timestamp, not the wall clock.
#ifndef ENCORE_STREAM_VALIDATION_H_
#define ENCORE_STREAM_VALIDATION_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "proto/event.pb.h"
#include "state/listen_event.h"

namespace encore {

enum class RejectReason {
  kNone = 0,
  kDecodeError,       // payload is not a ListenEvent
  kMissingUserId,     // empty user_id
  kKeyMismatch,       // Kafka key present and different from user_id
  kOversizedField,    // an id or string field longer than its bound
  kUnknownKind,       // kind unset or not a known value
  kMissingField,      // a field the kind requires is empty
  kBadTimestamp,      // event time before 2000-01-01 or after 2100-01-01
  kFutureTimestamp,   // event time too far after the message timestamp
  kNegativeDuration,  // ms_played or track_duration_ms < 0
  kAbsurdDuration,    // ms_played or track_duration_ms over the bound
  kBadPropensity,     // impression propensity not in (0, 1], or NaN
  kLate,              // behind the partition's watermark by more than the
                      // lateness bound (judged by the processor)
};
inline constexpr int kNumRejectReasons = 13;

// A stable snake_case name ("decode_error", ...), used in metrics labels and
// dead-letter headers.
absl::string_view RejectReasonName(RejectReason reason);

struct ValidationLimits {
  size_t max_id_bytes = 256;                // user/track/artist/arm/event ids
  int64_t max_future_skew_ms = 3'600'000;   // vs the Kafka message timestamp
  int64_t max_duration_ms = 6 * 3'600'000;  // track length and ms played
};

struct Verdict {
  RejectReason reason = RejectReason::kNone;
  std::string detail;  // human-readable, for the dead-letter header
  bool ok() const { return reason == RejectReason::kNone; }
};

// Checks a decoded event. `key` is the Kafka message key (empty if none);
// `message_time_ms` its Kafka timestamp (<= 0 if unknown: the future check is
// then skipped).
Verdict ValidateEvent(const ListenEventView& event, absl::string_view key,
                      int64_t message_time_ms, const ValidationLimits& limits);

// Decodes `payload` into *event and validates it.
Verdict DecodeAndValidate(absl::string_view payload, absl::string_view key,
                          int64_t message_time_ms,
                          const ValidationLimits& limits, ListenEvent* event);
// The same into a view (state/listen_event.h), the processor's per-event
// path: *event views `payload`, or *parsed when the payload is in a form
// only protobuf's parser takes. The verdict is the same either way.
Verdict DecodeAndValidate(absl::string_view payload, absl::string_view key,
                          int64_t message_time_ms,
                          const ValidationLimits& limits, ListenEvent* parsed,
                          ListenEventView* event);

}  // namespace encore

#endif  // ENCORE_STREAM_VALIDATION_H_
