#pragma once

// The services of a deployment as the fault harnesses call them: ingest,
// rollup queries and alerts, each on its own port or all on one (`strata
// serve`). Every call has a deadline, so a hung service fails the call, not
// the harness.
//
//   StrataClient client;
//   client.Connect({ingest_port, rollup_port, alerts_port});
//   std::map<int, v1::RollupRecord> cells;
//   grpc::Status status = client.AllCells(cells);  // By CellIndex.

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"
#include "strata/v1/admin_service.grpc.pb.h"
#include "strata/v1/alert_service.grpc.pb.h"
#include "strata/v1/ingest_service.grpc.pb.h"
#include "strata/v1/query_service.grpc.pb.h"

namespace strata::faults {

struct ServicePorts {
  int ingest = 0;
  int rollup = 0;
  int alerts = 0;
};

class StrataClient {
 public:
  // Points every later call at `ports`.
  void Connect(const ServicePorts& ports);
  bool connected() const { return ingest_ != nullptr; }

  grpc::Status GetRollup(const v1::RollupKey& key, v1::RollupRecord& record);
  // Every cell of the workload's organisation in one call, by CellIndex.
  grpc::Status AllCells(std::map<int, v1::RollupRecord>& cells);
  // Every alert, resolved ones included.
  grpc::Status ListAlerts(v1::ListAlertsResponse& response);
  grpc::Status Ingest(const v1::IngestRequest& request,
                      v1::IngestResponse& response);
  grpc::Status ApplyDefinitions(const v1::DefinitionBatch& batch);
  // Whether every service says SERVING; an error when one cannot be asked.
  absl::StatusOr<bool> CheckServing(absl::Duration timeout);

 private:
  std::shared_ptr<grpc::Channel> ingest_channel_, rollup_channel_,
      alerts_channel_;
  std::unique_ptr<v1::IngestService::Stub> ingest_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::RollupQueryService::Stub> query_;
  std::unique_ptr<v1::AlertService::Stub> alerts_;
};

// "code 14: connection refused".
std::string Describe(const grpc::Status& status);
// A loud, precise refusal: DATA_LOSS or FAILED_PRECONDITION with a reason.
bool IsRefusal(const grpc::Status& status);

}  // namespace strata::faults
