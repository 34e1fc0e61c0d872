// strata-alerts: compares actuals with targets, raises alerts and streams them.
//
//   strata-alerts --listen=0.0.0.0:7403 --data_dir=/var/lib/strata \
//       --kafka_brokers=kafka-0:9092,kafka-1:9092 \
//       [--alertmanager_url=http://alertmanager:9093]

#include "absl/flags/flag.h"
#include "services/alerts/alertmanager_flags.h"
#include "services/alerts/alerts_module.h"
#include "services/common/process.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:7403", "gRPC listen address.");

namespace strata {
namespace {

absl::Status Run(const std::vector<std::string>& args) {
  if (!args.empty()) return absl::InvalidArgumentError("no arguments expected");
  return RunServices("strata-alerts", ServerOptionsFromFlags(Deployment::kDistributed),
                     absl::GetFlag(FLAGS_listen), {[](const ModuleContext& c) {
                       return alerts::NewAlertsService(
                           c.log, c.definitions, c.options.data_dir,
                           alerts::AlertmanagerOptionsFromFlags());
                     }});
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::RunMain(argc, argv,
                         "strata-alerts: compares actuals with targets, raises "
                         "alerts and streams them.",
                         strata::Run);
}
