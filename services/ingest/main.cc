// strata-ingest: validates KPI events and definitions and appends them to the
// log.
//
//   strata-ingest --listen=0.0.0.0:7401 --data_dir=/var/lib/strata \
//       --kafka_brokers=kafka-0:9092,kafka-1:9092

#include "absl/flags/flag.h"
#include "services/common/process.h"
#include "services/ingest/ingest_module.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:7401", "gRPC listen address.");

namespace strata {
namespace {

absl::Status Run(const std::vector<std::string>& args) {
  if (!args.empty()) return absl::InvalidArgumentError("no arguments expected");
  return RunServices("strata-ingest", ServerOptionsFromFlags(Deployment::kDistributed),
                     absl::GetFlag(FLAGS_listen), {[](const ModuleContext& c) {
                       return ingest::NewIngestService(c.log, c.definitions,
                                                       c.options.data_dir,
                                                       c.options.max_rollup_lag, c.damage);
                     }});
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  return strata::RunMain(argc, argv,
                         "strata-ingest: validates KPI events and definitions "
                         "and appends them to the log.",
                         strata::Run);
}
