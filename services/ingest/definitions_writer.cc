#include "services/ingest/definitions_writer.h"

#include "absl/strings/str_cat.h"
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
  // Another writer (an ingest replica) may have appended a batch between
  // this one's check and its append: every reader then applies the batches
  // in log order and skips one that no longer applies. Only the outcome
  // every reader shares is acknowledged.
  const std::optional<absl::Status> outcome =
      definitions_.OutcomeOf(envelope.event_id());
  if (!outcome) {
    return absl::UnknownError(absl::StrCat(
        "definitions batch ", envelope.event_id(),
        " was appended but is not read back yet: whether it applies is "
        "unknown; see GetDefinitions before retrying"));
  }
  if (!outcome->ok()) {
    return absl::AbortedError(absl::StrCat(
        "another writer changed the definitions first, and this batch no "
        "longer applies (nothing of it was applied; check and retry): ",
        outcome->message()));
  }
  return batch.changes_size();
}

}  // namespace strata::ingest
