#include "libs/definitions/definitions_record.h"

#include "libs/logging/log.h"
#include "libs/streams/timestamps.h"
#include "strata/v1/events.pb.h"

namespace strata {
namespace {

// A feed schedule declared without `since` is checked from when it was
// declared: the batch's time on the log, the same for every reader. One
// declared before keeps its time (see Definitions::ApplyKpi).
void StampFeedSchedules(const Definitions& base,
                        const google::protobuf::Timestamp& appended,
                        v1::DefinitionBatch& batch) {
  for (v1::DefinitionChange& change : *batch.mutable_changes()) {
    if (!change.has_kpi() || !change.kpi().has_feed()) continue;
    v1::FeedSchedule& feed = *change.mutable_kpi()->mutable_feed();
    if (feed.cadence() == v1::PERIOD_KIND_UNSPECIFIED || feed.has_since()) {
      continue;
    }
    const std::optional<KpiIndex> known = base.FindKpi(change.kpi().kpi_id());
    if (known && base.kpi(*known).feed) continue;
    *feed.mutable_since() = appended;
  }
}

}  // namespace

DefinitionsRecord ApplyDefinitionsRecord(const Definitions& base,
                                         const eventlog::LogRecord& record) {
  DefinitionsRecord out;
  out.appended = absl::FromUnixMillis(record.timestamp_ms);
  v1::EventEnvelope envelope;
  if (!envelope.ParseFromString(record.value) || !envelope.has_definitions()) {
    STRATA_LOG(ERROR) << "definitions: skipping malformed record at offset "
                      << record.offset;
    out.skipped = absl::DataLossError("malformed definitions record");
    return out;
  }
  google::protobuf::Timestamp appended = envelope.append_time();
  if (appended.seconds() <= 0) {
    appended.set_seconds(record.timestamp_ms / 1000);
    appended.set_nanos(0);
  }
  out.appended = FromTimestamp(appended);
  out.event_id = envelope.event_id();
  out.batch = std::move(*envelope.mutable_definitions());
  StampFeedSchedules(base, appended, out.batch);
  // Writers validate before appending; a batch that still fails here (two
  // writers raced) is skipped the same way by every reader.
  absl::StatusOr<Definitions> applied = base.WithBatch(out.batch);
  if (applied.ok()) {
    out.next = std::move(applied).value();
  } else {
    STRATA_LOG(ERROR) << "definitions: skipping batch at offset "
                      << record.offset << ": " << applied.status();
    out.skipped = applied.status();
  }
  return out;
}

}  // namespace strata
