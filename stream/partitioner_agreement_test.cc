// The reader routes users with state/partitioner.h; encore's producers (and
// most others) partition with librdkafka's murmur2. They must agree.
#include <librdkafka/rdkafka.h>

#include <random>
#include <string>

#include "gtest/gtest.h"
#include "state/partitioner.h"

namespace encore {
namespace {

TEST(PartitionerAgreementTest, SameAsLibrdkafkasMurmur2Partitioner) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    // Lengths 0..40 cover every tail length; ids like the generator's too.
    std::string key = i % 2 == 0 ? "user-" + std::to_string(rng() % 10000000)
                                 : std::string(rng() % 41, '\0');
    if (i % 2 == 1) {
      for (char& c : key) c = static_cast<char>(rng());
    }
    for (int32_t n : {1, 4, 7, 64, 1000}) {
      const int32_t theirs = rd_kafka_msg_partitioner_murmur2(
          nullptr, key.data(), key.size(), n, nullptr, nullptr);
      ASSERT_EQ(KafkaPartition(key, n), theirs) << "key #" << i << " n=" << n;
    }
  }
}

}  // namespace
}  // namespace encore
