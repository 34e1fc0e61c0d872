#pragma once

// ScorecardService: a unit's Balanced Scorecard (scorecard_builder.h), its
// figures from this service's state, its open alerts asked of the alerts
// service while no thread waits. Answers the cells' Health() error while
// it is not OK: never a partial scorecard.

#include "libs/definitions/definitions_follower.h"
#include "services/rollup/open_alerts_client.h"
#include "services/rollup/cell_source.h"
#include "services/rollup/rollup_reader.h"
#include "strata/v1/scorecard_service.grpc.pb.h"

#include "libs/grpcutil/work_pool.h"

namespace strata::rollup {

class ScorecardService final
    : public v1::ScorecardService::WithRawCallbackMethod_GetScorecard<
          v1::ScorecardService::Service> {
 public:
  // Scorecards are read on `work` (they may wait for other instances).
  ScorecardService(const CellSource& cells, DefinitionsFollower& definitions,
                   AlertsChannel alerts, WorkPool& work)
      : reader_(cells, definitions), alerts_(std::move(alerts)), work_(work) {}

  grpc::ServerUnaryReactor* GetScorecard(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;

 private:
  RollupReader reader_;
  OpenAlertsClient alerts_;
  WorkPool& work_;
};

}  // namespace strata::rollup
