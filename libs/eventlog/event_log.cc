#include "libs/eventlog/event_log.h"

#include "libs/hash/stable_hash.h"

namespace strata::eventlog {

int32_t PartitionForKey(absl::string_view key, int32_t partition_count) {
  return static_cast<int32_t>(StableHash(key) %
                              static_cast<uint64_t>(partition_count));
}

}  // namespace strata::eventlog
