// ListenEventView: one listening event's fields as the model and the
// validator read them, its strings viewing the bytes they came from. The
// processor reads each Kafka payload straight into one (DecodeListenEvent),
// so an event costs no copy of its strings into a protobuf message and no
// pass of protobuf's generic parser (which, with UTF-8 checks and string
// copies, was 8.8-10.4 % of encore's samples on the small case,
// bench/results/event-decode.md).
//
//   ListenEventView event;
//   ListenEvent parsed;  // outlives `event` when the parser is used
//   if (!DecodeListenEvent(payload, &event)) {
//     if (!parsed.ParseFromArray(...)) ...reject...
//     event = ListenEventView(parsed);
//   }
//   ApplyEvent(config, event, &user);
//
// DecodeListenEvent takes fields 1 to 13 of their declared wire types, in
// any order and any number of times (the last one wins, as in parsing),
// with strings of ASCII only: every form protobuf's serializer writes, and
// a few it does not (non-minimal varints, default values written out). It
// declines anything else (unknown fields, a field of another wire type,
// non-ASCII strings that need UTF-8 validation, a tag or length longer than
// protobuf reads, a tenth varint byte protobuf would truncate, malformed
// bytes), and the caller hands the payload to protobuf's parser. So the
// fields it yields are always those the parser would.
//
// Thread safety: plain data; a view is valid while what it views is.
#ifndef ENCORE_STATE_LISTEN_EVENT_H_
#define ENCORE_STATE_LISTEN_EVENT_H_

#include <cstdint>
#include <optional>

#include "absl/base/attributes.h"
#include "absl/strings/string_view.h"
#include "proto/event.pb.h"

namespace encore {

class ListenEventView {
 public:
  ListenEventView() = default;
  // Views `event` (implicitly, as a string_view views a string: the event
  // must outlive the view), so tests and tools holding ListenEvents call
  // the model directly.
  ListenEventView(  // NOLINT(runtime/explicit)
      const ListenEvent& event ABSL_ATTRIBUTE_LIFETIME_BOUND);

  absl::string_view event_id() const { return event_id_; }
  absl::string_view user_id() const { return user_id_; }
  int64_t event_time_ms() const { return event_time_ms_; }
  // Any int32: proto3 enums are open, and validation rejects unknown kinds.
  ListenEvent::Kind kind() const { return kind_; }
  absl::string_view track_id() const { return track_id_; }
  absl::string_view artist_id() const { return artist_id_; }
  absl::string_view arm_id() const { return arm_id_; }
  int64_t ms_played() const { return ms_played_; }
  int64_t track_duration_ms() const { return track_duration_ms_; }
  absl::string_view request_id() const { return request_id_; }
  double propensity() const { return propensity_; }
  absl::string_view platform() const { return platform_; }
  int32_t utc_offset_minutes() const { return utc_offset_minutes_; }

 private:
  friend bool DecodeListenEvent(absl::string_view payload,
                                ListenEventView* event);

  absl::string_view event_id_;
  absl::string_view user_id_;
  int64_t event_time_ms_ = 0;
  ListenEvent::Kind kind_ = ListenEvent::KIND_UNSPECIFIED;
  absl::string_view track_id_;
  absl::string_view artist_id_;
  absl::string_view arm_id_;
  int64_t ms_played_ = 0;
  int64_t track_duration_ms_ = 0;
  absl::string_view request_id_;
  double propensity_ = 0;
  absl::string_view platform_;
  int32_t utc_offset_minutes_ = 0;
};

// Replaces *event with the fields `payload` holds, viewing `payload`, and
// returns true when the payload is in the form above; false otherwise
// (*event unspecified): parse it with protobuf then.
bool DecodeListenEvent(absl::string_view payload, ListenEventView* event);

// The event time `payload` carries (the last field 3, as in parsing), read
// without decoding the rest: for looking ahead over a batch. nullopt if it
// has none, or if its fields cannot be skipped as wire format (protobuf's
// rules: nothing else is checked, so a payload that fails to parse, say on
// invalid UTF-8, may still give its time).
std::optional<int64_t> PeekEventTime(absl::string_view payload);

}  // namespace encore

#endif  // ENCORE_STATE_LISTEN_EVENT_H_
