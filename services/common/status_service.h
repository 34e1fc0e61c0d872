#pragma once

// StatusService: each module's health and gauges, for operators and the
// `strata health` command (the standard health service only says
// NOT_SERVING, not why).

#include <memory>
#include <vector>

#include "libs/grpcutil/service_module.h"
#include "strata/v1/status_service.grpc.pb.h"

namespace strata {

class StatusService final
    : public v1::StatusService::WithRawCallbackMethod_GetStatus<
          v1::StatusService::Service> {
 public:
  explicit StatusService(
      const std::vector<std::unique_ptr<ServiceModule>>& modules)
      : modules_(modules) {}

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;

  // The report GetStatus answers.
  v1::ServerStatus Report() const;

 private:
  const std::vector<std::unique_ptr<ServiceModule>>& modules_;
};

}  // namespace strata
