#pragma once

// A RocksDB database holding one service's derived state in named column
// families, plus the log positions that state reflects (in the default
// family). Callers write state and positions in one WriteBatch, so after a
// crash the two always agree.
//
//   ASSIGN_OR_RETURN(auto db, StateDb::Open(dir, {"cells", "own"}));
//   rocksdb::WriteBatch batch;
//   batch.Put(db->family(0), key, value);             // "cells"
//   StateDb::PutPosition(batch, "strata.kpi-events", 3, 1200);
//   RETURN_IF_ERROR(db->Write(batch));

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace strata {

class StateDb {
 public:
  // Creates the directory (with parents), database and families as needed.
  static absl::StatusOr<std::unique_ptr<StateDb>> Open(
      const std::string& path, const std::vector<std::string>& families);
  ~StateDb();

  // The i-th family named at Open.
  rocksdb::ColumnFamilyHandle* family(size_t i) const {
    return handles_[i + 1];
  }
  rocksdb::DB& db() { return *db_; }

  // The value at `key`, or nullopt.
  absl::StatusOr<std::optional<std::string>> Get(size_t family,
                                                 absl::string_view key);

  // The value of each key, or nullopt; one batched look-up.
  absl::StatusOr<std::vector<std::optional<std::string>>> GetMany(
      size_t family, const std::vector<absl::string_view>& keys);

  // The stored position of a partition, 0 when none.
  absl::StatusOr<int64_t> Position(absl::string_view topic, int32_t partition);
  static void PutPosition(rocksdb::WriteBatch& batch, absl::string_view topic,
                          int32_t partition, int64_t offset);

  // Without fsync: a process crash keeps the WAL; after a power loss state
  // and positions fall back together and the log replays the gap.
  absl::Status Write(rocksdb::WriteBatch& batch);

 private:
  StateDb() = default;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // [0] is the default.
};

// Fixed-width little-endian integers, for compact state values.
std::string EncodeFixed64s(std::initializer_list<int64_t> values);
int64_t DecodeFixed64At(absl::string_view encoded, size_t index);

}  // namespace strata
