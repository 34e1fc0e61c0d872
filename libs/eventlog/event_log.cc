#include "libs/eventlog/event_log.h"

namespace strata::eventlog {

int32_t PartitionForKey(absl::string_view key, int32_t partition_count) {
  // FNV-1a: stable across processes, platforms and releases, unlike
  // std::hash or absl::Hash, which are seeded per process.
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : key) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return static_cast<int32_t>(hash % static_cast<uint64_t>(partition_count));
}

}  // namespace strata::eventlog
