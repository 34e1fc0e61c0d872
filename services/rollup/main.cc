// strata-rollup: rolls KPI events up the organisation and through periods; serves queries.
//
//   strata-rollup --listen=0.0.0.0:7402 --data_dir=/var/lib/strata \
//       [--kafka_brokers=kafka-0:9092,kafka-1:9092]

#include "absl/flags/flag.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/status/status_macros.h"
#include "services/common/process.h"
#include "services/rollup/rollup_module.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:7402", "gRPC listen address.");

namespace strata {
namespace {

absl::Status Run(const std::vector<std::string>& args) {
  if (!args.empty()) return absl::InvalidArgumentError("no arguments expected");
  BlockTerminationSignals();
  const LogOptions log_options = LogOptionsFromFlags();
  ASSIGN_OR_RETURN(auto log, OpenEventLog(log_options));
  ASSIGN_OR_RETURN(auto definitions,
                   DefinitionsFollower::Create(*log, "strata-rollup"));
  rollup::RollupModuleOptions options;
  options.state_dir = log_options.data_dir + "/rollup";
  ASSIGN_OR_RETURN(auto module,
                   rollup::RollupModule::Create(options, *log, *definitions));
  definitions->Start();
  RETURN_IF_ERROR(definitions->CatchUp(absl::Seconds(60)));
  RETURN_IF_ERROR(module->Start());
  RETURN_IF_ERROR(ServeUntilSignal("strata-rollup", absl::GetFlag(FLAGS_listen),
                                   module->services()));
  module->Stop();
  return absl::OkStatus();
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::RunMain(
      argc, argv, "strata-rollup: rolls KPI events up the organisation and through periods; serves queries.", strata::Run);
}
