#pragma once

// One service's parts as a process runs them: the gRPC services it serves,
// and background work started once its inputs are ready. A binary serves one
// module (strata-rollup) or several on one port (strata).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace grpc {
class Service;
}

namespace strata {

class ServiceModule {
 public:
  virtual ~ServiceModule() = default;

  // Short, for status reports: "ingest", "rollup", "alerts".
  virtual std::string name() const = 0;

  virtual std::vector<grpc::Service*> services() = 0;
  // Called once the definitions have caught up, before serving.
  virtual absl::Status Start() { return absl::OkStatus(); }
  // Called after the server stopped taking calls.
  virtual void Stop() {}
  // OK when the module's answers can be trusted; otherwise why not:
  // UNAVAILABLE while starting or catching up, DATA_LOSS and the like for
  // damage. The process serves NOT_SERVING unless every module is OK.
  virtual absl::Status Health() { return absl::OkStatus(); }
  // OK once it has read all the log held when it started and holds all
  // its work, as a rebuild waits for; by default, Health().
  virtual absl::Status CaughtUp() { return Health(); }
  // What the module measures, for status reports: name -> value.
  virtual std::map<std::string, int64_t> Gauges() { return {}; }
};

// Converts a module factory's result to the interface.
template <typename Module>
absl::StatusOr<std::unique_ptr<ServiceModule>> AsServiceModule(
    absl::StatusOr<std::unique_ptr<Module>> module) {
  if (!module.ok()) return module.status();
  return std::unique_ptr<ServiceModule>(std::move(module).value());
}

}  // namespace strata
