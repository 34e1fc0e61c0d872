#include "services/ingest/definitions_writer.h"

#include "libs/status/status_macros.h"
#include "libs/streams/envelope.h"
#include "libs/streams/topics.h"

namespace strata::ingest {

absl::StatusOr<int64_t> DefinitionsWriter::Apply(
    const v1::DefinitionBatch& batch) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(definitions_.CatchUp(absl::Seconds(5)));
  RETURN_IF_ERROR(definitions_.Current()->WithBatch(batch).status());
  if (batch.changes_size() == 0) return 0;
  v1::EventEnvelope envelope = NewEnvelope(producer_);
  *envelope.mutable_definitions() = batch;
  RETURN_IF_ERROR(
      log_.Append(kDefinitionsTopic,
                  {eventlog::AppendRecord{envelope.event_id(),
                                          envelope.SerializeAsString()}}));
  RETURN_IF_ERROR(definitions_.CatchUp(absl::Seconds(10)));
  return batch.changes_size();
}

}  // namespace strata::ingest
