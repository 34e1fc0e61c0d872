#include "services/ingest/admin_service.h"

#include "libs/grpcutil/status_conversion.h"

namespace strata::ingest {

grpc::ServerUnaryReactor* AdminService::ApplyDefinitions(
    grpc::CallbackServerContext* context, const v1::DefinitionBatch* request,
    v1::ApplyDefinitionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<int64_t> applied = writer_.Apply(*request);
  if (applied.ok()) response->set_applied(*applied);
  reactor->Finish(ToGrpcStatus(applied.status()));
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::GetDefinitions(
    grpc::CallbackServerContext* context,
    const v1::GetDefinitionsRequest* request, v1::DefinitionBatch* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  *response = definitions_.Current()->ToBatch();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace strata::ingest
