#pragma once

// Validates batches of KPI events and appends them to the log: the ingest
// service without its transport.
//
// Events are keyed by event id, so every copy of an id lands in one
// partition; a batch is grouped by partition, one envelope per partition,
// all in one Append. On the embedded log that append is atomic; on Kafka a
// failure may leave some partitions' envelopes appended, which a retry
// makes whole without double counting, since rollup applies each event id
// once.

#include <cstdint>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "libs/status/health_report.h"
#include "services/ingest/event_id_index.h"
#include "services/ingest/rollup_lag_monitor.h"
#include "strata/v1/events.pb.h"

namespace strata::ingest {

struct KpiEventIngestorOptions {
  // Refuse new events (RESOURCE_EXHAUSTED) while rollup trails the log by
  // more than this, so that a saturated rollup slows the feeds down rather
  // than falling minutes behind. Zero: never refuse.
  absl::Duration max_rollup_lag = absl::Seconds(10);
  // Where the lag comes from; null: not measured, never refused.
  const RollupLagMonitor* lag = nullptr;
  // While not OK, every call answers it and appends nothing (the server
  // found damage: appending to a log its state disagrees with, or
  // acknowledging resends from an index the log may not match, would make
  // it worse). Null: never.
  const HealthReport* damage = nullptr;
};

class KpiEventIngestor {
 public:
  KpiEventIngestor(eventlog::EventLog& log, DefinitionsFollower& definitions,
                   EventIdIndex& index, v1::Producer producer,
                   int32_t partitions,
                   const KpiEventIngestorOptions& options = {})
      : log_(log),
        definitions_(definitions),
        index_(index),
        producer_(std::move(producer)),
        partitions_(partitions),
        options_(options) {}

  // Returns the number of events accepted (appended now, or identical to
  // ones appended before), or why none was: INVALID_ARGUMENT or NOT_FOUND
  // from validation, ALREADY_EXISTS when an id was accepted before with a
  // different payload, ABORTED when a concurrent call is ingesting the same
  // id (retry), RESOURCE_EXHAUSTED while rollup lags too far behind
  // (retry after a pause), or the log's error.
  absl::StatusOr<int64_t> Ingest(
      const google::protobuf::RepeatedPtrField<v1::KpiEvent>& events);

 private:
  class InFlightClaim;

  eventlog::EventLog& log_;
  DefinitionsFollower& definitions_;
  EventIdIndex& index_;
  const v1::Producer producer_;
  const int32_t partitions_;
  const KpiEventIngestorOptions options_;

  // Ids between look-up and index, so two calls cannot both take one id.
  std::mutex in_flight_mu_;
  absl::flat_hash_set<std::string> in_flight_;  // Guarded by in_flight_mu_.
};

}  // namespace strata::ingest
