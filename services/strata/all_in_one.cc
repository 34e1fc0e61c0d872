#include "services/strata/all_in_one.h"

#include "absl/strings/str_cat.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/envelope.h"
#include "libs/streams/topics.h"
#include "services/alerts/alerts_module.h"
#include "services/ingest/definitions_writer.h"
#include "services/ingest/ingest_module.h"
#include "services/rollup/rollup_module.h"
#include "services/strata/demo_organisation.h"

namespace strata::cli {

namespace {

rollup::RollupModuleOptions RollupOptions(const ServerOptions& options,
                                          const RollupShape& rollup) {
  rollup::RollupModuleOptions module;
  module.state_dir = rollup::RollupStateDir(options.data_dir);
  module.scale_out = rollup.scale_out;
  module.instances = rollup.instances;
  return module;
}

// Ingest, rollup and alerts, on one log.
std::vector<ModuleFactory> AllInOneModules(
    const RollupShape& rollup,
    const alerts::AlertmanagerOptions& alertmanager = {}) {
  return {[](const ModuleContext& c) {
            return ingest::NewIngestService(c.log, c.definitions,
                                            c.options.data_dir,
                                            c.options.max_rollup_lag, c.damage);
          },
          [rollup](const ModuleContext& c) {
            rollup::RollupModuleOptions options =
                RollupOptions(c.options, rollup);
            // Its scorecards read open alerts from the alerts module
            // through the server, as across the network.
            options.alerts = c.own_server;
            return rollup::NewRollupService(c.log, c.definitions,
                                            c.options.data_dir, options);
          },
          [alertmanager](const ModuleContext& c) {
            return alerts::NewAlertsService(c.log, c.definitions,
                                            c.options.data_dir, alertmanager);
          }};
}

// Before anything under the data directory changes (a rebuild marks the
// stores). The all-in-one's rollup instances are all in the process: on
// Kafka, instances of other processes could join their groups and not
// reach them.
absl::Status CheckRollupShape(const ServerOptions& options,
                              const RollupShape& rollup) {
  if (rollup.scale_out && !options.kafka_brokers.empty()) {
    return absl::InvalidArgumentError(
        "--rollup_instances, --rollup_scale_out: strata serve folds scaled "
        "out on the embedded log only; on Kafka, run strata-rollup "
        "--rollup_scale_out once per instance");
  }
  return rollup::CheckRollupShape(RollupOptions(options, rollup),
                                  DefaultTopics());
}

}  // namespace

absl::Status RebuildAllInOne(const ServerOptions& options,
                             const RollupShape& rollup, std::ostream& progress) {
  RETURN_IF_ERROR(CheckRollupShape(options, rollup));
  return RebuildStores("strata", options, AllInOneModules(rollup), progress);
}

absl::Status ServeAllInOne(const AllInOneOptions& options) {
  RETURN_IF_ERROR(CheckRollupShape(options.log, options.rollup));
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
                     AllInOneModules(options.rollup, options.alertmanager), load_demo);
}

}  // namespace strata::cli
