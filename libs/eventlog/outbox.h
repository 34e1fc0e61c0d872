#pragma once

// Records to append to the log, committed in a state store together with
// the state they show and published only after that commit: a crash then
// leaves either neither or both, and the records still unpublished are
// published first at the next start. Consumers may see a record twice
// (published, then the crash came before Clear), never a state that was
// not committed.
//
//   Outbox outbox(db, kMetaFamily);
//   rocksdb::WriteBatch batch;
//   ... state ...
//   outbox.PutInto(batch, records);
//   RETURN_IF_ERROR(db.Write(batch));
//   RETURN_IF_ERROR(log.Append(topic, records));
//   RETURN_IF_ERROR(outbox.Clear());

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/eventlog/event_log.h"
#include "libs/storage/state_db.h"
#include "rocksdb/write_batch.h"

namespace strata::eventlog {

class Outbox {
 public:
  // Kept in `family` of `db`, under keys of its own ("outbox/...").
  Outbox(StateDb& db, size_t family) : db_(db), family_(family) {}

  // Adds `records`, in order, to `batch`; the outbox must be empty (Clear).
  void PutInto(rocksdb::WriteBatch& batch,
               const std::vector<AppendRecord>& records) const;
  // The records committed but not cleared, in order; DATA_LOSS when one
  // cannot be decoded.
  absl::StatusOr<std::vector<AppendRecord>> Read() const;
  // Once they are published.
  absl::Status Clear();
  // Adds the deletion of every record to `batch` (before PutInto, to
  // replace them).
  absl::Status ClearInto(rocksdb::WriteBatch& batch) const;

 private:
  StateDb& db_;
  const size_t family_;
};

}  // namespace strata::eventlog
