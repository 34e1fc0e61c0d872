#pragma once

// RollupQueryService: answers with the engine's latest folded state.

#include "libs/definitions/definitions_follower.h"
#include "services/rollup/rollup_engine.h"
#include "strata/v1/query_service.grpc.pb.h"

namespace strata::rollup {

class QueryService final : public v1::RollupQueryService::CallbackService {
 public:
  QueryService(const RollupEngine& engine, DefinitionsFollower& definitions)
      : engine_(engine), definitions_(definitions) {}

  grpc::ServerUnaryReactor* GetRollup(grpc::CallbackServerContext* context,
                                      const v1::GetRollupRequest* request,
                                      v1::RollupRecord* response) override;
  grpc::ServerUnaryReactor* BatchGetRollups(
      grpc::CallbackServerContext* context,
      const v1::BatchGetRollupsRequest* request,
      v1::BatchGetRollupsResponse* response) override;

 private:
  // NOT_FOUND when the KPI, the unit or the cell is unknown.
  absl::StatusOr<v1::RollupRecord> Lookup(const v1::RollupKey& key);

  const RollupEngine& engine_;
  DefinitionsFollower& definitions_;
};

}  // namespace strata::rollup
