#pragma once

// The ingest service's parts, wired: IngestService and AdminService over
// one log and definitions follower. Used by strata-ingest and by strata.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "libs/grpcutil/service_module.h"
#include "services/ingest/admin_service.h"
#include "services/ingest/definitions_writer.h"
#include "services/ingest/event_id_index.h"
#include "services/ingest/ingest_service.h"
#include "services/ingest/kpi_event_ingestor.h"
#include "services/ingest/rollup_lag_monitor.h"

namespace strata::ingest {

class IngestModule final : public ServiceModule {
 public:
  // The event-id index lives in `state_dir` (created when missing).
  static absl::StatusOr<std::unique_ptr<IngestModule>> Create(
      eventlog::EventLog& log, DefinitionsFollower& definitions,
      const std::string& state_dir, absl::Duration max_rollup_lag,
      const HealthReport* damage = nullptr);

  std::vector<grpc::Service*> services() override {
    return {&ingest_, &admin_};
  }
  absl::Status Start() override {
    lag_.Start();
    return absl::OkStatus();
  }
  void Stop() override { lag_.Stop(); }
  std::string name() const override { return "ingest"; }
  std::map<std::string, int64_t> Gauges() override {
    return {{"rollup_lag_ms", absl::ToInt64Milliseconds(lag_.Lag())}};
  }

 private:
  IngestModule(eventlog::EventLog& log, DefinitionsFollower& definitions,
               std::unique_ptr<EventIdIndex> index, int32_t partitions,
               absl::Duration max_rollup_lag, const HealthReport* damage);

  std::unique_ptr<EventIdIndex> index_;
  RollupLagMonitor lag_;
  KpiEventIngestor ingestor_;
  DefinitionsWriter writer_;
  IngestService ingest_;
  AdminService admin_;
};

// The service as a process runs it, with default options and its state
// under `data_dir`.
// Ingest refuses events while `damage` (the server's) is not OK.
absl::StatusOr<std::unique_ptr<ServiceModule>> NewIngestService(
    eventlog::EventLog& log, DefinitionsFollower& definitions,
    const std::string& data_dir, absl::Duration max_rollup_lag,
    const HealthReport& damage);

}  // namespace strata::ingest
