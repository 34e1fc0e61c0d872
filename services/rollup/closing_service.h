#pragma once

// PeriodClosingService: closes periods and decides on the events that
// wait for them, by appending PeriodClosing and PendingDecision records to
// the event log, which the engine reads in order with the events.

#include "libs/eventlog/event_log.h"
#include "services/rollup/rollup_engine.h"
#include "strata/v1/closing_service.grpc.pb.h"

namespace strata::rollup {

// Registered raw (libs/grpcutil/raw_messages.h).
class ClosingService final
    : public v1::PeriodClosingService::WithRawCallbackMethod_ClosePeriod<
          v1::PeriodClosingService::WithRawCallbackMethod_ListPending<
              v1::PeriodClosingService::WithRawCallbackMethod_DecidePending<
                  v1::PeriodClosingService::Service>>> {
 public:
  ClosingService(eventlog::EventLog& log, const RollupEngine& engine)
      : log_(log), engine_(engine) {}

  grpc::ServerUnaryReactor* ClosePeriod(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListPending(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DecidePending(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;

 private:
  absl::Status Close(const v1::ClosePeriodRequest& request);
  absl::Status Decide(const v1::DecidePendingRequest& request);

  eventlog::EventLog& log_;
  const RollupEngine& engine_;
};

}  // namespace strata::rollup
