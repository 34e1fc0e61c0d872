#include "tests/faults/strata_client.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "libs/grpcutil/health_client.h"
#include "tests/faults/workload.h"

namespace strata::faults {
namespace {

std::shared_ptr<grpc::Channel> Channel(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                             grpc::InsecureChannelCredentials());
}

template <typename Call>
grpc::Status WithDeadline(absl::Duration timeout, Call call) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return call(context);
}

}  // namespace

void StrataClient::Connect(const ServicePorts& ports) {
  ingest_channel_ = Channel(ports.ingest);
  rollup_channel_ =
      ports.rollup == ports.ingest ? ingest_channel_ : Channel(ports.rollup);
  alerts_channel_ =
      ports.alerts == ports.ingest ? ingest_channel_ : Channel(ports.alerts);
  ingest_ = v1::IngestService::NewStub(ingest_channel_);
  admin_ = v1::AdminService::NewStub(ingest_channel_);
  query_ = v1::RollupQueryService::NewStub(rollup_channel_);
  alerts_ = v1::AlertService::NewStub(alerts_channel_);
}

grpc::Status StrataClient::GetRollup(const v1::RollupKey& key,
                                     v1::RollupRecord& record) {
  v1::GetRollupRequest request;
  *request.mutable_key() = key;
  return WithDeadline(absl::Seconds(5), [&](grpc::ClientContext& c) {
    return query_->GetRollup(&c, request, &record);
  });
}

grpc::Status StrataClient::AllCells(std::map<int, v1::RollupRecord>& cells) {
  v1::BatchGetRollupsRequest request;
  for (int cell = 0; cell < kCellCount; ++cell) {
    *request.add_keys() =
        KeyOf(cell / (kUnitCount * kPeriodCount),
              cell / kPeriodCount % kUnitCount, cell % kPeriodCount);
  }
  v1::BatchGetRollupsResponse response;
  grpc::Status status =
      WithDeadline(absl::Seconds(5), [&](grpc::ClientContext& c) {
        return query_->BatchGetRollups(&c, request, &response);
      });
  cells.clear();
  if (!status.ok()) return status;
  for (const v1::RollupRecord& r : response.records()) {
    const int cell = CellOf(r.key());
    if (cell < 0) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          "unexpected key " + r.key().ShortDebugString());
    }
    cells[cell] = r;
  }
  return status;
}

grpc::Status StrataClient::ListAlerts(v1::ListAlertsResponse& response) {
  v1::ListAlertsRequest request;
  request.set_include_resolved(true);
  return WithDeadline(absl::Seconds(5), [&](grpc::ClientContext& c) {
    return alerts_->ListAlerts(&c, request, &response);
  });
}

grpc::Status StrataClient::Ingest(const v1::IngestRequest& request,
                                  v1::IngestResponse& response) {
  return WithDeadline(absl::Seconds(5), [&](grpc::ClientContext& c) {
    return ingest_->Ingest(&c, request, &response);
  });
}

grpc::Status StrataClient::ApplyDefinitions(const v1::DefinitionBatch& batch) {
  v1::ApplyDefinitionsResponse response;
  return WithDeadline(absl::Seconds(10), [&](grpc::ClientContext& c) {
    return admin_->ApplyDefinitions(&c, batch, &response);
  });
}

absl::StatusOr<bool> StrataClient::CheckServing(absl::Duration timeout) {
  bool serving = true;
  for (const auto& channel :
       {ingest_channel_, rollup_channel_, alerts_channel_}) {
    absl::StatusOr<bool> one = ::strata::CheckServing(channel, timeout);
    if (!one.ok()) return one.status();
    serving = serving && *one;
  }
  return serving;
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat("code ", status.error_code(), ": ",
                      status.error_message());
}

bool IsRefusal(const grpc::Status& status) {
  return (status.error_code() == grpc::StatusCode::DATA_LOSS ||
          status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) &&
         !status.error_message().empty();
}

}  // namespace strata::faults
