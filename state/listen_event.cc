#include "state/listen_event.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "state/wire_reader.h"

namespace encore {
namespace {

// PeekEventTime for what wire::Reader declines (groups, fixed32 fields,
// overlong varints): protobuf's own reader and skipping rules.
std::optional<int64_t> PeekEventTimeViaProtobuf(absl::string_view payload) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(payload.data()),
      static_cast<int>(payload.size()));
  std::optional<int64_t> time;
  while (const uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) ==
            ListenEvent::kEventTimeMsFieldNumber &&
        WireFormatLite::GetTagWireType(tag) ==
            WireFormatLite::WIRETYPE_VARINT) {
      uint64_t v = 0;
      if (!in.ReadVarint64(&v)) return std::nullopt;
      time = static_cast<int64_t>(v);
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return std::nullopt;
    }
  }
  return time;
}

}  // namespace

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

std::optional<int64_t> PeekEventTime(absl::string_view payload) {
  wire::Reader r(payload);
  std::optional<int64_t> time;
  while (!r.done()) {
    uint32_t field, type;
    if (!r.Tag(&field, &type)) return PeekEventTimeViaProtobuf(payload);
    if (field == ListenEvent::kEventTimeMsFieldNumber &&
        type == wire::kVarint) {
      int64_t v;
      if (!r.Int64(&v)) return PeekEventTimeViaProtobuf(payload);
      time = v;
    } else if (!r.Skip(type)) {
      return PeekEventTimeViaProtobuf(payload);
    }
  }
  return time;
}

}  // namespace encore
