#pragma once

// PeriodClosingService: closes periods and decides on the events that
// wait for them, by appending PeriodClosing and PendingDecision records to
// the event log, which the engine reads in order with the events.

#include "libs/eventlog/event_log.h"
#include "services/rollup/closings.h"
#include "strata/v1/closing_service.grpc.pb.h"

#include "libs/grpcutil/work_pool.h"

namespace strata::rollup {

// Registered raw (libs/grpcutil/raw_messages.h).
class ClosingService final
    : public v1::PeriodClosingService::WithRawCallbackMethod_ClosePeriod<
          v1::PeriodClosingService::WithRawCallbackMethod_ListPending<
              v1::PeriodClosingService::WithRawCallbackMethod_DecidePending<
                  v1::PeriodClosingService::Service>>> {
 public:
  // Calls run on `work` (they may wait for other instances).
  ClosingService(eventlog::EventLog& log, const Closings& closings,
                 WorkPool& work)
      : log_(log), closings_(closings), work_(work) {}

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
  const Closings& closings_;
  WorkPool& work_;
};

}  // namespace strata::rollup
