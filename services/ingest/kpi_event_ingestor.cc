#include "services/ingest/kpi_event_ingestor.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"
#include "libs/streams/envelope.h"
#include "libs/streams/topics.h"
#include "services/ingest/event_validator.h"

namespace strata::ingest {

absl::StatusOr<int64_t> KpiEventIngestor::Ingest(
    const google::protobuf::RepeatedPtrField<v1::KpiEvent>& events) {
  if (events.empty()) return 0;
  absl::Status valid;
  // A NOT_FOUND may name a definition on the log but not yet read here.
  auto references_known = [&](const Definitions& defs) {
    valid = ValidateKpiEvents(events, defs);
    return !absl::IsNotFound(valid);
  };
  std::shared_ptr<const Definitions> defs =
      definitions_.CurrentSatisfying(references_known);
  if (absl::IsNotFound(valid)) references_known(*defs);
  RETURN_IF_ERROR(valid);

  std::vector<v1::EventEnvelope> by_partition(partitions_);
  std::string key;
  for (const v1::KpiEvent& event : events) {
    key.clear();
    absl::StrAppend(&key, event.kpi_id(), "/", event.unit_id());
    const int32_t p = eventlog::PartitionForKey(key, partitions_);
    *by_partition[p].mutable_kpi_events()->add_events() = event;
  }
  std::vector<eventlog::AppendRecord> records;
  for (int32_t p = 0; p < partitions_; ++p) {
    if (!by_partition[p].has_kpi_events()) continue;
    v1::EventEnvelope envelope = NewEnvelope(producer_);
    envelope.mutable_kpi_events()->Swap(by_partition[p].mutable_kpi_events());
    eventlog::AppendRecord record;
    record.key = envelope.event_id();
    record.value = envelope.SerializeAsString();
    record.partition = p;
    records.push_back(std::move(record));
  }
  RETURN_IF_ERROR(log_.Append(kKpiEventsTopic, records));
  return events.size();
}

}  // namespace strata::ingest
