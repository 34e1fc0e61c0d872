#include "services/ingest/admin_service.h"

#include "libs/definitions/definitions_as_of.h"
#include "libs/grpcutil/raw_messages.h"
#include "libs/streams/timestamps.h"

namespace strata::ingest {

grpc::ServerUnaryReactor* AdminService::ApplyDefinitions(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::DefinitionBatch, v1::ApplyDefinitionsResponse>(
      context, request, response,
      [&](const v1::DefinitionBatch& batch, v1::ApplyDefinitionsResponse& out) {
        absl::StatusOr<int64_t> applied = writer_.Apply(batch);
        if (applied.ok()) out.set_applied(*applied);
        return applied.status();
      });
}

grpc::ServerUnaryReactor* AdminService::GetDefinitions(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary<v1::GetDefinitionsRequest, v1::DefinitionBatch>(
      context, request, response,
      [&](const v1::GetDefinitionsRequest& request, v1::DefinitionBatch& out) {
        if (!request.has_as_of()) {
          out = definitions_.Current()->ToBatch();
          return absl::OkStatus();
        }
        absl::StatusOr<DefinitionsAsOf> then =
            ReadDefinitionsAsOf(log_, FromTimestamp(request.as_of()));
        if (!then.ok()) return then.status();
        out = then->definitions.ToBatch();
        return absl::OkStatus();
      });
}

}  // namespace strata::ingest
