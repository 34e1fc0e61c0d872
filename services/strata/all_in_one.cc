#include "services/strata/all_in_one.h"

#include <vector>

#include "libs/definitions/definitions_follower.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "services/alerts/alerts_module.h"
#include "services/ingest/ingest_module.h"
#include "services/rollup/rollup_module.h"
#include "services/strata/demo_organisation.h"

namespace strata::cli {

absl::Status ServeAllInOne(const AllInOneOptions& options) {
  ASSIGN_OR_RETURN(auto log, OpenEventLog(options.log));
  ASSIGN_OR_RETURN(auto definitions,
                   DefinitionsFollower::Create(*log, "strata-all-in-one"));
  ASSIGN_OR_RETURN(auto ingest, ingest::IngestModule::Create(*log, *definitions));
  rollup::RollupModuleOptions rollup_options;
  rollup_options.state_dir = options.log.data_dir + "/rollup";
  ASSIGN_OR_RETURN(auto rollup, rollup::RollupModule::Create(
                                    rollup_options, *log, *definitions));
  alerts::AlertsModuleOptions alerts_options;
  alerts_options.state_dir = options.log.data_dir + "/alerts";
  ASSIGN_OR_RETURN(auto alerts, alerts::AlertsModule::Create(
                                    alerts_options, *log, *definitions));
  definitions->Start();
  RETURN_IF_ERROR(definitions->CatchUp(absl::Seconds(60)));
  RETURN_IF_ERROR(rollup->Start());
  RETURN_IF_ERROR(alerts->Start());

  if (options.demo && !definitions->Current()->FindUnit(kDemoRootUnit)) {
    ASSIGN_OR_RETURN(int64_t applied,
                     ingest->definitions_writer().Apply(
                         DemoDefinitions(absl::Now())));
    STRATA_LOG(INFO) << "loaded the demo organisation (" << applied
                     << " definitions)";
  }

  std::vector<grpc::Service*> services;
  for (grpc::Service* s : ingest->services()) services.push_back(s);
  for (grpc::Service* s : rollup->services()) services.push_back(s);
  for (grpc::Service* s : alerts->services()) services.push_back(s);
  RETURN_IF_ERROR(ServeUntilSignal("strata", options.listen, services));
  alerts->Stop();
  rollup->Stop();
  return absl::OkStatus();
}

}  // namespace strata::cli
