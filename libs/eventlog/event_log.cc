#include "libs/eventlog/event_log.h"

#include "libs/hash/kafka_murmur2.h"

namespace strata::eventlog {

int32_t PartitionForKey(absl::string_view key, int32_t partition_count) {
  return KafkaPartitionForKey(key, partition_count);
}

}  // namespace strata::eventlog
