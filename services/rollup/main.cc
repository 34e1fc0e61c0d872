// strata-rollup: rolls KPI events up the organisation and through periods;
// serves queries.
//
//   strata-rollup --listen=0.0.0.0:7402 --data_dir=/var/lib/strata \
//       --alerts_address=strata-alerts:7403 \
//       --kafka_brokers=kafka-0:9092,kafka-1:9092

#include <unistd.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "services/common/process.h"
#include "services/rollup/rollup_module.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:7402", "gRPC listen address.");
ABSL_FLAG(bool, rollup_scale_out, false,
          "Fold through the scale-out stages (route by unit, fold per "
          "partition of strata.rollup-changes, combine; see "
          "services/rollup/SCALE_OUT.md), each a member of its consumer "
          "group, so that several instances share the work. Any instance "
          "answers queries for any cell, reading it from the instance that "
          "merges it (see --advertise_address).");
ABSL_FLAG(std::string, advertise_address, "",
          "With --rollup_scale_out: where the other instances reach this "
          "one (host:port) to read the cells it merges. Empty: the host of "
          "--listen, or this machine's name when it listens on every "
          "address, with the port it listens on.");
ABSL_FLAG(std::string, alerts_address, "",
          "Where strata-alerts answers (host:port): scorecards show its open "
          "alerts. Empty: scorecards say none is configured.");

namespace strata {
namespace {

// --advertise_address, or what --listen and the bound port make of it.
std::string PeerAddress(const std::string& listen, int port) {
  if (std::string flag = absl::GetFlag(FLAGS_advertise_address);
      !flag.empty()) {
    return flag;
  }
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") {
    char name[256] = {};
    if (gethostname(name, sizeof(name) - 1) != 0) return "";
    host = name;
  }
  return absl::StrCat(host, ":", port);
}

absl::Status Run(const std::vector<std::string>& args) {
  if (!args.empty()) return absl::InvalidArgumentError("no arguments expected");
  rollup::AlertsChannel alerts;
  if (const std::string address = absl::GetFlag(FLAGS_alerts_address);
      !address.empty()) {
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    alerts = [channel] { return channel; };
  }
  const std::string listen = absl::GetFlag(FLAGS_listen);
  return RunServices(
      "strata-rollup", ServerOptionsFromFlags(Deployment::kDistributed),
      listen, {[&alerts, &listen](const ModuleContext& c) {
        rollup::RollupModuleOptions options;
        options.alerts = alerts;
        options.scale_out = absl::GetFlag(FLAGS_rollup_scale_out);
        options.peer_address = [&listen, port = c.port] {
          return PeerAddress(listen, port());
        };
        return rollup::NewRollupService(c.log, c.definitions,
                                        c.options.data_dir, options);
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
