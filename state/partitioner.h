// The partition Kafka's default partitioner gives a keyed record: the
// Java client's, and librdkafka's "murmur2" and "murmur2_random" (encore's
// producers): positive(murmur2(key)) mod partitions. A user's events, keyed
// by user id, and so its state, live in that partition.
//
//   const int32_t p = KafkaPartition("user-42", 64);
#ifndef ENCORE_STATE_PARTITIONER_H_
#define ENCORE_STATE_PARTITIONER_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace encore {

// Kafka's murmur2 (seed 0x9747b28c) of `key`.
uint32_t KafkaMurmur2(absl::string_view key);

// The partition of `key` among `partitions` (> 0).
inline int32_t KafkaPartition(absl::string_view key, int32_t partitions) {
  return static_cast<int32_t>((KafkaMurmur2(key) & 0x7fffffff) %
                              static_cast<uint32_t>(partitions));
}

}  // namespace encore

#endif  // ENCORE_STATE_PARTITIONER_H_
