// Content digests of stored state (the format is in state/FORMAT.md).
//
// A partition's digest is SHA-256 over every key and value of its database in
// key order, each framed as u64le(length) || bytes. A snapshot's content
// digest is SHA-256 over, for each partition in ascending order,
// u32le(partition) || the partition's 32-byte digest. Wall-clock metadata is
// not stored in the databases, so equal inputs give equal digests.
#ifndef ENCORE_STATE_DIGEST_H_
#define ENCORE_STATE_DIGEST_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace encore {

struct PartitionDigest {
  std::string sha256;  // 32 raw bytes
  uint64_t users = 0;  // user keys seen
  uint64_t keys = 0;   // all keys seen
};

// Reads the RocksDB database (or checkpoint) at `db_dir` read-only and
// digests it. NotFound if it does not exist; DataLoss if a block fails its
// checksum.
absl::StatusOr<PartitionDigest> DigestDatabase(const std::string& db_dir);

// Combines per-partition digests (raw bytes) into a content digest (raw).
std::string CombineDigests(
    const std::vector<std::pair<int32_t, std::string>>& partitions);

// Lower-case hex of raw bytes.
std::string HexDigest(const std::string& raw);

}  // namespace encore

#endif  // ENCORE_STATE_DIGEST_H_
