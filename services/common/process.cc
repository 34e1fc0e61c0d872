#include "services/common/process.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/cleanup/cleanup.h"
#include "absl/debugging/failure_signal_handler.h"
#include "absl/debugging/symbolize.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "grpc/grpc.h"
#include "libs/eventlog/kafka_event_log.h"
#include "libs/eventlog/kafka_topic_configs.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/grpcutil/server_runner.h"
#include "libs/logging/log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/topic_retention.h"
#include "libs/streams/topics.h"
#include "services/common/status_service.h"

ABSL_FLAG(std::string, data_dir, "./strata-data",
          "Directory of local state; also of the embedded log unless "
          "--kafka_brokers is set.");
ABSL_FLAG(std::string, kafka_brokers, "",
          "Kafka bootstrap servers (host:port,...). Empty: embedded log.");
ABSL_FLAG(bool, log_fsync, true,
          "Embedded log: fsync every append before acknowledging it, so "
          "accepted events survive a power loss. false: faster; a process "
          "crash loses nothing, a power loss may lose the last accepted "
          "events (services then refuse with DATA_LOSS).");

ABSL_FLAG(absl::Duration, max_rollup_lag, absl::Seconds(10),
          "Ingest: refuse new events (RESOURCE_EXHAUSTED, retry later) while "
          "rollup trails the log by more than this; 0 never refuses.");

ABSL_FLAG(bool, rebuild, false,
          "Rebuild every state store under --data_dir from the log before "
          "serving (NOT_SERVING meanwhile); refused if the log no longer "
          "starts at offset 0.");

ABSL_FLAG(bool, kafka_check_topic_configs, true,
          "Kafka: refuse to start on topics whose retention or cleanup "
          "policy could lose records a rebuild needs, or when the brokers "
          "cannot be asked (DescribeConfigs). false: do not ask (librdkafka's "
          "test cluster cannot answer).");

ABSL_FLAG(absl::Duration, kafka_wait_for_topics, absl::Minutes(2),
          "Kafka: how long to wait at start for brokers and for Strata's "
          "topics to exist before giving up.");

ABSL_FLAG(absl::Duration, kafka_session_timeout, absl::Seconds(45),
          "Kafka: how long a member of a consumer group may be silent before "
          "the group gives its partitions to the others (session.timeout.ms; "
          "the brokers bound it): after a crash, what it read waits this "
          "long for its next reader.");

ABSL_FLAG(std::string, port_file, "",
          "Once serving, write the bound port to this file.");

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRATA_HAS_ASAN 1
#endif
#endif
#ifndef STRATA_HAS_ASAN
#define STRATA_HAS_ASAN 0
#endif

namespace strata {

absl::Status AnnouncePort(int port) {
  const std::string path = absl::GetFlag(FLAGS_port_file);
  if (path.empty()) return absl::OkStatus();
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << port << "\n";
    if (!out.good())
      return absl::InternalError(absl::StrCat("cannot write ", temp));
  }
  // Renamed into place so a reader never sees a partial number.
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat(path, ": ", ec.message()));
  return absl::OkStatus();
}

ServerOptions ServerOptionsFromFlags(Deployment deployment) {
  ServerOptions options;
  options.require_kafka = deployment == Deployment::kDistributed;
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.kafka_brokers = absl::GetFlag(FLAGS_kafka_brokers);
  options.fsync = absl::GetFlag(FLAGS_log_fsync);
  options.max_rollup_lag = absl::GetFlag(FLAGS_max_rollup_lag);
  options.rebuild = absl::GetFlag(FLAGS_rebuild);
  options.check_topic_configs = absl::GetFlag(FLAGS_kafka_check_topic_configs);
  options.wait_for_topics = absl::GetFlag(FLAGS_kafka_wait_for_topics);
  options.session_timeout = absl::GetFlag(FLAGS_kafka_session_timeout);
  return options;
}

namespace {

// SIGINT and SIGTERM: what stops a server.
sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Blocks them on this thread and the threads it starts from now on.
void BlockTerminationSignals() {
  const sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}


// Whether the log's topics are what Strata needs; NOT_FOUND while one is
// missing (a topics job may not have run yet). `summary` lists them.
absl::Status CheckKafkaTopics(eventlog::EventLog& log,
                              const ServerOptions& options,
                              absl::Duration request_timeout,
                              std::string& summary) {
  summary.clear();
  for (const auto& [topic, partitions] : DefaultTopics()) {
    absl::StatusOr<int32_t> count = log.PartitionCount(topic);
    if (absl::IsNotFound(count.status())) {
      return absl::NotFoundError(absl::StrCat(
          "topic '", topic, "' does not exist; create it with ", partitions,
          " partitions (see deploy/k8s/topics-job.yaml)"));
    }
    RETURN_IF_ERROR(count.status());
    // Records are placed by key over exactly these partitions; another
    // count would split a key's history.
    if (*count != partitions) {
      return absl::FailedPreconditionError(absl::StrCat(
          "topic '", topic, "' has ", *count, " partitions; Strata needs ",
          partitions, " (see deploy/k8s/topics-job.yaml)"));
    }
    absl::StrAppend(&summary, summary.empty() ? "" : ", ", topic, " (",
                    partitions, ")");
    // A topic that lets records go by age or size would let a rebuild
    // produce partial totals.
    if (options.check_topic_configs) {
      absl::StatusOr<std::map<std::string, std::string>> configs =
          eventlog::DescribeTopicConfigs(options.kafka_brokers, topic,
                                         request_timeout);
      if (!configs.ok()) {
        return absl::Status(
            configs.status().code(),
            absl::StrCat("cannot check what topic '", topic, "' retains: ",
                         configs.status().message(),
                         " (--kafka_check_topic_configs=false skips the "
                         "check)"));
      }
      RETURN_IF_ERROR(CheckTopicRetention(topic, *configs));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool TerminationRequested(absl::Duration timeout) {
  const sigset_t set = TerminationSignals();
  const timespec wait = absl::ToTimespec(timeout);
  return sigtimedwait(&set, nullptr, &wait) > 0;
}

absl::StatusOr<std::unique_ptr<eventlog::EventLog>> OpenEventLog(
    const ServerOptions& options) {
  if (options.kafka_brokers.empty()) {
    if (options.require_kafka) {
      return absl::InvalidArgumentError(
          "--kafka_brokers: required: this service is one part of a "
          "distributed deployment and shares its log with the others "
          "(for one process on an embedded log, run `strata serve`)");
    }
    eventlog::RocksDbEventLogOptions embedded;
    embedded.path = (std::filesystem::path(options.data_dir) / "log").string();
    embedded.topics = DefaultTopics();
    embedded.sync = options.fsync;
    ASSIGN_OR_RETURN(auto log, eventlog::OpenRocksDbEventLog(embedded));
    STRATA_LOG(INFO) << "log: embedded, in " << embedded.path
                     << (options.fsync ? " (fsync on every append)"
                                       : " (no fsync: --log_fsync=false)");
    return log;
  }
  eventlog::KafkaEventLogOptions kafka;
  kafka.brokers = options.kafka_brokers;
  kafka.group_session_timeout = options.session_timeout;
  ASSIGN_OR_RETURN(auto log, eventlog::OpenKafkaEventLog(kafka));
  // Topics a deployment creates beside the services may come a little
  // later, and brokers may be starting too: wait for them, bounded, rather
  // than exit and be restarted in a loop.
  const absl::Time deadline = absl::Now() + options.wait_for_topics;
  absl::Time next_note = absl::InfinitePast();
  std::string topics;
  while (true) {
    absl::Status checked = CheckKafkaTopics(*log, options,
                                            kafka.request_timeout, topics);
    if (checked.ok()) break;
    const bool may_come = absl::IsNotFound(checked) ||
                          absl::IsUnavailable(checked) ||
                          absl::IsDeadlineExceeded(checked);
    if (!may_come || absl::Now() >= deadline) return checked;
    if (absl::Now() >= next_note) {
      STRATA_LOG(WARNING) << "waiting for the Kafka topics (up to "
                          << absl::FormatDuration(deadline - absl::Now())
                          << " more): " << checked;
      next_note = absl::Now() + absl::Seconds(30);
    }
    if (TerminationRequested(absl::Seconds(2))) {
      return absl::CancelledError("stopped while waiting for the topics");
    }
  }
  STRATA_LOG(INFO) << "log: Kafka at " << options.kafka_brokers << "; "
                   << topics
                   << (options.check_topic_configs
                           ? "; retention checked"
                           : "; retention NOT checked "
                             "(--kafka_check_topic_configs=false)");
  return log;
}


absl::StatusOr<std::vector<std::unique_ptr<ServiceModule>>> CreateModules(
    const ModuleContext& context, const std::vector<ModuleFactory>& factories) {
  std::vector<std::unique_ptr<ServiceModule>> modules;
  for (const ModuleFactory& factory : factories) {
    ASSIGN_OR_RETURN(std::unique_ptr<ServiceModule> module, factory(context));
    modules.push_back(std::move(module));
  }
  return modules;
}

absl::Status RunServices(
    const std::string& name, const ServerOptions& options,
    const std::string& listen, const std::vector<ModuleFactory>& factories,
    const std::function<absl::Status(const ModuleContext&)>& ready) {
  BlockTerminationSignals();
  // A peer that closes a connection mid-write (an Alertmanager behind TLS)
  // must fail that write with EPIPE, not end the server.
  signal(SIGPIPE, SIG_IGN);
  ASSIGN_OR_RETURN(std::unique_ptr<eventlog::EventLog> log,
                   OpenEventLog(options));
  if (options.rebuild) RETURN_IF_ERROR(PrepareRebuild(options, *log));
  ASSIGN_OR_RETURN(std::unique_ptr<DefinitionsFollower> definitions,
                   DefinitionsFollower::Create(*log, name));
  HealthReport damage(absl::UnavailableError("the server is starting"));
  ServerRunner server;
  // Set once the server listens, before any call can reach a module.
  std::atomic<bool> listening{false};
  std::atomic<int> bound_port{0};
  const ModuleContext context{
      *log,
      *definitions,
      options,
      damage,
      [&server, &listening]() -> std::shared_ptr<grpc::Channel> {
        return listening ? server.InProcessChannel() : nullptr;
      },
      [&bound_port] { return bound_port.load(); }};
  ASSIGN_OR_RETURN(std::vector<std::unique_ptr<ServiceModule>> modules,
                   CreateModules(context, factories));
  std::vector<grpc::Service*> services;
  for (auto& module : modules) {
    for (grpc::Service* service : module->services())
      services.push_back(service);
  }
  StatusService status(modules);
  services.push_back(&status);
  // Listening from the start, NOT_SERVING until every module is healthy.
  ASSIGN_OR_RETURN(int port, server.Start(listen, services));
  // On every way out, the server stops taking calls before the modules it
  // calls into stop and are destroyed.
  absl::Cleanup stop = [&] {
    STRATA_LOG(INFO) << name << " stopping";
    server.SetServing(false);
    server.Shutdown(absl::Seconds(5));
    // The follower calls into the modules: stopped first.
    definitions->Stop();
    for (auto& module : modules) module->Stop();
  };
  bound_port = port;
  listening = true;
  RETURN_IF_ERROR(AnnouncePort(port));
  STRATA_LOG(INFO) << name << " listening on port " << port;
  definitions->Start();
  while (true) {
    absl::Status caught_up = definitions->CatchUp(absl::Seconds(10));
    if (caught_up.ok()) break;
    STRATA_LOG(WARNING) << name << ": still reading definitions: " << caught_up;
    if (TerminationRequested(absl::ZeroDuration())) return absl::OkStatus();
  }
  for (auto& module : modules) {
    // A module that cannot start reports why through its Health(); the
    // process stays up, NOT_SERVING, so that the reason can be asked for.
    if (absl::Status started = module->Start(); !started.ok()) {
      STRATA_LOG(ERROR) << name << ": not serving: " << started;
    }
  }
  // The first module reporting damage, or OK.
  auto update_damage = [&](const v1::ServerStatus& report) {
    for (const v1::ModuleStatus& module : report.modules()) {
      if (module.code() != "OK" && module.code() != "UNAVAILABLE") {
        damage.Set(absl::FailedPreconditionError(
            absl::StrCat("the server refuses changes while ", module.module(),
                         " reports damage: ", module.code(), ": ",
                         module.message())));
        return;
      }
    }
    damage.Set(absl::OkStatus());
  };
  update_damage(status.Report());
  if (ready) RETURN_IF_ERROR(ready(context));

  std::string reported = "(none yet)";
  do {
    const v1::ServerStatus report = status.Report();
    server.SetServing(report.serving());
    update_damage(report);
    // Logged when it changes: each module that holds serving back, and why.
    std::string summary;
    for (const v1::ModuleStatus& module : report.modules()) {
      if (module.code() == "OK") continue;
      absl::StrAppend(&summary, summary.empty() ? "" : "; ", module.module(),
                      ": ", module.code(), ": ", module.message());
    }
    if (summary != reported) {
      if (summary.empty()) {
        STRATA_LOG(INFO) << name << " serving on port " << port;
      } else {
        STRATA_LOG(WARNING) << name << " NOT_SERVING: " << summary;
      }
      reported = summary;
    }
  } while (!TerminationRequested(absl::Milliseconds(200)));
  return absl::OkStatus();
}

void AllowTerminationSignals() {
  const sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

int RunMain(int argc, char** argv, const char* usage,
            absl::Status (*run)(const std::vector<std::string>& args)) {
#if !defined(__SANITIZE_ADDRESS__) && !STRATA_HAS_ASAN
  // A crash writes its stack to stderr (the service's log) before the
  // process dies, so that it can be found from the log alone. Sanitizer
  // builds keep their own reports.
  absl::InitializeSymbolizer(argv[0]);
  absl::InstallFailureSignalHandler(absl::FailureSignalHandlerOptions());
#endif
  absl::SetProgramUsageMessage(usage);
  // Flags are spelled with '_' (absl); accept '-' as well: --unit-kpis.
  std::vector<std::string> spelled(argv, argv + argc);
  for (std::string& arg : spelled) {
    if (arg.rfind("--", 0) != 0) continue;
    const size_t name_end = std::min(arg.find('='), arg.size());
    std::replace(arg.begin() + 2, arg.begin() + name_end, '-', '_');
  }
  std::vector<char*> normalized;
  for (std::string& arg : spelled) normalized.push_back(arg.data());
  std::vector<char*> positional = absl::ParseCommandLine(
      static_cast<int>(normalized.size()), normalized.data());
  // gRPC is held for the whole run and let go here, on this thread, once
  // every channel and server is gone: the library cleans up when its last
  // holder lets go, and when that holder is one of its own threads (a
  // reactor deleting the last stub of a channel) it cleans up on a detached
  // thread that races the process's exit. Suspected of the double free a
  // sanitizer run caught twice in a thread of an exiting process.
  //
  // gRPC starts threads in grpc_init. They must not take SIGINT or SIGTERM,
  // which a server waits for with sigtimedwait: a signal the kernel handed
  // to one of them would end the process on the spot (exit 143, a CI run
  // saw it) instead of stopping it cleanly. Every thread blocks them from
  // here on; the command-line client takes them back
  // (AllowTerminationSignals), so that Ctrl-C still ends it.
  BlockTerminationSignals();
  grpc_init();
  absl::Status status =
      run(std::vector<std::string>(positional.begin() + 1, positional.end()));
  grpc_shutdown();
  if (!status.ok()) {
    // Plain, for people at a terminal: "strata: NOT_FOUND: unit_id: ...".
    const std::string program = std::filesystem::path(argv[0]).filename();
    std::cerr << program << ": " << status << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace strata
