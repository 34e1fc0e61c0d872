#include "services/rollup/rollup_module.h"

#include "libs/status/status_macros.h"

namespace strata::rollup {

absl::StatusOr<std::unique_ptr<RollupModule>> RollupModule::Create(
    const RollupModuleOptions& options, eventlog::EventLog& log,
    DefinitionsFollower& definitions) {
  if (options.state_dir.empty()) {
    return absl::InvalidArgumentError("state_dir: required");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RollupStore> store,
                   RollupStore::Open(options.state_dir));
  return std::unique_ptr<RollupModule>(
      new RollupModule(options, std::move(store), log, definitions));
}

RollupModule::RollupModule(const RollupModuleOptions& options,
                           std::unique_ptr<RollupStore> store,
                           eventlog::EventLog& log,
                           DefinitionsFollower& definitions)
    : store_(std::move(store)),
      engine_(options.engine, log, definitions, *store_),
      query_(engine_, definitions),
      watch_(log, definitions),
      closing_(log, engine_),
      scorecard_(engine_, definitions, options.alerts) {}

absl::StatusOr<std::unique_ptr<ServiceModule>> NewRollupService(
    eventlog::EventLog& log, DefinitionsFollower& definitions,
    const std::string& data_dir, AlertsChannel alerts) {
  RollupModuleOptions options;
  options.state_dir = data_dir + "/rollup";
  options.alerts = std::move(alerts);
  return AsServiceModule(RollupModule::Create(options, log, definitions));
}

}  // namespace strata::rollup
