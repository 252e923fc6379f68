#include "state/user_record.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>

#include "absl/container/inlined_vector.h"
#include "google/protobuf/unknown_field_set.h"
#include "state/allocator.h"
#include "state/user_record_wire.h"

namespace encore {
namespace {

// The encoder runs every field through a sink: SizeSink counts bytes,
// ArraySink writes them. A nested message is written as its length
// followed by its fields. The sizing pass records each nested message's
// length, in the order the messages are written, and the writing pass
// takes them from that list rather than sizing every nested message again
// at each level (a top item, two deep, was sized three times).
// Field order, omitted defaults and packed encodings follow what protoc's
// generated serializer does for proto3: fields in number order, a scalar
// only if it is not zero (a double only if its bits are not all zero, so
// -0.0 is written), a string only if not empty, a repeated scalar field
// packed if not empty, a message field if present, and unknown fields last.

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2 };

size_t VarintSize(uint64_t v) {
  // 1 byte per started group of 7 bits (v | 1 gives 0 one byte).
  return static_cast<size_t>((std::bit_width(v | 1) + 6) / 7);
}

// The lengths of a record's nested messages, in the order they are written.
// Most records have fewer than 128 nested messages.
using MessageSizes = absl::InlinedVector<uint32_t, 128>;

class SizeSink {
 public:
  // `sizes` receives every nested message's length.
  explicit SizeSink(MessageSizes& sizes) : sizes_(sizes) {}
  void Varint(uint64_t v) { size_ += VarintSize(v); }
  void Fixed64(uint64_t) { size_ += 8; }
  void Bytes(absl::string_view b) { size_ += b.size(); }
  size_t size() const { return size_; }

  // A nested message `field` whose fields `write(*this)` counts.
  template <class Write>
  void Message(uint32_t field, const Write& write) {
    // Its slot is taken before its fields are counted, so that the slots
    // are in the order the writing pass meets the messages.
    const size_t slot = sizes_.size();
    sizes_.push_back(0);
    const size_t start = size_;
    write(*this);
    const size_t inner = size_ - start;
    sizes_[slot] = static_cast<uint32_t>(inner);
    size_ += VarintSize((field << 3) | kLength) + VarintSize(inner);
  }

 private:
  MessageSizes& sizes_;
  size_t size_ = 0;
};

// Writes into a buffer EncodedSize() bytes long, with the nested messages'
// lengths a SizeSink recorded. The wire format is little-endian, as is every
// machine encore builds for.
static_assert(std::endian::native == std::endian::little);
class ArraySink {
 public:
  ArraySink(char* out, const MessageSizes& sizes) : out_(out), sizes_(sizes) {}
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      *out_++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *out_++ = static_cast<char>(v);
  }
  void Fixed64(uint64_t v) {
    std::memcpy(out_, &v, 8);
    out_ += 8;
  }
  void Bytes(absl::string_view b) {
    if (b.empty()) return;
    std::memcpy(out_, b.data(), b.size());
    out_ += b.size();
  }

  template <class Write>
  void Message(uint32_t field, const Write& write) {
    assert(next_size_ < sizes_.size());
    const uint32_t inner = sizes_[next_size_++];
    Varint((field << 3) | kLength);
    Varint(inner);
    [[maybe_unused]] const char* start = out_;
    write(*this);
    assert(out_ == start + inner);
  }

  char* position() const { return out_; }
  bool used_all_sizes() const { return next_size_ == sizes_.size(); }

 private:
  char* out_;
  const MessageSizes& sizes_;
  size_t next_size_ = 0;
};

template <class Sink>
void Tag(Sink& s, uint32_t field, WireType type) {
  s.Varint((field << 3) | type);
}
template <class Sink>
void Int64(Sink& s, uint32_t field, int64_t v) {
  if (v == 0) return;
  Tag(s, field, kVarint);
  s.Varint(static_cast<uint64_t>(v));
}
template <class Sink>
void UInt64(Sink& s, uint32_t field, uint64_t v) {
  if (v == 0) return;
  Tag(s, field, kVarint);
  s.Varint(v);
}
template <class Sink>
void Int32(Sink& s, uint32_t field, int32_t v) {
  if (v == 0) return;
  Tag(s, field, kVarint);
  s.Varint(static_cast<uint64_t>(static_cast<int64_t>(v)));  // sign-extended
}
template <class Sink>
void Bool(Sink& s, uint32_t field, bool v) {
  if (!v) return;
  Tag(s, field, kVarint);
  s.Varint(1);
}
template <class Sink>
void Double(Sink& s, uint32_t field, double v) {
  const uint64_t bits = std::bit_cast<uint64_t>(v);
  if (bits == 0) return;
  Tag(s, field, kFixed64);
  s.Fixed64(bits);
}
template <class Sink>
void String(Sink& s, uint32_t field, absl::string_view v) {
  if (v.empty()) return;
  Tag(s, field, kLength);
  s.Varint(v.size());
  s.Bytes(v);
}
// Doubles and fixed64s are written as their 8 little-endian bytes each.
template <class Sink, class Values>
void Packed8(Sink& s, uint32_t field, const Values& values) {
  static_assert(sizeof(*values.data()) == 8);
  if (values.empty()) return;
  Tag(s, field, kLength);
  s.Varint(8 * values.size());
  s.Bytes(absl::string_view(reinterpret_cast<const char*>(values.data()),
                            8 * values.size()));
}
template <class Sink>
void PackedInt64(Sink& s, uint32_t field, const std::vector<int64_t>& values) {
  if (values.empty()) return;
  size_t bytes = 0;
  for (int64_t v : values) bytes += VarintSize(static_cast<uint64_t>(v));
  Tag(s, field, kLength);
  s.Varint(bytes);
  for (int64_t v : values) s.Varint(static_cast<uint64_t>(v));
}
template <class Sink>
void WriteCounters(Sink& s, const CountersRecord& c) {
  Int64(s, 1, c.ref_time_ms);
  Packed8(s, 2, c.plays);
  Packed8(s, 3, c.skips);
  Packed8(s, 4, c.ms_played);
}

template <class Sink>
void WriteArm(Sink& s, const ArmRecord& a) {
  String(s, 1, a.arm_id);
  Double(s, 2, a.successes);
  Double(s, 3, a.failures);
  Int64(s, 4, a.ref_time_ms);
  Int64(s, 5, a.last_event_time_ms);
  UInt64(s, 6, a.updates);
  Double(s, 7, a.reward_weight);
  Double(s, 8, a.reward_sum);
  Double(s, 9, a.reward_sum_sq);
}

template <class Sink>
void WriteFeatures(Sink& s, const FeaturesRecord& f) {
  Int64(s, 1, f.ref_time_ms);
  Double(s, 2, f.completion_weight);
  Double(s, 3, f.completion_sum);
  Double(s, 4, f.completion_sum_sq);
  Double(s, 5, f.starts);
  Double(s, 6, f.early_skips);
  Double(s, 7, f.late_skips);
  Packed8(s, 8, f.hour_of_day);
  Packed8(s, 9, f.day_of_week);
  Int32(s, 10, f.utc_offset_minutes);
}

template <class Sink>
void WriteTopItems(Sink& s, const TopItemsRecord& t) {
  Int64(s, 1, t.ref_time_ms);
  Double(s, 2, t.total);
  for (const HeavyHitterRecord& h : t.items) {
    s.Message(3, [&h](auto& m) {
      String(m, 1, h.id);
      Double(m, 2, h.weight);
      Double(m, 3, h.error);
    });
  }
}

template <class Sink>
void WriteDistinct(Sink& s, const DistinctRecord& d) {
  Packed8(s, 1, d.exact);
  String(s, 2, d.registers);
}

template <class Sink>
void WriteSessions(Sink& s, const SessionsRecord& x) {
  Int64(s, 1, x.start_ms);
  Int64(s, 2, x.last_ms);
  UInt64(s, 3, x.plays);
  UInt64(s, 4, x.skips);
  UInt64(s, 5, x.count);
  Int64(s, 6, x.ref_time_ms);
  Double(s, 7, x.completed_weight);
  Double(s, 8, x.completed_length_ms);
  UInt64(s, 9, x.out_of_order_events);
}

template <class Sink>
void WritePending(Sink& s, const PendingRecord& p) {
  String(s, 1, p.request_id);
  String(s, 2, p.arm_id);
  Int64(s, 3, p.time_ms);
  Double(s, 4, p.propensity);
  Packed8(s, 5, p.context);
  Bool(s, 6, p.answered);
  Double(s, 7, p.reward);
}

template <class Sink>
void WriteUser(Sink& s, const UserRecord& u) {
  String(s, 1, u.user_id);
  Int64(s, 2, u.first_seen_ms);
  Int64(s, 3, u.last_seen_ms);
  UInt64(s, 4, u.events);
  UInt64(s, 5, u.plays);
  UInt64(s, 6, u.skips);
  UInt64(s, 7, u.impressions);
  PackedInt64(s, 8, u.half_lives_ms);
  if (u.has_counters) {
    s.Message(9, [&u](auto& m) { WriteCounters(m, u.counters); });
  }
  for (const ArmRecord& a : u.arms) {
    s.Message(10, [&a](auto& m) { WriteArm(m, a); });
  }
  UInt64(s, 11, u.arms_dropped);
  if (u.has_features) {
    s.Message(12, [&u](auto& m) { WriteFeatures(m, u.features); });
  }
  if (u.has_top_artists) {
    s.Message(13, [&u](auto& m) { WriteTopItems(m, u.top_artists); });
  }
  if (u.has_distinct_artists) {
    s.Message(14, [&u](auto& m) { WriteDistinct(m, u.distinct_artists); });
  }
  if (u.has_sessions) {
    s.Message(15, [&u](auto& m) { WriteSessions(m, u.sessions); });
  }
  for (const RecentPlayRecord& r : u.recent_plays) {
    s.Message(16, [&r](auto& m) {
      String(m, 1, r.track_id);
      Int64(m, 2, r.time_ms);
    });
  }
  Packed8(s, 17, u.recent_event_ids);
  UInt64(s, 18, u.recent_event_ids_next);
  UInt64(s, 19, u.duplicates);
  for (const PendingRecord& p : u.pending) {
    s.Message(20, [&p](auto& m) { WritePending(m, p); });
  }
  UInt64(s, 21, u.rewards_attributed);
  UInt64(s, 22, u.impressions_expired);
  UInt64(s, 23, u.impressions_dropped);
  UInt64(s, 24, u.rewards_unattributed);
  s.Bytes(u.unknown_fields);
}

template <class To, class From>
void Assign(To* to, const From& from) {
  to->assign(from.begin(), from.end());
}

size_t HeapBytes(const std::string& s) { return StringHeapBytes(s.capacity()); }

template <class T>
size_t HeapBytes(const std::vector<T>& v) {
  return MallocBytes(v.capacity() * sizeof(T));
}

template <class T, size_t N>
size_t HeapBytes(const absl::InlinedVector<T, N>& v) {
  return v.capacity() > N ? MallocBytes(v.capacity() * sizeof(T)) : 0;
}

}  // namespace

size_t StringHeapBytes(size_t capacity) {
  // libstdc++ keeps up to 15 characters in the string object itself.
  return capacity > 15 ? MallocBytes(capacity + 1) : 0;
}

size_t MemoryFootprint(const UserRecord& u) {
  size_t bytes =
      sizeof(UserRecord) + HeapBytes(u.user_id) + HeapBytes(u.half_lives_ms) +
      HeapBytes(u.counters.plays) + HeapBytes(u.counters.skips) +
      HeapBytes(u.counters.ms_played) + HeapBytes(u.arms) +
      HeapBytes(u.features.hour_of_day) + HeapBytes(u.features.day_of_week) +
      HeapBytes(u.top_artists.items) + HeapBytes(u.distinct_artists.exact) +
      HeapBytes(u.distinct_artists.registers) +
      HeapBytes(u.recent_plays.ring()) + HeapBytes(u.recent_event_ids) +
      HeapBytes(u.pending) + HeapBytes(u.unknown_fields);
  for (const ArmRecord& a : u.arms) bytes += HeapBytes(a.arm_id);
  for (const HeavyHitterRecord& h : u.top_artists.items) {
    bytes += HeapBytes(h.id);
  }
  for (const RecentPlayRecord& r : u.recent_plays.ring()) {
    bytes += HeapBytes(r.track_id);
  }
  for (const PendingRecord& p : u.pending) {
    bytes +=
        HeapBytes(p.request_id) + HeapBytes(p.arm_id) + HeapBytes(p.context);
  }
  return bytes;
}

size_t EncodedSize(const UserRecord& user) {
  MessageSizes sizes;
  SizeSink size(sizes);
  WriteUser(size, user);
  return size.size();
}

void EncodeTo(const UserRecord& user, std::string* out) {
  MessageSizes sizes;
  SizeSink size(sizes);
  WriteUser(size, user);
  const size_t start = out->size();
  out->resize(start + size.size());
  ArraySink sink(out->data() + start, sizes);
  WriteUser(sink, user);
  assert(sink.position() == out->data() + start + size.size());
  assert(sink.used_all_sizes());
}

void RecentPlays::push_back(RecentPlayRecord play) {
  Unwrap();
  ring_.push_back(std::move(play));
}

RecentPlayRecord& RecentPlays::Insert(size_t index, size_t bound) {
  if (ring_.size() < bound) {
    Unwrap();
    return *ring_.emplace(ring_.begin() + static_cast<ptrdiff_t>(index));
  }
  if (ring_.size() > bound) {  // the bound shrank
    Unwrap();
    ring_.resize(bound);
  }
  const size_t n = ring_.size();
  // Full: the oldest entry (logical n - 1) is the slot before the head.
  // It becomes the new head, then moves down to `index`.
  head_ = head_ == 0 ? n - 1 : head_ - 1;
  for (size_t i = 0; i < index; ++i) {
    std::swap((*this)[i], (*this)[i + 1]);
  }
  return (*this)[index];
}

void RecentPlays::Unwrap() {
  if (head_ == 0) return;
  std::rotate(ring_.begin(), ring_.begin() + static_cast<ptrdiff_t>(head_),
              ring_.end());
  head_ = 0;
}

bool DecodeFrom(absl::string_view bytes, UserRecord* user) {
  if (DecodeCanonical(bytes, user)) return true;
  UserState state;
  if (!state.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return false;
  }
  *user = FromProto(state);
  return true;
}

TopItemsRecord FromProto(const TopItems& sketch) {
  TopItemsRecord t;
  t.ref_time_ms = sketch.ref_time_ms();
  t.total = sketch.total();
  t.items.reserve(sketch.items_size());
  for (const HeavyHitter& h : sketch.items()) {
    t.items.push_back({h.id(), h.weight(), h.error()});
  }
  return t;
}

void ToProto(const TopItemsRecord& sketch, TopItems* out) {
  out->Clear();
  out->set_ref_time_ms(sketch.ref_time_ms);
  out->set_total(sketch.total);
  for (const HeavyHitterRecord& h : sketch.items) {
    HeavyHitter* item = out->add_items();
    item->set_id(h.id);
    item->set_weight(h.weight);
    item->set_error(h.error);
  }
}

DistinctRecord FromProto(const DistinctCounter& counter) {
  DistinctRecord d;
  Assign(&d.exact, counter.exact());
  d.registers = counter.registers();
  return d;
}

void ToProto(const DistinctRecord& counter, DistinctCounter* out) {
  out->Clear();
  out->mutable_exact()->Add(counter.exact.begin(), counter.exact.end());
  out->set_registers(counter.registers);
}

FeaturesRecord FromProto(const UserFeatures& f) {
  FeaturesRecord r;
  r.ref_time_ms = f.ref_time_ms();
  r.completion_weight = f.completion_weight();
  r.completion_sum = f.completion_sum();
  r.completion_sum_sq = f.completion_sum_sq();
  r.starts = f.starts();
  r.early_skips = f.early_skips();
  r.late_skips = f.late_skips();
  Assign(&r.hour_of_day, f.hour_of_day());
  Assign(&r.day_of_week, f.day_of_week());
  r.utc_offset_minutes = f.utc_offset_minutes();
  return r;
}

UserRecord FromProto(const UserState& state) {
  UserRecord u;
  u.user_id = state.user_id();
  u.first_seen_ms = state.first_seen_ms();
  u.last_seen_ms = state.last_seen_ms();
  u.events = state.events();
  u.plays = state.plays();
  u.skips = state.skips();
  u.impressions = state.impressions();
  Assign(&u.half_lives_ms, state.half_lives_ms());
  u.has_counters = state.has_counters();
  {
    const DecayedCounters& c = state.counters();
    u.counters.ref_time_ms = c.ref_time_ms();
    Assign(&u.counters.plays, c.plays());
    Assign(&u.counters.skips, c.skips());
    Assign(&u.counters.ms_played, c.ms_played());
  }
  u.arms.reserve(state.arms_size());
  for (const ArmEvidence& a : state.arms()) {
    u.arms.push_back({a.arm_id(), a.successes(), a.failures(), a.ref_time_ms(),
                      a.last_event_time_ms(), a.updates(), a.reward_weight(),
                      a.reward_sum(), a.reward_sum_sq()});
  }
  u.arms_dropped = state.arms_dropped();
  u.has_features = state.has_features();
  u.features = FromProto(state.features());
  u.has_top_artists = state.has_top_artists();
  u.top_artists = FromProto(state.top_artists());
  u.has_distinct_artists = state.has_distinct_artists();
  u.distinct_artists = FromProto(state.distinct_artists());
  u.has_sessions = state.has_sessions();
  {
    const Sessions& x = state.sessions();
    u.sessions = {x.start_ms(),
                  x.last_ms(),
                  x.plays(),
                  x.skips(),
                  x.count(),
                  x.ref_time_ms(),
                  x.completed_weight(),
                  x.completed_length_ms(),
                  x.out_of_order_events()};
  }
  u.recent_plays.reserve(state.recent_plays_size());
  for (const RecentPlay& r : state.recent_plays()) {
    u.recent_plays.push_back({r.track_id(), r.time_ms()});
  }
  Assign(&u.recent_event_ids, state.recent_event_ids());
  u.recent_event_ids_next = state.recent_event_ids_next();
  u.duplicates = state.duplicates();
  u.pending.reserve(state.pending_size());
  for (const PendingImpression& p : state.pending()) {
    PendingRecord& r = u.pending.emplace_back();
    r.request_id = p.request_id();
    r.arm_id = p.arm_id();
    r.time_ms = p.time_ms();
    r.propensity = p.propensity();
    Assign(&r.context, p.context());
    r.answered = p.answered();
    r.reward = p.reward();
  }
  u.rewards_attributed = state.rewards_attributed();
  u.impressions_expired = state.impressions_expired();
  u.impressions_dropped = state.impressions_dropped();
  u.rewards_unattributed = state.rewards_unattributed();
  const google::protobuf::UnknownFieldSet& unknown =
      state.GetReflection()->GetUnknownFields(state);
  if (!unknown.empty()) unknown.SerializeToString(&u.unknown_fields);
  return u;
}

void ToProto(const UserRecord& user, UserState* state) {
  std::string bytes;
  EncodeTo(user, &bytes);
  state->Clear();
  // The encoder writes valid wire format; only invalid UTF-8 in a string
  // could make this fail, and such a string was never read or applied.
  state->ParseFromString(bytes);
}

}  // namespace encore
