#include "services/rollup/query_service.h"

#include "absl/strings/str_cat.h"
#include "libs/grpcutil/raw_messages.h"
#include "libs/status/status_macros.h"
#include "libs/streams/cell_key.h"
#include "services/rollup/rollup_record.h"
#include "libs/status/quote.h"

namespace strata::rollup {

absl::StatusOr<v1::RollupRecord> QueryService::Lookup(
    const v1::RollupKey& key) {
  ASSIGN_OR_RETURN(std::string cell_key, CellKeyOf(key));
  std::shared_ptr<const Definitions> defs =
      definitions_.CurrentSatisfying([&](const Definitions& d) {
        return d.FindKpi(key.kpi_id()) && d.FindUnit(key.unit_id());
      });
  std::optional<KpiIndex> kpi = defs->FindKpi(key.kpi_id());
  if (!kpi) {
    return absl::NotFoundError(
        absl::StrCat("key.kpi_id: unknown KPI ", Quoted(key.kpi_id())));
  }
  std::optional<UnitIndex> unit = defs->FindUnit(key.unit_id());
  if (!unit) {
    return absl::NotFoundError(
        absl::StrCat("key.unit_id: unknown unit ", Quoted(key.unit_id())));
  }
  // CellKeyOf validated the period.
  const Period period = *ParsePeriod(
      static_cast<PeriodKind>(key.period().kind()), key.period().label());
  if (!defs->kpi(*kpi).periods.Contains(period.kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat("key.period.kind: KPI ", Quoted(key.kpi_id()),
                     " keeps no ", PeriodKindName(period.kind), " rollups"));
  }
  ASSIGN_OR_RETURN(std::optional<v1::RollupRecord> record,
                   engine_.ReadRecord(*defs, {*kpi, *unit, period}));
  if (!record) {
    return absl::NotFoundError(absl::StrCat("no events yet for ", cell_key));
  }
  return *std::move(record);
}

absl::Status QueryService::Get(const v1::GetRollupRequest& request,
                               v1::RollupRecord& response) {
  RETURN_IF_ERROR(engine_.Health());
  ASSIGN_OR_RETURN(response, Lookup(request.key()));
  return absl::OkStatus();
}

absl::Status QueryService::BatchGet(const v1::BatchGetRollupsRequest& request,
                                    v1::BatchGetRollupsResponse& response) {
  RETURN_IF_ERROR(engine_.Health());
  for (int i = 0; i < request.keys_size(); ++i) {
    absl::StatusOr<v1::RollupRecord> record = Lookup(request.keys(i));
    if (record.ok()) {
      *response.add_records() = *std::move(record);
    } else if (!absl::IsNotFound(record.status())) {
      return absl::Status(
          record.status().code(),
          absl::StrCat("keys[", i, "].", record.status().message()));
    }
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* QueryService::GetRollup(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::GetRollupRequest, v1::RollupRecord>(
      context, request, response,
      [&](const v1::GetRollupRequest& in, v1::RollupRecord& out) {
        return Get(in, out);
      });
}

grpc::ServerUnaryReactor* QueryService::BatchGetRollups(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::BatchGetRollupsRequest, v1::BatchGetRollupsResponse>(
      context, request, response,
      [&](const v1::BatchGetRollupsRequest& in,
          v1::BatchGetRollupsResponse& out) { return BatchGet(in, out); });
}

}  // namespace strata::rollup
