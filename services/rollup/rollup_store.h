#pragma once

// The rollup service's state in RocksDB: subtree cells, each unit's own
// state (where its KPI's aggregation needs one), the events applied by id,
// the own-events index, and the log positions all of that reflects. Commit() writes one change set and its
// positions in a single WriteBatch, so after a crash state and positions
// always agree: replay resumes exactly where the state stops.

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/aggregation/cell.h"
#include "libs/eventlog/event_log.h"
#include "libs/storage/state_db.h"
#include "services/rollup/applied_event.h"

namespace strata::rollup {

// Everything one flush makes durable.
struct StateChanges {
  std::vector<std::pair<std::string, RollupCell>> cells;
  // Of fold partitions (CellFolder), by PartialCellKey.
  std::vector<std::pair<std::string, RollupCell>> partials;
  std::vector<std::pair<std::string, OwnState>> own;
  // Every event applied (and every event corrected), by id.
  std::vector<std::pair<std::string, AppliedEvent>> seen_events;
  // Own-events index entries (OwnEventKey): a value, or none to delete.
  std::vector<std::pair<std::string, std::optional<int64_t>>> own_events;
  // Period closings (PeriodClosings): by period label, encoded.
  std::vector<std::pair<std::string, std::string>> closings;
  // Events waiting for a decision, by id: a serialized v1::PendingEvent,
  // or none to delete.
  std::vector<std::pair<std::string, std::optional<std::string>>> pending;
  // Cells as reported at a close, before approved events changed them.
  std::vector<std::pair<std::string, RollupCell>> reported;
  // Carried-forward KPIs' frontiers (FrontierKey): the latest period index.
  std::vector<std::pair<std::string, int64_t>> frontiers;
  std::vector<eventlog::Position> positions;
};

class RollupStore {
 public:
  // Creates the directory and the database when missing; a damaged store,
  // or one of an older format, is set aside and rebuilt from the log.
  // `env`: null for the real file system (tests pass a failing one).
  static absl::StatusOr<std::unique_ptr<RollupStore>> Open(
      const std::string& path, rocksdb::Env* env = nullptr);
  // The store's families and format, for tools and tests that open it raw.
  static StateDbOptions Layout(const std::string& path);

  absl::StatusOr<std::optional<RollupCell>> GetCell(const std::string& key);
  // A fold partition's part of a cell, by PartialCellKey.
  absl::StatusOr<std::optional<RollupCell>> GetPartial(const std::string& key);
  absl::StatusOr<std::optional<OwnState>> GetOwn(const std::string& key);
  // For each id, what was applied and committed under it, or nullopt.
  absl::StatusOr<std::vector<std::optional<AppliedEvent>>> SeenEvents(
      const std::vector<absl::string_view>& event_ids);
  // The own-events index between two keys (OwnEventBound), in key order.
  absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> OwnEvents(
      absl::string_view begin, absl::string_view end);
  // Every entry of the closings and pending events whose key begins with
  // `prefix` (one fold partition's, or all).
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Closings(
      absl::string_view prefix = "");
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Pending(
      absl::string_view prefix = "");
  absl::StatusOr<std::optional<std::string>> GetPending(const std::string& id);
  absl::StatusOr<std::optional<RollupCell>> GetReported(const std::string& key);

  // The latest period index of a kind that a carried-forward KPI reached.
  absl::StatusOr<std::optional<int64_t>> Frontier(const std::string& key);

  // What the state is folded for: a store folded otherwise is rebuilt.
  struct Shape {
    int64_t reorgs = 0;  // The definitions' reorgs when it was folded.
    int32_t fold_partitions = 1;
    // The topic folded: strata.kpi-events, or strata.rollup-changes
    // (routed by stage A), whose positions and keys differ.
    std::string input_topic;
    // Cell versions start at version_epoch << kReorgVersionShift: above
    // every version published from an earlier shape of the state.
    int64_t version_epoch = 0;
  };
  absl::StatusOr<Shape> FoldedShape();
  // Empties the store for a replay in `shape`, remembering the keys of the
  // cells it held (`tombstones`), in one write.
  absl::Status Reshape(const Shape& shape,
                       const std::vector<std::string>& tombstones);
  // The key of every cell held.
  absl::StatusOr<std::vector<std::string>> CellKeys();
  absl::StatusOr<std::vector<std::string>> Tombstones();
  absl::Status DeleteTombstones(const std::vector<std::string>& keys);

  // Stored position of the partition, 0 when none.
  absl::StatusOr<eventlog::Position> Position(
      const eventlog::TopicPartition& tp);

  // Has the next Open() rebuild the store from the log (it was found
  // damaged while running).
  absl::Status MarkForRebuild(absl::string_view reason) {
    return db_->MarkForRebuild(reason);
  }

  // Writes `changes` and, in the same batch, the changelog records that
  // show them (the outbox), to be published once committed.
  absl::Status Commit(const StateChanges& changes,
                      const std::vector<eventlog::AppendRecord>& outbox = {});
  // The changelog records committed but not yet published, in order.
  absl::StatusOr<std::vector<eventlog::AppendRecord>> Outbox();
  // Once they are published.
  absl::Status ClearOutbox();

 private:
  explicit RollupStore(std::unique_ptr<StateDb> db) : db_(std::move(db)) {}
  absl::StatusOr<std::optional<RollupCell>> GetCellIn(size_t family,
                                                      const std::string& key);

  std::unique_ptr<StateDb> db_;
};

}  // namespace strata::rollup
