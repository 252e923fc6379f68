#include "state/listen_event.h"

#include "state/wire_reader.h"

namespace encore {

ListenEventView::ListenEventView(const ListenEvent& event)
    : event_id_(event.event_id()),
      user_id_(event.user_id()),
      event_time_ms_(event.event_time_ms()),
      kind_(event.kind()),
      track_id_(event.track_id()),
      artist_id_(event.artist_id()),
      arm_id_(event.arm_id()),
      ms_played_(event.ms_played()),
      track_duration_ms_(event.track_duration_ms()),
      request_id_(event.request_id()),
      propensity_(event.propensity()),
      platform_(event.platform()),
      utc_offset_minutes_(event.utc_offset_minutes()) {}

bool DecodeListenEvent(absl::string_view payload, ListenEventView* event) {
  using wire::kFixed64;
  using wire::kLength;
  using wire::kVarint;
  *event = ListenEventView();
  wire::Reader r(payload);
  while (!r.done()) {
    uint32_t field, type;
    if (!r.Tag(&field, &type)) return false;
    bool ok = false;
    switch (field) {
      case ListenEvent::kEventIdFieldNumber:
        ok = type == kLength && r.Ascii(&event->event_id_);
        break;
      case ListenEvent::kUserIdFieldNumber:
        ok = type == kLength && r.Ascii(&event->user_id_);
        break;
      case ListenEvent::kEventTimeMsFieldNumber:
        ok = type == kVarint && r.Int64(&event->event_time_ms_);
        break;
      case ListenEvent::kKindFieldNumber: {
        int32_t kind = 0;
        ok = type == kVarint && r.Int32(&kind);
        // Open enum: every int32 is a value of it (protoc adds INT_MIN and
        // INT_MAX sentinels), as protobuf's parser stores it.
        event->kind_ = static_cast<ListenEvent::Kind>(kind);
        break;
      }
      case ListenEvent::kTrackIdFieldNumber:
        ok = type == kLength && r.Ascii(&event->track_id_);
        break;
      case ListenEvent::kArtistIdFieldNumber:
        ok = type == kLength && r.Ascii(&event->artist_id_);
        break;
      case ListenEvent::kArmIdFieldNumber:
        ok = type == kLength && r.Ascii(&event->arm_id_);
        break;
      case ListenEvent::kMsPlayedFieldNumber:
        ok = type == kVarint && r.Int64(&event->ms_played_);
        break;
      case ListenEvent::kTrackDurationMsFieldNumber:
        ok = type == kVarint && r.Int64(&event->track_duration_ms_);
        break;
      case ListenEvent::kRequestIdFieldNumber:
        ok = type == kLength && r.Ascii(&event->request_id_);
        break;
      case ListenEvent::kPropensityFieldNumber:
        ok = type == kFixed64 && r.Double(&event->propensity_);
        break;
      case ListenEvent::kPlatformFieldNumber:
        ok = type == kLength && r.Ascii(&event->platform_);
        break;
      case ListenEvent::kUtcOffsetMinutesFieldNumber:
        ok = type == kVarint && r.Int32(&event->utc_offset_minutes_);
        break;
      default:
        break;  // declined: protobuf keeps it among the unknown fields
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace encore
