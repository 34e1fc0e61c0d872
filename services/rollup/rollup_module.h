#pragma once

// The rollup service's parts, wired: state store, engine and query service.
// Used by strata-rollup and by strata.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "services/rollup/query_service.h"
#include "services/rollup/rollup_engine.h"
#include "services/rollup/rollup_store.h"

namespace grpc {
class Service;
}

namespace strata::rollup {

struct RollupModuleOptions {
  // Directory of the state store. Required.
  std::string state_dir;
  RollupEngineOptions engine;
};

class RollupModule {
 public:
  static absl::StatusOr<std::unique_ptr<RollupModule>> Create(
      const RollupModuleOptions& options, eventlog::EventLog& log,
      DefinitionsFollower& definitions);

  // Starts consuming; queries are served from creation on.
  absl::Status Start() { return engine_.Start(); }
  void Stop() { engine_.Stop(); }

  std::vector<grpc::Service*> services() { return {&query_}; }
  const RollupStats& stats() const { return engine_.stats(); }

 private:
  RollupModule(const RollupModuleOptions& options,
               std::unique_ptr<RollupStore> store, eventlog::EventLog& log,
               DefinitionsFollower& definitions);

  std::unique_ptr<RollupStore> store_;
  RollupEngine engine_;
  QueryService query_;
};

}  // namespace strata::rollup
