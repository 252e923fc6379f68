#include "tests/fuzz/user_record_fuzz_target.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "google/protobuf/unknown_field_set.h"
#include "state/model.h"
#include "state/user_record.h"
#include "state/user_record_wire.h"

namespace encore::fuzz {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

// What protobuf writes back for `state` once the unknown fields of its
// nested messages are dropped (the record keeps only top-level ones).
std::string CanonicalBytes(const UserState& state) {
  UserState copy = state;
  google::protobuf::UnknownFieldSet top;
  top.MergeFrom(copy.GetReflection()->GetUnknownFields(copy));
  copy.DiscardUnknownFields();
  copy.GetReflection()->MutableUnknownFields(&copy)->MergeFrom(top);
  return copy.SerializeAsString();
}

// Events that reach every kind of change: a play answering an impression,
// a play with an arm no impression names, a skip, a duplicate.
std::vector<ListenEvent> Events(const std::string& user_id, int64_t t) {
  std::vector<ListenEvent> events;
  ListenEvent e;
  e.set_user_id(user_id);
  e.set_event_id("fuzz-1");
  e.set_event_time_ms(t);
  e.set_kind(ListenEvent::IMPRESSION);
  e.set_arm_id("arm-a");
  e.set_request_id("req-1");
  e.set_propensity(0.5);
  events.push_back(e);
  e.Clear();
  e.set_user_id(user_id);
  e.set_event_id("fuzz-2");
  e.set_event_time_ms(t + 1000);
  e.set_kind(ListenEvent::PLAY);
  e.set_track_id("track");
  e.set_artist_id("artist");
  e.set_ms_played(45'000);
  e.set_track_duration_ms(180'000);
  e.set_arm_id("arm-a");
  e.set_request_id("req-1");
  events.push_back(e);
  e.set_event_id("fuzz-3");
  e.set_arm_id("arm-b");
  e.clear_request_id();
  events.push_back(e);
  e.set_event_id("fuzz-4");
  e.set_kind(ListenEvent::SKIP);
  e.set_ms_played(2'000);
  events.push_back(e);
  events.push_back(e);  // a duplicate
  return events;
}

}  // namespace

bool DecodeEncodeApply(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  UserState parsed;
  const bool valid = parsed.ParseFromString(bytes);
  UserRecord user;
  Check(DecodeFrom(bytes, &user) == valid, "decodes what protobuf parses");
  UserRecord fast;
  const bool taken = DecodeCanonical(bytes, &fast);
  Check(!taken || valid, "the fast path takes only what protobuf parses");
  if (!valid) return false;
  std::string encoded;
  EncodeTo(user, &encoded);
  Check(encoded == CanonicalBytes(parsed), "encodes protobuf's bytes");
  if (taken) {
    const UserRecord via_protobuf = FromProto(parsed);
    std::string fast_encoded;
    EncodeTo(fast, &fast_encoded);
    Check(fast_encoded == encoded, "the fast path reads what protobuf reads");
    Check(MemoryFootprint(fast) == MemoryFootprint(via_protobuf),
          "the fast path's record takes the memory protobuf's does");
  }
  Check(EncodedSize(user) == encoded.size(), "encoded size");

  static const ModelConfig model;
  // Events at a time near the stored one (never overflowing), so that
  // decay, sessions and attribution meet the stored values.
  const int64_t t =
      user.last_seen_ms > 0 && user.last_seen_ms < (int64_t{1} << 50)
          ? user.last_seen_ms
          : 1'790'000'000'000;
  const std::string user_id = user.user_id.empty() ? "u" : user.user_id;
  for (const ListenEvent& e : Events(user_id, t)) {
    ApplyEvent(model, e, &user);
  }
  ExpireImpressions(model, t + model.attribution_window_ms + 2000, &user);
  Check(user.arms.size() <= model.max_arms_per_user, "arms within bound");
  encoded.clear();
  EncodeTo(user, &encoded);
  UserState back;
  Check(back.ParseFromString(encoded), "applied state parses");
  Check(back.SerializeAsString() == encoded, "applied state round-trips");
  return true;
}

}  // namespace encore::fuzz
