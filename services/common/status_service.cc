#include "services/common/status_service.h"

#include "absl/status/status.h"
#include "libs/grpcutil/raw_messages.h"

namespace strata {

v1::ServerStatus StatusService::Report() const {
  v1::ServerStatus report;
  bool serving = true;
  for (const auto& module : modules_) {
    v1::ModuleStatus* status = report.add_modules();
    status->set_module(module->name());
    const absl::Status health = module->Health();
    serving &= health.ok();
    status->set_code(absl::StatusCodeToString(health.code()));
    status->set_message(std::string(health.message()));
    for (const auto& [name, value] : module->Gauges()) {
      (*status->mutable_gauges())[name] = value;
    }
  }
  report.set_serving(serving);
  return report;
}

grpc::ServerUnaryReactor* StatusService::GetStatus(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::GetStatusRequest, v1::ServerStatus>(
      context, request, response,
      [&](const v1::GetStatusRequest&, v1::ServerStatus& out) {
        out = Report();
        return absl::OkStatus();
      });
}

}  // namespace strata
