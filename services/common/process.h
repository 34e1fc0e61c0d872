#pragma once

// What every Strata binary does around its services: open the log its flags
// choose, and run until SIGINT or SIGTERM. Linked only into binaries.
//
//   absl::Status Run(const std::vector<std::string>& args) {
//     BlockTerminationSignals();
//     ASSIGN_OR_RETURN(auto log, OpenEventLog(LogOptionsFromFlags()));
//     ...
//     return ServeUntilSignal("strata-rollup", listen, module->services());
//   }
//   int main(int argc, char** argv) { return RunMain(argc, argv, "...", Run); }

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/eventlog/event_log.h"

namespace grpc {
class Service;
}

namespace strata {

struct LogOptions {
  // Local state; with no brokers also the embedded log (<data_dir>/log).
  std::string data_dir = "./strata-data";
  // Kafka bootstrap servers; empty selects the embedded log.
  std::string kafka_brokers;
  // Embedded log only: fsync every append.
  bool fsync = false;
};

// From --data_dir, --kafka_brokers and --log_fsync.
LogOptions LogOptionsFromFlags();

// The embedded log creates Strata's topics; on Kafka they must exist
// (FAILED_PRECONDITION names the missing one).
absl::StatusOr<std::unique_ptr<eventlog::EventLog>> OpenEventLog(
    const LogOptions& options);

// Writes the bound port to --port_file, if set, once the server is ready:
// how tests and scripts learn a port the system picked (--listen=...:0).
absl::Status AnnouncePort(int port);

// Serves `services` on `listen` (health SERVING) until SIGINT or SIGTERM,
// then drains calls for up to five seconds.
absl::Status ServeUntilSignal(const std::string& name, const std::string& listen,
                              const std::vector<grpc::Service*>& services);

// Servers call this first, before any thread starts, so that SIGINT and
// SIGTERM reach ServeUntilSignal instead of killing the process.
void BlockTerminationSignals();

// The body of main(): parses flags, runs `run` with the positional
// arguments and turns its status into the exit code.
int RunMain(int argc, char** argv, const char* usage,
            absl::Status (*run)(const std::vector<std::string>& args));

}  // namespace strata
