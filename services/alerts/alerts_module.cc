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
  if (!options.alertmanager.url.empty()) {
    RETURN_IF_ERROR(AlertmanagerPusher::Validate(options.alertmanager));
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
               [this] { return engine_.Health(); }) {
  if (!options.alertmanager.url.empty()) {
    pusher_ = std::make_unique<AlertmanagerPusher>(
        options.alertmanager, *store_, hub_,
        [&definitions] { return definitions.Current(); },
        [this] { return engine_.Health().ok(); },
        options.state_dir + "/alertmanager-cursor");
  }
}

absl::Status AlertsModule::Start() {
  RETURN_IF_ERROR(engine_.Start());
  return pusher_ ? pusher_->Start() : absl::OkStatus();
}

void AlertsModule::Stop() {
  if (pusher_) pusher_->Stop();
  engine_.Stop();
}

std::map<std::string, int64_t> AlertsModule::Gauges() {
  std::map<std::string, int64_t> gauges = {
      {"replayed_records", engine_.ReplayCounts().first},
      {"records_to_replay", engine_.ReplayCounts().second},
      {"records_behind", engine_.RecordsBehind()}};
  if (pusher_) {
    const AlertmanagerStats stats = pusher_->stats();
    gauges["alertmanager_firing"] = stats.firing;
    gauges["alertmanager_unsent"] = stats.unsent;
    gauges["alertmanager_pushes"] = stats.pushes;
    gauges["alertmanager_failures"] = stats.failures;
    gauges["alertmanager_rejected"] = stats.rejected;
  }
  return gauges;
}

absl::StatusOr<std::unique_ptr<ServiceModule>> NewAlertsService(
    eventlog::EventLog& log, DefinitionsFollower& definitions,
    const std::string& data_dir, const AlertmanagerOptions& alertmanager) {
  AlertsModuleOptions options;
  options.state_dir = data_dir + "/alerts";
  options.alertmanager = alertmanager;
  return AsServiceModule(AlertsModule::Create(options, log, definitions));
}

}  // namespace strata::alerts
