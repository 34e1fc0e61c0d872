#include "services/strata/all_in_one.h"

#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/envelope.h"
#include "services/alerts/alerts_module.h"
#include "services/ingest/definitions_writer.h"
#include "services/ingest/ingest_module.h"
#include "services/rollup/rollup_module.h"
#include "services/strata/demo_organisation.h"

namespace strata::cli {

namespace {

// Ingest, rollup and alerts, on one log.
std::vector<ModuleFactory> AllInOneModules(
    const alerts::AlertmanagerOptions& alertmanager = {}) {
  return {[](const ModuleContext& c) {
            return ingest::NewIngestService(c.log, c.definitions,
                                            c.options.data_dir,
                                            c.options.max_rollup_lag, c.damage);
          },
          [](const ModuleContext& c) {
            // Its scorecards read open alerts from the alerts module
            // through the server, as across the network.
            return rollup::NewRollupService(c.log, c.definitions,
                                            c.options.data_dir, c.own_server);
          },
          [alertmanager](const ModuleContext& c) {
            return alerts::NewAlertsService(c.log, c.definitions,
                                            c.options.data_dir, alertmanager);
          }};
}

}  // namespace

absl::Status RebuildAllInOne(const ServerOptions& options,
                             std::ostream& progress) {
  return RebuildStores("strata", options, AllInOneModules(), progress);
}

absl::Status ServeAllInOne(const AllInOneOptions& options) {
  auto load_demo = [&](const ModuleContext& c) -> absl::Status {
    if (!options.demo || c.definitions.Current()->FindUnit(kDemoRootUnit)) {
      return absl::OkStatus();
    }
    ingest::DefinitionsWriter writer(c.log, c.definitions,
                                     ThisProducer("strata-demo"));
    ASSIGN_OR_RETURN(int64_t applied,
                     writer.Apply(DemoDefinitions(absl::Now())));
    STRATA_LOG(INFO) << "loaded the demo organisation (" << applied
                     << " definitions)";
    return absl::OkStatus();
  };
  return RunServices("strata", options.log, options.listen,
                     AllInOneModules(options.alertmanager), load_demo);
}

}  // namespace strata::cli
