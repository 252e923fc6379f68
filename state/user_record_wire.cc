#include "state/user_record_wire.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "state/wire_reader.h"

namespace encore {
namespace {

using wire::kFixed64;
using wire::kLength;
using wire::kVarint;
using wire::Reader;

// A packed field of doubles or fixed64s into `out` (std::vector or
// absl::InlinedVector), sized as assigning from a protobuf RepeatedField
// sizes it.
template <class Values>
bool Packed8(absl::string_view bytes, Values* out) {
  if (bytes.size() % 8 != 0) return false;
  out->assign(bytes.size() / 8, 0);
  if (!bytes.empty()) std::memcpy(out->data(), bytes.data(), bytes.size());
  return true;
}

bool PackedVarints(absl::string_view bytes, std::vector<int64_t>* out) {
  size_t n = 0;
  for (char c : bytes) n += (static_cast<unsigned char>(c) & 0x80) == 0;
  out->assign(n, 0);
  Reader r(bytes);
  for (int64_t& v : *out) {
    uint64_t u;
    if (!r.Varint(&u)) return false;
    v = static_cast<int64_t>(u);
  }
  return r.done();
}

// Counts, for each of `fields`, the fields of that number (of any wire
// type) in a message into counts[i], so that repeated message fields are
// reserved exactly, as FromProto does.
template <size_t N>
bool Count(absl::string_view bytes, const uint32_t (&fields)[N],
           size_t (&counts)[N]) {
  Reader r(bytes);
  for (size_t& c : counts) c = 0;
  while (!r.done()) {
    uint32_t f, type;
    if (!r.Tag(&f, &type) || !r.Skip(type)) return false;
    for (size_t i = 0; i < N; ++i) counts[i] += f == fields[i];
  }
  return true;
}

// True the first time for *seen, false after: a second occurrence of a
// field that must come once.
bool Once(bool* seen) { return !std::exchange(*seen, true); }

// The decoders of the messages: each reads a whole message and declines a
// field it does not know, of another wire type than its own, or a second
// occurrence of a string, packed or message field (protobuf would keep the
// last string, append the packed values, merge the messages). A string's
// capacity is what FromProto's copy of it gets: exact for a copy
// construction, libstdc++'s growth for a copy-assignment.
//
// ENCORE_READ(wire, read): the field must be of wire type `wire` and
// `read` must succeed.
#define ENCORE_READ(wire, read) \
  if (type != (wire) || !(read)) return false;

bool ReadCounters(absl::string_view bytes, CountersRecord* c) {
  Reader r(bytes);
  bool seen[5] = {};
  while (!r.done()) {
    uint32_t f, type;
    absl::string_view b;
    if (!r.Tag(&f, &type)) return false;
    switch (f) {
      case 1:
        ENCORE_READ(kVarint, r.Int64(&c->ref_time_ms));
        break;
      case 2:
      case 3:
      case 4:
        ENCORE_READ(kLength, Once(&seen[f]) && r.Bytes(&b));
        if (!Packed8(b, f == 2   ? &c->plays
                        : f == 3 ? &c->skips
                                 : &c->ms_played)) {
          return false;
        }
        break;
      default:
        return false;
    }
  }
  return true;
}

bool ReadArm(absl::string_view bytes, ArmRecord* a) {
  Reader r(bytes);
  while (!r.done()) {
    uint32_t f, type;
    absl::string_view s;
    if (!r.Tag(&f, &type)) return false;
    switch (f) {
      case 1:
        ENCORE_READ(kLength, r.Ascii(&s) && a->arm_id.empty());
        a->arm_id = std::string(s);  // sized as FromProto's copy
        break;
      case 2:
        ENCORE_READ(kFixed64, r.Double(&a->successes));
        break;
      case 3:
        ENCORE_READ(kFixed64, r.Double(&a->failures));
        break;
      case 4:
        ENCORE_READ(kVarint, r.Int64(&a->ref_time_ms));
        break;
      case 5:
        ENCORE_READ(kVarint, r.Int64(&a->last_event_time_ms));
        break;
      case 6:
        ENCORE_READ(kVarint, r.Varint(&a->updates));
        break;
      case 7:
        ENCORE_READ(kFixed64, r.Double(&a->reward_weight));
        break;
      case 8:
        ENCORE_READ(kFixed64, r.Double(&a->reward_sum));
        break;
      case 9:
        ENCORE_READ(kFixed64, r.Double(&a->reward_sum_sq));
        break;
      default:
        return false;
    }
  }
  return true;
}

bool ReadFeatures(absl::string_view bytes, FeaturesRecord* x) {
  Reader r(bytes);
  bool hours = false, days = false;
  while (!r.done()) {
    uint32_t f, type;
    absl::string_view b;
    if (!r.Tag(&f, &type)) return false;
    switch (f) {
      case 1:
        ENCORE_READ(kVarint, r.Int64(&x->ref_time_ms));
        break;
      case 2:
        ENCORE_READ(kFixed64, r.Double(&x->completion_weight));
        break;
      case 3:
        ENCORE_READ(kFixed64, r.Double(&x->completion_sum));
        break;
      case 4:
        ENCORE_READ(kFixed64, r.Double(&x->completion_sum_sq));
        break;
      case 5:
        ENCORE_READ(kFixed64, r.Double(&x->starts));
        break;
      case 6:
        ENCORE_READ(kFixed64, r.Double(&x->early_skips));
        break;
      case 7:
        ENCORE_READ(kFixed64, r.Double(&x->late_skips));
        break;
      case 8:
        ENCORE_READ(kLength,
                    Once(&hours) && r.Bytes(&b) && Packed8(b, &x->hour_of_day));
        break;
      case 9:
        ENCORE_READ(kLength,
                    Once(&days) && r.Bytes(&b) && Packed8(b, &x->day_of_week));
        break;
      case 10:
        ENCORE_READ(kVarint, r.Int32(&x->utc_offset_minutes));
        break;
      default:
        return false;
    }
  }
  return true;
}

bool ReadHeavyHitter(absl::string_view bytes, HeavyHitterRecord* h) {
  Reader r(bytes);
  while (!r.done()) {
    uint32_t f, type;
    absl::string_view s;
    if (!r.Tag(&f, &type)) return false;
    switch (f) {
      case 1:
        ENCORE_READ(kLength, r.Ascii(&s) && h->id.empty());
        h->id = std::string(s);
        break;
      case 2:
        ENCORE_READ(kFixed64, r.Double(&h->weight));
        break;
      case 3:
        ENCORE_READ(kFixed64, r.Double(&h->error));
        break;
      default:
        return false;
    }
  }
  return true;
}

bool ReadTopItems(absl::string_view bytes, TopItemsRecord* t) {
  size_t items[1];
  if (!Count(bytes, {3}, items)) return false;
  t->items.reserve(items[0]);
  Reader r(bytes);
  while (!r.done()) {
    uint32_t f, type;
    absl::string_view b;
    if (!r.Tag(&f, &type)) return false;
    switch (f) {
      case 1:
        ENCORE_READ(kVarint, r.Int64(&t->ref_time_ms));
        break;
      case 2:
        ENCORE_READ(kFixed64, r.Double(&t->total));
        break;
      case 3:
        ENCORE_READ(kLength, r.Bytes(&b) &&
                                 ReadHeavyHitter(b, &t->items.emplace_back()));
        break;
      default:
        return false;
    }
  }
  return true;
}

bool ReadDistinct(absl::string_view bytes, DistinctRecord* d) {
  Reader r(bytes);
  bool exact = false;
  while (!r.done()) {
    uint32_t f, type;
    absl::string_view b;
    if (!r.Tag(&f, &type)) return false;
    switch (f) {
      case 1:
        ENCORE_READ(kLength,
                    Once(&exact) && r.Bytes(&b) && Packed8(b, &d->exact));
        break;
      case 2:  // `bytes`: no UTF-8 to check; sized as a copy-assignment
        ENCORE_READ(kLength, r.Bytes(&b) && d->registers.empty());
        d->registers.assign(b.data(), b.size());
        break;
      default:
        return false;
    }
  }
  return true;
}

bool ReadSessions(absl::string_view bytes, SessionsRecord* x) {
  Reader r(bytes);
  while (!r.done()) {
    uint32_t f, type;
    if (!r.Tag(&f, &type)) return false;
    switch (f) {
      case 1:
        ENCORE_READ(kVarint, r.Int64(&x->start_ms));
        break;
      case 2:
        ENCORE_READ(kVarint, r.Int64(&x->last_ms));
        break;
      case 3:
        ENCORE_READ(kVarint, r.UInt32(&x->plays));
        break;
      case 4:
        ENCORE_READ(kVarint, r.UInt32(&x->skips));
        break;
      case 5:
        ENCORE_READ(kVarint, r.Varint(&x->count));
        break;
      case 6:
        ENCORE_READ(kVarint, r.Int64(&x->ref_time_ms));
        break;
      case 7:
        ENCORE_READ(kFixed64, r.Double(&x->completed_weight));
        break;
      case 8:
        ENCORE_READ(kFixed64, r.Double(&x->completed_length_ms));
        break;
      case 9:
        ENCORE_READ(kVarint, r.Varint(&x->out_of_order_events));
        break;
      default:
        return false;
    }
  }
  return true;
}

bool ReadRecentPlay(absl::string_view bytes, RecentPlayRecord* play) {
  Reader r(bytes);
  while (!r.done()) {
    uint32_t f, type;
    absl::string_view s;
    if (!r.Tag(&f, &type)) return false;
    switch (f) {
      case 1:
        ENCORE_READ(kLength, r.Ascii(&s) && play->track_id.empty());
        play->track_id = std::string(s);
        break;
      case 2:
        ENCORE_READ(kVarint, r.Int64(&play->time_ms));
        break;
      default:
        return false;
    }
  }
  return true;
}

bool ReadPending(absl::string_view bytes, PendingRecord* p) {
  Reader r(bytes);
  bool context = false;
  while (!r.done()) {
    uint32_t f, type;
    uint64_t v;
    absl::string_view b;
    if (!r.Tag(&f, &type)) return false;
    switch (f) {
      case 1:  // sized as FromProto's copy-assignment
        ENCORE_READ(kLength, r.Ascii(&b) && p->request_id.empty());
        p->request_id.assign(b.data(), b.size());
        break;
      case 2:
        ENCORE_READ(kLength, r.Ascii(&b) && p->arm_id.empty());
        p->arm_id.assign(b.data(), b.size());
        break;
      case 3:
        ENCORE_READ(kVarint, r.Int64(&p->time_ms));
        break;
      case 4:
        ENCORE_READ(kFixed64, r.Double(&p->propensity));
        break;
      case 5:
        ENCORE_READ(kLength,
                    Once(&context) && r.Bytes(&b) && Packed8(b, &p->context));
        break;
      case 6:
        ENCORE_READ(kVarint, r.Varint(&v));
        p->answered = v != 0;
        break;
      case 7:
        ENCORE_READ(kFixed64, r.Double(&p->reward));
        break;
      default:
        return false;
    }
  }
  return true;
}

// Top-level fields 1-24 of UserState (one past them: unknown, declined).
bool ReadUser(absl::string_view bytes, UserRecord* u) {
  // arms, recent_plays and pending, reserved as FromProto reserves them.
  size_t repeated[3];
  if (!Count(bytes, {10, 16, 20}, repeated)) return false;
  u->arms.reserve(repeated[0]);
  u->recent_plays.reserve(repeated[1]);
  u->pending.reserve(repeated[2]);

  Reader r(bytes);
  bool half_lives = false, event_ids = false;
  while (!r.done()) {
    uint32_t f, type;
    absl::string_view b;
    if (!r.Tag(&f, &type)) return false;
    switch (f) {
      case 1:
        ENCORE_READ(kLength, r.Ascii(&b) && u->user_id.empty());
        u->user_id.assign(b.data(), b.size());
        break;
      case 2:
        ENCORE_READ(kVarint, r.Int64(&u->first_seen_ms));
        break;
      case 3:
        ENCORE_READ(kVarint, r.Int64(&u->last_seen_ms));
        break;
      case 4:
        ENCORE_READ(kVarint, r.Varint(&u->events));
        break;
      case 5:
        ENCORE_READ(kVarint, r.Varint(&u->plays));
        break;
      case 6:
        ENCORE_READ(kVarint, r.Varint(&u->skips));
        break;
      case 7:
        ENCORE_READ(kVarint, r.Varint(&u->impressions));
        break;
      case 8:
        ENCORE_READ(kLength, Once(&half_lives) && r.Bytes(&b) &&
                                 PackedVarints(b, &u->half_lives_ms));
        break;
      case 9:
        ENCORE_READ(kLength, Once(&u->has_counters) && r.Bytes(&b) &&
                                 ReadCounters(b, &u->counters));
        break;
      case 10:
        ENCORE_READ(kLength,
                    r.Bytes(&b) && ReadArm(b, &u->arms.emplace_back()));
        break;
      case 11:
        ENCORE_READ(kVarint, r.Varint(&u->arms_dropped));
        break;
      case 12:
        ENCORE_READ(kLength, Once(&u->has_features) && r.Bytes(&b) &&
                                 ReadFeatures(b, &u->features));
        break;
      case 13:
        ENCORE_READ(kLength, Once(&u->has_top_artists) && r.Bytes(&b) &&
                                 ReadTopItems(b, &u->top_artists));
        break;
      case 14:
        ENCORE_READ(kLength, Once(&u->has_distinct_artists) && r.Bytes(&b) &&
                                 ReadDistinct(b, &u->distinct_artists));
        break;
      case 15:
        ENCORE_READ(kLength, Once(&u->has_sessions) && r.Bytes(&b) &&
                                 ReadSessions(b, &u->sessions));
        break;
      case 16: {
        RecentPlayRecord play;
        ENCORE_READ(kLength, r.Bytes(&b) && ReadRecentPlay(b, &play));
        u->recent_plays.push_back(std::move(play));
        break;
      }
      case 17:
        ENCORE_READ(kLength, Once(&event_ids) && r.Bytes(&b) &&
                                 Packed8(b, &u->recent_event_ids));
        break;
      case 18:
        ENCORE_READ(kVarint, r.UInt32(&u->recent_event_ids_next));
        break;
      case 19:
        ENCORE_READ(kVarint, r.Varint(&u->duplicates));
        break;
      case 20:
        ENCORE_READ(kLength,
                    r.Bytes(&b) && ReadPending(b, &u->pending.emplace_back()));
        break;
      case 21:
        ENCORE_READ(kVarint, r.Varint(&u->rewards_attributed));
        break;
      case 22:
        ENCORE_READ(kVarint, r.Varint(&u->impressions_expired));
        break;
      case 23:
        ENCORE_READ(kVarint, r.Varint(&u->impressions_dropped));
        break;
      case 24:
        ENCORE_READ(kVarint, r.Varint(&u->rewards_unattributed));
        break;
      default:  // unknown: protobuf keeps it, as UserRecord::unknown_fields
        return false;
    }
  }
  return true;
}

#undef ENCORE_READ

}  // namespace

bool DecodeCanonical(absl::string_view bytes, UserRecord* user) {
  // Filled fresh and moved in, as DecodeFrom's protobuf path moves in
  // FromProto's result (a move keeps the destination's buffer for a short
  // string, so both must start from the same place).
  UserRecord fresh;
  if (!ReadUser(bytes, &fresh)) return false;
  *user = std::move(fresh);
  return true;
}

}  // namespace encore
