#pragma once

// `strata serve`: ingest, rollup and alerts in one process on one log (the
// embedded one by default), every service on one gRPC port.

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "services/alerts/alertmanager_pusher.h"
#include "services/common/process.h"

namespace strata::cli {

// How the all-in-one folds (RollupModuleOptions): whole, or through the
// scale-out stages in `instances` instances, threads in place of
// processes.
struct RollupShape {
  bool scale_out = false;
  int instances = 1;
};

struct AllInOneOptions {
  ServerOptions log;
  std::string listen = "127.0.0.1:7400";
  // Load the demo organisation unless its root unit already exists.
  bool demo = false;
  // Its url set: alerts are pushed to that Alertmanager.
  alerts::AlertmanagerOptions alertmanager;
  RollupShape rollup;
};

// Runs until SIGINT or SIGTERM.
absl::Status ServeAllInOne(const AllInOneOptions& options);

// `strata rebuild`: every state store rebuilt from the log, offline (the
// server must not be running on the same data directory).
absl::Status RebuildAllInOne(const ServerOptions& options,
                             const RollupShape& rollup, std::ostream& progress);

}  // namespace strata::cli
