#pragma once

// The state of rollup's stage A (route, services/rollup/SCALE_OUT.md) in
// RocksDB: the fingerprint of the first copy of every event id it routed,
// the frontier each carried-forward stock reached, the positions in
// strata.kpi-events all of that reflects, and the routed records not yet
// published (an outbox), all written in one batch.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/eventlog/event_log.h"
#include "libs/storage/state_db.h"

namespace strata::rollup {

struct RouteChanges {
  std::vector<std::pair<std::string, uint64_t>> ids;  // Id -> fingerprint.
  // By "<kpi_id>/<period kind>": the latest period index reached.
  std::vector<std::pair<std::string, int64_t>> frontiers;
  std::vector<eventlog::Position> positions;
};

class RouteStore {
 public:
  // Creates the directory and the database when missing; a damaged store,
  // or one of another format, is set aside and rebuilt from the log.
  static absl::StatusOr<std::unique_ptr<RouteStore>> Open(
      const std::string& path);

  // For each id, the fingerprint of its first copy, or nullopt.
  absl::StatusOr<std::vector<std::optional<uint64_t>>> Fingerprints(
      const std::vector<absl::string_view>& ids);
  absl::StatusOr<std::optional<int64_t>> Frontier(const std::string& key);
  absl::StatusOr<eventlog::Position> Position(
      const eventlog::TopicPartition& tp);

  // Writes `changes` and the records that show them (to be published once
  // committed) in one batch.
  absl::Status Commit(const RouteChanges& changes,
                      const std::vector<eventlog::AppendRecord>& outbox);
  absl::StatusOr<std::vector<eventlog::AppendRecord>> Outbox();
  absl::Status ClearOutbox();

 private:
  explicit RouteStore(std::unique_ptr<StateDb> db) : db_(std::move(db)) {}

  std::unique_ptr<StateDb> db_;
};

}  // namespace strata::rollup
