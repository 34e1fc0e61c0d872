#include "services/rollup/rollup_instance.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topics.h"

namespace strata::rollup {

absl::Status CheckFoldingMode(const std::string& state_dir, bool scale_out) {
  // Versions published whole can exceed those published scaled out (and
  // the other way round), so consumers would keep the older figures.
  const bool folded_whole = std::filesystem::exists(state_dir + "/CURRENT");
  const bool folded_scaled_out = std::filesystem::exists(state_dir + "/fold");
  if (scale_out ? folded_whole : folded_scaled_out) {
    return absl::FailedPreconditionError(absl::StrCat(
        "rollup: ", state_dir, " was folded ",
        folded_whole ? "whole" : "scaled out", "; switching to ",
        scale_out ? "scaled out" : "whole",
        " is not supported yet: its versions would not follow those "
        "published before (services/rollup/SCALE_OUT.md, open problem 4); "
        "run it as it was folded"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RollupInstance>> RollupInstance::Create(
    const RollupInstanceOptions& options, eventlog::EventLog& log,
    DefinitionsFollower& definitions, PeerStubs* peers) {
  if (options.state_dir.empty()) {
    return absl::InvalidArgumentError("state_dir: required");
  }
  if (options.peer_address && peers == nullptr) {
    return absl::InvalidArgumentError("rollup: a peer address needs stubs");
  }
  RETURN_IF_ERROR(CheckFoldingMode(options.state_dir, options.scale_out));
  std::unique_ptr<RollupInstance> instance(
      new RollupInstance(options.peer_address));
  if (!options.scale_out) {
    ASSIGN_OR_RETURN(instance->store_, RollupStore::Open(options.state_dir));
    instance->engine_ = std::make_unique<RollupEngine>(
        options.engine, log, definitions, *instance->store_);
    instance->closings_ =
        std::make_unique<Closings>(*instance->engine_, nullptr, nullptr);
    return instance;
  }
  RETURN_IF_ERROR(instance->CreateScaledOut(options, log, definitions));
  if (options.peer_address) {
    const CellCombiner& combiner = *instance->combiner_;
    const RollupEngine& engine = *instance->engine_;
    instance->members_ =
        std::make_unique<MemberDirectory>(log, [&combiner, &engine] {
          return MemberHoldings{combiner.OwnedPartitions(), engine.ReadParts()};
        });
    ASSIGN_OR_RETURN(const int32_t partitions,
                     log.PartitionCount(kRollupPartialsTopic));
    instance->cluster_ = std::make_unique<ClusterCells>(
        combiner, *instance->members_, *peers, partitions);
  }
  instance->closings_ = std::make_unique<Closings>(
      *instance->engine_, instance->members_.get(),
      instance->members_ != nullptr ? peers : nullptr);
  if (instance->cluster_ != nullptr) {
    instance->peer_reads_ = std::make_unique<PeerReadService>(
        *instance->cluster_, *instance->closings_, definitions);
  }
  return instance;
}

absl::Status RollupInstance::CreateScaledOut(
    const RollupInstanceOptions& options, eventlog::EventLog& log,
    DefinitionsFollower& definitions) {
  RollupEngineOptions engine = options.engine;
  engine.input_topic = kRollupChangesTopic;
  ASSIGN_OR_RETURN(engine.fold_partitions,
                   log.PartitionCount(kRollupChangesTopic));
  ASSIGN_OR_RETURN(route_store_,
                   RouteStore::Open(options.state_dir + "/route"));
  router_ =
      std::make_unique<EventRouter>(EventRouterOptions{}, log, *route_store_);
  ASSIGN_OR_RETURN(store_, RollupStore::Open(options.state_dir + "/fold"));
  engine_ = std::make_unique<RollupEngine>(engine, log, definitions, *store_);
  ASSIGN_OR_RETURN(combiner_store_,
                   CombinerStore::Open(options.state_dir + "/combine"));
  CellCombinerOptions combine;
  combine.clock = engine.clock;
  combiner_ = std::make_unique<CellCombiner>(combine, log, definitions,
                                             *combiner_store_);
  return absl::OkStatus();
}

absl::Status RollupInstance::Start() {
  if (combiner_ != nullptr) RETURN_IF_ERROR(combiner_->Start());
  RETURN_IF_ERROR(engine_->Start());
  if (router_ != nullptr) RETURN_IF_ERROR(router_->Start());
  if (members_ != nullptr) RETURN_IF_ERROR(members_->Start(peer_address_()));
  return absl::OkStatus();
}

void RollupInstance::Stop() {
  if (members_ != nullptr) members_->Stop();
  if (router_ != nullptr) router_->Stop();
  engine_->Stop();
  if (combiner_ != nullptr) combiner_->Stop();
}

absl::Status RollupInstance::Health() const {
  if (router_ != nullptr) RETURN_IF_ERROR(router_->Health());
  RETURN_IF_ERROR(engine_->Health());
  if (combiner_ != nullptr) RETURN_IF_ERROR(combiner_->Health());
  if (members_ != nullptr) RETURN_IF_ERROR(members_->Health());
  return absl::OkStatus();
}

absl::Status RollupInstance::CaughtUp() const {
  RETURN_IF_ERROR(Health());
  const int64_t behind =
      engine_->stats().records_behind +
      (router_ != nullptr ? router_->stats().records_behind.load() : 0) +
      (combiner_ != nullptr ? combiner_->stats().records_behind.load() : 0);
  if (behind > 0) {
    return absl::UnavailableError(
        absl::StrCat("rollup: ", behind, " records to read"));
  }
  return absl::OkStatus();
}

const CellSource& RollupInstance::cells() const {
  if (cluster_ != nullptr) return *cluster_;
  if (combiner_ != nullptr) return *combiner_;
  return *engine_;
}

void AddInstanceGauges(const std::map<std::string, int64_t>& gauges,
                       std::map<std::string, int64_t>& total) {
  for (const auto& [name, value] : gauges) {
    int64_t& kept = total[name];
    kept = absl::StrContains(name, "_restore_ms_") ? std::max(kept, value)
                                                   : kept + value;
  }
}

std::map<std::string, int64_t> RollupInstance::Gauges() const {
  std::map<std::string, int64_t> gauges;
  const RollupStats& s = engine_->stats();
  const std::pair<int64_t, int64_t> replay = engine_->ReplayCounts();
  gauges["events_applied"] += s.events_applied;
  gauges["events_committed"] += s.events_committed;
  gauges["events_duplicate"] += s.events_duplicate;
  gauges["events_conflicting"] += s.events_conflicting;
  gauges["events_rejected"] += s.events_rejected;
  gauges["corrections_rejected"] += s.corrections_rejected;
  gauges["events_held"] += s.events_held;
  gauges["decisions_ignored"] += s.decisions_ignored;
  gauges["restarts"] += s.restarts;
  gauges["records_behind"] += s.records_behind;
  gauges["replayed_records"] += replay.first;
  gauges["records_to_replay"] += replay.second;
  auto add_restores = [&gauges](const std::string& stage,
                                const RestoreFigures& f) {
    gauges[stage + "_restores"] = f.restores;
    gauges[stage + "_restore_ms_last"] = f.last_ms;
    gauges[stage + "_restore_ms_max"] = f.max_ms;
  };
  add_restores("fold", engine_->restores());
  if (combiner_ != nullptr) add_restores("merge", combiner_->restores());
  if (router_ != nullptr) {
    const EventRouterStats& r = router_->stats();
    // Repeats stop at the router, scaled out.
    gauges["events_duplicate"] += r.events_duplicate;
    gauges["events_conflicting"] += r.events_conflicting;
    gauges["events_routed"] += r.events_routed;
    gauges["fold_parts_read"] +=
        static_cast<int64_t>(engine_->ReadParts().size());
  }
  if (combiner_ != nullptr) {
    const CellCombinerStats& c = combiner_->stats();
    gauges["parts_applied"] += c.parts_applied;
    gauges["parts_stale"] += c.parts_stale;
    gauges["records_published"] += c.records_published;
    gauges["partials_partitions_merged"] +=
        static_cast<int64_t>(combiner_->OwnedPartitions().size());
  }
  return gauges;
}

}  // namespace strata::rollup
