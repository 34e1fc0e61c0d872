#pragma once

// Validates definition batches against the current snapshot, appends them
// to the definitions topic and returns once they are applied here
// (read-your-writes). Several writers (ingest replicas) may append at once:
// a batch that every reader then skips, because another's came first, is
// answered ABORTED, never acknowledged.

#include <mutex>

#include "absl/status/statusor.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "strata/v1/events.pb.h"

namespace strata::ingest {

class DefinitionsWriter {
 public:
  DefinitionsWriter(eventlog::EventLog& log, DefinitionsFollower& definitions,
                    v1::Producer producer)
      : log_(log), definitions_(definitions), producer_(std::move(producer)) {}

  // Returns the number of changes applied; ABORTED when another writer's
  // batch came first and this one no longer applies.
  absl::StatusOr<int64_t> Apply(const v1::DefinitionBatch& batch);

 private:
  eventlog::EventLog& log_;
  DefinitionsFollower& definitions_;
  const v1::Producer producer_;
  std::mutex mu_;  // One batch at a time: each validates against the last.
};

}  // namespace strata::ingest
