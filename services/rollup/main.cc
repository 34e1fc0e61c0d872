// strata-rollup: rolls KPI events up the organisation and through periods;
// serves queries.
//
//   strata-rollup --listen=0.0.0.0:7402 --data_dir=/var/lib/strata \
//       --alerts_address=strata-alerts:7403 \
//       --kafka_brokers=kafka-0:9092,kafka-1:9092

#include "absl/flags/flag.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "services/common/process.h"
#include "services/rollup/rollup_module.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:7402", "gRPC listen address.");
ABSL_FLAG(std::string, alerts_address, "",
          "Where strata-alerts answers (host:port): scorecards show its open "
          "alerts. Empty: scorecards say none is configured.");

namespace strata {
namespace {

absl::Status Run(const std::vector<std::string>& args) {
  if (!args.empty()) return absl::InvalidArgumentError("no arguments expected");
  rollup::AlertsChannel alerts;
  if (const std::string address = absl::GetFlag(FLAGS_alerts_address);
      !address.empty()) {
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    alerts = [channel] { return channel; };
  }
  return RunServices("strata-rollup", ServerOptionsFromFlags(Deployment::kDistributed),
                     absl::GetFlag(FLAGS_listen),
                     {[&alerts](const ModuleContext& c) {
                       return rollup::NewRollupService(
                           c.log, c.definitions, c.options.data_dir, alerts);
                     }});
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::RunMain(argc, argv,
                         "strata-rollup: rolls KPI events up the organisation "
                         "and through periods; serves queries.",
                         strata::Run);
}
