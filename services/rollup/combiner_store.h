#pragma once

// The state of rollup's stage C (combine, services/rollup/SCALE_OUT.md) in
// RocksDB: the latest part of every cell from each fold partition, the
// positions in strata.rollup-partials that reflects, and the changelog
// records not yet published (an outbox), all written in one batch.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/aggregation/cell.h"
#include "libs/eventlog/event_log.h"
#include "libs/storage/state_db.h"

namespace strata::rollup {

// A fold partition's part of a cell (v1::PartialCell, decoded).
struct StoredPart {
  int64_t version_epoch = 0;
  RollupCell cell;
  std::optional<RollupCell> reported;  // At its period's close.
};

using CellParts = std::map<int32_t, StoredPart>;  // By fold partition.

struct CombineChanges {
  std::map<std::string, CellParts> parts;  // By cell key.
  // Parts of an earlier epoch, dropped: (cell key, fold partition).
  std::vector<std::pair<std::string, int32_t>> dropped;
  // Per partition of strata.rollup-partials: the latest epoch a fold
  // partition completed there, and the epoch swept there (SweptEpoch).
  std::vector<std::pair<std::pair<int32_t, int32_t>, int64_t>> completed;
  std::vector<std::pair<int32_t, int64_t>> swept;
  std::optional<int64_t> latest_epoch;  // LatestEpoch, when it grew.
  std::optional<int64_t> fold_partitions;  // FoldPartitions, when heard.
  // Cells to publish once their partition is restored (Deferred), and
  // those published now.
  std::vector<std::string> deferred;
  std::vector<std::string> undeferred;
  std::vector<eventlog::Position> positions;
};

class CombinerStore {
 public:
  // Creates the directory and the database when missing; a damaged store,
  // or one of another format, is set aside and rebuilt from the topic.
  static absl::StatusOr<std::unique_ptr<CombinerStore>> Open(
      const std::string& path);

  // Every part of the cell.
  absl::StatusOr<CellParts> Parts(absl::string_view cell_key);
  // Every cell with its parts.
  absl::StatusOr<std::map<std::string, CellParts>> AllParts();
  // In `partition` of strata.rollup-partials: the latest epoch each fold
  // partition completed, and the latest epoch whose earlier parts were
  // dropped (0 when none).
  absl::StatusOr<std::map<int32_t, int64_t>> CompletedEpochs(int32_t partition);
  absl::StatusOr<int64_t> SweptEpoch(int32_t partition);
  // The latest version epoch of any part read (0 when none).
  absl::StatusOr<int64_t> LatestEpoch();
  // How many fold partitions complete an epoch (0 before any did).
  absl::StatusOr<int64_t> FoldPartitions();
  absl::StatusOr<eventlog::Position> Position(
      const eventlog::TopicPartition& tp);
  // The keys of the cells changed while restoring, not published yet.
  absl::StatusOr<std::vector<std::string>> Deferred();

  // Writes `changes` and the records that show them (to be published once
  // committed) in one batch; the outbox must be empty.
  absl::Status Commit(const CombineChanges& changes,
                      const std::vector<eventlog::AppendRecord>& outbox);
  // The same, with `outbox` replacing what the outbox holds.
  absl::Status CommitReplacingOutbox(
      const CombineChanges& changes,
      const std::vector<eventlog::AppendRecord>& outbox);
  absl::StatusOr<std::vector<eventlog::AppendRecord>> Outbox();
  absl::Status ClearOutbox();

 private:
  explicit CombinerStore(std::unique_ptr<StateDb> db) : db_(std::move(db)) {}
  // A fixed 64-bit integer in the meta family, 0 when absent.
  absl::StatusOr<int64_t> MetaInt(const std::string& key);
  absl::Status Write(const CombineChanges& changes,
                     const std::vector<eventlog::AppendRecord>& outbox,
                     bool replace_outbox);

  std::unique_ptr<StateDb> db_;
};

}  // namespace strata::rollup
