#include "services/rollup/closing_service.h"

#include "absl/strings/str_cat.h"
#include "libs/grpcutil/raw_messages.h"
#include "libs/ids/ids.h"
#include "libs/status/quote.h"
#include "libs/status/status_macros.h"
#include "libs/streams/envelope.h"
#include "libs/streams/period_proto.h"
#include "libs/streams/topics.h"

namespace strata::rollup {

absl::Status ClosingService::Close(const v1::ClosePeriodRequest& request) {
  RETURN_IF_ERROR(closings_.Health());
  RETURN_IF_ERROR(PeriodFromProto(request.period(), "period").status());
  if (request.closed_by().empty()) {
    return absl::InvalidArgumentError("closed_by: required (who closes it)");
  }
  ASSIGN_OR_RETURN(int32_t partitions, log_.PartitionCount(kKpiEventsTopic));
  v1::EventEnvelope envelope = NewEnvelope(ThisProducer("strata-rollup"));
  *envelope.mutable_period_closing()->mutable_period() = request.period();
  envelope.mutable_period_closing()->set_closed_by(request.closed_by());
  const std::string value = envelope.SerializeAsString();
  std::vector<eventlog::AppendRecord> records;
  for (int32_t p = 0; p < partitions; ++p) {
    records.push_back({request.period().label(), value, p});
  }
  return log_.Append(kKpiEventsTopic, records);
}

absl::Status ClosingService::Decide(const v1::DecidePendingRequest& request) {
  RETURN_IF_ERROR(closings_.Health());
  RETURN_IF_ERROR(ValidateId("event_id", request.event_id()));
  if (request.decided_by().empty()) {
    return absl::InvalidArgumentError("decided_by: required (who decides)");
  }
  ASSIGN_OR_RETURN(std::optional<v1::PendingEvent> pending,
                   closings_.Pending(request.event_id()));
  if (!pending) {
    return absl::NotFoundError(absl::StrCat(
        "event_id: no event ", Quoted(request.event_id()),
        " waits for a decision"));
  }
  if (pending->approved()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "event_id: ", Quoted(request.event_id()), " was approved by ",
        Quoted(pending->decided_by()), "; it counts once the close of ",
        pending->closed_period().label(), " completes"));
  }
  v1::EventEnvelope envelope = NewEnvelope(ThisProducer("strata-rollup"));
  v1::PendingDecision* decision = envelope.mutable_pending_decision();
  decision->set_event_id(request.event_id());
  decision->set_approve(request.approve());
  decision->set_decided_by(request.decided_by());
  decision->set_note(request.note());
  return log_.Append(kKpiEventsTopic, {{request.event_id(),
                                        envelope.SerializeAsString(),
                                        pending->partition()}});
}

grpc::ServerUnaryReactor* ClosingService::ClosePeriod(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnaryOn<v1::ClosePeriodRequest, v1::ClosePeriodResponse>(
      work_, context, request, response,
      [this](const v1::ClosePeriodRequest& in, v1::ClosePeriodResponse&) {
        return Close(in);
      });
}

grpc::ServerUnaryReactor* ClosingService::ListPending(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnaryOn<v1::ListPendingRequest, v1::ListPendingResponse>(
      work_, context, request, response,
      [this](const v1::ListPendingRequest&, v1::ListPendingResponse& out) {
        ASSIGN_OR_RETURN(out, closings_.List());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ClosingService::DecidePending(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnaryOn<v1::DecidePendingRequest, v1::DecidePendingResponse>(
      work_, context, request, response,
      [this](const v1::DecidePendingRequest& in, v1::DecidePendingResponse&) {
        return Decide(in);
      });
}

}  // namespace strata::rollup
