// End-to-end: the real binaries on loopback, driven through their public
// gRPC APIs, in both deployments:
//   - AllInOne: `strata serve` on the embedded log;
//   - Kafka: strata-ingest, strata-rollup and strata-alerts as three
//     processes on a three-broker Kafka (librdkafka's mock cluster, in its
//     own process).

#include <filesystem>
#include <fstream>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/grpcutil/health_client.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/timestamps.h"
#include "strata/v1/admin_service.grpc.pb.h"
#include "strata/v1/alert_service.grpc.pb.h"
#include "strata/v1/closing_service.grpc.pb.h"
#include "strata/v1/ingest_service.grpc.pb.h"
#include "strata/v1/query_service.grpc.pb.h"
#include "strata/v1/rollup_peer_service.grpc.pb.h"
#include "strata/v1/rollup_stream_service.grpc.pb.h"
#include "strata/v1/scorecard_service.grpc.pb.h"
#include "strata/v1/status_service.grpc.pb.h"
#include "tests/harness/alertmanager_process.h"
#include "tests/harness/child_process.h"

namespace strata {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::ChildProcess;
using ::strata::testing::KpiChange;
using ::strata::testing::TargetChange;
using ::strata::testing::UnitChange;
using ::strata::testing::WaitForFile;
using ::strata::testing::WaitForPortFile;
using ::testing::HasSubstr;

constexpr absl::Duration kStartTimeout = absl::Seconds(60);

std::shared_ptr<grpc::Channel> Channel(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                             grpc::InsecureChannelCredentials());
}

// Where each service of a deployment listens.
struct Endpoints {
  int ingest = 0;
  int rollup = 0;
  int alerts = 0;
};

class Deployment {
 public:
  virtual ~Deployment() = default;
  virtual absl::StatusOr<Endpoints> Start() = 0;
  // SIGKILL everything and start again on the same data.
  virtual absl::StatusOr<Endpoints> CrashAndRestart() = 0;
  virtual std::string Logs() = 0;
  // The service processes running now.
  virtual std::vector<int> Pids() = 0;
  // Passed to the process that runs the alerts service from its next start.
  void AddAlertsFlag(const std::string& flag) { alerts_flags_.push_back(flag); }

 protected:
  // Starts `binary` with `args` plus a port file and waits for its port.
  absl::StatusOr<int> Launch(std::unique_ptr<ChildProcess>& process,
                             const std::string& name, const std::string& binary,
                             std::vector<std::string> args) {
    const std::string port_file = (dir_ / (name + ".port")).string();
    std::filesystem::remove(port_file);
    args.push_back("--port_file=" + port_file);
    process = std::make_unique<ChildProcess>(binary, args);
    absl::Status started = process->Start((dir_ / (name + ".log")).string());
    if (!started.ok()) return started;
    absl::StatusOr<int> port = WaitForPortFile(port_file, kStartTimeout);
    if (!port.ok()) return port.status();
    // The port file is written once listening; serving follows catch-up.
    absl::Status serving = WaitUntilServing(Channel(*port), kStartTimeout);
    if (!serving.ok()) {
      return absl::UnavailableError(absl::StrCat(name, ": ", serving.message()));
    }
    return port;
  }

  std::string Log(const std::unique_ptr<ChildProcess>& p, const char* name) {
    return p ? absl::StrCat("---- ", name, " ----\n", p->ReadLog()) : "";
  }

  std::filesystem::path dir_;
  std::vector<std::string> alerts_flags_;
};

class AllInOneDeployment : public Deployment {
 public:
  // `rollup_instances` > 1: rollup scaled out, in as many instances of
  // the one process.
  AllInOneDeployment(std::filesystem::path dir, int rollup_instances)
      : rollup_instances_(
            absl::StrCat("--rollup_instances=", rollup_instances)) {
    dir_ = dir;
  }

  absl::StatusOr<Endpoints> Start() override {
    std::vector<std::string> args = {"serve", "--listen=127.0.0.1:0",
                                     "--data_dir=" + (dir_ / "data").string(),
                                     rollup_instances_};
    args.insert(args.end(), alerts_flags_.begin(), alerts_flags_.end());
    absl::StatusOr<int> port = Launch(server_, "strata", STRATA_BIN, args);
    if (!port.ok()) return port.status();
    return Endpoints{*port, *port, *port};
  }

  absl::StatusOr<Endpoints> CrashAndRestart() override {
    server_->Kill();
    return Start();
  }

  // Stops the server, runs `strata rebuild` on its data and returns what
  // it printed, then starts the server again.
  absl::StatusOr<std::string> Rebuild(Endpoints& endpoints) {
    server_->Stop();
    const std::string command =
        absl::StrCat(STRATA_BIN, " rebuild --data_dir=",
                     (dir_ / "data").string(), " ", rollup_instances_, " 2>&1");
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return absl::InternalError("popen failed");
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
    if (pclose(pipe) != 0) return absl::InternalError(out);
    absl::StatusOr<Endpoints> started = Start();
    if (!started.ok()) return started.status();
    endpoints = *started;
    return out;
  }

  std::string Logs() override { return Log(server_, "strata"); }
  std::vector<int> Pids() override { return {server_->pid()}; }

 private:
  const std::string rollup_instances_;
  std::unique_ptr<ChildProcess> server_;
};

class KafkaDeployment : public Deployment {
 public:
  // `rollup_scale_out`: strata-rollup folds through its scale-out stages.
  KafkaDeployment(std::filesystem::path dir, bool rollup_scale_out)
      : rollup_scale_out_(rollup_scale_out) {
    dir_ = dir;
  }

  absl::StatusOr<Endpoints> Start() override {
    if (!broker_) {
      const std::string bootstrap_file = (dir_ / "bootstrap").string();
      broker_ = std::make_unique<ChildProcess>(
          KAFKA_MOCK_BROKER_BIN,
          std::vector<std::string>{"--brokers=3",
                                   "--bootstrap_file=" + bootstrap_file});
      absl::Status started = broker_->Start((dir_ / "broker.log").string());
      if (!started.ok()) return started;
      absl::StatusOr<std::string> bootstrap =
          WaitForFile(bootstrap_file, kStartTimeout);
      if (!bootstrap.ok()) return bootstrap.status();
      brokers_ = *bootstrap;
    }
    // Alerts first: rollup's scorecards ask it for open alerts.
    for (auto [process, name, binary, port] :
         {std::make_tuple(&ingest_, "ingest", STRATA_INGEST_BIN,
                          &endpoints_.ingest),
          std::make_tuple(&alerts_, "alerts", STRATA_ALERTS_BIN,
                          &endpoints_.alerts),
          std::make_tuple(&rollup_, "rollup", STRATA_ROLLUP_BIN,
                          &endpoints_.rollup)}) {
      std::vector<std::string> args = ServiceArgs(name);
      if (process == &rollup_) {
        std::vector<std::string> rollup = RollupArgs();
        args.insert(args.end(), rollup.begin(), rollup.end());
      }
      if (process == &alerts_) {
        args.insert(args.end(), alerts_flags_.begin(), alerts_flags_.end());
      }
      absl::StatusOr<int> bound = Launch(*process, name, binary, args);
      if (!bound.ok()) return bound.status();
      *port = *bound;
    }
    return endpoints_;
  }

  // Starts another strata-rollup, with its own state, and returns its
  // port once it serves.
  absl::StatusOr<int> AddRollupInstance() {
    const std::string name = absl::StrCat("rollup-", more_rollups_.size() + 2);
    std::vector<std::string> args = ServiceArgs(name);
    std::vector<std::string> rollup = RollupArgs();
    args.insert(args.end(), rollup.begin(), rollup.end());
    more_rollups_.emplace_back();
    return Launch(more_rollups_.back(), name, STRATA_ROLLUP_BIN, args);
  }
  // Stops (SIGTERM) the `n`-th instance AddRollupInstance started.
  void StopRollupInstance(size_t n) { more_rollups_.at(n)->Stop(); }

  absl::StatusOr<Endpoints> CrashAndRestart() override {
    ingest_->Kill();
    rollup_->Kill();
    alerts_->Kill();
    return Start();  // The broker, holding the log, stays up.
  }

  std::string Logs() override {
    std::string logs = Log(broker_, "broker") + Log(ingest_, "ingest") +
                       Log(rollup_, "rollup") + Log(alerts_, "alerts");
    for (size_t n = 0; n < more_rollups_.size(); ++n) {
      logs += Log(more_rollups_[n], absl::StrCat("rollup-", n + 2).c_str());
    }
    return logs;
  }
  std::vector<int> Pids() override {
    return {ingest_->pid(), rollup_->pid(), alerts_->pid()};
  }

 private:
  // The test broker answers no DescribeConfigs.
  std::vector<std::string> ServiceArgs(const std::string& name) const {
    return {"--listen=127.0.0.1:0", "--kafka_brokers=" + brokers_,
            "--kafka_check_topic_configs=false",
            "--data_dir=" + (dir_ / name).string()};
  }
  std::vector<std::string> RollupArgs() const {
    std::vector<std::string> args = {
        absl::StrCat("--alerts_address=127.0.0.1:", endpoints_.alerts)};
    if (rollup_scale_out_) {
      args.push_back("--rollup_scale_out");
      // A crashed member's partitions wait this long for their next
      // reader (the broker's least).
      args.push_back("--kafka_session_timeout=6s");
    }
    return args;
  }

  std::string brokers_;
  const bool rollup_scale_out_;
  Endpoints endpoints_;
  std::unique_ptr<ChildProcess> broker_, ingest_, rollup_, alerts_;
  std::vector<std::unique_ptr<ChildProcess>> more_rollups_;
};

v1::KpiEvent Event(const std::string& id, const std::string& kpi,
                   const std::string& unit, int day, double value) {
  v1::KpiEvent e;
  e.set_event_id(id);
  e.set_kpi_id(kpi);
  e.set_unit_id(unit);
  // 2026-03-<day> 12:00 UTC.
  e.mutable_event_time()->set_seconds(1772323200 + (day - 1) * 86400 + 43200);
  e.set_value(value);
  e.set_source("e2e");
  return e;
}

v1::RollupKey Key(const std::string& kpi, const std::string& unit,
                  v1::PeriodKind kind, const std::string& label) {
  v1::RollupKey key;
  key.set_kpi_id(kpi);
  key.set_unit_id(unit);
  key.mutable_period()->set_kind(kind);
  key.mutable_period()->set_label(label);
  return key;
}

// A gauge of the rollup module of the instance at `port`, by its status;
// -1 when it does not answer.
int64_t RollupGauge(int port, const std::string& name) {
  auto stub = v1::StatusService::NewStub(Channel(port));
  grpc::ClientContext context;
  v1::ServerStatus status;
  if (!stub->GetStatus(&context, v1::GetStatusRequest(), &status).ok()) {
    return -1;
  }
  for (const v1::ModuleStatus& m : status.modules()) {
    auto gauge = m.gauges().find(name);
    if (m.module() == "rollup" && gauge != m.gauges().end()) {
      return gauge->second;
    }
  }
  return -1;
}

// Waits (bounded) until the instances at `ports` share every partition of
// rollup's fold and merge, each some.
::testing::AssertionResult Shared(const std::vector<int>& ports) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    bool shared = true;
    for (const char* gauge : {"fold_parts_read", "partials_partitions_merged"}) {
      int64_t total = 0;
      for (int port : ports) {
        const int64_t held = RollupGauge(port, gauge);
        shared = shared && held > 0;
        total += held;
      }
      shared = shared && total == 8;
    }
    if (shared) return ::testing::AssertionSuccess();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return ::testing::AssertionFailure() << "the instances do not share the work";
}

// Collects a subscription's alerts on a thread of its own.
class AlertTail {
 public:
  AlertTail(v1::AlertService::Stub& stub, const std::string& unit,
            const std::string& resume_token = "") {
    v1::SubscribeAlertsRequest request;
    request.set_unit_id(unit);
    request.set_resume_token(resume_token);
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(3)));
    reader_ = stub.SubscribeAlerts(&context_, request);
    reader_->WaitForInitialMetadata();  // The subscription is live.
    thread_ = std::thread([this] {
      v1::Alert alert;
      while (reader_->Read(&alert)) {
        absl::MutexLock lock(&mu_);
        alerts_.push_back(alert);
      }
      absl::MutexLock lock(&mu_);
      status_ = reader_->Finish();
    });
  }
  ~AlertTail() {
    context_.TryCancel();
    thread_.join();
  }

  // Waits (bounded) for an alert matching `predicate`.
  std::optional<v1::Alert> WaitFor(
      std::function<bool(const v1::Alert&)> predicate) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      {
        absl::MutexLock lock(&mu_);
        for (const v1::Alert& a : alerts_) {
          if (predicate(a)) return a;
        }
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return std::nullopt;
  }

  std::vector<v1::Alert> alerts() {
    absl::MutexLock lock(&mu_);
    return alerts_;
  }

  // How the stream ended; nullopt while it runs (waits up to 10 s).
  std::optional<grpc::Status> Ended() {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      {
        absl::MutexLock lock(&mu_);
        if (status_) return status_;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return std::nullopt;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::Alert>> reader_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<v1::Alert> alerts_;
  std::optional<grpc::Status> status_;
};

class EndToEndTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (const std::string only = OnlyDeployment(); !only.empty()) {
      if (GetParam() != only) GTEST_SKIP() << "runs " << only << " only";
    } else if (absl::EndsWith(GetParam(), "ScaledOut") && !RunsScaledOut()) {
      GTEST_SKIP() << "run scaled out: the tests of rollup's figures only";
    }
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_e2e_", GetParam(), "_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->random_seed(), "_",
                        counter_++);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    if (absl::StartsWith(GetParam(), "AllInOne")) {
      deployment_ = std::make_unique<AllInOneDeployment>(
          dir_, GetParam() == "AllInOneScaledOut" ? 3 : 1);
    } else {
      deployment_ = std::make_unique<KafkaDeployment>(
          dir_, GetParam() == "KafkaScaledOut");
    }
    absl::StatusOr<Endpoints> endpoints = deployment_->Start();
    ASSERT_OK(endpoints) << deployment_->Logs();
    Connect(*endpoints);
    ApplyOrganisation();
  }

  static std::string TestName() {
    return ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  // The one deployment the test is about, if any (skipped before
  // deploying elsewhere: each deployment costs seconds).
  static std::string OnlyDeployment() {
    const std::string test = TestName();
    for (auto [name, deployment] :
         {std::make_pair("RollupInstancesShareTheWorkAndEachAnswersEveryCell",
                         "KafkaScaledOut"),
          std::make_pair("RollupInstancesOfOneProcessShareTheWork",
                         "AllInOneScaledOut")}) {
      if (absl::StartsWith(test, name)) return deployment;
    }
    return "";
  }
  // The tests that also run with rollup scaled out (the rest do not touch
  // the fold).
  static bool RunsScaledOut() {
    const std::string test = TestName();
    std::vector<const char*> names = {
        "RollsUpTeamsToBusinessUnitsToEnterpriseAndAlerts",
        "EveryAggregationPeriodAndQueryAnswersThroughApiAndClient",
        "WatchRollupsResumesWithoutMissingOrRepeating",
        "ResentAndCrashedEventsCountExactlyOnce",
        "ScorecardShowsFiguresTrendAndOpenAlertsOfAUnit",
        "AClosedPeriodWaitsForApprovalThroughApiAndClient"};
    // strata rebuild is all-in-one.
    if (GetParam() == "AllInOneScaledOut") {
      names.push_back("RebuildCommandRebuildsEveryStoreToTheSameFigures");
    }
    for (const char* name : names) {
      if (absl::StartsWith(test, name)) return true;
    }
    return false;
  }

  void TearDown() override {
    if (deployment_ == nullptr) return;  // Skipped.
    // STRATA_E2E_LOGS=1 prints them for a passing test too, e.g. to see
    // where a slow one spent its time.
    if (HasFailure() || std::getenv("STRATA_E2E_LOGS") != nullptr) {
      std::cerr << deployment_->Logs();
    }
    deployment_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Connect(const Endpoints& e) {
    endpoints_ = e;
    admin_ = v1::AdminService::NewStub(Channel(e.ingest));
    ingest_ = v1::IngestService::NewStub(Channel(e.ingest));
    query_ = v1::RollupQueryService::NewStub(Channel(e.rollup));
    alerts_ = v1::AlertService::NewStub(Channel(e.alerts));
  }

  // ent -> east -> {east-1, east-2}; ent -> west -> {west-1}.
  // sales (sum) with March targets; staff (last).
  void ApplyOrganisation() {
    v1::DefinitionBatch batch =
        Batch({UnitChange("ent", ""), UnitChange("east", "ent"),
               UnitChange("east-1", "east"), UnitChange("east-2", "east"),
               UnitChange("west", "ent"), UnitChange("west-1", "west"),
               KpiChange("sales", v1::TIME_AGGREGATION_SUM),
               KpiChange("staff", v1::TIME_AGGREGATION_LAST),
               TargetChange("sales", "west-1", "2026-03", 1000)});
    grpc::ClientContext context;
    v1::ApplyDefinitionsResponse response;
    grpc::Status status = admin_->ApplyDefinitions(&context, batch, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.applied(), batch.changes_size());
  }

  grpc::Status Ingest(const std::vector<v1::KpiEvent>& events,
                      int64_t* accepted = nullptr) {
    v1::IngestRequest request;
    for (const auto& e : events) *request.add_events() = e;
    grpc::ClientContext context;
    v1::IngestResponse response;
    grpc::Status status = ingest_->Ingest(&context, request, &response);
    if (accepted != nullptr) *accepted = response.accepted();
    return status;
  }

  // Ingest, retried as a feed would while rollup trails the log (ingest's
  // back-pressure, as instances join and leave), for up to a minute.
  grpc::Status IngestAsAFeedWould(const std::vector<v1::KpiEvent>& events) {
    grpc::Status ingested;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!(ingested = Ingest(events)).ok() &&
           ingested.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(200));
    }
    return ingested;
  }

  grpc::Status GetRollup(const v1::RollupKey& key, v1::RollupRecord* record) {
    grpc::ClientContext context;
    v1::GetRollupRequest request;
    *request.mutable_key() = key;
    return query_->GetRollup(&context, request, record);
  }

  // Polls (bounded) until every cell of `keys` has a value.
  void WaitForValues(const std::vector<v1::RollupKey>& keys) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    for (const v1::RollupKey& key : keys) {
      v1::RollupRecord record;
      while (absl::Now() < deadline &&
             !(GetRollup(key, &record).ok() && record.has_value())) {
        absl::SleepFor(absl::Milliseconds(20));
      }
    }
  }

  // Polls (bounded) until the cell has `event_count` events; returns it.
  v1::RollupRecord WaitForCount(const v1::RollupKey& key, int64_t event_count) {
    v1::RollupRecord record;
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      if (GetRollup(key, &record).ok() && record.event_count() >= event_count) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_EQ(record.event_count(), event_count) << key.ShortDebugString();
    return record;
  }

  // The unit's scorecard of March 2026, from the rollup service.
  ::testing::AssertionResult GetMarchScorecard(const std::string& unit,
                                               v1::Scorecard& card) {
    v1::GetScorecardRequest request;
    request.set_unit_id(unit);
    request.mutable_period()->set_kind(v1::PERIOD_KIND_MONTH);
    request.mutable_period()->set_label("2026-03");
    auto scorecards = v1::ScorecardService::NewStub(Channel(endpoints_.rollup));
    grpc::ClientContext context;
    grpc::Status status = scorecards->GetScorecard(&context, request, &card);
    if (status.ok()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << status.error_message();
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<Deployment> deployment_;
  Endpoints endpoints_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::IngestService::Stub> ingest_;
  std::unique_ptr<v1::RollupQueryService::Stub> query_;
  std::unique_ptr<v1::AlertService::Stub> alerts_;
};

// SIGTERM stops a server cleanly only if the thread that waits for it is
// the only one that takes it: a thread of a library (gRPC starts some
// before main's code runs) that does not block it would let the signal
// end the process on the spot (exit 143).
TEST_P(EndToEndTest, OnlyTheMainThreadTakesTerminationSignals) {
  for (int pid : deployment_->Pids()) {
    ASSERT_GT(pid, 0);
    int threads = 0;
    const std::filesystem::path tasks =
        absl::StrCat("/proc/", pid, "/task");
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
      if (task.path().filename() == std::to_string(pid)) continue;
      std::ifstream status(task.path() / "status");
      std::string line;
      while (std::getline(status, line)) {
        if (line.rfind("SigBlk:", 0) != 0) continue;
        const uint64_t blocked = std::stoull(line.substr(7), nullptr, 16);
        const uint64_t termination = (1ull << (SIGTERM - 1)) |
                                     (1ull << (SIGINT - 1));
        std::ifstream comm(task.path() / "comm");
        std::string name;
        std::getline(comm, name);
        EXPECT_EQ(blocked & termination, termination)
            << "thread '" << name << "' of pid " << pid
            << " takes SIGTERM or SIGINT";
        ++threads;
      }
    }
    EXPECT_GT(threads, 3) << pid;
  }
}

// Operators see how far each consumer of the log trails it (its lag).
TEST_P(EndToEndTest, StatusShowsHowFarRollupAndAlertsTrailTheLog) {
  ASSERT_TRUE(Ingest({Event("s1", "sales", "west-1", 2, 40)}).ok());
  WaitForCount(Key("sales", "ent", v1::PERIOD_KIND_YEAR, "2026"), 1);
  for (auto [port, module] : {std::make_pair(endpoints_.rollup, "rollup"),
                              std::make_pair(endpoints_.alerts, "alerts")}) {
    auto stub = v1::StatusService::NewStub(Channel(port));
    std::optional<int64_t> behind;
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline && behind != 0) {
      grpc::ClientContext context;
      v1::ServerStatus status;
      ASSERT_TRUE(
          stub->GetStatus(&context, v1::GetStatusRequest(), &status).ok());
      for (const v1::ModuleStatus& m : status.modules()) {
        auto gauge = m.gauges().find("records_behind");
        if (m.module() == module && gauge != m.gauges().end()) {
          behind = gauge->second;
        }
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_EQ(behind, std::optional<int64_t>(0))
        << module << " reports no records_behind, or never catches up";
  }
}

TEST_P(EndToEndTest, RollsUpTeamsToBusinessUnitsToEnterpriseAndAlerts) {
  AlertTail east_alerts(*alerts_, "east");

  int64_t accepted = 0;
  ASSERT_TRUE(Ingest({Event("s1", "sales", "east-1", 2, 40),
                      Event("s2", "sales", "east-2", 3, 30),
                      Event("s3", "sales", "west-1", 4, 150.5),
                      Event("h1", "staff", "east-1", 1, 10),
                      Event("h2", "staff", "east-1", 20, 12)},
                     &accepted)
                  .ok());
  EXPECT_EQ(accepted, 5);

  // The same path through a client stream of two batches.
  {
    grpc::ClientContext context;
    v1::IngestResponse response;
    auto writer = ingest_->IngestStream(&context, &response);
    v1::IngestRequest first, second;
    *first.add_events() = Event("s4", "sales", "east-1", 10, 20);
    *second.add_events() = Event("h3", "staff", "west-1", 5, 7);
    *second.add_events() = Event("s5", "sales", "west-1", 6, 49.5);
    ASSERT_TRUE(writer->Write(first));
    ASSERT_TRUE(writer->Write(second));
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.accepted(), 3);
  }

  const auto M = v1::PERIOD_KIND_MONTH;
  EXPECT_EQ(WaitForCount(Key("sales", "ent", M, "2026-03"), 5).value(), 290);
  EXPECT_EQ(WaitForCount(Key("sales", "east-1", M, "2026-03"), 2).value(), 60);
  EXPECT_EQ(WaitForCount(Key("sales", "east", M, "2026-03"), 3).value(), 90);
  EXPECT_EQ(
      WaitForCount(Key("sales", "west", v1::PERIOD_KIND_QUARTER, "2026-Q1"), 2)
          .value(),
      200);
  EXPECT_EQ(WaitForCount(Key("sales", "ent", v1::PERIOD_KIND_YEAR, "2026"), 5)
                .value(),
            290);
  // Stocks: each unit's latest value, summed up the tree.
  EXPECT_EQ(WaitForCount(Key("staff", "east-1", M, "2026-03"), 2).value(), 12);
  EXPECT_EQ(WaitForCount(Key("staff", "ent", M, "2026-03"), 3).value(), 19);

  // A target set after the fact re-evaluates the cell: east-1 sold 60
  // against 100, red. The subscriber for "east" hears of it; west-1's red
  // (200 of 1000) is outside its subtree.
  {
    const v1::DefinitionBatch targets =
        Batch({TargetChange("sales", "east-1", "2026-03", 100)});
    grpc::ClientContext context;
    v1::ApplyDefinitionsResponse response;
    ASSERT_TRUE(admin_->ApplyDefinitions(&context, targets, &response).ok());
  }
  std::optional<v1::Alert> alert = east_alerts.WaitFor([](const v1::Alert& a) {
    return a.key().unit_id() == "east-1" && a.status() == v1::KPI_STATUS_RED;
  });
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->key().kpi_id(), "sales");
  EXPECT_EQ(alert->state(), v1::ALERT_STATE_OPEN);
  EXPECT_EQ(alert->actual(), 60);
  EXPECT_EQ(alert->target(), 100);
  for (const v1::Alert& a : east_alerts.alerts()) {
    EXPECT_NE(a.key().unit_id(), "west-1");
  }
  // west-1's alert may come a moment later (another partition).
  bool west_listed = false;
  for (int attempt = 0; attempt < 100 && !west_listed; ++attempt) {
    if (attempt > 0) absl::SleepFor(absl::Milliseconds(100));
    grpc::ClientContext list_context;
    v1::ListAlertsRequest list_request;
    v1::ListAlertsResponse listed;
    ASSERT_TRUE(alerts_->ListAlerts(&list_context, list_request, &listed).ok());
    for (const v1::Alert& a : listed.alerts()) {
      west_listed |= a.key().unit_id() == "west-1";
    }
  }
  EXPECT_TRUE(west_listed);

  // The manager acknowledges, then resolves with a corrective action.
  grpc::ClientContext ack_context;
  v1::AcknowledgeAlertRequest ack;
  ack.set_alert_id(alert->alert_id());
  ack.set_acknowledged_by("east-manager");
  v1::Alert acked;
  ASSERT_TRUE(alerts_->AcknowledgeAlert(&ack_context, ack, &acked).ok());
  EXPECT_EQ(acked.state(), v1::ALERT_STATE_ACKNOWLEDGED);
  EXPECT_EQ(acked.acknowledged_by(), "east-manager");
  grpc::ClientContext resolve_context;
  v1::ResolveAlertRequest resolve;
  resolve.set_alert_id(alert->alert_id());
  resolve.set_resolved_by("east-manager");
  resolve.set_corrective_action("Moved two reps to east-1");
  resolve.set_action_owner("east-lead");
  resolve.mutable_action_due()->set_seconds(1798675200);  // 2026-12-31
  v1::Alert resolved;
  ASSERT_TRUE(alerts_->ResolveAlert(&resolve_context, resolve, &resolved).ok());
  EXPECT_EQ(resolved.state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(resolved.corrective_action(), "Moved two reps to east-1");
  EXPECT_EQ(resolved.corrective_action_owner(), "east-lead");
  EXPECT_EQ(resolved.corrective_action_due().seconds(), 1798675200);
  EXPECT_TRUE(east_alerts.WaitFor([](const v1::Alert& a) {
    return a.state() == v1::ALERT_STATE_RESOLVED;
  }));
}

// Runs the `strata` client against `port` and returns what it printed; a
// command that does not end by itself is stopped after `seconds`.
std::string RunClient(int port, const std::string& args, int seconds = 60) {
  const std::string command =
      absl::StrCat("timeout ", seconds, " ", STRATA_BIN,
                   " --server=127.0.0.1:", port, " ", args, " 2>&1");
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  pclose(pipe);
  return out;
}

// An objective measured by sales: west-1's scorecard shows its March
// figure against the target, February's for the trend, and the open alert
// the alerts service raised, through the API and as the client prints it.
TEST_P(EndToEndTest, ScorecardShowsFiguresTrendAndOpenAlertsOfAUnit) {
  {
    v1::DefinitionChange grow = ::strata::testing::ObjectiveChange(
        "grow", v1::PERSPECTIVE_FINANCIAL, {{"sales", 1}});
    grow.mutable_objective()->set_name("Grow sales");
    grpc::ClientContext context;
    v1::ApplyDefinitionsResponse response;
    ASSERT_TRUE(admin_
                    ->ApplyDefinitions(
                        &context,
                        Batch({grow, TargetChange("sales", "west-1", "2026-02",
                                                  100)}),
                        &response)
                    .ok());
  }
  v1::KpiEvent february = Event("f1", "sales", "west-1", 1, 100);
  february.mutable_event_time()->set_seconds(february.event_time().seconds() -
                                             14 * 86400);  // 2026-02-15.
  AlertTail alerts(*alerts_, "west-1");
  ASSERT_TRUE(Ingest({february, Event("m1", "sales", "west-1", 4, 500)}).ok());
  std::optional<v1::Alert> red = alerts.WaitFor([](const v1::Alert& a) {
    return a.key().period().label() == "2026-03" &&
           a.status() == v1::KPI_STATUS_RED;
  });
  ASSERT_TRUE(red.has_value());
  // Scaled out, February's cell may reach its partition of stage C later.
  WaitForValues({Key("sales", "west-1", v1::PERIOD_KIND_MONTH, "2026-02")});

  v1::Scorecard card;
  ASSERT_TRUE(GetMarchScorecard("west-1", card));
  EXPECT_EQ(card.alerts_unavailable(), "");
  ASSERT_EQ(card.perspectives_size(), 1);
  const v1::ScorecardObjective& grow = card.perspectives(0).objectives(0);
  EXPECT_EQ(grow.objective_id(), "grow");
  ASSERT_EQ(grow.measures_size(), 1);
  const v1::ScorecardMeasure& sales = grow.measures(0);
  EXPECT_EQ(sales.figure().value(), 500);
  EXPECT_EQ(sales.figure().target(), 1000);
  EXPECT_EQ(sales.figure().status(), v1::KPI_STATUS_RED);
  // 100 of 100 in February was green: worse now.
  EXPECT_EQ(sales.trend().previous().label(), "2026-02");
  EXPECT_EQ(sales.trend().previous_value(), 100);
  EXPECT_EQ(sales.trend().direction(), v1::Trend::DIRECTION_WORSENING);
  ASSERT_EQ(sales.open_alerts_size(), 1);
  EXPECT_EQ(sales.open_alerts(0).alert_id(), red->alert_id());
  EXPECT_EQ(grow.summary().status(), v1::KPI_STATUS_RED);
  // "staff" measures no objective.
  ASSERT_EQ(card.unlinked_size(), 1);
  EXPECT_EQ(card.unlinked(0).kpi_id(), "staff");

  const std::string printed =
      RunClient(endpoints_.rollup, "scorecard west-1 2026-03");
  EXPECT_NE(printed.find("Scorecard of west-1 for 2026-03"), std::string::npos)
      << printed;
  EXPECT_NE(printed.find("Grow sales [grow]"), std::string::npos) << printed;
  EXPECT_NE(printed.find("alert OPEN     RED   " + red->alert_id()),
            std::string::npos)
      << printed;

  // A bad request names its field; nothing is half answered.
  v1::GetScorecardRequest request;
  request.set_unit_id("west-1");
  request.mutable_period()->set_kind(v1::PERIOD_KIND_MONTH);
  request.mutable_period()->set_label("2026-13");
  grpc::ClientContext bad_context;
  grpc::Status status = v1::ScorecardService::NewStub(Channel(endpoints_.rollup))
                            ->GetScorecard(&bad_context, request, &card);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("period.label"), std::string::npos)
      << status.error_message();
}

// `change`'s KPI kept for every period kind.
v1::DefinitionChange EveryPeriod(v1::DefinitionChange change) {
  for (int kind = v1::PERIOD_KIND_DAY; kind <= v1::PERIOD_KIND_QUARTER_TO_DATE;
       ++kind) {
    change.mutable_kpi()->add_periods(static_cast<v1::PeriodKind>(kind));
  }
  return change;
}

v1::DefinitionChange Aggregated(const std::string& id, v1::TimeAggregation time,
                                v1::HierarchyAggregation hierarchy,
                                const std::string& weight = "") {
  return EveryPeriod(
      ::strata::testing::AggregatedKpiChange(id, time, hierarchy, weight));
}

v1::DefinitionChange Computed(const std::string& id,
                              v1::HierarchyAggregation hierarchy,
                              v1::Formula::Operator op, const std::string& left,
                              const std::string& right) {
  return EveryPeriod(
      ::strata::testing::ComputedKpiChange(id, hierarchy, op, left, right));
}

TEST_P(EndToEndTest, EveryAggregationPeriodAndQueryAnswersThroughApiAndClient) {
  const v1::DefinitionBatch kpis = Batch(
      {Aggregated("revenue", v1::TIME_AGGREGATION_SUM,
                  v1::HIERARCHY_AGGREGATION_SUM),
       Aggregated("profit", v1::TIME_AGGREGATION_SUM,
                  v1::HIERARCHY_AGGREGATION_SUM),
       Computed("margin", v1::HIERARCHY_AGGREGATION_RATIO,
                v1::Formula::OPERATOR_PERCENTAGE, "profit", "revenue"),
       Computed("cost", v1::HIERARCHY_AGGREGATION_DERIVED,
                v1::Formula::OPERATOR_DIFFERENCE, "revenue", "profit"),
       Aggregated("customers", v1::TIME_AGGREGATION_LAST,
                  v1::HIERARCHY_AGGREGATION_SUM),
       Aggregated("csat", v1::TIME_AGGREGATION_LAST,
                  v1::HIERARCHY_AGGREGATION_WEIGHTED_AVG, "customers"),
       Aggregated("wait", v1::TIME_AGGREGATION_AVG,
                  v1::HIERARCHY_AGGREGATION_AVG),
       Aggregated("worst", v1::TIME_AGGREGATION_MIN,
                  v1::HIERARCHY_AGGREGATION_MIN),
       Aggregated("peak", v1::TIME_AGGREGATION_MAX,
                  v1::HIERARCHY_AGGREGATION_MAX),
       TargetChange("revenue", "ent", "2026-03", 1000)});
  {
    grpc::ClientContext context;
    v1::ApplyDefinitionsResponse response;
    grpc::Status status = admin_->ApplyDefinitions(&context, kpis, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_TRUE(Ingest({Event("r1", "revenue", "east-1", 2, 100),
                      Event("r2", "revenue", "east-2", 3, 300),
                      Event("r3", "revenue", "west-1", 4, 600),
                      Event("p1", "profit", "east-1", 2, 10),
                      Event("p2", "profit", "east-2", 3, 90),
                      Event("p3", "profit", "west-1", 4, 60),
                      Event("c1", "customers", "east-1", 1, 100),
                      Event("c2", "customers", "east-2", 1, 300),
                      Event("q1", "csat", "east-1", 5, 80),
                      Event("q2", "csat", "east-2", 5, 60),
                      Event("w1", "wait", "east-1", 1, 10),
                      Event("w2", "wait", "east-1", 2, 20),
                      Event("w3", "wait", "east-2", 3, 60),
                      Event("m1", "worst", "east-1", 1, 5),
                      Event("m2", "worst", "east-1", 2, 3),
                      Event("m3", "worst", "west-1", 3, 7),
                      Event("x1", "peak", "east-2", 1, 5),
                      Event("x2", "peak", "west-1", 2, 9)})
                  .ok());
  const auto M = v1::PERIOD_KIND_MONTH;
  WaitForCount(Key("peak", "ent", M, "2026-03"), 2);
  WaitForCount(Key("revenue", "ent", M, "2026-03"), 3);
  WaitForCount(Key("profit", "ent", M, "2026-03"), 3);
  WaitForCount(Key("csat", "east", M, "2026-03"), 2);

  // Each period kind, from one event each.
  const std::vector<std::pair<v1::RollupKey, double>> expected = {
      {Key("revenue", "ent", v1::PERIOD_KIND_DAY, "2026-03-02"), 100},
      {Key("revenue", "ent", v1::PERIOD_KIND_ISO_WEEK, "2026-W10"), 1000},
      {Key("revenue", "ent", v1::PERIOD_KIND_QUARTER, "2026-Q1"), 1000},
      {Key("revenue", "ent", v1::PERIOD_KIND_YEAR, "2026"), 1000},
      {Key("revenue", "ent", v1::PERIOD_KIND_FISCAL_YEAR, "FY2026"), 1000},
      {Key("revenue", "ent", v1::PERIOD_KIND_YEAR_TO_DATE, "YTD2026-12"), 1000},
      {Key("revenue", "ent", v1::PERIOD_KIND_QUARTER_TO_DATE, "QTD2026-03"),
       1000},
      // Σprofit / Σrevenue at each level, never a mean of the ratios.
      {Key("margin", "ent", M, "2026-03"), 16},
      {Key("margin", "east", M, "2026-03"), 25},
      {Key("cost", "ent", M, "2026-03"), 840},
      {Key("customers", "east", M, "2026-03"), 400},
      {Key("csat", "east", M, "2026-03"), 65},  // (80x100 + 60x300) / 400
      {Key("wait", "east", M, "2026-03"), 30},  // (10 + 20 + 60) / 3
      {Key("worst", "ent", M, "2026-03"), 3},
      {Key("peak", "ent", M, "2026-03"), 9},
  };
  // Scaled out, the cells an event changes reach stage C's partitions each
  // at its own pace: every cell read below has its value first.
  std::vector<v1::RollupKey> read = {
      Key("revenue", "ent", v1::PERIOD_KIND_DAY, "2026-03-03"),
      Key("revenue", "ent", v1::PERIOD_KIND_DAY, "2026-03-04"),
      Key("revenue", "east", M, "2026-03"), Key("revenue", "west", M, "2026-03")};
  for (const auto& [key, value] : expected) read.push_back(key);
  WaitForValues(read);
  for (const auto& [key, value] : expected) {
    v1::RollupRecord record;
    grpc::Status status = GetRollup(key, &record);
    EXPECT_TRUE(status.ok()) << key.ShortDebugString() << ": "
                             << status.error_message();
    EXPECT_TRUE(record.has_value()) << key.ShortDebugString();
    EXPECT_DOUBLE_EQ(record.value(), value) << key.ShortDebugString();
  }
  v1::RollupRecord margin;
  ASSERT_TRUE(GetRollup(Key("margin", "ent", M, "2026-03"), &margin).ok());
  EXPECT_EQ(margin.numerator(), "160");
  EXPECT_EQ(margin.denominator(), "1000");
  v1::RollupRecord revenue;
  ASSERT_TRUE(GetRollup(Key("revenue", "ent", M, "2026-03"), &revenue).ok());
  EXPECT_EQ(revenue.target(), 1000);
  EXPECT_EQ(revenue.variance(), 0);
  EXPECT_EQ(revenue.status(), v1::KPI_STATUS_GREEN);

  // A series: one record per day, those without events have no value.
  {
    v1::GetSeriesRequest request;
    request.set_kpi_id("revenue");
    request.set_unit_id("ent");
    request.mutable_first()->set_kind(v1::PERIOD_KIND_DAY);
    request.mutable_first()->set_label("2026-03-01");
    request.mutable_last()->set_kind(v1::PERIOD_KIND_DAY);
    request.mutable_last()->set_label("2026-03-05");
    grpc::ClientContext context;
    v1::GetSeriesResponse response;
    ASSERT_TRUE(query_->GetSeries(&context, request, &response).ok());
    ASSERT_EQ(response.records_size(), 5);
    EXPECT_FALSE(response.records(0).has_value());
    EXPECT_EQ(response.records(1).value(), 100);
    EXPECT_EQ(response.records(2).value(), 300);
    EXPECT_EQ(response.records(3).value(), 600);
    EXPECT_EQ(response.records(4).key().period().label(), "2026-03-05");
  }
  // A drill-down with shares.
  {
    v1::GetChildrenRequest request;
    *request.mutable_key() = Key("revenue", "ent", M, "2026-03");
    grpc::ClientContext context;
    v1::GetChildrenResponse response;
    ASSERT_TRUE(query_->GetChildren(&context, request, &response).ok());
    EXPECT_EQ(response.parent().value(), 1000);
    ASSERT_EQ(response.children_size(), 2);
    EXPECT_EQ(response.children(0).record().key().unit_id(), "east");
    EXPECT_DOUBLE_EQ(response.children(0).share(), 0.4);
    EXPECT_DOUBLE_EQ(response.children(1).share(), 0.6);
  }
  // A unit's scorecard: every KPI of the unit in the period.
  {
    v1::GetUnitKpisRequest request;
    request.set_unit_id("east");
    request.mutable_period()->set_kind(M);
    request.mutable_period()->set_label("2026-03");
    grpc::ClientContext context;
    v1::GetUnitKpisResponse response;
    ASSERT_TRUE(query_->GetUnitKpis(&context, request, &response).ok());
    std::map<std::string, double> values;
    for (const auto& r : response.records()) {
      if (r.has_value()) values[r.key().kpi_id()] = r.value();
    }
    EXPECT_EQ(values["csat"], 65);
    EXPECT_EQ(values["margin"], 25);
    EXPECT_EQ(values["wait"], 30);
    EXPECT_FALSE(values.count("peak") && values["peak"] != 5);
  }

  // The same through the command-line client.
  const int port = endpoints_.rollup;
  EXPECT_THAT(RunClient(port, "query margin ent 2026-03"),
              HasSubstr("= 16 (160 / 1000)"));
  const std::string series =
      RunClient(port, "query revenue ent 2026-03-01 --series=2026-03-04");
  EXPECT_THAT(series, HasSubstr("2026-03-01  = (no events)"));
  EXPECT_THAT(series, HasSubstr("2026-03-04  = 600"));
  const std::string children =
      RunClient(port, "query revenue ent 2026-03 --children");
  EXPECT_THAT(children, HasSubstr("east                  40.0% = 400"));
  EXPECT_THAT(children, HasSubstr("target 1000  variance +0 (+0.0%) green"));
  EXPECT_THAT(RunClient(port, "query east 2026-03 --unit-kpis"),
              HasSubstr("csat                     = 65"));
  EXPECT_THAT(RunClient(port, "query revenue ent 2026-W10"), HasSubstr("= 1000"));
}

// Reads `count` records of a WatchRollups stream (bounded wait), then
// cancels it; returns them.
std::vector<v1::WatchRollupsResponse> Watch(v1::RollupStreamService::Stub& stub,
                                            const v1::WatchRollupsRequest& request,
                                            size_t count) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  auto reader = stub.WatchRollups(&context, request);
  std::vector<v1::WatchRollupsResponse> received;
  v1::WatchRollupsResponse response;
  while (received.size() < count && reader->Read(&response)) {
    received.push_back(response);
  }
  context.TryCancel();
  reader->Finish();
  return received;
}

TEST_P(EndToEndTest, WatchRollupsResumesWithoutMissingOrRepeating) {
  auto stub = v1::RollupStreamService::NewStub(Channel(endpoints_.rollup));
  ASSERT_TRUE(Ingest({Event("a1", "sales", "east-1", 2, 10),
                      Event("a2", "sales", "west-1", 2, 5),
                      Event("a3", "staff", "east-1", 2, 3)})
                  .ok());
  WaitForCount(Key("staff", "ent", v1::PERIOD_KIND_YEAR, "2026"), 1);
  WaitForCount(Key("sales", "ent", v1::PERIOD_KIND_YEAR, "2026"), 2);
  // east's subtree, sales only: east-1 and east, 3 period kinds each.
  v1::WatchRollupsRequest request;
  request.add_kpi_ids("sales");
  request.set_unit_id("east");
  request.set_from_beginning(true);
  std::vector<v1::WatchRollupsResponse> first = Watch(*stub, request, 6);
  ASSERT_EQ(first.size(), 6u);
  for (const auto& r : first) {
    EXPECT_EQ(r.record().key().kpi_id(), "sales");
    EXPECT_TRUE(r.record().key().unit_id() == "east" ||
                r.record().key().unit_id() == "east-1")
        << r.record().key().unit_id();
  }
  // More changes while nobody watches; resuming sees exactly those.
  ASSERT_TRUE(Ingest({Event("a4", "sales", "east-2", 3, 7)}).ok());
  WaitForCount(Key("sales", "east", v1::PERIOD_KIND_YEAR, "2026"), 2);
  request.set_from_beginning(false);
  request.set_resume_token(first.back().resume_token());
  // east-2 and east, 3 kinds each: 6 records.
  std::vector<v1::WatchRollupsResponse> second = Watch(*stub, request, 6);
  ASSERT_EQ(second.size(), 6u);
  std::set<std::string> seen;
  for (const auto& r : first) {
    seen.insert(absl::StrCat(r.record().key().ShortDebugString(), "@",
                             r.record().version()));
  }
  for (const auto& r : second) {
    EXPECT_TRUE(seen.insert(absl::StrCat(r.record().key().ShortDebugString(),
                                         "@", r.record().version()))
                    .second)
        << "twice: " << r.record().ShortDebugString();
  }
  EXPECT_EQ(second.back().record().version() >= 1, true);
  // The latest of east's year is the final one: nothing missed.
  v1::RollupRecord year;
  ASSERT_TRUE(
      GetRollup(Key("sales", "east", v1::PERIOD_KIND_YEAR, "2026"), &year).ok());
  bool final_seen = false;
  for (const auto& r : second) {
    final_seen |= r.record().key().unit_id() == "east" &&
                  r.record().key().period().kind() == v1::PERIOD_KIND_YEAR &&
                  r.record().version() == year.version() &&
                  r.record().value() == 17;
  }
  EXPECT_TRUE(final_seen);
  // Cancelled streams end and free their place (soon after the cancel:
  // the server learns of it asynchronously): more than kMaxWatchStreams
  // (64) of them in turn leave room for one more.
  v1::WatchRollupsRequest everything;
  everything.set_from_beginning(true);
  for (int i = 0; i < 70; ++i) {
    bool admitted = false;
    for (int attempt = 0; attempt < 250 && !admitted; ++attempt) {
      admitted = Watch(*stub, everything, 1).size() == 1;
      if (!admitted) absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_TRUE(admitted) << "stream " << i << " found no place for 5 s";
  }
  // The command-line client follows the same stream.
  EXPECT_THAT(RunClient(endpoints_.rollup,
                        "watch --kpis=sales --unit=east-2 --from-beginning",
                        /*seconds=*/8),
              HasSubstr("sales east-2 2026 = 7"));
  // A token that is not one, for more partitions, or past the log's end
  // (another deployment's) is refused.
  std::string past_end = "r1";
  for (absl::string_view part :
       absl::StrSplit(first.back().resume_token().substr(3), '.')) {
    int64_t offset = 0;
    ASSERT_TRUE(absl::SimpleAtoi(part, &offset));
    absl::StrAppend(&past_end, ".", offset + 1000);
  }
  for (const std::string& token :
       {std::string("nonsense"), first.back().resume_token() + ".5", past_end}) {
    request.set_resume_token(token);
    grpc::ClientContext context;
    auto reader = stub->WatchRollups(&context, request);
    v1::WatchRollupsResponse ignored;
    EXPECT_FALSE(reader->Read(&ignored));
    grpc::Status status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << token << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("resume_token"));
  }
}

TEST_P(EndToEndTest, RebuildCommandRebuildsEveryStoreToTheSameFigures) {
  auto* all_in_one = dynamic_cast<AllInOneDeployment*>(deployment_.get());
  if (all_in_one == nullptr) GTEST_SKIP() << "strata rebuild is all-in-one";
  ASSERT_TRUE(Ingest({Event("b1", "sales", "east-1", 2, 10),
                      Event("b2", "sales", "west-1", 3, 5),
                      Event("b3", "staff", "east-2", 4, 8)})
                  .ok());
  const auto M = v1::PERIOD_KIND_MONTH;
  const v1::RollupRecord before = WaitForCount(Key("sales", "ent", M, "2026-03"), 2);
  if (GetParam() == "AllInOneScaledOut") {
    // Without the flags it was folded with: refused before any store is
    // marked (or the next start would rebuild them all).
    const std::filesystem::path data = dir_ / "data";
    EXPECT_THAT(RunClient(0, "rebuild --data_dir=" + data.string()),
                HasSubstr("was folded scaled out; switching to whole"));
    EXPECT_FALSE(std::filesystem::exists(data / "rollup" / "fold" / "REBUILD"));
    EXPECT_FALSE(std::filesystem::exists(data / "ingest" / "REBUILD"));
  }
  absl::StatusOr<std::string> printed = all_in_one->Rebuild(endpoints_);
  ASSERT_TRUE(printed.ok()) << printed.status();
  EXPECT_THAT(*printed, HasSubstr("100%"));
  EXPECT_THAT(*printed, HasSubstr("rebuilt the stores of 3 services from"));
  EXPECT_THAT(*printed, HasSubstr("rollup: "));
  EXPECT_THAT(*printed,
              HasSubstr(GetParam() == "AllInOneScaledOut"
                            ? "holds 8 fold parts and 8 merge partitions"
                            : "3 events applied"));
  Connect(endpoints_);
  v1::RollupRecord after;
  ASSERT_TRUE(GetRollup(Key("sales", "ent", M, "2026-03"), &after).ok());
  EXPECT_EQ(after.exact_value(), before.exact_value());
  EXPECT_EQ(after.version(), before.version());
  EXPECT_EQ(WaitForCount(Key("staff", "ent", M, "2026-03"), 1).value(), 8);
}

TEST_P(EndToEndTest, AClosedPeriodWaitsForApprovalThroughApiAndClient) {
  const auto M = v1::PERIOD_KIND_MONTH;
  // Scaled out, two instances: each lists, and decides on, the events
  // waiting in the fold parts of either.
  std::vector<int> ports = {endpoints_.rollup};
  if (GetParam() == "KafkaScaledOut") {
    absl::StatusOr<int> second =
        static_cast<KafkaDeployment&>(*deployment_).AddRollupInstance();
    ASSERT_OK(second) << deployment_->Logs();
    ports.push_back(*second);
    ASSERT_TRUE(Shared(ports)) << deployment_->Logs();
  }
  ASSERT_TRUE(Ingest({Event("m1", "sales", "east-1", 2, 40)}).ok());
  WaitForCount(Key("sales", "ent", M, "2026-03"), 1);
  const int port = ports.back();
  EXPECT_THAT(RunClient(port, "close 2026-03"),
              HasSubstr("closed_by: required"));
  EXPECT_THAT(RunClient(port, "close 2026-03 --by=controller"),
              HasSubstr("closed 2026-03"));
  auto closing = v1::PeriodClosingService::NewStub(Channel(port));
  // The close completes once rollup has read it in every partition.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  v1::ListPendingResponse listed;
  grpc::Status status;
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    listed.Clear();
    status = closing->ListPending(&context, v1::ListPendingRequest(), &listed);
    // UNAVAILABLE passes (a part between instances).
    ASSERT_TRUE(status.ok() ||
                status.error_code() == grpc::StatusCode::UNAVAILABLE)
        << status.error_message();
    if (listed.closed_size() == 1 && listed.closed(0).complete()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(listed.closed_size(), 1);
  EXPECT_EQ(listed.closed(0).closed_by(), "controller");
  // Rollup may trail the log while its instances still share partitions
  // out (the mock elects each round after 5 s): a feed retries.
  const grpc::Status late = IngestAsAFeedWould({Event("m2", "sales", "east-1", 30, 2)});
  ASSERT_TRUE(late.ok()) << late.error_message();
  for (int asked : ports) {
    std::string pending;
    for (int i = 0; i < 500; ++i) {
      pending = RunClient(asked, "pending");
      if (pending.find("m2 ") != std::string::npos) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_THAT(pending, HasSubstr("closed 2026-03 by controller")) << asked;
    EXPECT_THAT(pending, HasSubstr("1 events pending")) << asked;
  }
  v1::RollupRecord march;
  ASSERT_TRUE(GetRollup(Key("sales", "ent", M, "2026-03"), &march).ok());
  EXPECT_EQ(march.value(), 40);  // The late event waits.
  {
    grpc::ClientContext context;
    v1::DecidePendingRequest request;
    request.set_event_id("nope");
    request.set_approve(true);
    request.set_decided_by("cfo");
    v1::DecidePendingResponse response;
    const grpc::Status decided =
        closing->DecidePending(&context, request, &response);
    EXPECT_EQ(decided.error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // Scaled out, approved through the instance that does not fold m2.
  int approver = port;
  for (int asked : ports) {
    if (ports.size() < 2) break;
    auto peer = v1::RollupPeerService::NewStub(Channel(asked));
    grpc::ClientContext context;
    v1::ListPendingHereRequest request;
    request.set_event_id("m2");
    v1::ListPendingHereResponse here;
    ASSERT_TRUE(peer->ListPendingHere(&context, request, &here).ok());
    for (const v1::PartClosings& part : here.parts()) {
      if (part.pending_size() > 0) {
        approver = asked == ports[0] ? ports[1] : ports[0];
      }
    }
  }
  EXPECT_THAT(RunClient(approver, "approve m2 --by=cfo"),
              HasSubstr("approved m2"));
  march = WaitForCount(Key("sales", "ent", M, "2026-03"), 2);
  EXPECT_EQ(march.value(), 42);
  EXPECT_EQ(march.reported_value(), 40);
  EXPECT_THAT(RunClient(port, "query sales ent 2026-03"), HasSubstr("= 42"));
}

TEST_P(EndToEndTest, RejectsBadInputPreciselyAndAppliesNoneOfIt) {
  grpc::Status status = Ingest({Event("ok-1", "sales", "west-1", 2, 5),
                                Event("bad-1", "sales", "west-1", 2, NAN)});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("events[1].value"));

  status = Ingest({Event("ok-2", "sales", "west-1", 2, 5),
                   Event("bad-2", "salez", "west-1", 2, 1)});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("events[1].kpi_id"));

  status = Ingest({Event("bad-3", "sales", "north-9", 2, 1)});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("events[0].unit_id"));

  // A definition batch with one bad change applies none of its changes.
  const v1::DefinitionBatch batch =
      Batch({UnitChange("south", "ent"), UnitChange("south-1", "nowhere")});
  grpc::ClientContext context;
  v1::ApplyDefinitionsResponse response;
  status = admin_->ApplyDefinitions(&context, batch, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(),
              HasSubstr("changes[1].org_unit.parent_id"));
  EXPECT_EQ(Ingest({Event("s-south", "sales", "south", 2, 1)}).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // Only a later, valid event reaches the rollup: the rejected batches'
  // valid events never did.
  ASSERT_TRUE(Ingest({Event("good", "sales", "west-1", 2, 3)}).ok());
  EXPECT_EQ(
      WaitForCount(Key("sales", "west-1", v1::PERIOD_KIND_MONTH, "2026-03"), 1)
          .value(),
      3);

  // An id names one fact: reused for another unit it is refused, resent
  // unchanged it is accepted and still counted once.
  status = Ingest({Event("good", "sales", "east-1", 2, 3)});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(status.error_message(), HasSubstr("events[0].event_id: 'good'"));
  ASSERT_TRUE(Ingest({Event("good", "sales", "west-1", 2, 3)}).ok());
  ASSERT_TRUE(Ingest({Event("after", "sales", "west-1", 2, 1)}).ok());
  EXPECT_EQ(
      WaitForCount(Key("sales", "west-1", v1::PERIOD_KIND_MONTH, "2026-03"), 2)
          .value(),
      4);

  v1::RollupRecord record;
  EXPECT_EQ(
      GetRollup(Key("sales", "ent", v1::PERIOD_KIND_MONTH, "2026-13"), &record)
          .error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);

  // A definitions file with a bad field: the client names its line, and
  // sends nothing (the good change before it is not applied either).
  const std::string file = absl::StrCat(::testing::TempDir(), "/defs-",
                                        getpid(), ".json");
  std::ofstream(file) << R"({
  "changes": [
    {"orgUnit": {"unitId": "south", "name": "South", "parentId": "ent"}},
    {"kpi": {"kpiId": "returns", "name": "Returns",
             "polarity": "POLARITY_LOWER_IS_BETTER",
             "timeAggregation": "TIME_AGGREGATION_SUM",
             "hierarchyAggregation": "HIERARCHY_AGGREGATION_SUM",
             "thresholds": {"greenPct": 100, "amberPct": 90}}}
  ]
})";
  const std::string applied = RunClient(endpoints_.ingest, "apply " + file);
  EXPECT_THAT(applied, HasSubstr(file + ":8: changes[1].kpi.thresholds: need "
                                        "0 < green_pct <= amber_pct"));
  EXPECT_THAT(applied, HasSubstr("nothing was applied"));
  EXPECT_EQ(Ingest({Event("s-south-2", "sales", "south", 2, 1)}).error_code(),
            grpc::StatusCode::NOT_FOUND);
  std::remove(file.c_str());
}

TEST_P(EndToEndTest, ResentAndCrashedEventsCountExactlyOnce) {
  std::vector<v1::KpiEvent> events;
  for (int i = 0; i < 200; ++i) {
    events.push_back(Event(absl::StrCat("r", i), "sales",
                           i % 2 ? "east-2" : "west-1", 1 + i % 28, 1.25));
  }
  ASSERT_TRUE(Ingest(events).ok());
  ASSERT_TRUE(Ingest(events).ok());  // A feed retrying the whole batch.
  const v1::RollupKey ent = Key("sales", "ent", v1::PERIOD_KIND_YEAR, "2026");
  EXPECT_EQ(WaitForCount(ent, 200).value(), 250);

  // Crash everything (SIGKILL: no flush), restart on the same data, resend.
  absl::StatusOr<Endpoints> endpoints = deployment_->CrashAndRestart();
  ASSERT_OK(endpoints) << deployment_->Logs();
  Connect(*endpoints);
  ASSERT_TRUE(Ingest(events).ok());
  ASSERT_TRUE(Ingest({Event("after-crash", "sales", "east-1", 3, 10)}).ok());
  const v1::RollupRecord record = WaitForCount(ent, 201);
  EXPECT_EQ(record.value(), 260);
}

// A subscriber that comes back with the last alert's resume token gets
// every change of its subtree since, once, across a crash of the services.
TEST_P(EndToEndTest, AlertSubscriptionsResumeAcrossARestart) {
  {
    const v1::DefinitionBatch targets =
        Batch({TargetChange("sales", "east-1", "2026-03", 100),
               TargetChange("sales", "east-2", "2026-03", 100)});
    grpc::ClientContext context;
    v1::ApplyDefinitionsResponse response;
    ASSERT_TRUE(admin_->ApplyDefinitions(&context, targets, &response).ok());
  }
  auto east = [](const std::string& unit, double actual) {
    return [unit, actual](const v1::Alert& a) {
      return a.key().unit_id() == unit && a.actual() == actual;
    };
  };
  std::string token;
  int64_t seen_through = 0;
  {
    AlertTail tail(*alerts_, "east");
    ASSERT_TRUE(Ingest({Event("t1", "sales", "east-1", 2, 10)}).ok());
    std::optional<v1::Alert> first = tail.WaitFor(east("east-1", 10));
    ASSERT_TRUE(first.has_value());
    token = first->resume_token();
    seen_through = first->sequence();
    ASSERT_FALSE(token.empty());
  }
  // While nobody listens: east-1 moves; then every service is killed.
  ASSERT_TRUE(Ingest({Event("t2", "sales", "east-1", 3, 20)}).ok());
  WaitForCount(Key("sales", "east-1", v1::PERIOD_KIND_MONTH, "2026-03"), 2);
  absl::StatusOr<Endpoints> endpoints = deployment_->CrashAndRestart();
  ASSERT_OK(endpoints) << deployment_->Logs();
  Connect(*endpoints);
  ASSERT_TRUE(Ingest({Event("t3", "sales", "east-2", 4, 5),
                      Event("t4", "sales", "west-1", 4, 5)})
                  .ok());
  WaitForCount(Key("sales", "ent", v1::PERIOD_KIND_MONTH, "2026-03"), 4);
  // Resumed: east-1 at 30 (missed while away) and east-2's new alert;
  // nothing of west, nothing seen before, nothing twice.
  std::vector<v1::Alert> resumed;
  for (int attempt = 0; attempt < 50; ++attempt) {
    AlertTail tail(*alerts_, "east", token);
    if (tail.WaitFor(east("east-1", 30)) && tail.WaitFor(east("east-2", 5))) {
      absl::SleepFor(absl::Milliseconds(300));  // Anything more would show.
      resumed = tail.alerts();
      break;
    }
    absl::SleepFor(absl::Milliseconds(200));  // Still catching up.
  }
  ASSERT_FALSE(resumed.empty()) << deployment_->Logs();
  int64_t last = seen_through;
  for (const v1::Alert& a : resumed) {
    EXPECT_GT(a.sequence(), last) << a.ShortDebugString();
    last = a.sequence();
    EXPECT_NE(a.key().unit_id(), "west-1");
  }
  // A token of another alerts state, or not a token, is refused.
  AlertTail foreign(*alerts_, "east", "0123456789abcdef:1");
  std::optional<grpc::Status> ended = foreign.Ended();
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(ended->error_message(), HasSubstr("rebuilt from the log"));
  AlertTail garbage(*alerts_, "east", "garbage");
  ended = garbage.Ended();
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// A silence on "east" for a known reorg: east-1's alert is raised marked
// with it, west-1's is not; listed, then ended early, through the client.
TEST_P(EndToEndTest, ASilenceMarksTheAlertsOfItsSubtreeThroughApiAndClient) {
  const int port = endpoints_.alerts;
  EXPECT_THAT(RunClient(port, "silence east --for=2h --by=ops"),
              HasSubstr("INVALID_ARGUMENT: reason: required"));
  EXPECT_THAT(RunClient(port, "silence nowhere --for=2h --by=ops --reason=x"),
              HasSubstr("NOT_FOUND: unit_id: unknown unit 'nowhere'"));
  EXPECT_THAT(RunClient(port, "silence east --for=2h --by=ops --reason=x "
                              "--rule=sideways"),
              HasSubstr("--rule: unknown rule 'sideways'"));
  const std::string created = RunClient(
      port, "silence east --for=2h --by=ops --reason='Reorg of east'");
  ASSERT_THAT(created, HasSubstr("east and below, every rule"));
  const std::string silence_id = created.substr(0, created.find(' '));
  EXPECT_THAT(RunClient(port, "silences"), HasSubstr(silence_id));

  AlertTail tail(*alerts_, "");
  ASSERT_TRUE(Ingest({Event("q1", "sales", "east-1", 2, 10),
                      Event("q2", "sales", "west-1", 2, 10)})
                  .ok());
  {
    const v1::DefinitionBatch targets =
        Batch({TargetChange("sales", "east-1", "2026-03", 100),
               TargetChange("sales", "west-1", "2026-03", 100)});
    grpc::ClientContext context;
    v1::ApplyDefinitionsResponse response;
    ASSERT_TRUE(admin_->ApplyDefinitions(&context, targets, &response).ok());
  }
  auto of = [](const std::string& unit) {
    return [unit](const v1::Alert& a) { return a.key().unit_id() == unit; };
  };
  std::optional<v1::Alert> east = tail.WaitFor(of("east-1"));
  std::optional<v1::Alert> west = tail.WaitFor(of("west-1"));
  ASSERT_TRUE(east.has_value());
  ASSERT_TRUE(west.has_value());
  EXPECT_EQ(east->silence_id(), silence_id);
  EXPECT_EQ(west->silence_id(), "");
  EXPECT_THAT(RunClient(port, "alerts --unit=east"),
              HasSubstr("silenced (" + silence_id + ")"));

  EXPECT_THAT(RunClient(port, "unsilence " + silence_id + " --by=ops"),
              HasSubstr("(ended early by ops)"));
  EXPECT_THAT(RunClient(port, "silences"), HasSubstr("no silences"));
  EXPECT_THAT(RunClient(port, "silences --all"), HasSubstr(silence_id));
}

// A monthly feed for east-1 from January 2026 on, declared now: every month
// since that ended is a stale feed, raised on the alerts service's clock;
// March's data, sent then, shows on March's alert.
TEST_P(EndToEndTest, MonthsWithoutFeedDataRaiseStaleFeedAlerts) {
  v1::DefinitionChange calls = KpiChange("calls", v1::TIME_AGGREGATION_SUM);
  v1::FeedSchedule& feed = *calls.mutable_kpi()->mutable_feed();
  feed.set_cadence(v1::PERIOD_KIND_MONTH);
  feed.add_unit_ids("east-1");
  feed.mutable_since()->set_seconds(1767225600);  // 2026-01-01
  {
    grpc::ClientContext context;
    v1::ApplyDefinitionsResponse response;
    grpc::Status applied =
        admin_->ApplyDefinitions(&context, Batch({calls}), &response);
    ASSERT_TRUE(applied.ok()) << applied.error_message();
  }
  // The alert as listed once `done` says it is; none after ten seconds.
  auto listed = [&](const std::string& alert_id,
                    const std::function<bool(const v1::Alert&)>& done) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (attempt > 0) absl::SleepFor(absl::Milliseconds(100));
      grpc::ClientContext context;
      v1::ListAlertsRequest request;
      v1::ListAlertsResponse response;
      if (!alerts_->ListAlerts(&context, request, &response).ok()) continue;
      for (const v1::Alert& a : response.alerts()) {
        if (a.alert_id() == alert_id && done(a)) {
          return std::optional<v1::Alert>(a);
        }
      }
    }
    return std::optional<v1::Alert>();
  };
  auto raised = [](const v1::Alert&) { return true; };
  std::optional<v1::Alert> february =
      listed("calls/east-1/2026-02#stale-1", raised);
  ASSERT_TRUE(february.has_value());
  EXPECT_EQ(february->rule(), v1::ALERT_RULE_STALE_FEED);
  EXPECT_EQ(february->data_due().seconds(), 1772323200);  // 2026-03-01
  EXPECT_TRUE(listed("calls/east-1/2026-11#stale-1", raised).has_value());
  ASSERT_TRUE(Ingest({Event("c1", "calls", "east-1", 3, 12)}).ok());
  std::optional<v1::Alert> march = listed(
      "calls/east-1/2026-03#stale-1",
      [](const v1::Alert& a) { return a.actual() == 12; });
  ASSERT_TRUE(march.has_value());
  EXPECT_EQ(march->state(), v1::ALERT_STATE_OPEN);
}

// On this month, with the real clock: a team far behind its target is red
// and heading for red, so both rules raise an alert; its manager resolves
// the status alert with an action due a second later, and with the team
// still red when it falls due, the action is overdue.
TEST_P(EndToEndTest, AProjectedMissAndAnOverdueActionOnTheRealClock) {
  const absl::Time now = absl::Now();
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::CivilMonth this_month = absl::ToCivilMonth(now, utc);
  if (now - absl::FromCivil(this_month, utc) < absl::Minutes(2)) {
    GTEST_SKIP() << "the month began less than the projection window ago";
  }
  const std::string month = absl::FormatCivilTime(this_month);
  v1::DefinitionChange bookings =
      KpiChange("bookings", v1::TIME_AGGREGATION_SUM);
  bookings.mutable_kpi()
      ->mutable_alert_policy()
      ->mutable_projection_window()
      ->set_seconds(60);
  {
    grpc::ClientContext context;
    v1::ApplyDefinitionsResponse response;
    grpc::Status applied = admin_->ApplyDefinitions(
        &context,
        Batch({bookings, TargetChange("bookings", "east-1", month, 1e9)}),
        &response);
    ASSERT_TRUE(applied.ok()) << applied.error_message();
  }
  AlertTail tail(*alerts_, "east");
  v1::KpiEvent event = Event("b1", "bookings", "east-1", 1, 5);
  event.mutable_event_time()->set_seconds(absl::ToUnixSeconds(now));
  ASSERT_TRUE(Ingest({event}).ok());
  const std::string cell = "bookings/east-1/" + month;
  std::optional<v1::Alert> heading = tail.WaitFor([&](const v1::Alert& a) {
    return a.alert_id() == cell + "#projected-miss-1";
  });
  ASSERT_TRUE(heading.has_value());
  EXPECT_TRUE(heading->has_projected());
  EXPECT_EQ(heading->projected_status(), v1::KPI_STATUS_RED);

  grpc::ClientContext resolve_context;
  v1::ResolveAlertRequest resolve;
  resolve.set_alert_id(cell + "#1");
  resolve.set_resolved_by("east-manager");
  resolve.set_corrective_action("Call every lapsed customer");
  resolve.set_action_owner("east-lead");
  resolve.mutable_action_due()->set_seconds(
      absl::ToUnixSeconds(absl::Now()) + 1);
  v1::Alert resolved;
  grpc::Status status =
      alerts_->ResolveAlert(&resolve_context, resolve, &resolved);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::optional<v1::Alert> overdue = tail.WaitFor([&](const v1::Alert& a) {
    return a.alert_id() == cell + "#overdue-1";
  });
  ASSERT_TRUE(overdue.has_value());
  EXPECT_EQ(overdue->rule(), v1::ALERT_RULE_ACTION_OVERDUE);
  EXPECT_EQ(overdue->corrective_action(), "Call every lapsed customer");
  EXPECT_EQ(overdue->corrective_action_owner(), "east-lead");
}

// With --alertmanager_url, a real Alertmanager on loopback receives west-1's
// red alert with the labels its routes match and the figures, and lets it
// go once it is resolved here.
TEST_P(EndToEndTest, AlertsArePushedToAnAlertmanagerAndResolvedThere) {
  testing::AlertmanagerProcess alertmanager((dir_ / "alertmanager").string());
  ASSERT_OK(alertmanager.Start());
  deployment_->AddAlertsFlag("--alertmanager_url=" + alertmanager.url());
  absl::StatusOr<Endpoints> endpoints = deployment_->CrashAndRestart();
  ASSERT_OK(endpoints) << deployment_->Logs();
  Connect(*endpoints);

  ASSERT_TRUE(Ingest({Event("m1", "sales", "west-1", 2, 200)}).ok());
  const std::string id = "sales/west-1/2026-03#1";
  using Firing = std::vector<alerts::alertmanager::GettableAlert>;
  auto wait_until = [&](const std::function<bool(const Firing&)>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      absl::StatusOr<Firing> firing = alertmanager.ActiveAlerts();
      if (firing.ok() && done(*firing)) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  };
  alerts::alertmanager::GettableAlert pushed;
  ASSERT_TRUE(wait_until([&](const Firing& firing) {
    for (const auto& a : firing) {
      if (a.labels().at("alert_id") == id) pushed = a;
    }
    return !pushed.labels().empty();
  })) << deployment_->Logs() << alertmanager.Log();
  EXPECT_EQ(pushed.labels().at("kpi"), "sales");
  EXPECT_EQ(pushed.labels().at("unit"), "west-1");
  EXPECT_EQ(pushed.labels().at("period"), "2026-03");
  EXPECT_EQ(pushed.labels().at("rule"), "status_change");
  EXPECT_EQ(pushed.labels().at("severity"), "critical");
  EXPECT_EQ(pushed.annotations().at("actual"), "200");
  EXPECT_EQ(pushed.annotations().at("target"), "1000");
  EXPECT_EQ(pushed.annotations().at("variance"), "-800");

  grpc::ClientContext context;
  v1::ResolveAlertRequest resolve;
  resolve.set_alert_id(id);
  resolve.set_resolved_by("west-manager");
  resolve.set_corrective_action("New pricing for west-1");
  v1::Alert resolved;
  ASSERT_TRUE(alerts_->ResolveAlert(&context, resolve, &resolved).ok());
  EXPECT_TRUE(wait_until([&](const Firing& firing) {
    for (const auto& a : firing) {
      if (a.labels().at("alert_id") == id) return false;
    }
    return true;
  })) << deployment_->Logs();
}

// Redefining is an event: west-1's March target raised from 1000 to 2000
// still reads 1000 "as of" an instant before, through the API and client.
TEST_P(EndToEndTest, DefinitionsReadAsOfAnInstantBeforeARedefinition) {
  const absl::Time before = absl::Now();
  {
    grpc::ClientContext context;
    v1::ApplyDefinitionsResponse response;
    ASSERT_TRUE(admin_
                    ->ApplyDefinitions(
                        &context,
                        Batch({TargetChange("sales", "west-1", "2026-03", 2000)}),
                        &response)
                    .ok());
  }
  auto march_target = [&](std::optional<absl::Time> as_of) {
    grpc::ClientContext context;
    v1::GetDefinitionsRequest request;
    if (as_of) *request.mutable_as_of() = ToTimestamp(*as_of);
    v1::DefinitionBatch batch;
    grpc::Status status = admin_->GetDefinitions(&context, request, &batch);
    EXPECT_TRUE(status.ok()) << status.error_message();
    double value = -1;
    for (const v1::DefinitionChange& change : batch.changes()) {
      if (change.has_target() && change.target().unit_id() == "west-1") {
        value = change.target().value();
      }
    }
    return value;
  };
  EXPECT_EQ(march_target(std::nullopt), 2000);
  EXPECT_EQ(march_target(before), 1000);
  EXPECT_EQ(march_target(absl::Now()), 2000);
  EXPECT_EQ(march_target(before - absl::Hours(1)), -1);  // Before any.

  const std::string then = RunClient(
      endpoints_.ingest,
      "definitions --as_of=" +
          absl::FormatTime(absl::RFC3339_full, before, absl::UTCTimeZone()));
  EXPECT_THAT(then, HasSubstr("\"value\": 1000"));
  EXPECT_THAT(then, ::testing::Not(HasSubstr("\"value\": 2000")));
  EXPECT_THAT(RunClient(endpoints_.ingest, "definitions --as_of=yesterday"),
              HasSubstr("--as_of: 'yesterday' is neither a date"));
}

// "quality" takes its status from its worst child: east's own figure (200
// of 200) is green, but east-2 is red (50 of 100), and east shows red from
// east-2 in queries and in its scorecard; east-1 (150 of 100) its own.
TEST_P(EndToEndTest, AWorstChildKpiShowsItsWorstTeamInQueriesAndScorecards) {
  v1::DefinitionChange quality = KpiChange("quality", v1::TIME_AGGREGATION_SUM);
  quality.mutable_kpi()->set_status_rule(v1::STATUS_RULE_WORST_CHILD);
  {
    grpc::ClientContext context;
    v1::ApplyDefinitionsResponse response;
    grpc::Status status = admin_->ApplyDefinitions(
        &context,
        Batch({quality, TargetChange("quality", "east", "2026-03", 200),
               TargetChange("quality", "east-1", "2026-03", 100),
               TargetChange("quality", "east-2", "2026-03", 100)}),
        &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_TRUE(Ingest({Event("w1", "quality", "east-1", 2, 150),
                      Event("w2", "quality", "east-2", 3, 50)})
                  .ok());
  const v1::RollupRecord east =
      WaitForCount(Key("quality", "east", v1::PERIOD_KIND_MONTH, "2026-03"), 2);
  EXPECT_EQ(east.value(), 200);
  EXPECT_EQ(east.variance(), 0);  // Its own figure meets its target...
  EXPECT_EQ(east.status(), v1::KPI_STATUS_RED);  // ...its worst team not.
  EXPECT_EQ(east.status_unit_id(), "east-2");
  const v1::RollupRecord east1 = WaitForCount(
      Key("quality", "east-1", v1::PERIOD_KIND_MONTH, "2026-03"), 1);
  EXPECT_EQ(east1.status(), v1::KPI_STATUS_GREEN);
  EXPECT_EQ(east1.status_unit_id(), "east-1");

  v1::Scorecard card;
  ASSERT_TRUE(GetMarchScorecard("east", card));
  bool shown = false;
  for (const v1::ScorecardMeasure& m : card.unlinked()) {
    if (m.kpi_id() != "quality") continue;
    shown = true;
    EXPECT_EQ(m.figure().status(), v1::KPI_STATUS_RED);
    EXPECT_EQ(m.figure().status_unit_id(), "east-2");
  }
  EXPECT_TRUE(shown);
}

// The sales of each unit of the organisation in March 2026 and in 2026,
// as `port`'s instance answers them; a cell without a value counts 0.
std::map<std::string, double> SalesEverywhere(int port) {
  auto stub = v1::RollupQueryService::NewStub(Channel(port));
  std::map<std::string, double> sales;
  for (const char* unit : {"ent", "east", "east-1", "east-2", "west", "west-1"}) {
    for (auto [kind, label] : {std::make_pair(v1::PERIOD_KIND_MONTH, "2026-03"),
                               std::make_pair(v1::PERIOD_KIND_YEAR, "2026")}) {
      grpc::ClientContext context;
      v1::GetRollupRequest request;
      *request.mutable_key() = Key("sales", unit, kind, label);
      v1::RollupRecord record;
      grpc::Status status = stub->GetRollup(&context, request, &record);
      const std::string name = absl::StrCat(unit, "/", label);
      if (status.ok()) {
        sales[name] = record.value();
      } else if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
        sales[name] = -1;  // Not answered (UNAVAILABLE while moving).
      }
    }
  }
  return sales;
}

// The sales a test sent, as SalesEverywhere should answer them.
class SalesTally {
 public:
  // A round of events to every team, tallied.
  std::vector<v1::KpiEvent> Round() {
    std::vector<v1::KpiEvent> events;
    for (const char* team : {"east-1", "east-2", "west-1"}) {
      for (int day = 1; day <= 5; ++day) {
        const double value = ++sent_;
        events.push_back(
            Event(absl::StrCat("s", sent_), "sales", team, day, value));
        const std::string parent =
            absl::StartsWith(team, "east") ? "east" : "west";
        for (const std::string& unit :
             {std::string(team), parent, std::string("ent")}) {
          expected_[unit + "/2026-03"] += value;
          expected_[unit + "/2026"] += value;
        }
      }
    }
    return events;
  }

  // Waits (bounded) until the instance at `port` answers every cell as
  // tallied. Sales only grow: a figure above the tally fails at once, as
  // counted twice.
  void ExpectAnsweredBy(int port) {
    std::map<std::string, double> answered;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline &&
           (answered = SalesEverywhere(port)) != expected_) {
      for (const auto& [cell, value] : answered) {
        ASSERT_LE(value, expected_[cell]) << cell << " at port " << port;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_EQ(answered, expected_) << "instance at port " << port;
  }

  double expected(const std::string& cell) { return expected_[cell]; }

 private:
  int sent_ = 0;
  std::map<std::string, double> expected_;
};


// Two, then three instances of a scaled-out strata-rollup share its
// stages; each answers for every cell, exactly, whichever instance merges
// it; one that stops hands its partitions over to the others.
TEST_P(EndToEndTest, RollupInstancesShareTheWorkAndEachAnswersEveryCell) {
  auto& kafka = static_cast<KafkaDeployment&>(*deployment_);
  std::vector<int> ports = {endpoints_.rollup};
  absl::StatusOr<int> second = kafka.AddRollupInstance();
  ASSERT_OK(second) << deployment_->Logs();
  ports.push_back(*second);

  SalesTally tally;
  auto send_round = [&] {
    const grpc::Status sent = IngestAsAFeedWould(tally.Round());
    ASSERT_TRUE(sent.ok()) << sent.error_message();
  };
  auto every_instance_answers = [&](const std::vector<int>& asked) {
    for (int port : asked) tally.ExpectAnsweredBy(port);
  };

  send_round();
  every_instance_answers(ports);
  // Both fold and merge some of the cells, and answer for the others' too.
  EXPECT_TRUE(Shared(ports));
  {
    // A drill-down spans the instances.
    auto stub = v1::RollupQueryService::NewStub(Channel(ports[1]));
    v1::GetChildrenRequest request;
    *request.mutable_key() = Key("sales", "ent", v1::PERIOD_KIND_YEAR, "2026");
    v1::GetChildrenResponse drill;
    // UNAVAILABLE while a group moves a partition is the documented
    // answer; a client retries it.
    grpc::Status drilled;
    for (const absl::Time deadline = absl::Now() + absl::Seconds(30);;) {
      grpc::ClientContext context;
      drill.Clear();
      drilled = stub->GetChildren(&context, request, &drill);
      if (drilled.error_code() != grpc::StatusCode::UNAVAILABLE ||
          absl::Now() >= deadline) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    ASSERT_TRUE(drilled.ok()) << drilled.error_code() << ": "
                              << drilled.error_message();
    EXPECT_EQ(drill.parent().value(), tally.expected("ent/2026"));
    ASSERT_EQ(drill.children_size(), 2);
    EXPECT_EQ(drill.children(0).record().value() +
                  drill.children(1).record().value(),
              tally.expected("ent/2026"));
  }

  absl::StatusOr<int> third = kafka.AddRollupInstance();
  ASSERT_OK(third) << deployment_->Logs();
  ports.push_back(*third);
  send_round();
  every_instance_answers(ports);

  kafka.StopRollupInstance(0);  // The second leaves; the others take over.
  ports.erase(ports.begin() + 1);
  send_round();
  every_instance_answers(ports);
  EXPECT_TRUE(Shared(ports));  // Every partition, between the two left.
  for (int port : ports) {
    // Each take-over was timed until restored.
    EXPECT_GE(RollupGauge(port, "fold_restores"), 1) << port;
    EXPECT_GE(RollupGauge(port, "merge_restores"), 1) << port;
  }
}

// Scaled out in one process (`strata serve --rollup_instances=3`),
// threads in place of instances: each instance folds and merges some of
// the partitions, the server answers every cell exactly, and so again
// after a kill -9, whichever instance takes which partition then.
TEST_P(EndToEndTest, RollupInstancesOfOneProcessShareTheWork) {
  SalesTally tally;
  auto send_round = [&] {
    const grpc::Status sent = IngestAsAFeedWould(tally.Round());
    ASSERT_TRUE(sent.ok()) << sent.error_message();
  };
  auto shared = [&] {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      bool all_hold_some = true;
      for (const char* gauge : {"fold_parts_read", "partials_partitions_merged"}) {
        int64_t total = 0;
        for (int n = 1; n <= 3; ++n) {
          const int64_t held = RollupGauge(
              endpoints_.rollup, absl::StrCat("instance_", n, "_", gauge));
          all_hold_some = all_hold_some && held > 0;
          total += held;
        }
        all_hold_some = all_hold_some && total == 8;
      }
      if (all_hold_some) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  };

  send_round();
  tally.ExpectAnsweredBy(endpoints_.rollup);
  EXPECT_TRUE(shared()) << "the instances do not share the work";
  {
    // Many drill-downs at once, each waiting for the other instances'
    // cells. Run on gRPC's callback threads, they blocked every one of
    // them, so none was left to answer the reads they waited for, and the
    // server stopped answering anything.
    auto stub = v1::RollupQueryService::NewStub(Channel(endpoints_.rollup));
    std::vector<grpc::Status> drilled(64);
    std::vector<std::thread> callers;
    for (grpc::Status& status : drilled) {
      callers.emplace_back([&stub, &status] {
        grpc::ClientContext context;
        context.set_deadline(
            absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        v1::GetChildrenRequest request;
        *request.mutable_key() =
            Key("sales", "ent", v1::PERIOD_KIND_YEAR, "2026");
        v1::GetChildrenResponse drill;
        status = stub->GetChildren(&context, request, &drill);
      });
    }
    for (std::thread& caller : callers) caller.join();
    for (const grpc::Status& status : drilled) {
      EXPECT_TRUE(status.ok()) << status.error_code() << ": "
                               << status.error_message();
    }
  }
  absl::StatusOr<Endpoints> restarted = deployment_->CrashAndRestart();
  ASSERT_OK(restarted) << deployment_->Logs();
  Connect(*restarted);
  tally.ExpectAnsweredBy(endpoints_.rollup);
  send_round();
  tally.ExpectAnsweredBy(endpoints_.rollup);
  EXPECT_TRUE(shared()) << "the instances do not share the work";
  // Each take-over since the restart was timed until restored.
  EXPECT_GE(RollupGauge(endpoints_.rollup, "fold_restores"), 3);
  EXPECT_GE(RollupGauge(endpoints_.rollup, "merge_restores"), 3);
  EXPECT_GE(RollupGauge(endpoints_.rollup, "merge_restore_ms_max"), 0);
  EXPECT_THAT(deployment_->Logs(),
              HasSubstr("rollup combine: restored strata.rollup-partials"));
}

INSTANTIATE_TEST_SUITE_P(Deployments, EndToEndTest,
                         ::testing::Values("AllInOne", "AllInOneScaledOut",
                                           "Kafka", "KafkaScaledOut"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace strata
