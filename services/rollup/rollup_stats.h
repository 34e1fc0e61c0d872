#pragma once

// What the rollup engine has done, for health and tests.

#include <atomic>
#include <cstdint>

namespace strata::rollup {

// Counters, readable from any thread.
struct RollupStats {
  std::atomic<int64_t> events_applied{0};    // Folded into the cache.
  // Durable and published on the changelog.
  std::atomic<int64_t> events_committed{0};
  std::atomic<int64_t> events_duplicate{0};    // Same id, same payload.
  std::atomic<int64_t> events_conflicting{0};  // Same id, other payload.
  std::atomic<int64_t> events_rejected{0};
  // Corrections of events rollup does not hold, or that do not match them.
  std::atomic<int64_t> corrections_rejected{0};
  std::atomic<int64_t> events_held{0};  // For a closed period: pending.
  std::atomic<int64_t> decisions_ignored{0};  // On events not pending.
  std::atomic<int64_t> flushes{0};
  std::atomic<int64_t> restarts{0};  // Resumed from the committed state.
  // Records of the log not read yet (the lag), as of the last poll.
  std::atomic<int64_t> records_behind{0};
};

}  // namespace strata::rollup
