#include "state/partitioner.h"

namespace encore {

uint32_t KafkaMurmur2(absl::string_view key) {
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  size_t length = key.size();
  uint32_t h = kSeed ^ static_cast<uint32_t>(length);
  // Four bytes at a time, little-endian, as Kafka reads them.
  while (length >= 4) {
    uint32_t k = uint32_t{data[0]} | uint32_t{data[1]} << 8 |
                 uint32_t{data[2]} << 16 | uint32_t{data[3]} << 24;
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
    data += 4;
    length -= 4;
  }
  switch (length) {
    case 3:
      h ^= uint32_t{data[2]} << 16;
      [[fallthrough]];
    case 2:
      h ^= uint32_t{data[1]} << 8;
      [[fallthrough]];
    case 1:
      h ^= uint32_t{data[0]};
      h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return h;
}

}  // namespace encore
