// UserRecord: the in-memory form of one user's state, the one the model
// (state/model.h) mutates per event. It holds exactly what a UserState
// (proto/user_state.proto) holds, as plain structs: strings short enough for
// the small-string buffer, inline arrays for the fixed-size ones and vectors
// for the bounded lists, instead of a tree of protobuf messages. Protobuf
// stays at the boundary: EncodeTo writes the very bytes
// UserState::SerializeToString would write for the same values, so stored
// state, digests and every reader are unchanged.
//
//   UserRecord user;
//   if (!DecodeFrom(stored_bytes, &user)) ...corrupt...
//   ApplyEvent(config, event, &user, sink);
//   std::string bytes;
//   EncodeTo(user, &bytes);  // == UserState's serialization
//
// The fields mirror the proto's (see its comments for their meaning); a
// nested message is "present" (has_*) as protobuf tracks it, because a
// present empty message still takes two bytes. Unknown top-level fields (a
// newer build's additions) are kept and written back; unknown fields inside
// nested messages are not (proto/EVOLUTION.md).
//
// Thread safety: plain data.
#ifndef ENCORE_STATE_USER_RECORD_H_
#define ENCORE_STATE_USER_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "proto/user_state.pb.h"

namespace encore {

struct CountersRecord {
  int64_t ref_time_ms = 0;
  absl::InlinedVector<double, 4> plays, skips, ms_played;
};

struct ArmRecord {
  std::string arm_id;
  double successes = 0;
  double failures = 0;
  int64_t ref_time_ms = 0;
  int64_t last_event_time_ms = 0;
  uint64_t updates = 0;
  double reward_weight = 0;
  double reward_sum = 0;
  double reward_sum_sq = 0;
};

struct FeaturesRecord {
  int64_t ref_time_ms = 0;
  double completion_weight = 0;
  double completion_sum = 0;
  double completion_sum_sq = 0;
  double starts = 0;
  double early_skips = 0;
  double late_skips = 0;
  absl::InlinedVector<double, 24> hour_of_day;
  absl::InlinedVector<double, 7> day_of_week;
  int32_t utc_offset_minutes = 0;
};

struct HeavyHitterRecord {
  std::string id;
  double weight = 0;
  double error = 0;
};

// A decayed Space-Saving sketch (state/sketches.h), items sorted by id.
struct TopItemsRecord {
  int64_t ref_time_ms = 0;
  double total = 0;
  std::vector<HeavyHitterRecord> items;
};

// Exact hashes (sorted) up to a bound, then HyperLogLog registers.
struct DistinctRecord {
  std::vector<uint64_t> exact;
  std::string registers;
};

struct SessionsRecord {
  int64_t start_ms = 0;
  int64_t last_ms = 0;
  uint32_t plays = 0;
  uint32_t skips = 0;
  uint64_t count = 0;
  int64_t ref_time_ms = 0;
  double completed_weight = 0;
  double completed_length_ms = 0;
  uint64_t out_of_order_events = 0;
};

struct RecentPlayRecord {
  std::string track_id;
  int64_t time_ms = 0;
};

// The last plays, newest first, kept as a ring: adding the newest play to a
// full list overwrites the oldest in place instead of moving every entry
// (which, for 50 entries with a string each, was about a sixth of ApplyEvent).
// Logical entry i (0 = newest) is at ring()[(head + i) % size()].
class RecentPlays {
 public:
  class const_iterator {
   public:
    const_iterator(const RecentPlays* plays, size_t i) : plays_(plays), i_(i) {}
    const RecentPlayRecord& operator*() const { return (*plays_)[i_]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

   private:
    const RecentPlays* plays_;
    size_t i_;
  };

  size_t size() const { return ring_.size(); }
  const RecentPlayRecord& operator[](size_t i) const {
    return ring_[Physical(i)];
  }
  RecentPlayRecord& operator[](size_t i) { return ring_[Physical(i)]; }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, size()); }

  // Appends `play` as the oldest entry.
  void push_back(RecentPlayRecord play);
  void reserve(size_t n) { ring_.reserve(n); }
  void clear() {
    ring_.clear();
    head_ = 0;
  }
  // Makes room at logical position `index` (at most size()) with at most
  // `bound` entries kept: the oldest goes if the list is full. Returns the
  // entry to fill in (when one was dropped, its string buffer is reused).
  RecentPlayRecord& Insert(size_t index, size_t bound);

  // The entries in storage order (for memory accounting).
  const std::vector<RecentPlayRecord>& ring() const { return ring_; }

 private:
  size_t Physical(size_t i) const {
    const size_t p = head_ + i;
    return p < ring_.size() ? p : p - ring_.size();
  }
  // Rotates the storage so that head_ is 0.
  void Unwrap();

  std::vector<RecentPlayRecord> ring_;
  size_t head_ = 0;
};

struct PendingRecord {
  std::string request_id;
  std::string arm_id;
  int64_t time_ms = 0;
  double propensity = 0;
  absl::InlinedVector<double, 6> context;
  bool answered = false;
  double reward = 0;
};

struct UserRecord {
  std::string user_id;
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  uint64_t events = 0;
  uint64_t plays = 0;
  uint64_t skips = 0;
  uint64_t impressions = 0;
  std::vector<int64_t> half_lives_ms;
  bool has_counters = false;
  CountersRecord counters;
  std::vector<ArmRecord> arms;  // sorted by arm_id
  uint64_t arms_dropped = 0;
  bool has_features = false;
  FeaturesRecord features;
  bool has_top_artists = false;
  TopItemsRecord top_artists;
  bool has_distinct_artists = false;
  DistinctRecord distinct_artists;
  bool has_sessions = false;
  SessionsRecord sessions;
  RecentPlays recent_plays;  // newest first
  std::vector<uint64_t> recent_event_ids;
  uint32_t recent_event_ids_next = 0;
  uint64_t duplicates = 0;
  std::vector<PendingRecord> pending;  // sorted by time_ms
  uint64_t rewards_attributed = 0;
  uint64_t impressions_expired = 0;
  uint64_t impressions_dropped = 0;
  uint64_t rewards_unattributed = 0;
  // Top-level fields this build does not know, as read (wire format).
  std::string unknown_fields;
};

// The number of bytes EncodeTo appends.
size_t EncodedSize(const UserRecord& user);

// The memory `user` takes: sizeof(UserRecord) plus the heap blocks it owns
// (vectors' capacity, strings too long for the small-string buffer, inline
// vectors that spilled), each rounded up as the process's malloc does
// (MallocBytes, state/allocator.h). What the write-back cache charges for a
// cached user.
size_t MemoryFootprint(const UserRecord& user);
// The heap of a std::string of `capacity` characters (none up to 15, kept
// in the object itself).
size_t StringHeapBytes(size_t capacity);

// Appends the protobuf wire form of `user` to *out: byte for byte what
// UserState::SerializeToString writes for the same field values.
void EncodeTo(const UserRecord& user, std::string* out);

// Replaces *user with the state `bytes` hold. False (and *user unspecified)
// if they are not a valid UserState. Bytes in the form EncodeTo writes are
// read directly (state/user_record_wire.h), any other through protobuf's
// parser: the result is the parser's either way.
bool DecodeFrom(absl::string_view bytes, UserRecord* user);

// Conversions at the boundary (tests, tools, the protobuf-facing wrappers):
// ToProto(FromProto(s)) equals s up to unknown fields inside nested
// messages.
UserRecord FromProto(const UserState& state);
void ToProto(const UserRecord& user, UserState* state);

// Part conversions: the features (what scoring reads from a stored user,
// state/model_read.cc) and the sketches (the protobuf-facing wrappers of
// state/sketches.h).
FeaturesRecord FromProto(const UserFeatures& features);
TopItemsRecord FromProto(const TopItems& sketch);
void ToProto(const TopItemsRecord& sketch, TopItems* out);
DistinctRecord FromProto(const DistinctCounter& counter);
void ToProto(const DistinctRecord& counter, DistinctCounter* out);

}  // namespace encore

#endif  // ENCORE_STATE_USER_RECORD_H_
