#pragma once

// The rollup service's parts, wired: state store, engine and query service.
// Used by strata-rollup and by strata.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "libs/grpcutil/service_module.h"
#include "services/rollup/closing_service.h"
#include "services/rollup/query_service.h"
#include "services/rollup/rollup_engine.h"
#include "services/rollup/rollup_store.h"
#include "services/rollup/scorecard_service.h"
#include "services/rollup/watch_service.h"

namespace strata::rollup {

struct RollupModuleOptions {
  // Directory of the state store. Required.
  std::string state_dir;
  RollupEngineOptions engine;
  // Where the scorecard asks for open alerts; none: it says so.
  AlertsChannel alerts;
};

class RollupModule final : public ServiceModule {
 public:
  // Registers with `definitions`: create before the follower starts.
  static absl::StatusOr<std::unique_ptr<RollupModule>> Create(
      const RollupModuleOptions& options, eventlog::EventLog& log,
      DefinitionsFollower& definitions);

  // Starts consuming; queries are served from creation on.
  absl::Status Start() override { return engine_.Start(); }
  void Stop() override { engine_.Stop(); }
  absl::Status Health() override { return engine_.Health(); }
  std::string name() const override { return "rollup"; }
  std::map<std::string, int64_t> Gauges() override {
    const RollupStats& s = engine_.stats();
    return {{"events_applied", s.events_applied},
            {"events_committed", s.events_committed},
            {"events_duplicate", s.events_duplicate},
            {"events_conflicting", s.events_conflicting},
            {"events_rejected", s.events_rejected},
            {"corrections_rejected", s.corrections_rejected},
            {"events_held", s.events_held},
            {"decisions_ignored", s.decisions_ignored},
            {"restarts", s.restarts},
            {"records_behind", s.records_behind},
            {"replayed_records", engine_.ReplayCounts().first},
            {"records_to_replay", engine_.ReplayCounts().second}};
  }

  std::vector<grpc::Service*> services() override {
    return {&query_, &watch_, &closing_, &scorecard_};
  }
  const RollupStats& stats() const { return engine_.stats(); }

 private:
  RollupModule(const RollupModuleOptions& options,
               std::unique_ptr<RollupStore> store, eventlog::EventLog& log,
               DefinitionsFollower& definitions);

  std::unique_ptr<RollupStore> store_;
  RollupEngine engine_;
  QueryService query_;
  WatchService watch_;
  ClosingService closing_;
  ScorecardService scorecard_;
};

// The service as a process runs it, with default options and its state
// under `data_dir`; its scorecard asks `alerts` for open alerts.
absl::StatusOr<std::unique_ptr<ServiceModule>> NewRollupService(
    eventlog::EventLog& log, DefinitionsFollower& definitions,
    const std::string& data_dir, AlertsChannel alerts);

}  // namespace strata::rollup
