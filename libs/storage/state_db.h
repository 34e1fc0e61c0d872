#pragma once

// A RocksDB database holding one service's derived state in named column
// families, plus the log positions that state reflects (in the default
// family). Callers write state and positions in one WriteBatch, so after a
// crash the two always agree.
//
//   StateDbOptions options;
//   options.path = dir;
//   options.families = {"cells", "own"};
//   options.format = "strata.rollup/2";
//   ASSIGN_OR_RETURN(auto db, StateDb::Open(options));
//   rocksdb::WriteBatch batch;
//   batch.Put(db->family(0), key, value);             // "cells"
//   StateDb::PutPosition(batch, "strata.kpi-events", 3, 1200);
//   RETURN_IF_ERROR(db->Write(batch));
//
// Damage never opens silently: a store is created only in a missing or
// empty directory; otherwise it must open cleanly (WALs tracked in the
// MANIFEST, flushes atomic across families), hold the expected format and,
// with verify_on_open, pass a checksum of every block. Derived state can
// then be discarded and rebuilt from the log (rebuild_when_damaged).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace strata {

struct StateDbOptions {
  // Directory of the database; created (with parents) when missing.
  std::string path;
  // Column families besides the default one, in the order family(i) uses.
  std::vector<std::string> families;
  // What the store holds and how it is encoded, e.g. "strata.rollup/2";
  // stored at creation and required to match at every open.
  std::string format;
  // Read every block once at open to check its checksum: the only way to
  // find a flipped byte before a query reads it. Costs a read of the store.
  bool verify_on_open = true;
  // When the store is damaged, of another format, or marked for rebuild
  // (MarkForRebuild): move it aside to "<path>.discarded" (replacing an
  // older one) and start empty, for the log to rebuild it. Otherwise such
  // a store is refused with DATA_LOSS (FAILED_PRECONDITION for a format).
  bool rebuild_when_damaged = true;
  // The environment RocksDB reads and writes through; null for the real
  // one. Tests pass one whose file system fails on demand.
  rocksdb::Env* env = nullptr;
  // Drops entries of the named families (not the default one) when they
  // are compacted; null keeps everything. Not owned; must outlive the store.
  const rocksdb::CompactionFilter* compaction_filter = nullptr;
};

class StateDb {
 public:
  static absl::StatusOr<std::unique_ptr<StateDb>> Open(
      const StateDbOptions& options);
  ~StateDb();

  // The i-th family of StateDbOptions::families.
  rocksdb::ColumnFamilyHandle* family(size_t i) const {
    return handles_[i + 1];
  }
  rocksdb::DB& db() { return *db_; }
  const std::string& path() const { return path_; }
  // Whether Open() started this store empty (new, or rebuilt).
  bool created() const { return created_; }

  // The value at `key`, or nullopt.
  absl::StatusOr<std::optional<std::string>> Get(size_t family,
                                                 absl::string_view key);

  // The value of each key, or nullopt; one batched look-up.
  absl::StatusOr<std::vector<std::optional<std::string>>> GetMany(
      size_t family, const std::vector<absl::string_view>& keys);

  // Every key in [begin, end) with its value, in key order.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(
      size_t family, absl::string_view begin, absl::string_view end);

  // A partition's stored position: the next offset to read and a hash of
  // the record before it (0 when unknown); {0, 0} when none is stored.
  struct StoredPosition {
    int64_t offset = 0;
    uint64_t previous_record_hash = 0;
  };
  absl::StatusOr<StoredPosition> Position(absl::string_view topic,
                                          int32_t partition);
  static void PutPosition(rocksdb::WriteBatch& batch, absl::string_view topic,
                          int32_t partition, int64_t offset,
                          uint64_t previous_record_hash = 0);

  // Adds to `batch` the deletion of every key of every family and every
  // position: written, the store holds what a new one would (its format
  // stays).
  absl::Status ClearInto(rocksdb::WriteBatch& batch);

  // Without fsync: a process crash keeps the WAL; after a power loss state
  // and positions fall back together and the log replays the gap.
  absl::Status Write(rocksdb::WriteBatch& batch);

  // Records that the store was found damaged while running, so that the
  // next Open() rebuilds (or refuses) it even if its blocks check out.
  absl::Status MarkForRebuild(absl::string_view reason);
  // The same for a store not open: true when `path` holds one (and it is
  // now marked), false when it holds none.
  static absl::StatusOr<bool> RequestRebuild(const std::string& path,
                                             absl::string_view reason);

 private:
  StateDb() = default;
  // Opens the store as it is, or creates it in an empty directory:
  // DATA_LOSS for damage, FAILED_PRECONDITION for another format.
  static absl::StatusOr<std::unique_ptr<StateDb>> OpenOrCreate(
      const StateDbOptions& options);

  std::string path_;
  bool created_ = false;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // [0] is the default.
};

// Fixed-width little-endian integers, for compact state values.
std::string EncodeFixed64s(std::initializer_list<int64_t> values);
int64_t DecodeFixed64At(absl::string_view encoded, size_t index);

}  // namespace strata
