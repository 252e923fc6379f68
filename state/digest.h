// Content digests of stored state (the format is in state/FORMAT.md).
//
// A partition's digest is the sum, modulo 2^128, of one 128-bit hash per
// entry of its database, the metadata key "M" excepted. The sum does not
// depend on order, so it is kept incrementally: a commit subtracts the
// hashes of the entries it replaces or deletes and adds those of the
// entries it writes (RocksStateStore stores it in the partition's metadata
// in the same atomic write). `encore snapshot verify` recomputes it from
// the files with DigestDatabase. A snapshot's content digest is SHA-256
// over, for each partition in ascending order, u32le(partition) || the
// partition's 16-byte digest. Nothing wall-clock is stored in the
// databases, so equal inputs give equal digests.
#ifndef ENCORE_STATE_DIGEST_H_
#define ENCORE_STATE_DIGEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace encore {

// The hash of one entry: XXH3-128 of the value, seeded with XXH3-64 of the
// key.
struct EntryHash {
  uint64_t low = 0;
  uint64_t high = 0;
  bool operator==(const EntryHash& o) const {
    return low == o.low && high == o.high;
  }
};
EntryHash HashEntry(absl::string_view key, absl::string_view value);

// A sum of entry hashes modulo 2^128. Cheap to copy.
class ContentDigest {
 public:
  void Add(const EntryHash& h);
  void Subtract(const EntryHash& h);
  // 16 bytes, little-endian (the form stored and, in hex, published).
  std::string Bytes() const;
  // From Bytes(); nullopt unless `bytes` has 16 bytes.
  static std::optional<ContentDigest> FromBytes(absl::string_view bytes);
  bool operator==(const ContentDigest& o) const { return sum_ == o.sum_; }

 private:
  unsigned __int128 sum_ = 0;
};

struct PartitionDigest {
  std::string digest;  // ContentDigest::Bytes()
  uint64_t users = 0;  // user keys seen
  uint64_t keys = 0;   // all keys seen, "M" included
};

// Reads the RocksDB database (or checkpoint) at `db_dir` read-only and
// digests every entry. NotFound if it does not exist; DataLoss if a block
// fails its checksum.
absl::StatusOr<PartitionDigest> DigestDatabase(const std::string& db_dir);

// Combines per-partition digests (raw bytes) into a content digest (raw).
std::string CombineDigests(
    const std::vector<std::pair<int32_t, std::string>>& partitions);

// Lower-case hex of raw bytes.
std::string HexDigest(const std::string& raw);

}  // namespace encore

#endif  // ENCORE_STATE_DIGEST_H_
