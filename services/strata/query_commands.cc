// `strata query`: rollups as tables.

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpcpp/client_context.h"
#include "libs/grpcutil/status_conversion.h"
#include "libs/period/period.h"
#include "libs/status/status_macros.h"
#include "services/strata/client_commands.h"
#include "services/strata/figure_format.h"
#include "strata/v1/query_service.grpc.pb.h"
#include "strata/v1/rollup_stream_service.grpc.pb.h"

namespace strata::cli {
absl::Status Client::Watch(const WatchOptions& watch) {
  v1::WatchRollupsRequest request;
  for (const std::string& kpi : watch.kpis) request.add_kpi_ids(kpi);
  request.set_unit_id(options_.unit);
  request.set_resume_token(watch.resume_token);
  request.set_from_beginning(watch.from_beginning);
  auto stub = v1::RollupStreamService::NewStub(channel_);
  grpc::ClientContext context;
  auto reader = stub->WatchRollups(&context, request);
  v1::WatchRollupsResponse response;
  while (reader->Read(&response)) {
    const v1::RollupRecord& r = response.record();
    out_ << absl::StrFormat("%s %s %s %s  (version %d)  resume=%s", r.key().kpi_id(),
                            r.key().unit_id(), r.key().period().label(),
                            FormatFigure(r), r.version(),
                            response.resume_token())
         << std::endl;
  }
  return FromGrpcStatus(reader->Finish());
}

absl::Status Client::Query(const QueryOptions& query) {
  auto stub = v1::RollupQueryService::NewStub(channel_);
  grpc::ClientContext context;
  ASSIGN_OR_RETURN(v1::Period period, PeriodOfLabel(query.period));
  switch (query.shape) {
    case QueryOptions::Shape::kPoint: {
      v1::GetRollupRequest request;
      request.mutable_key()->set_kpi_id(query.kpi);
      request.mutable_key()->set_unit_id(query.unit);
      *request.mutable_key()->mutable_period() = period;
      v1::RollupRecord record;
      RETURN_IF_ERROR(
          FromGrpcStatus(stub->GetRollup(&context, request, &record)));
      out_ << absl::StrFormat("%s %s %s %s  (version %d)\n", query.kpi,
                              query.unit, query.period, FormatFigure(record),
                              record.version());
      return absl::OkStatus();
    }
    case QueryOptions::Shape::kSeries: {
      v1::GetSeriesRequest request;
      request.set_kpi_id(query.kpi);
      request.set_unit_id(query.unit);
      *request.mutable_first() = period;
      ASSIGN_OR_RETURN(*request.mutable_last(), PeriodOfLabel(query.last));
      v1::GetSeriesResponse response;
      RETURN_IF_ERROR(
          FromGrpcStatus(stub->GetSeries(&context, request, &response)));
      out_ << query.kpi << " " << query.unit << "\n";
      for (const v1::RollupRecord& r : response.records()) {
        out_ << absl::StrFormat("  %-11s %s\n", r.key().period().label(),
                                FormatFigure(r));
      }
      return absl::OkStatus();
    }
    case QueryOptions::Shape::kChildren: {
      v1::GetChildrenRequest request;
      request.mutable_key()->set_kpi_id(query.kpi);
      request.mutable_key()->set_unit_id(query.unit);
      *request.mutable_key()->mutable_period() = period;
      v1::GetChildrenResponse response;
      RETURN_IF_ERROR(
          FromGrpcStatus(stub->GetChildren(&context, request, &response)));
      out_ << absl::StrFormat("%s %s %s %s\n", query.kpi, query.unit,
                              query.period, FormatFigure(response.parent()));
      for (const v1::ChildRollup& child : response.children()) {
        const std::string share =
            child.has_share() ? absl::StrFormat("%5.1f%%", 100 * child.share())
                              : "      ";
        out_ << absl::StrFormat("  %-20s %s %s\n",
                                child.record().key().unit_id(), share,
                                FormatFigure(child.record()));
      }
      if (response.has_own_share() && response.own_share() != 0) {
        out_ << absl::StrFormat("  %-20s %5.1f%%\n", "(own events)",
                                100 * response.own_share());
      }
      return absl::OkStatus();
    }
    case QueryOptions::Shape::kUnitKpis: {
      v1::GetUnitKpisRequest request;
      request.set_unit_id(query.unit);
      *request.mutable_period() = period;
      v1::GetUnitKpisResponse response;
      RETURN_IF_ERROR(
          FromGrpcStatus(stub->GetUnitKpis(&context, request, &response)));
      out_ << query.unit << " " << query.period << "\n";
      for (const v1::RollupRecord& r : response.records()) {
        out_ << absl::StrFormat("  %-24s %s\n", r.key().kpi_id(),
                                FormatFigure(r));
      }
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("unknown query");
}

}  // namespace strata::cli
