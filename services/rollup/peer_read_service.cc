#include "services/rollup/peer_read_service.h"

#include "absl/strings/str_cat.h"
#include "libs/grpcutil/raw_messages.h"
#include "libs/ids/ids.h"
#include "libs/status/quote.h"
#include "libs/status/status_macros.h"
#include "libs/streams/period_proto.h"
#include "libs/streams/timestamps.h"

namespace strata::rollup {

absl::Status PeerReadService::Read(const v1::ReadCellsRequest& request,
                                   v1::ReadCellsResponse& response) const {
  if (request.keys_size() > kMaxPeerReadKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("keys: ", request.keys_size(), " keys exceed the limit of ",
                     kMaxPeerReadKeys, " a request"));
  }
  if (!request.has_judged_at() ||
      !InTimestampRange(FromTimestamp(request.judged_at()))) {
    return absl::InvalidArgumentError(
        "judged_at: required, within the range of a Timestamp");
  }
  const absl::Time judged_at = FromTimestamp(request.judged_at());
  for (int i = 0; i < request.keys_size(); ++i) {
    const std::string field = absl::StrCat("keys[", i, "].");
    RETURN_IF_ERROR(ValidateId(field + "kpi_id", request.keys(i).kpi_id()));
    RETURN_IF_ERROR(ValidateId(field + "unit_id", request.keys(i).unit_id()));
  }
  RETURN_IF_ERROR(cells_.Health());
  // The asking instance may have read definitions this one has not yet.
  std::shared_ptr<const Definitions> defs =
      definitions_.CurrentSatisfying([&](const Definitions& d) {
        for (const v1::RollupKey& key : request.keys()) {
          if (!d.FindKpi(key.kpi_id()) || !d.FindUnit(key.unit_id())) {
            return false;
          }
        }
        return true;
      });
  for (int i = 0; i < request.keys_size(); ++i) {
    const v1::RollupKey& key = request.keys(i);
    const std::string field = absl::StrCat("keys[", i, "].");
    ASSIGN_OR_RETURN(Period period,
                     PeriodFromProto(key.period(), field + "period"));
    std::optional<KpiIndex> kpi = defs->FindKpi(key.kpi_id());
    std::optional<UnitIndex> unit = defs->FindUnit(key.unit_id());
    if (!kpi || !unit) {
      // Defined where the call came from, not read here yet: passes.
      return absl::UnavailableError(absl::StrCat(
          field, "kpi_id/unit_id: ", Quoted(key.kpi_id()), " or ",
          Quoted(key.unit_id()), " is not defined here yet"));
    }
    if (!defs->kpi(*kpi).periods.Contains(period.kind)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, "period.kind: KPI ", Quoted(key.kpi_id()), " keeps no ",
          PeriodKindName(period.kind), " rollups"));
    }
    absl::StatusOr<std::optional<v1::RollupRecord>> record =
        cells_.ReadHere(*defs, {*kpi, *unit, period}, judged_at);
    if (!record.ok()) {
      return absl::Status(record.status().code(),
                          field + std::string(record.status().message()));
    }
    v1::CellRead* read = response.add_cells();
    if (record->has_value()) *read->mutable_record() = **std::move(record);
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PeerReadService::ReadCells(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::ReadCellsRequest, v1::ReadCellsResponse>(
      context, request, response,
      [&](const v1::ReadCellsRequest& in, v1::ReadCellsResponse& out) {
        return Read(in, out);
      });
}

grpc::ServerUnaryReactor* PeerReadService::ListPendingHere(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::ListPendingHereRequest, v1::ListPendingHereResponse>(
      context, request, response,
      [&](const v1::ListPendingHereRequest& in,
          v1::ListPendingHereResponse& out) -> absl::Status {
        if (!in.event_id().empty()) {
          RETURN_IF_ERROR(ValidateId("event_id", in.event_id()));
        }
        ASSIGN_OR_RETURN(std::vector<v1::PartClosings> parts,
                         closings_.Here(in.event_id()));
        for (v1::PartClosings& part : parts) {
          *out.add_parts() = std::move(part);
        }
        return absl::OkStatus();
      });
}

}  // namespace strata::rollup
