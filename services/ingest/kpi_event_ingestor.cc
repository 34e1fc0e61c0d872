#include "services/ingest/kpi_event_ingestor.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/logging/log.h"
#include "libs/status/quote.h"
#include "libs/status/status_macros.h"
#include "libs/streams/envelope.h"
#include "libs/streams/kpi_event_identity.h"
#include "libs/streams/topics.h"
#include "services/ingest/event_validator.h"

namespace strata::ingest {

// Holds a call's ids in in_flight_ from the look-up until they are indexed.
class KpiEventIngestor::InFlightClaim {
 public:
  InFlightClaim(KpiEventIngestor& ingestor) : ingestor_(ingestor) {}
  ~InFlightClaim() {
    std::lock_guard<std::mutex> lock(ingestor_.in_flight_mu_);
    for (absl::string_view id : claimed_) ingestor_.in_flight_.erase(id);
  }

  // ABORTED naming the first id another call holds; claims none then.
  absl::Status Claim(const std::vector<absl::string_view>& ids) {
    std::lock_guard<std::mutex> lock(ingestor_.in_flight_mu_);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ingestor_.in_flight_.contains(ids[i])) {
        return absl::AbortedError(absl::StrCat(
            "events[", i, "].event_id: ", Quoted(ids[i]),
            " is being ingested by a concurrent request; retry"));
      }
    }
    for (absl::string_view id : ids) ingestor_.in_flight_.emplace(id);
    claimed_ = ids;
    return absl::OkStatus();
  }

 private:
  KpiEventIngestor& ingestor_;
  std::vector<absl::string_view> claimed_;
};

absl::StatusOr<int64_t> KpiEventIngestor::Ingest(
    const google::protobuf::RepeatedPtrField<v1::KpiEvent>& events) {
  if (events.empty()) return 0;
  if (options_.damage != nullptr) RETURN_IF_ERROR(options_.damage->Get());
  if (options_.lag != nullptr && options_.max_rollup_lag > absl::ZeroDuration()) {
    const absl::Duration lag = options_.lag->Lag();
    if (lag > options_.max_rollup_lag) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "rollup is ", absl::FormatDuration(absl::Trunc(lag, absl::Milliseconds(100))),
          " behind the log (the limit is ",
          absl::FormatDuration(options_.max_rollup_lag), "; most behind: ",
          options_.lag->LagWhere(),
          "); nothing was accepted, retry in a moment"));
    }
  }
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

  std::vector<absl::string_view> ids;
  ids.reserve(events.size());
  for (const v1::KpiEvent& event : events) ids.push_back(event.event_id());
  InFlightClaim claim(*this);
  RETURN_IF_ERROR(claim.Claim(ids));
  ASSIGN_OR_RETURN(std::vector<std::optional<uint64_t>> known,
                   index_.Lookup(ids));

  std::vector<v1::EventEnvelope> by_partition(partitions_);
  std::vector<std::pair<absl::string_view, uint64_t>> appended;
  for (int i = 0; i < events.size(); ++i) {
    const v1::KpiEvent& event = events[i];
    const uint64_t fingerprint = KpiEventFingerprint(event);
    if (known[i]) {
      if (*known[i] == fingerprint) continue;  // A resend: already there.
      return absl::AlreadyExistsError(absl::StrCat(
          "events[", i, "].event_id: ", Quoted(event.event_id()),
          " was accepted before with a different KPI, unit, time, value or "
          "source; an event id names one fact (send a new id)"));
    }
    appended.emplace_back(event.event_id(), fingerprint);
    const int32_t p =
        eventlog::PartitionForKey(KpiEventPartitionKey(event), partitions_);
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
  if (!records.empty()) {
    RETURN_IF_ERROR(log_.Append(kKpiEventsTopic, records));
    // Accepted whatever follows: the events are on the log.
    absl::Status indexed =
        index_.Record(appended, absl::ToUnixMillis(absl::Now()));
    if (!indexed.ok()) {
      STRATA_LOG(ERROR) << "ingest: events appended but not indexed (a "
                           "conflicting resend is then caught by rollup "
                           "only): "
                        << indexed;
    }
  }
  return events.size();
}

}  // namespace strata::ingest
