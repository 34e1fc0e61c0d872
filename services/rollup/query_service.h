#pragma once

// RollupQueryService: the gRPC face of RollupReader.

#include "libs/definitions/definitions_follower.h"
#include "libs/grpcutil/work_pool.h"
#include "services/rollup/cell_source.h"
#include "services/rollup/rollup_reader.h"
#include "strata/v1/query_service.grpc.pb.h"

namespace strata::rollup {

inline constexpr int kMaxBatchGetKeys = 10'000;

// Registered raw, so that a request that does not parse is answered
// INVALID_ARGUMENT naming it (libs/grpcutil/raw_messages.h). Answers the
// cells' Health() error while it is not OK: never a partial total.
class QueryService final
    : public v1::RollupQueryService::WithRawCallbackMethod_GetRollup<
          v1::RollupQueryService::WithRawCallbackMethod_BatchGetRollups<
              v1::RollupQueryService::WithRawCallbackMethod_GetSeries<
                  v1::RollupQueryService::WithRawCallbackMethod_GetChildren<
                      v1::RollupQueryService::WithRawCallbackMethod_GetUnitKpis<
                          v1::RollupQueryService::Service>>>>> {
 public:
  // Queries run on `work` (they may wait for other instances).
  QueryService(const CellSource& cells, DefinitionsFollower& definitions,
               WorkPool& work)
      : reader_(cells, definitions), work_(work) {}

  grpc::ServerUnaryReactor* GetRollup(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* BatchGetRollups(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetSeries(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetChildren(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetUnitKpis(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;

 private:
  absl::Status BatchGet(const v1::BatchGetRollupsRequest& request,
                        v1::BatchGetRollupsResponse& response);

  RollupReader reader_;
  WorkPool& work_;
};

}  // namespace strata::rollup
