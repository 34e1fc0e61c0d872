#pragma once

// AdminService over gRPC.

#include "libs/definitions/definitions_follower.h"
#include "services/ingest/definitions_writer.h"
#include "strata/v1/admin_service.grpc.pb.h"

namespace strata::ingest {

// Registered raw, so that a request that does not parse is answered
// INVALID_ARGUMENT naming it (libs/grpcutil/raw_messages.h).
class AdminService final
    : public v1::AdminService::WithRawCallbackMethod_ApplyDefinitions<
          v1::AdminService::WithRawCallbackMethod_GetDefinitions<
              v1::AdminService::Service>> {
 public:
  AdminService(DefinitionsWriter& writer, DefinitionsFollower& definitions,
               eventlog::EventLog& log)
      : writer_(writer), definitions_(definitions), log_(log) {}

  grpc::ServerUnaryReactor* ApplyDefinitions(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetDefinitions(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;

 private:
  DefinitionsWriter& writer_;
  DefinitionsFollower& definitions_;
  eventlog::EventLog& log_;  // Read back for definitions "as of" a time.
};

}  // namespace strata::ingest
