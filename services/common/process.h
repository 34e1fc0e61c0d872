#pragma once

// What every Strata binary does around its services: open the log its flags
// choose, and run until SIGINT or SIGTERM. Linked only into binaries.
//
//   absl::Status Run(const std::vector<std::string>& args) {
//     return RunServices("strata-rollup", ServerOptionsFromFlags(), listen,
//                        {[](const ModuleContext& c) { return ...; }});
//   }
//   int main(int argc, char** argv) { return RunMain(argc, argv, "...", Run); }

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "libs/grpcutil/service_module.h"
#include "libs/status/health_report.h"

namespace grpc {
class Channel;
class Service;
}

namespace strata {

// What every server binary is configured with.
struct ServerOptions {
  // Local state; with no brokers also the embedded log (<data_dir>/log).
  std::string data_dir = "./strata-data";
  // Kafka bootstrap servers; empty selects the embedded log.
  std::string kafka_brokers;
  // Embedded log only: fsync every append before acknowledging it, so an
  // accepted event survives a power loss. Off, a process crash still loses
  // nothing, but a power loss may lose the last acknowledged appends (and
  // the services then refuse with DATA_LOSS rather than miscount).
  bool fsync = true;
  // Ingest refuses new events (RESOURCE_EXHAUSTED) while rollup trails
  // the log by more than this; zero never refuses.
  absl::Duration max_rollup_lag = absl::Seconds(10);
  // Rebuild every state store from the log before serving (PrepareRebuild).
  bool rebuild = false;
  // A distributed service: OpenEventLog refuses an empty kafka_brokers.
  bool require_kafka = false;
  // Kafka: refuse topics whose retention or cleanup policy could lose
  // records a rebuild needs (asked with DescribeConfigs), and refuse to
  // start when that cannot be asked. Off only where the brokers cannot
  // answer (librdkafka's test cluster) or the ACL is not granted.
  bool check_topic_configs = true;
  // Kafka: how long OpenEventLog waits for brokers and for a missing
  // topic to come before it gives up.
  absl::Duration wait_for_topics = absl::Minutes(2);
  // Kafka: session.timeout.ms of the consumer groups' members.
  absl::Duration session_timeout = absl::Seconds(45);
};

// Which binary reads the flags: `strata serve` runs on the embedded log
// unless told of brokers; strata-ingest, strata-rollup and strata-alerts
// are parts of a distributed deployment, and refuse to start without
// --kafka_brokers rather than each fall back to a log of its own.
enum class Deployment { kAllInOne, kDistributed };

// From --data_dir, --kafka_brokers, --log_fsync, --max_rollup_lag,
// --rebuild and --kafka_check_topic_configs.
ServerOptions ServerOptionsFromFlags(Deployment deployment);

// The embedded log creates Strata's topics; on Kafka they must exist with
// the partition counts Strata keys its records by and keep what a rebuild
// needs (FAILED_PRECONDITION names the topic and what is wrong; see
// check_topic_configs), waiting up to wait_for_topics for missing topics
// and unreachable brokers. INVALID_ARGUMENT without brokers when
// options.require_kafka. Logs which log it opened.
absl::StatusOr<std::unique_ptr<eventlog::EventLog>> OpenEventLog(
    const ServerOptions& options);

// Writes the bound port to --port_file, if set, once the server listens
// (it may still answer NOT_SERVING): how tests and scripts learn a port the
// system picked (--listen=...:0).
absl::Status AnnouncePort(int port);

// What a module factory is given.
struct ModuleContext {
  eventlog::EventLog& log;
  DefinitionsFollower& definitions;
  const ServerOptions& options;  // data_dir holds the modules' state stores.
  // UNAVAILABLE until every module has started, then OK unless a module
  // reports damage (a status other than OK or UNAVAILABLE), which it then
  // holds: what must not go on while the server cannot be trusted (ingest
  // appending to a log its state disagrees with) asks it.
  const HealthReport& damage;
  // A channel to the process's own gRPC server (null until it listens, and
  // when it does not serve): how a module reaches another module of the
  // all-in-one through the same calls it would make across the network.
  std::function<std::shared_ptr<grpc::Channel>()> own_server;
  // The port the process's gRPC server listens on (0 until it does;
  // null where it serves nothing, as in a rebuild).
  std::function<int()> port;
};
using ModuleFactory =
    std::function<absl::StatusOr<std::unique_ptr<ServiceModule>>(
        const ModuleContext&)>;

// The modules the factories make, in order.
absl::StatusOr<std::vector<std::unique_ptr<ServiceModule>>> CreateModules(
    const ModuleContext& context, const std::vector<ModuleFactory>& factories);

// Before any store opens: refuses (FAILED_PRECONDITION naming the topic,
// partition and offset) unless every partition of every Strata topic
// still starts at offset 0, since a rebuild from a log that lost its first
// records would produce partial totals; then marks every state store under
// options.data_dir to be rebuilt when it next opens.
absl::Status PrepareRebuild(const ServerOptions& options,
                            eventlog::EventLog& log);

// `strata rebuild`: PrepareRebuild, then runs the modules, without serving,
// until each has caught up with the log, drawing a progress bar on
// `progress`; ends with what was rebuilt and how long it took.
absl::Status RebuildStores(const std::string& name, const ServerOptions& options,
                           const std::vector<ModuleFactory>& factories,
                           std::ostream& progress);

// A server process: blocks SIGINT and SIGTERM before any thread starts,
// opens the log, creates the modules (before definitions are read, so they
// can listen to every batch), listens on `listen` with health NOT_SERVING,
// catches up with the definitions, starts the modules, runs `ready` if
// given, and then reports SERVING exactly while every module's Health() is
// OK, until a signal; then drains calls for up to five seconds and stops
// the modules. A module that fails to start leaves the process up and
// NOT_SERVING, its calls answering why.
absl::Status RunServices(
    const std::string& name, const ServerOptions& options,
    const std::string& listen, const std::vector<ModuleFactory>& factories,
    const std::function<absl::Status(const ModuleContext&)>& ready = nullptr);

// Waits up to `timeout` for SIGINT or SIGTERM (blocked by RunMain).
bool TerminationRequested(absl::Duration timeout);

// RunMain blocks SIGINT and SIGTERM in every thread, for servers to wait
// for them; a client command calls this first so that they end it as usual.
void AllowTerminationSignals();

// The body of main(): parses flags (spelled with `_` or `-`), runs `run`
// with the positional arguments and turns its status into the exit code.
int RunMain(int argc, char** argv, const char* usage,
            absl::Status (*run)(const std::vector<std::string>& args));

}  // namespace strata
