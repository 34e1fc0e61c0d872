#pragma once

// AdminService over gRPC.

#include "libs/definitions/definitions_follower.h"
#include "services/ingest/definitions_writer.h"
#include "strata/v1/admin_service.grpc.pb.h"

namespace strata::ingest {

class AdminService final : public v1::AdminService::CallbackService {
 public:
  AdminService(DefinitionsWriter& writer, DefinitionsFollower& definitions)
      : writer_(writer), definitions_(definitions) {}

  grpc::ServerUnaryReactor* ApplyDefinitions(
      grpc::CallbackServerContext* context, const v1::DefinitionBatch* request,
      v1::ApplyDefinitionsResponse* response) override;
  grpc::ServerUnaryReactor* GetDefinitions(
      grpc::CallbackServerContext* context,
      const v1::GetDefinitionsRequest* request,
      v1::DefinitionBatch* response) override;

 private:
  DefinitionsWriter& writer_;
  DefinitionsFollower& definitions_;
};

}  // namespace strata::ingest
