#include "libs/hash/kafka_murmur2.h"

#include "gtest/gtest.h"

namespace strata {
namespace {

// Kafka's own expectations (UtilsTest.testMurmur2), as signed ints.
TEST(KafkaMurmur2Test, MatchesKafkasHash) {
  EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2("21")), -973932308);
  EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2("foobar")), -790332482);
  EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2("a-little-bit-long-string")),
            -985981536);
  EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2("a-little-bit-longer-string")),
            -1486304829);
  EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2(
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")),
            -58897971);
  EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2("abc")), 479470107);
}

TEST(KafkaMurmur2Test, PartitionsLikeTheDefaultPartitioner) {
  // toPositive(murmur2(key)) % partitions: "21" hashes negative.
  EXPECT_EQ(KafkaPartitionForKey("21", 8),
            static_cast<int32_t>((uint32_t{0xc5f2f8ec} & 0x7fffffff) % 8));
  for (int32_t n : {1, 3, 8, 100}) {
    const int32_t p = KafkaPartitionForKey("revenue/acme/2026-11", n);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, n);
  }
}

}  // namespace
}  // namespace strata
