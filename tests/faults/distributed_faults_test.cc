// Distributed faults: strata-ingest, strata-rollup and strata-alerts as
// separate processes on a three-broker Kafka (librdkafka's mock cluster in
// a process of its own), fed a seeded workload while a seeded schedule
//   - kills a service with SIGKILL, and starts it again after a moment
//     (the next fault may kill it again while it restarts and replays),
//   - takes a broker down and brings it back,
//   - moves the leadership of a partition of any topic to another broker.
// After each run, what rollup serves, the alerts, and the view of a
// consumer of the rollup changelog (the latest version of each key) must
// equal the oracle over the events sent: nothing lost, nothing counted
// twice; and no key's version may go backwards on the changelog. Every
// other run folds with strata-rollup scaled out (--rollup_scale_out: its
// stages members of consumer groups, restoring what they are assigned);
// there, up to two more instances join and leave (SIGTERM or SIGKILL,
// not restarted; at most one change every 10 s), and every instance
// running at the end must answer for every cell exactly.
//
// A run takes 15-90 s: faults for a minute at most, while the feed runs,
// then the feed must get through. CI runs STRATA_FAULT_RUNS of them
// (default 2); the long mode is `scripts/fault-harness --runs=100`.
// Reproduce a run's
// schedule (timing aside) with
//   STRATA_FAULT_SEED=<seed> STRATA_FAULT_RUNS=1 build/tests/distributed_faults_test
// (with STRATA_FAULT_SCALE_OUT=1 every run is scaled out).
// Each run keeps a journal of the faults, printed with the services' logs
// when it fails.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "libs/eventlog/kafka_event_log.h"
#include "libs/streams/topics.h"
#include "strata/v1/rollup.pb.h"
#include "tests/faults/feeder.h"
#include "tests/faults/oracle_checks.h"
#include "tests/faults/strata_client.h"
#include "tests/faults/workload.h"
#include "tests/harness/broker_control.h"
#include "tests/harness/child_process.h"

namespace strata::faults {
namespace {

namespace fs = std::filesystem;
using ::strata::testing::BrokerControl;
using ::strata::testing::ChildProcess;
using ::strata::testing::WaitForFile;

constexpr int kBrokers = 3;
constexpr int kEventsPerRun = 1000;
// How long the services may take to serve again once the faults stop
// (rollup may be replaying), and the totals to settle after that.
constexpr absl::Duration kRecoverTimeout = absl::Seconds(90);
constexpr absl::Duration kExactTimeout = absl::Seconds(60);
// The longest the faults of one run go on: then the services must recover.
constexpr absl::Duration kFaultWindow = absl::Seconds(60);
// Scaled out, the least time between two instances joining or leaving:
// more than a killed member's session (6 s) and a rebalance.
constexpr absl::Duration kMembershipEvery = absl::Seconds(10);

int RunsFromEnv() {
  int runs = 2;
  const char* env = std::getenv("STRATA_FAULT_RUNS");
  if (env != nullptr && (!absl::SimpleAtoi(env, &runs) || runs < 1)) runs = 2;
  return runs;
}

bool ScaleOutFromEnv() {
  const char* env = std::getenv("STRATA_FAULT_SCALE_OUT");
  return env != nullptr && std::string(env) == "1";
}

// A loopback port nobody listens on now. Each service keeps its port
// across restarts, so clients simply reconnect.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string ReadWholeFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The binary as built, or its copy in $STRATA_BIN_DIR: a long run
// (scripts/fault-harness) runs copies, so a rebuild meanwhile cannot
// swap a service under it.
std::string Binary(const char* built) {
  const char* dir = std::getenv("STRATA_BIN_DIR");
  if (dir == nullptr || *dir == '\0') return built;
  return (fs::path(dir) / fs::path(built).filename()).string();
}

enum Service { kIngest = 0, kAlerts = 1, kRollup = 2, kServiceCount = 3 };
constexpr const char* kServiceNames[kServiceCount] = {"ingest", "alerts",
                                                      "rollup"};
constexpr const char* kServiceBinaries[kServiceCount] = {
    STRATA_INGEST_BIN, STRATA_ALERTS_BIN, STRATA_ROLLUP_BIN};

// The broker and the three services of one run, in `dir`.
class Cluster {
 public:
  Cluster(fs::path dir, bool rollup_scale_out)
      : dir_(std::move(dir)), rollup_scale_out_(rollup_scale_out) {
    fs::create_directories(dir_);
    for (int s = 0; s < kServiceCount; ++s) ports_[s] = FreePort();
  }

  absl::Status StartBroker() {
    const std::string bootstrap_file = (dir_ / "bootstrap").string();
    broker_ = std::make_unique<ChildProcess>(
        Binary(KAFKA_MOCK_BROKER_BIN),
        std::vector<std::string>{
            absl::StrCat("--brokers=", kBrokers),
            "--bootstrap_file=" + bootstrap_file,
            "--control_dir=" + (dir_ / "control").string()});
    control_ = std::make_unique<BrokerControl>(dir_ / "control");
    absl::Status started = broker_->Start((dir_ / "broker.log").string());
    if (!started.ok()) return started;
    absl::StatusOr<std::string> bootstrap =
        WaitForFile(bootstrap_file, absl::Seconds(30));
    if (!bootstrap.ok()) return bootstrap.status();
    brokers_ = std::string(absl::StripAsciiWhitespace(*bootstrap));
    return absl::OkStatus();
  }

  // Starts the service on its port, without waiting for it to serve.
  absl::Status Launch(Service s) {
    const std::string name = kServiceNames[s];
    std::vector<std::string> args = Args(name, ports_[s]);
    if (s == kRollup) {
      std::vector<std::string> rollup = RollupArgs();
      args.insert(args.end(), rollup.begin(), rollup.end());
    }
    services_[s] = std::make_unique<ChildProcess>(Binary(kServiceBinaries[s]),
                                                  args);
    return services_[s]->Start(
        (dir_ / absl::StrCat(name, "-", starts_[s]++, ".log")).string());
  }

  void Kill(Service s) {
    NoteSelfExit(s);
    if (services_[s]) services_[s]->Kill();
  }

  // Scaled out: strata-rollup instances beside the first, each with its
  // own port and state directory (kept when it is removed, so that one
  // added again restores from what it held).
  static constexpr int kMoreRollups = 2;
  int more_rollups() const {
    int running = 0;
    for (const MoreRollup& more : more_rollups_) running += more.running;
    return running;
  }
  // Starts another instance in the first free place; returns its name.
  absl::StatusOr<std::string> AddRollup() {
    for (int i = 0; i < kMoreRollups; ++i) {
      MoreRollup& more = more_rollups_[i];
      if (more.running) continue;
      if (more.port == 0) more.port = FreePort();
      const std::string name = absl::StrCat("rollup-", i + 2);
      std::vector<std::string> args = Args(name, more.port);
      std::vector<std::string> rollup = RollupArgs();
      args.insert(args.end(), rollup.begin(), rollup.end());
      more.process = std::make_unique<ChildProcess>(Binary(STRATA_ROLLUP_BIN), args);
      absl::Status started = more.process->Start(
          (dir_ / absl::StrCat(name, "-", more.starts++, ".log")).string());
      if (!started.ok()) return started;
      more.running = true;
      return name;
    }
    return absl::FailedPreconditionError("no place for another instance");
  }
  // Ends the last instance added (SIGKILL, or SIGTERM when `gracefully`);
  // returns its name.
  std::string RemoveRollup(bool gracefully) {
    for (int i = kMoreRollups - 1; i >= 0; --i) {
      MoreRollup& more = more_rollups_[i];
      if (!more.running) continue;
      NoteSelfExit(more, absl::StrCat("rollup-", i + 2));
      if (gracefully) {
        more.process->Stop();
      } else {
        more.process->Kill();
      }
      more.running = false;
      return absl::StrCat("rollup-", i + 2);
    }
    return "";
  }
  // The ports of the instances added and running now.
  std::vector<int> more_rollup_ports() const {
    std::vector<int> ports;
    for (const MoreRollup& more : more_rollups_) {
      if (more.running) ports.push_back(more.port);
    }
    return ports;
  }

  // Services that ended by themselves (a crash, a refusal to start), which
  // the faults did not cause: each one is a failure of the run.
  const std::vector<std::string>& CheckSelfExits() {
    for (int s = 0; s < kServiceCount; ++s) {
      NoteSelfExit(static_cast<Service>(s));
    }
    for (int i = 0; i < kMoreRollups; ++i) {
      if (more_rollups_[i].running) {
        NoteSelfExit(more_rollups_[i], absl::StrCat("rollup-", i + 2));
      }
    }
    return self_exits_;
  }

  absl::Status Control(const std::string& command) {
    return control_->Send(command);
  }
  // How the mock cluster ended, when it ended by itself.
  std::optional<int> BrokerExited() { return broker_->ExitedByItself(); }

  ServicePorts ports() const {
    return {ports_[kIngest], ports_[kRollup], ports_[kAlerts]};
  }
  const std::string& brokers() const { return brokers_; }

  // Every process's output, for a failing run.
  std::string Logs() const {
    std::string all = absl::StrCat("---- broker ----\n",
                                   ReadWholeFile(dir_ / "broker.log"));
    auto append = [&](const std::string& name, int starts) {
      for (int i = 0; i < starts; ++i) {
        const std::string log =
            ReadWholeFile(dir_ / absl::StrCat(name, "-", i, ".log"));
        // The tail: a service's replay can log a lot.
        absl::StrAppend(&all, "---- ", name, " start ", i, " ----\n",
                        log.size() > 6000 ? log.substr(log.size() - 6000)
                                          : log);
      }
    };
    for (int s = 0; s < kServiceCount; ++s) {
      append(kServiceNames[s], starts_[s]);
    }
    for (int i = 0; i < kMoreRollups; ++i) {
      append(absl::StrCat("rollup-", i + 2), more_rollups_[i].starts);
    }
    return all;
  }

 private:
  struct MoreRollup {
    int port = 0;
    int starts = 0;
    bool running = false;
    std::unique_ptr<ChildProcess> process;
  };

  std::vector<std::string> Args(const std::string& name, int port) const {
    return {absl::StrCat("--listen=127.0.0.1:", port),
            "--kafka_brokers=" + brokers_,
            // The mock answers no DescribeConfigs.
            "--kafka_check_topic_configs=false",
            "--data_dir=" + (dir_ / name).string()};
  }
  std::vector<std::string> RollupArgs() const {
    std::vector<std::string> args = {
        absl::StrCat("--alerts_address=127.0.0.1:", ports_[kAlerts])};
    if (rollup_scale_out_) {
      args.push_back("--rollup_scale_out");
      // A killed instance's partitions wait this long for the next one.
      args.push_back("--kafka_session_timeout=6s");
    }
    return args;
  }
  void NoteSelfExit(MoreRollup& more, const std::string& name) {
    if (std::optional<int> code = more.process->ExitedByItself()) {
      self_exits_.push_back(absl::StrCat(name, " start ", more.starts - 1,
                                         " exited with ", *code));
    }
  }

  fs::path dir_;
  const bool rollup_scale_out_;
  std::string brokers_;
  std::unique_ptr<ChildProcess> broker_;
  std::unique_ptr<BrokerControl> control_;
  int ports_[kServiceCount] = {};
  void NoteSelfExit(Service s) {
    if (!services_[s]) return;
    if (std::optional<int> code = services_[s]->ExitedByItself()) {
      self_exits_.push_back(absl::StrCat(kServiceNames[s], " start ",
                                         starts_[s] - 1, " exited with ",
                                         *code));
    }
  }

  int starts_[kServiceCount] = {};
  std::unique_ptr<ChildProcess> services_[kServiceCount];
  MoreRollup more_rollups_[kMoreRollups];
  std::vector<std::string> self_exits_;
};

// What a downstream consumer of strata.rollups ends up believing: per key,
// the record of the highest version; and how often a key's version went
// backwards, or one version came with two different figures.
struct ChangelogView {
  std::map<int, v1::RollupRecord> cells;  // By CellIndex.
  int64_t records = 0;
  std::vector<std::string> regressions;
};

absl::StatusOr<ChangelogView> ReadChangelog(const std::string& brokers,
                                            int pass) {
  eventlog::KafkaEventLogOptions options;
  options.brokers = brokers;
  options.fetch_wait_max_ms = 10;
  absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
      eventlog::OpenKafkaEventLog(options);
  if (!log.ok()) return log.status();
  const int32_t partitions = DefaultTopics().at(kRollupsTopic);
  std::vector<eventlog::Position> from;
  std::map<int32_t, int64_t> end;
  for (int32_t p = 0; p < partitions; ++p) {
    absl::StatusOr<int64_t> e = (*log)->EndOffset({kRollupsTopic, p});
    if (!e.ok()) return e.status();
    end[p] = *e;
    from.push_back({{kRollupsTopic, p}, 0});
  }
  absl::StatusOr<std::unique_ptr<eventlog::LogConsumer>> consumer =
      (*log)->NewConsumer(absl::StrCat("fault-harness-", pass));
  if (!consumer.ok()) return consumer.status();
  if (absl::Status s = (*consumer)->Assign(from); !s.ok()) return s;
  ChangelogView view;
  std::map<int32_t, int64_t> next;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  auto done = [&] {
    for (const auto& [p, e] : end) {
      if (next[p] < e) return false;
    }
    return true;
  };
  while (!done()) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("reading the changelog");
    }
    absl::StatusOr<std::vector<eventlog::LogRecord>> batch =
        (*consumer)->Poll(4096, absl::Milliseconds(100));
    if (!batch.ok()) return batch.status();
    for (const eventlog::LogRecord& r : *batch) {
      next[r.topic_partition.partition] = r.offset + 1;
      ++view.records;
      v1::RollupRecord record;
      if (!record.ParseFromString(r.value)) {
        return absl::DataLossError(absl::StrCat(
            "unparsable changelog record at ", r.topic_partition.partition,
            "@", r.offset));
      }
      const int cell = CellOf(record.key());
      if (cell < 0) continue;
      auto it = view.cells.find(cell);
      if (it == view.cells.end() || record.version() > it->second.version()) {
        view.cells[cell] = record;
      } else if (record.version() < it->second.version() ||
                 record.exact_value() != it->second.exact_value() ||
                 record.event_count() != it->second.event_count()) {
        view.regressions.push_back(absl::StrCat(
            CellName(cell), " at ", r.topic_partition.partition, "@",
            r.offset, ": version ", record.version(), " (",
            record.exact_value(), ", ", record.event_count(),
            " events) after version ", it->second.version(), " (",
            it->second.exact_value(), ", ", it->second.event_count(), ")"));
      }
    }
  }
  // Cells whose latest record has no value were withdrawn.
  for (auto it = view.cells.begin(); it != view.cells.end();) {
    it = it->second.event_count() == 0 ? view.cells.erase(it) : std::next(it);
  }
  return view;
}

struct Totals {
  int runs = 0;
  int scaled_out = 0;  // Runs with strata-rollup scaled out.
  std::map<std::string, int> faults;
  int64_t events = 0;
  int64_t lost = 0;        // Events missing from the root's yearly cells.
  int64_t duplicated = 0;  // Events counted there more than once.
  int64_t regressions = 0;
  int unanswered = 0;  // Runs whose rollups could not be read at the end.
  int discarded = 0;   // Runs whose mock cluster aborted (not counted).

  int fault_count() const {
    int n = 0;
    for (const auto& [kind, count] : faults) n += count;
    return n;
  }
  std::string Summary() const {
    std::vector<std::string> kinds;
    for (const auto& [kind, count] : faults) {
      kinds.push_back(absl::StrCat(kind, " ", count));
    }
    return absl::StrCat("runs=", runs, " (", scaled_out,
                        " scaled out) faults=", fault_count(), " (",
                        absl::StrJoin(kinds, ", "), ") events=", events,
                        " lost=", lost, " duplicated=", duplicated,
                        " changelog_regressions=", regressions,
                        " unanswered=", unanswered,
                        " discarded (mock cluster aborted)=", discarded);
  }
};

class DistributedFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("strata_distributed_faults_", getpid());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void Note(const std::string& line) {
    journal_.push_back(line);
    std::cout << "  " << line << std::endl;
  }

  // One run: a fresh cluster, the workload fed under the seeded faults,
  // then the checks.
  // In `dir`, fresh (discarded attempts too).
  void RunOnce(const fs::path& dir, uint64_t seed, bool rollup_scale_out,
               Totals& totals);
  // librdkafka 2.0.2's mock cluster can abort by itself (an assertion in
  // its group coordinator, rdkafka_mock_cgrp.c, under heavy group churn):
  // a run without its broker proves nothing either way, and is discarded
  // (counted, not failed). True when that happened.
  bool BrokerAborted(Cluster& cluster, Totals& totals) {
    const std::optional<int> exited = cluster.BrokerExited();
    if (!exited) return false;
    Note(absl::StrCat("the mock cluster ended by itself (", *exited,
                      "): run discarded"));
    // Its faults, events and findings count for nothing.
    const int discarded = totals.discarded + 1;
    totals = before_;
    totals.discarded = discarded;
    discarded_ = true;
    return true;
  }
  bool discarded_ = false;  // The last run.
  Totals before_;  // At the last run's start.

  fs::path dir_;
  std::vector<std::string> journal_;
};

void DistributedFaultsTest::RunOnce(const fs::path& dir, uint64_t seed,
                                    bool rollup_scale_out, Totals& totals) {
  discarded_ = false;
  before_ = totals;
  Rng rng(seed);
  const Workload w = MakeWorkload(rng, kEventsPerRun, 40);
  Cluster cluster(dir, rollup_scale_out);
  ASSERT_TRUE(cluster.StartBroker().ok());
  for (Service s : {kIngest, kAlerts, kRollup}) {
    ASSERT_TRUE(cluster.Launch(s).ok());
  }
  StrataClient client;
  client.Connect(cluster.ports());
  {
    const absl::Time deadline = absl::Now() + kRecoverTimeout;
    grpc::Status applied;
    do {
      applied = client.ApplyDefinitions(Definitions(w));
      if (!applied.ok()) absl::SleepFor(absl::Milliseconds(200));
    } while (!applied.ok() && absl::Now() < deadline);
    ASSERT_TRUE(applied.ok()) << "definitions: " << Describe(applied) << "\n"
                              << cluster.Logs();
  }

  // The feed: resends what it is unsure of until every batch is
  // acknowledged, whatever the faults do to it.
  Feeder feeder(w);
  std::atomic<bool> fed{false}, stop{false};
  const uint64_t pacing = rng.Next();  // Drawn here: rng is this thread's.
  std::thread feed([&] {
    StrataClient feed_client;
    feed_client.Connect(cluster.ports());
    while (!stop) {
      feeder.Feed(feed_client, w.batch_count(), {10, 60}, pacing, &stop);
      if (feeder.next() == w.batch_count() && feeder.all_sent_acked()) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    fed = true;
  });
  // A failed assertion below returns early: the feed stops and is joined.
  absl::Cleanup join_feed = [&] {
    stop = true;
    feed.join();
  };

  // The faults.
  const absl::Time started = absl::Now();
  absl::Time last_membership_change = absl::InfinitePast();
  int faults = 0;
  // Faults for a minute at most (while the feed runs, and at least four),
  // then the feed must get through without them.
  const absl::Time faults_end = absl::Now() + kFaultWindow;
  while ((!fed || faults < 4) && absl::Now() < faults_end) {
    absl::SleepFor(absl::Milliseconds(rng.Between(200, 1000)));
    ++faults;
    // Scaled out, instances of strata-rollup also come and go, as an
    // operator or autoscaler would, one change at a time: a consumer group
    // whose members change faster than it can rebalance makes no progress.
    uint64_t kind = rng.Below(rollup_scale_out ? 7 : 5);
    if (kind >= 5 && absl::Now() - last_membership_change < kMembershipEvery) {
      kind = 4;
    }
    switch (kind) {
      case 0:
      case 1: {  // Kill a service; it comes back after a moment.
        const Service s = static_cast<Service>(rng.Below(kServiceCount));
        const int64_t down_ms = rng.Between(0, 600);
        cluster.Kill(s);
        absl::SleepFor(absl::Milliseconds(down_ms));
        const absl::Status launched = cluster.Launch(s);
        ASSERT_TRUE(launched.ok()) << launched;
        Note(absl::StrCat("SIGKILL ", kServiceNames[s], ", restarted after ",
                          down_ms, " ms"));
        ++totals.faults[absl::StrCat("kill-", kServiceNames[s])];
        break;
      }
      case 2:
      case 3: {  // A broker goes away and comes back.
        const int broker = static_cast<int>(rng.Between(1, kBrokers));
        const int64_t down_ms = rng.Between(300, 2500);
        const absl::Status down = cluster.Control(absl::StrCat("down ", broker));
        if (!down.ok() && BrokerAborted(cluster, totals)) return;
        ASSERT_TRUE(down.ok()) << down;
        absl::SleepFor(absl::Milliseconds(down_ms));
        const absl::Status up = cluster.Control(absl::StrCat("up ", broker));
        if (!up.ok() && BrokerAborted(cluster, totals)) return;
        ASSERT_TRUE(up.ok()) << up;
        Note(absl::StrCat("broker ", broker, " down for ", down_ms, " ms"));
        ++totals.faults["broker-down"];
        break;
      }
      case 5:
      case 6: {  // An instance of strata-rollup joins, or one leaves.
        last_membership_change = absl::Now();
        const bool add = cluster.more_rollups() == 0 ||
                         (cluster.more_rollups() < Cluster::kMoreRollups &&
                          rng.Below(2) == 0);
        if (add) {
          const absl::StatusOr<std::string> added = cluster.AddRollup();
          ASSERT_TRUE(added.ok()) << added.status();
          Note(absl::StrCat("added ", *added));
          ++totals.faults["rollup-added"];
        } else {
          const bool gracefully = rng.Below(2) == 0;
          const std::string removed = cluster.RemoveRollup(gracefully);
          Note(absl::StrCat(gracefully ? "SIGTERM " : "SIGKILL ", removed,
                            ", not restarted"));
          ++totals.faults[gracefully ? "rollup-left" : "rollup-killed"];
        }
        break;
      }
      case 4: {  // A partition's leadership moves.
        const std::map<std::string, int32_t> all = DefaultTopics();
        std::vector<std::pair<std::string, int32_t>> topics(all.begin(),
                                                            all.end());
        const auto& [topic, partitions] = topics[rng.Below(topics.size())];
        const int partition = static_cast<int>(rng.Below(partitions));
        const int broker = static_cast<int>(rng.Between(1, kBrokers));
        const absl::Status moved = cluster.Control(
            absl::StrCat("leader ", topic, " ", partition, " ", broker));
        if (!moved.ok() && BrokerAborted(cluster, totals)) return;
        ASSERT_TRUE(moved.ok()) << moved;
        Note(absl::StrCat("leader of ", topic, "/", partition, " -> broker ",
                          broker));
        ++totals.faults["leader-move"];
        break;
      }
    }
  }
  const absl::Time give_up = absl::Now() + kRecoverTimeout;
  while (!fed && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(100));
  stop = !fed;
  std::move(join_feed).Invoke();
  if (BrokerAborted(cluster, totals)) return;
  ASSERT_TRUE(feeder.rejections().empty())
      << "valid events refused: " << absl::StrJoin(feeder.rejections(), "; ");
  ASSERT_TRUE(feeder.next() == w.batch_count() && feeder.all_sent_acked())
      << "the feed did not get through: " << feeder.Summary() << "\n"
      << cluster.Logs();
  Note(absl::StrCat(faults, " faults in ",
                    absl::FormatDuration(absl::Now() - started), "; ",
                    feeder.Summary()));

  const std::vector<std::string>& self_exits = cluster.CheckSelfExits();
  EXPECT_TRUE(self_exits.empty())
      << "services ended by themselves: " << absl::StrJoin(self_exits, "; ")
      << "\n" << cluster.Logs();

  const EventSet sent = feeder.Sent();
  const std::vector<ExpectedCell> expected = ExpectedCells(w, sent);
  const ::testing::AssertionResult exact =
      ExactTotals(client, w, sent, kRecoverTimeout);
  // The mock can abort while the results are checked, too.
  if (!exact && BrokerAborted(cluster, totals)) return;
  std::map<int, v1::RollupRecord> served;
  const grpc::Status answered = client.AllCells(served);
  for (int kpi = 0; kpi < kKpiCount && answered.ok(); ++kpi) {
    const int root_year = CellIndex(kpi, 0, kPeriodCount - 1);
    const int64_t want = expected[root_year].count;
    const int64_t got =
        served.count(root_year) ? served[root_year].event_count() : 0;
    totals.lost += std::max<int64_t>(want - got, 0);
    totals.duplicated += std::max<int64_t>(got - want, 0);
  }
  totals.events += static_cast<int64_t>(w.events.size());
  if (!answered.ok()) ++totals.unanswered;
  ASSERT_TRUE(exact) << cluster.Logs();
  // Every instance answers for every cell, whichever merges it.
  for (int port : cluster.more_rollup_ports()) {
    StrataClient other;
    ServicePorts ports = cluster.ports();
    ports.rollup = port;
    other.Connect(ports);
    const ::testing::AssertionResult other_exact =
        ExactTotals(other, w, sent, kRecoverTimeout);
    if (!other_exact && BrokerAborted(cluster, totals)) return;
    EXPECT_TRUE(other_exact)
        << "asking the instance at port " << port << "\n" << cluster.Logs();
  }
  const ::testing::AssertionResult alerts = AlertsMatch(client, w, sent);
  if (!alerts && BrokerAborted(cluster, totals)) return;
  EXPECT_TRUE(alerts) << cluster.Logs();

  // The changelog, as a downstream consumer sees it once rollup caught up.
  const absl::Time deadline = absl::Now() + kExactTimeout;
  std::string last;
  std::vector<std::string> regressions;
  for (int pass = 0;; ++pass) {
    absl::StatusOr<ChangelogView> view =
        ReadChangelog(cluster.brokers(), totals.runs * 1000 + pass);
    if (view.ok()) {
      regressions = view->regressions;
      bool overcounted = false;
      std::vector<std::string> diffs =
          Differences(w, expected, view->cells, &overcounted);
      if (diffs.empty()) {
        Note(absl::StrCat("changelog: ", view->records, " records, ",
                          view->cells.size(), " cells, all exact, ",
                          absl::FormatDuration(absl::Now() - started),
                          " after the first fault"));
        break;
      }
      last = absl::StrCat(diffs.size(), " cells differ:\n  ",
                          FirstLines(diffs));
    } else {
      last = view.status().ToString();
    }
    if (absl::Now() > deadline) {
      if (BrokerAborted(cluster, totals)) return;
      ADD_FAILURE() << "changelog view not exact: " << last;
      break;
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
  totals.regressions += static_cast<int64_t>(regressions.size());
  EXPECT_TRUE(regressions.empty()) << "changelog versions went backwards:\n  "
                                   << FirstLines(regressions);
  Note("alerts: " + AlertSummary(client));
}

TEST_F(DistributedFaultsTest, SeededFaultsLoseAndRepeatNothing) {
  const int runs = RunsFromEnv();
  Totals totals;
  // A mock that keeps aborting is a failure: more than three times in a
  // row, or more than three times and a tenth of a long run's runs.
  const int most_discarded = std::max(3, runs / 10);
  int discarded_in_a_row = 0;
  for (int run = 0, attempt = 0; run < runs; ++attempt) {
    const uint64_t seed = SuiteSeed() + static_cast<uint64_t>(attempt);
    const bool scale_out = run % 2 == 1 || ScaleOutFromEnv();
    Note(absl::StrCat("run ", run, " (seed ", seed, ")",
                      scale_out ? ", rollup scaled out" : ""));
    const fs::path run_dir = dir_ / absl::StrCat("run-", attempt);
    RunOnce(run_dir, seed, scale_out, totals);
    // A run's services and broker write about a gigabyte: a long run
    // keeps only a failed one's.
    if (!HasFailure()) fs::remove_all(run_dir);
    if (discarded_) {
      // The next seed instead.
      ASSERT_LE(++discarded_in_a_row, 3) << "the mock cluster keeps aborting";
      ASSERT_LE(totals.discarded, most_discarded)
          << "the mock cluster keeps aborting";
      continue;
    }
    discarded_in_a_row = 0;
    if (scale_out) ++totals.scaled_out;
    ++totals.runs;
    ++run;
    if (HasFailure()) {
      std::cout << "journal:\n  " << absl::StrJoin(journal_, "\n  ")
                << std::endl;
      break;
    }
  }
  std::cout << "distributed faults: " << totals.Summary() << std::endl;
  EXPECT_EQ(totals.lost, 0);
  EXPECT_EQ(totals.duplicated, 0);
}

}  // namespace
}  // namespace strata::faults
