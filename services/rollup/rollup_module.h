#pragma once

// The rollup service's parts, wired: its instance's stages and stores
// (RollupInstance) and the query services. Used by strata-rollup and by
// strata.
//
// Whole, one engine folds strata.kpi-events into whole cells. Scaled out
// (services/rollup/SCALE_OUT.md), stage A routes the events by unit onto
// strata.rollup-changes, the engine folds each of its partitions into
// parts of cells, and stage C merges the parts and publishes; each stage
// is a member of its consumer group, so instances of the service share the
// work. Several instances may run in one process (threads in place of
// processes, on the embedded log): each reaches the others' cells through
// an in-process channel, as instances of several processes do across the
// network. Queries read the first instance's cells, which answer for
// every cell.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "libs/grpcutil/service_module.h"
#include "services/rollup/closing_service.h"
#include "services/rollup/peer_calls.h"
#include "services/rollup/query_service.h"
#include "services/rollup/rollup_engine.h"
#include "services/rollup/rollup_instance.h"
#include "services/rollup/scorecard_service.h"
#include "services/rollup/watch_service.h"

namespace strata::rollup {

struct RollupModuleOptions {
  // Directory of the state stores. Required.
  std::string state_dir;
  RollupEngineOptions engine;
  // Fold through the scale-out stages; the engine then folds one part per
  // partition of strata.rollup-changes (engine.input_topic and
  // engine.fold_partitions are set from it).
  bool scale_out = false;
  // Scaled out: instances in this process, sharing the work as processes
  // do (each a member of the stages' groups, with its stores under
  // state_dir/instance-<n> from the second on). More than one needs the
  // embedded log, where no other process joins the groups.
  int instances = 1;
  // Where the scorecard asks for open alerts; none: it says so.
  AlertsChannel alerts;
  // Scaled out, one instance here: where instances of other processes
  // reach this one's gRPC server ("host:port"), asked at Start(). Set,
  // queries answer for every cell, reading those other instances merge
  // there; unset (a rebuild, one instance), only for the cells merged
  // here.
  std::function<std::string()> peer_address;
};

// INVALID_ARGUMENT for instances the options cannot run (more than the
// smallest of `partitions`, topic -> count, gives each some work);
// FAILED_PRECONDITION for a state directory folded the other way. Before
// anything under state_dir changes (a rebuild marks the stores).
absl::Status CheckRollupShape(const RollupModuleOptions& options,
                              const std::map<std::string, int32_t>& partitions);

class RollupModule final : public ServiceModule {
 public:
  static constexpr int kQueryThreads = 8;
  static constexpr size_t kQueriesWaiting = 1024;

  // Registers with `definitions`: create before the follower starts.
  static absl::StatusOr<std::unique_ptr<RollupModule>> Create(
      const RollupModuleOptions& options, eventlog::EventLog& log,
      DefinitionsFollower& definitions);
  ~RollupModule() override;

  // Starts consuming; queries are served from creation on.
  absl::Status Start() override;
  void Stop() override;
  absl::Status Health() override;
  // Scaled out with every instance here: also every partition held here.
  absl::Status CaughtUp() override;
  std::string name() const override { return "rollup"; }
  std::map<std::string, int64_t> Gauges() override;

  std::vector<grpc::Service*> services() override {
    std::vector<grpc::Service*> services = {&query_, &watch_, &closing_,
                                            &scorecard_};
    // Instances of other processes read here; those of this process
    // through their in-process servers.
    if (instances_.size() == 1 && instances_[0]->peer_reads() != nullptr) {
      services.push_back(instances_[0]->peer_reads());
    }
    return services;
  }

 private:
  RollupModule(const RollupModuleOptions& options, int32_t fold_parts,
               int32_t merge_partitions, std::unique_ptr<PeerStubs> peers,
               std::vector<std::unique_ptr<RollupInstance>> instances,
               eventlog::EventLog& log, DefinitionsFollower& definitions);
  // Several instances here: serves each one's peer reads in-process.
  absl::Status ServeInProcess();
  void ShutDownInProcess();
  absl::Status OfInstance(size_t i, absl::Status status) const;

  // Scaled out with every instance here: the partitions they share;
  // otherwise 0.
  const int32_t fold_parts_;
  const int32_t merge_partitions_;
  std::unique_ptr<PeerStubs> peers_;
  std::vector<std::unique_ptr<RollupInstance>> instances_;
  // Several instances here: each one's, for the others.
  std::vector<std::unique_ptr<grpc::Server>> in_process_servers_;
  QueryService query_;
  WatchService watch_;
  ClosingService closing_;
  ScorecardService scorecard_;
  // Where queries run, off gRPC's callback threads: a read of cells that
  // another instance merges waits for that instance's answer, which those
  // threads bring. Destroyed first: its work uses everything above.
  WorkPool queries_{"rollup-query", kQueryThreads, kQueriesWaiting};
};

// Where a process keeps the rollup's state under its data directory.
inline std::string RollupStateDir(const std::string& data_dir) {
  return data_dir + "/rollup";
}

// The service as a process runs it: `options` (default engine options)
// with its state under `data_dir`/rollup.
absl::StatusOr<std::unique_ptr<ServiceModule>> NewRollupService(
    eventlog::EventLog& log, DefinitionsFollower& definitions,
    const std::string& data_dir, RollupModuleOptions options);

}  // namespace strata::rollup
