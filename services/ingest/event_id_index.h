#pragma once

// The event ids this ingest instance appended, with each event's
// fingerprint, so that a resend is recognised before it reaches the log:
// an identical one is accepted without appending it again, a different
// payload under a known id is refused with ALREADY_EXISTS.
//
// Written after each append. Rollup remains the arbiter of what counts
// (the first copy of an id in the log), so an id this index missed (a
// crash between append and index, another ingest replica) still counts
// once; only the early, precise refusal is lost.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/clock/clock.h"
#include "libs/storage/state_db.h"

namespace strata::ingest {

// Ids this old are forgotten when their files are compacted: an advisory
// index need not grow forever (rollup, the arbiter, keeps every id).
inline constexpr absl::Duration kEventIdIndexHorizon = absl::Hours(24 * 30);

class EventIdIndex {
 public:
  // Creates the directory and the database when missing. Entries appended
  // more than `horizon` before `clock`'s now are dropped at compaction.
  static absl::StatusOr<std::unique_ptr<EventIdIndex>> Open(
      const std::string& path, absl::Duration horizon = kEventIdIndexHorizon,
      Clock& clock = Clock::Real());
  ~EventIdIndex();

  // For each id, the fingerprint recorded under it, or nullopt.
  absl::StatusOr<std::vector<std::optional<uint64_t>>> Lookup(
      const std::vector<absl::string_view>& ids);

  // Records id -> fingerprint pairs appended at `append_time_ms`.
  absl::Status Record(
      const std::vector<std::pair<absl::string_view, uint64_t>>& events,
      int64_t append_time_ms);

  // Compacts the whole index now, dropping what lies beyond the horizon
  // (RocksDB otherwise does so as files are compacted in the background).
  absl::Status Compact();

 private:
  class ExpiryFilter;
  EventIdIndex() = default;

  std::unique_ptr<ExpiryFilter> expiry_;  // Outlives db_.
  std::unique_ptr<StateDb> db_;
};

}  // namespace strata::ingest
