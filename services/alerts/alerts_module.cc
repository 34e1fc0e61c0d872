#include "services/alerts/alerts_module.h"

#include "libs/status/status_macros.h"
#include "libs/streams/envelope.h"

namespace strata::alerts {

absl::StatusOr<std::unique_ptr<AlertsModule>> AlertsModule::Create(
    const AlertsModuleOptions& options, eventlog::EventLog& log,
    DefinitionsFollower& definitions) {
  if (options.state_dir.empty()) {
    return absl::InvalidArgumentError("state_dir: required");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<AlertStore> store,
                   AlertStore::Open(options.state_dir));
  return std::unique_ptr<AlertsModule>(
      new AlertsModule(options, std::move(store), log, definitions));
}

AlertsModule::AlertsModule(const AlertsModuleOptions& options,
                           std::unique_ptr<AlertStore> store,
                           eventlog::EventLog& log,
                           DefinitionsFollower& definitions)
    : store_(std::move(store)),
      engine_(options.engine, log, definitions, *store_, hub_),
      actions_(log, *store_, engine_, ThisProducer("strata-alerts")),
      service_(*store_, hub_, actions_, definitions,
               [this] { return engine_.Health(); }) {}

absl::StatusOr<std::unique_ptr<ServiceModule>> NewAlertsService(
    eventlog::EventLog& log, DefinitionsFollower& definitions,
    const std::string& data_dir) {
  AlertsModuleOptions options;
  options.state_dir = data_dir + "/alerts";
  return AsServiceModule(AlertsModule::Create(options, log, definitions));
}

}  // namespace strata::alerts
