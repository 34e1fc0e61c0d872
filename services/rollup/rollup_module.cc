#include "services/rollup/rollup_module.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "grpcpp/server_builder.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topics.h"

namespace strata::rollup {

absl::Status CheckRollupShape(
    const RollupModuleOptions& options,
    const std::map<std::string, int32_t>& partitions) {
  if (options.state_dir.empty()) {
    return absl::InvalidArgumentError("state_dir: required");
  }
  if (options.instances < 1 || (options.instances > 1 && !options.scale_out)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rollup instances: ", options.instances,
        ": one, or several folding scaled out"));
  }
  if (options.instances > 1 && options.peer_address) {
    // Instances of other processes could not reach those in this one.
    return absl::InvalidArgumentError(
        "rollup instances: several in one process need every instance of "
        "the groups in it (the embedded log), not instances elsewhere");
  }
  if (options.scale_out) {
    // An instance the groups give nothing would never catch up.
    int32_t most = std::numeric_limits<int32_t>::max();
    for (const char* topic :
         {kKpiEventsTopic, kRollupChangesTopic, kRollupPartialsTopic}) {
      auto it = partitions.find(topic);
      if (it != partitions.end()) most = std::min(most, it->second);
    }
    if (options.instances > most) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rollup instances: ", options.instances, ": at most ", most,
          ", the partitions each stage shares out"));
    }
  }
  return CheckFoldingMode(options.state_dir, options.scale_out);
}

absl::StatusOr<std::unique_ptr<RollupModule>> RollupModule::Create(
    const RollupModuleOptions& options, eventlog::EventLog& log,
    DefinitionsFollower& definitions) {
  std::map<std::string, int32_t> partitions;
  for (const char* topic :
       {kKpiEventsTopic, kRollupChangesTopic, kRollupPartialsTopic}) {
    ASSIGN_OR_RETURN(partitions[topic], log.PartitionCount(topic));
  }
  RETURN_IF_ERROR(CheckRollupShape(options, partitions));
  int32_t fold_parts = 0;
  int32_t merge_partitions = 0;
  if (options.scale_out) {
    fold_parts = partitions[kRollupChangesTopic];
    merge_partitions = partitions[kRollupPartialsTopic];
    STRATA_LOG(INFO) << "rollup: scaled out, folding " << fold_parts
                     << " part(s), one per partition of "
                     << kRollupChangesTopic << ", in " << options.instances
                     << " instance(s) here";
  }
  if (options.peer_address) fold_parts = merge_partitions = 0;  // Shared.
  auto peers = std::make_unique<PeerStubs>();
  std::vector<std::unique_ptr<RollupInstance>> instances;
  for (int n = 1; n <= options.instances; ++n) {
    RollupInstanceOptions instance;
    instance.state_dir =
        n == 1 ? options.state_dir
               : absl::StrCat(options.state_dir, "/instance-", n);
    instance.engine = options.engine;
    instance.scale_out = options.scale_out;
    instance.peer_address = options.peer_address;
    if (options.instances > 1) {
      instance.peer_address = [n] { return InProcessPeerAddress(n); };
    }
    ASSIGN_OR_RETURN(instances.emplace_back(),
                     RollupInstance::Create(instance, log, definitions,
                                            peers.get()));
  }
  std::unique_ptr<RollupModule> module(
      new RollupModule(options, fold_parts, merge_partitions, std::move(peers),
                       std::move(instances), log, definitions));
  if (options.instances > 1) RETURN_IF_ERROR(module->ServeInProcess());
  return module;
}

RollupModule::RollupModule(
    const RollupModuleOptions& options, int32_t fold_parts,
    int32_t merge_partitions, std::unique_ptr<PeerStubs> peers,
    std::vector<std::unique_ptr<RollupInstance>> instances,
    eventlog::EventLog& log, DefinitionsFollower& definitions)
    : fold_parts_(fold_parts),
      merge_partitions_(merge_partitions),
      peers_(std::move(peers)),
      instances_(std::move(instances)),
      query_(instances_[0]->cells(), definitions, queries_),
      watch_(log, definitions),
      closing_(log, instances_[0]->closings(), queries_),
      scorecard_(instances_[0]->cells(), definitions, options.alerts,
                 queries_) {}

RollupModule::~RollupModule() { ShutDownInProcess(); }

void RollupModule::ShutDownInProcess() {
  // Calls in flight end within the deadline, before the instances go.
  for (auto& server : in_process_servers_) {
    server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  }
}

absl::Status RollupModule::ServeInProcess() {
  for (size_t i = 0; i < instances_.size(); ++i) {
    grpc::ServerBuilder builder;
    builder.RegisterService(instances_[i]->peer_reads());
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (server == nullptr) {
      return absl::InternalError(absl::StrCat(
          "rollup: instance ", i + 1, ": its in-process server did not start"));
    }
    RETURN_IF_ERROR(peers_->AddInProcess(
        InProcessPeerAddress(static_cast<int>(i) + 1),
        server->InProcessChannel(grpc::ChannelArguments())));
    in_process_servers_.push_back(std::move(server));
  }
  return absl::OkStatus();
}

// Which instance, when there are several.
absl::Status RollupModule::OfInstance(size_t i, absl::Status status) const {
  if (status.ok() || instances_.size() == 1) return status;
  return absl::Status(status.code(), absl::StrCat("rollup instance ", i + 1,
                                                  ": ", status.message()));
}

absl::Status RollupModule::Start() {
  for (size_t i = 0; i < instances_.size(); ++i) {
    RETURN_IF_ERROR(OfInstance(i, instances_[i]->Start()));
  }
  return absl::OkStatus();
}

void RollupModule::Stop() {
  for (auto& instance : instances_) instance->Stop();
  ShutDownInProcess();
}

absl::Status RollupModule::Health() {
  for (size_t i = 0; i < instances_.size(); ++i) {
    RETURN_IF_ERROR(OfInstance(i, instances_[i]->Health()));
  }
  return absl::OkStatus();
}

absl::Status RollupModule::CaughtUp() {
  for (size_t i = 0; i < instances_.size(); ++i) {
    RETURN_IF_ERROR(OfInstance(i, instances_[i]->CaughtUp()));
  }
  if (fold_parts_ == 0) return absl::OkStatus();
  const std::map<std::string, int64_t> gauges = Gauges();
  auto gauge = [&gauges](const char* name) {
    auto it = gauges.find(name);
    return it != gauges.end() ? it->second : 0;
  };
  const int64_t folded = gauge("fold_parts_read");
  const int64_t merged = gauge("partials_partitions_merged");
  if (folded != fold_parts_ || merged != merge_partitions_) {
    return absl::UnavailableError(absl::StrCat(
        "rollup: the instances hold ", folded, " of ", fold_parts_,
        " fold parts and ", merged, " of ", merge_partitions_,
        " merge partitions (the groups are sharing them out)"));
  }
  return absl::OkStatus();
}

std::map<std::string, int64_t> RollupModule::Gauges() {
  std::map<std::string, int64_t> gauges;
  for (size_t i = 0; i < instances_.size(); ++i) {
    const std::map<std::string, int64_t> own = instances_[i]->Gauges();
    AddInstanceGauges(own, gauges);
    if (instances_.size() == 1) continue;
    // How the instances here share the work.
    for (const char* name : {"fold_parts_read", "partials_partitions_merged"}) {
      auto held = own.find(name);
      gauges[absl::StrCat("instance_", i + 1, "_", name)] =
          held != own.end() ? held->second : 0;
    }
  }
  return gauges;
}

absl::StatusOr<std::unique_ptr<ServiceModule>> NewRollupService(
    eventlog::EventLog& log, DefinitionsFollower& definitions,
    const std::string& data_dir, RollupModuleOptions options) {
  options.state_dir = RollupStateDir(data_dir);
  return AsServiceModule(RollupModule::Create(options, log, definitions));
}

}  // namespace strata::rollup
