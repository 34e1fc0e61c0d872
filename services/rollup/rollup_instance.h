#pragma once

// One instance of the rollup's stages, each with its store: whole, the
// engine alone; scaled out (SCALE_OUT.md), the router (A), the engine
// folding parts (B) and the combiner (C), each a member of its consumer
// group, and with other instances the directory of who holds what and
// the reads across them. A strata-rollup process runs one; `strata serve
// --rollup_instances=N` runs N in one process, threads in place of
// processes (RollupModule).

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/eventlog/event_log.h"
#include "services/rollup/cell_combiner.h"
#include "services/rollup/cell_source.h"
#include "services/rollup/closings.h"
#include "services/rollup/cluster_cells.h"
#include "services/rollup/combiner_store.h"
#include "services/rollup/event_router.h"
#include "services/rollup/member_directory.h"
#include "services/rollup/peer_calls.h"
#include "services/rollup/peer_read_service.h"
#include "services/rollup/rollup_engine.h"
#include "services/rollup/rollup_store.h"
#include "services/rollup/route_store.h"

namespace strata::rollup {

struct RollupInstanceOptions {
  // Directory of the instance's stores. Required.
  std::string state_dir;
  RollupEngineOptions engine;
  // Fold through the scale-out stages; the engine then folds one part per
  // partition of strata.rollup-changes.
  bool scale_out = false;
  // Scaled out: where the other instances reach this one, asked at
  // Start(). Set, reads answer for every cell, reading those merged
  // elsewhere from their instance through `peers`; unset (a rebuild, one
  // instance), only for the cells merged here.
  std::function<std::string()> peer_address;
};

// FAILED_PRECONDITION when `state_dir` was folded the other way (whole,
// or scaled out).
absl::Status CheckFoldingMode(const std::string& state_dir, bool scale_out);

// Adds one instance's `gauges` to those of the instances before it in the
// process: counters sum, restore times keep the slowest.
void AddInstanceGauges(const std::map<std::string, int64_t>& gauges,
                       std::map<std::string, int64_t>& total);

class RollupInstance {
 public:
  // Registers with `definitions`: create before the follower starts.
  // `peers` (with options.peer_address) must outlive the instance.
  static absl::StatusOr<std::unique_ptr<RollupInstance>> Create(
      const RollupInstanceOptions& options, eventlog::EventLog& log,
      DefinitionsFollower& definitions, PeerStubs* peers);

  // Downstream stages first, so each finds its input's reader running.
  absl::Status Start();
  // Says first that reads of what it merged are to wait for the next
  // reader.
  void Stop();
  absl::Status Health() const;
  // Health(), and every stage has read what its partitions held at the
  // last poll.
  absl::Status CaughtUp() const;
  // Its counters, for status reports.
  std::map<std::string, int64_t> Gauges() const;

  // What queries read: every cell with other instances, else those here.
  const CellSource& cells() const;
  const Closings& closings() const { return *closings_; }
  // How other instances read here; null without them.
  PeerReadService* peer_reads() { return peer_reads_.get(); }
  const RollupStats& stats() const { return engine_->stats(); }

 private:
  explicit RollupInstance(std::function<std::string()> peer_address)
      : peer_address_(std::move(peer_address)) {}
  // The router, engine and combiner with their stores.
  absl::Status CreateScaledOut(const RollupInstanceOptions& options,
                               eventlog::EventLog& log,
                               DefinitionsFollower& definitions);

  const std::function<std::string()> peer_address_;
  // Scaled out only: the router and combiner.
  std::unique_ptr<RouteStore> route_store_;
  std::unique_ptr<EventRouter> router_;
  std::unique_ptr<RollupStore> store_;
  std::unique_ptr<RollupEngine> engine_;
  std::unique_ptr<CombinerStore> combiner_store_;
  std::unique_ptr<CellCombiner> combiner_;
  // With other instances: who holds what, and reads across them.
  std::unique_ptr<MemberDirectory> members_;
  std::unique_ptr<ClusterCells> cluster_;
  std::unique_ptr<Closings> closings_;
  std::unique_ptr<PeerReadService> peer_reads_;
};

}  // namespace strata::rollup
