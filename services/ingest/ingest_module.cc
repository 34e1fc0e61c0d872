#include "services/ingest/ingest_module.h"

#include "libs/status/status_macros.h"
#include "libs/streams/envelope.h"
#include "libs/streams/topics.h"

namespace strata::ingest {

absl::StatusOr<std::unique_ptr<IngestModule>> IngestModule::Create(
    eventlog::EventLog& log, DefinitionsFollower& definitions) {
  ASSIGN_OR_RETURN(int32_t partitions, log.PartitionCount(kKpiEventsTopic));
  return std::unique_ptr<IngestModule>(
      new IngestModule(log, definitions, partitions));
}

IngestModule::IngestModule(eventlog::EventLog& log,
                           DefinitionsFollower& definitions, int32_t partitions)
    : ingestor_(log, definitions, ThisProducer("strata-ingest"), partitions),
      writer_(log, definitions, ThisProducer("strata-admin")),
      ingest_(ingestor_),
      admin_(writer_, definitions) {}

absl::StatusOr<std::unique_ptr<ServiceModule>> NewIngestService(
    eventlog::EventLog& log, DefinitionsFollower& definitions,
    const std::string& data_dir) {
  return AsServiceModule(IngestModule::Create(log, definitions));
}

}  // namespace strata::ingest
