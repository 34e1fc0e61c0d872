#pragma once

// RollupQueryService: answers with the engine's latest folded state.

#include "libs/definitions/definitions_follower.h"
#include "services/rollup/rollup_engine.h"
#include "strata/v1/query_service.grpc.pb.h"

namespace strata::rollup {

// Registered raw, so that a request that does not parse is answered
// INVALID_ARGUMENT naming it (libs/grpcutil/raw_messages.h). Answers the
// engine's Health() error while it is not OK: never a partial total.
class QueryService final
    : public v1::RollupQueryService::WithRawCallbackMethod_GetRollup<
          v1::RollupQueryService::WithRawCallbackMethod_BatchGetRollups<
              v1::RollupQueryService::Service>> {
 public:
  QueryService(const RollupEngine& engine, DefinitionsFollower& definitions)
      : engine_(engine), definitions_(definitions) {}

  grpc::ServerUnaryReactor* GetRollup(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* BatchGetRollups(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

 private:
  absl::Status Get(const v1::GetRollupRequest& request,
                   v1::RollupRecord& response);
  absl::Status BatchGet(const v1::BatchGetRollupsRequest& request,
                        v1::BatchGetRollupsResponse& response);
  // NOT_FOUND when the KPI, the unit or the cell is unknown.
  absl::StatusOr<v1::RollupRecord> Lookup(const v1::RollupKey& key);

  const RollupEngine& engine_;
  DefinitionsFollower& definitions_;
};

}  // namespace strata::rollup
