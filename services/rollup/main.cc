// strata-rollup: rolls KPI events up the organisation and through periods;
// serves queries.
//
//   strata-rollup --listen=0.0.0.0:7402 --data_dir=/var/lib/strata \
//       [--kafka_brokers=kafka-0:9092,kafka-1:9092]

#include "absl/flags/flag.h"
#include "services/common/process.h"
#include "services/rollup/rollup_module.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:7402", "gRPC listen address.");

namespace strata {
namespace {

absl::Status Run(const std::vector<std::string>& args) {
  if (!args.empty()) return absl::InvalidArgumentError("no arguments expected");
  return RunServices("strata-rollup", ServerOptionsFromFlags(),
                     absl::GetFlag(FLAGS_listen), {[](const ModuleContext& c) {
                       return rollup::NewRollupService(c.log, c.definitions,
                                                       c.options.data_dir);
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
