#pragma once

// The hash Kafka's default partitioner applies to a record's key (Java's
// Utils.murmur2, librdkafka's "murmur2_random"), so that a record this
// process places lands in the partition any Kafka client would pick for
// its key: Kafka Streams, ksqlDB and Flink can then join topics keyed
// alike without repartitioning.
//
//   int32_t p = KafkaPartitionForKey("revenue/acme/2026-11", 8);

#include <cstdint>

#include "absl/strings/string_view.h"

namespace strata {

// MurmurHash2, 32 bits, seed 0x9747b28c, as Kafka computes it.
inline uint32_t KafkaMurmur2(absl::string_view key) {
  constexpr uint32_t kMultiplier = 0x5bd1e995;
  constexpr int kShift = 24;
  const size_t length = key.size();
  uint32_t h = 0x9747b28c ^ static_cast<uint32_t>(length);
  auto byte = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(key[i]));
  };
  size_t i = 0;
  for (; i + 4 <= length; i += 4) {
    uint32_t k = byte(i) | byte(i + 1) << 8 | byte(i + 2) << 16 |
                 byte(i + 3) << 24;
    k *= kMultiplier;
    k ^= k >> kShift;
    k *= kMultiplier;
    h *= kMultiplier;
    h ^= k;
  }
  switch (length - i) {
    case 3:
      h ^= byte(i + 2) << 16;
      [[fallthrough]];
    case 2:
      h ^= byte(i + 1) << 8;
      [[fallthrough]];
    case 1:
      h ^= byte(i);
      h *= kMultiplier;
  }
  h ^= h >> 13;
  h *= kMultiplier;
  h ^= h >> 15;
  return h;
}

// The partition Kafka's default partitioner gives a keyed record.
inline int32_t KafkaPartitionForKey(absl::string_view key,
                                    int32_t partition_count) {
  return static_cast<int32_t>((KafkaMurmur2(key) & 0x7fffffff) %
                              static_cast<uint32_t>(partition_count));
}

}  // namespace strata
