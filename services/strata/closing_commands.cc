// `strata close`, `strata pending`, `strata approve`, `strata reject`.

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "libs/grpcutil/status_conversion.h"
#include "libs/period/period.h"
#include "libs/status/status_macros.h"
#include "services/strata/client_commands.h"
#include "strata/v1/closing_service.grpc.pb.h"

namespace strata::cli {
namespace {

std::string FormatTime(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

}  // namespace

absl::Status Client::ClosePeriod(const std::string& label) {
  ASSIGN_OR_RETURN(PeriodKind kind, KindOfLabel(label));
  v1::ClosePeriodRequest request;
  request.mutable_period()->set_kind(static_cast<v1::PeriodKind>(kind));
  request.mutable_period()->set_label(label);
  request.set_closed_by(options_.by);
  auto stub = v1::PeriodClosingService::NewStub(channel_);
  grpc::ClientContext context;
  v1::ClosePeriodResponse response;
  RETURN_IF_ERROR(
      FromGrpcStatus(stub->ClosePeriod(&context, request, &response)));
  out_ << "closed " << label << "; late events for it now wait for approval\n";
  return absl::OkStatus();
}

absl::Status Client::ListPending() {
  auto stub = v1::PeriodClosingService::NewStub(channel_);
  grpc::ClientContext context;
  v1::ListPendingResponse response;
  RETURN_IF_ERROR(FromGrpcStatus(
      stub->ListPending(&context, v1::ListPendingRequest(), &response)));
  for (const v1::ClosedPeriod& closed : response.closed()) {
    out_ << absl::StrFormat("closed %s by %s at %s%s\n",
                            closed.period().label(), closed.closed_by(),
                            FormatTime(closed.closed_time()),
                            closed.complete() ? "" : " (completing)");
  }
  for (const v1::PendingEvent& p : response.pending()) {
    const v1::KpiEvent& e = p.event();
    out_ << absl::StrFormat(
        "%-20s %s %s %s %s%s  received %s%s\n", e.event_id(), e.kpi_id(),
        e.unit_id(), FormatTime(e.event_time()),
        e.voids() ? "void" : absl::StrCat(e.value()),
        e.corrects_event_id().empty()
            ? ""
            : absl::StrCat(" (corrects ", e.corrects_event_id(), ")"),
        FormatTime(p.received_time()),
        p.approved() ? absl::StrCat("  approved by ", p.decided_by()) : "");
  }
  out_ << response.pending_size() << " events pending\n";
  return absl::OkStatus();
}

absl::Status Client::DecidePending(const std::string& event_id, bool approve) {
  v1::DecidePendingRequest request;
  request.set_event_id(event_id);
  request.set_approve(approve);
  request.set_decided_by(options_.by);
  request.set_note(options_.note);
  auto stub = v1::PeriodClosingService::NewStub(channel_);
  grpc::ClientContext context;
  v1::DecidePendingResponse response;
  RETURN_IF_ERROR(
      FromGrpcStatus(stub->DecidePending(&context, request, &response)));
  out_ << (approve ? "approved " : "rejected ") << event_id << "\n";
  return absl::OkStatus();
}

}  // namespace strata::cli
