#pragma once

// The alerts service's parts, wired: store, engine, subscription hub and
// AlertService. Used by strata-alerts and by strata.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "libs/grpcutil/service_module.h"
#include "services/alerts/alert_actions.h"
#include "services/alerts/alert_engine.h"
#include "services/alerts/alert_hub.h"
#include "services/alerts/alert_service.h"
#include "services/alerts/alert_store.h"
#include "services/alerts/alertmanager_pusher.h"

namespace strata::alerts {

struct AlertsModuleOptions {
  // Directory of the state store. Required.
  std::string state_dir;
  AlertEngineOptions engine;
  // Its url empty: alerts are not pushed to an Alertmanager.
  AlertmanagerOptions alertmanager;
};

class AlertsModule final : public ServiceModule {
 public:
  static absl::StatusOr<std::unique_ptr<AlertsModule>> Create(
      const AlertsModuleOptions& options, eventlog::EventLog& log,
      DefinitionsFollower& definitions);

  absl::Status Start() override;
  void Stop() override;
  absl::Status Health() override { return engine_.Health(); }
  std::string name() const override { return "alerts"; }
  std::map<std::string, int64_t> Gauges() override;

  std::vector<grpc::Service*> services() override { return {&service_}; }

 private:
  AlertsModule(const AlertsModuleOptions& options,
               std::unique_ptr<AlertStore> store, eventlog::EventLog& log,
               DefinitionsFollower& definitions);

  std::unique_ptr<AlertStore> store_;
  AlertHub hub_;
  AlertEngine engine_;
  AlertActions actions_;
  AlertService service_;
  std::unique_ptr<AlertmanagerPusher> pusher_;  // Null: no Alertmanager.
};

// The service as a process runs it, with default options and its state
// under `data_dir`.
absl::StatusOr<std::unique_ptr<ServiceModule>> NewAlertsService(
    eventlog::EventLog& log, DefinitionsFollower& definitions,
    const std::string& data_dir,
    const AlertmanagerOptions& alertmanager = {});

}  // namespace strata::alerts
