#pragma once

// Validates batches of KPI events and appends them to the log: the ingest
// service without its transport.
//
// A batch is grouped by partition ("<kpi>/<unit>" keys), one envelope per
// partition, all in one Append. On the embedded log that append is atomic;
// on Kafka a failure may leave some partitions' envelopes appended, which a
// retry makes whole without double counting, since rollup applies each
// event id once.

#include <cstdint>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "strata/v1/events.pb.h"

namespace strata::ingest {

class KpiEventIngestor {
 public:
  KpiEventIngestor(eventlog::EventLog& log, DefinitionsFollower& definitions,
                   v1::Producer producer, int32_t partitions)
      : log_(log),
        definitions_(definitions),
        producer_(std::move(producer)),
        partitions_(partitions) {}

  // Returns the number of events appended, or why none was.
  absl::StatusOr<int64_t> Ingest(
      const google::protobuf::RepeatedPtrField<v1::KpiEvent>& events);

 private:
  eventlog::EventLog& log_;
  DefinitionsFollower& definitions_;
  const v1::Producer producer_;
  const int32_t partitions_;
};

}  // namespace strata::ingest
