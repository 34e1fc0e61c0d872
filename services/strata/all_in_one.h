#pragma once

// `strata serve`: ingest, rollup and alerts in one process on one log (the
// embedded one by default), every service on one gRPC port.

#include <string>

#include "absl/status/status.h"
#include "services/common/process.h"

namespace strata::cli {

struct AllInOneOptions {
  ServerOptions log;
  std::string listen = "127.0.0.1:7400";
  // Load the demo organisation unless its root unit already exists.
  bool demo = false;
};

// Runs until SIGINT or SIGTERM.
absl::Status ServeAllInOne(const AllInOneOptions& options);

}  // namespace strata::cli
