#pragma once

// The state of rollup's stage A (route, services/rollup/SCALE_OUT.md) in
// RocksDB: the first copy of every event id it routed (its fingerprint and
// fold partition), the positions in strata.kpi-events that reflects, and
// the routed records not yet published (an outbox), all written in one
// batch.

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

// The first copy of an event id, as routed.
struct FirstCopy {
  uint64_t fingerprint = 0;  // KpiEventFingerprint.
  int32_t fold_partition = 0;
};

struct RouteChanges {
  std::vector<std::pair<std::string, FirstCopy>> ids;
  std::vector<eventlog::Position> positions;
};

class RouteStore {
 public:
  // Creates the directory and the database when missing; a damaged store,
  // or one of another format, is set aside and rebuilt from the log.
  static absl::StatusOr<std::unique_ptr<RouteStore>> Open(
      const std::string& path);

  // For each id, its first copy, or nullopt.
  absl::StatusOr<std::vector<std::optional<FirstCopy>>> FirstCopies(
      const std::vector<absl::string_view>& ids);
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
