#include "libs/eventlog/stored_positions.h"

#include "libs/status/status_macros.h"

namespace strata::eventlog {

absl::StatusOr<Position> StoredPosition(StateDb& db, const TopicPartition& tp) {
  ASSIGN_OR_RETURN(StateDb::StoredPosition stored,
                   db.Position(tp.topic, tp.partition));
  return Position{tp, stored.offset, stored.previous_record_hash};
}

void PutPositions(rocksdb::WriteBatch& batch,
                  const std::vector<Position>& positions) {
  for (const Position& p : positions) {
    StateDb::PutPosition(batch, p.topic_partition.topic,
                         p.topic_partition.partition, p.offset,
                         p.previous_record_hash);
  }
}

}  // namespace strata::eventlog
