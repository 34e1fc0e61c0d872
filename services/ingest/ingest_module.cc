#include "services/ingest/ingest_module.h"

#include "libs/status/status_macros.h"
#include "libs/streams/envelope.h"
#include "libs/streams/topics.h"

namespace strata::ingest {

absl::StatusOr<std::unique_ptr<IngestModule>> IngestModule::Create(
    eventlog::EventLog& log, DefinitionsFollower& definitions,
    const std::string& state_dir, absl::Duration max_rollup_lag,
    const HealthReport* damage) {
  ASSIGN_OR_RETURN(int32_t partitions, log.PartitionCount(kKpiEventsTopic));
  ASSIGN_OR_RETURN(std::unique_ptr<EventIdIndex> index,
                   EventIdIndex::Open(state_dir));
  return std::unique_ptr<IngestModule>(new IngestModule(
      log, definitions, std::move(index), partitions, max_rollup_lag, damage));
}

IngestModule::IngestModule(eventlog::EventLog& log,
                           DefinitionsFollower& definitions,
                           std::unique_ptr<EventIdIndex> index,
                           int32_t partitions, absl::Duration max_rollup_lag,
                           const HealthReport* damage)
    : index_(std::move(index)),
      lag_(log, RollupPipelines(), Clock::Real()),
      ingestor_(log, definitions, *index_, ThisProducer("strata-ingest"),
                partitions, {max_rollup_lag, &lag_, damage}),
      writer_(log, definitions, ThisProducer("strata-admin")),
      ingest_(ingestor_),
      admin_(writer_, definitions, log) {}

absl::StatusOr<std::unique_ptr<ServiceModule>> NewIngestService(
    eventlog::EventLog& log, DefinitionsFollower& definitions,
    const std::string& data_dir, absl::Duration max_rollup_lag,
    const HealthReport& damage) {
  return AsServiceModule(IngestModule::Create(
      log, definitions, data_dir + "/ingest", max_rollup_lag, &damage));
}

}  // namespace strata::ingest
