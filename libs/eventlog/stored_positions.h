#pragma once

// The log positions a state store's state reflects (StateDb::Position), as
// eventlog::Position: read one, or write several into the batch that
// writes the state.

#include <vector>

#include "absl/status/statusor.h"
#include "libs/eventlog/event_log.h"
#include "libs/storage/state_db.h"
#include "rocksdb/write_batch.h"

namespace strata::eventlog {

// Offset 0 (and no hash) when none is stored.
absl::StatusOr<Position> StoredPosition(StateDb& db, const TopicPartition& tp);

void PutPositions(rocksdb::WriteBatch& batch,
                  const std::vector<Position>& positions);

}  // namespace strata::eventlog
