// A Kafka cluster for cross-service tests: librdkafka's mock brokers in
// their own process, with Strata's topics created, serving the service
// binaries over loopback TCP until SIGTERM.
//
//   kafka_mock_broker --brokers=3 --bootstrap_file=/tmp/bootstrap
//       [--control_dir=/tmp/control]
//
// With a control directory, faults are injected by dropping a file
// NAME.cmd into it holding one command; the broker carries it out and
// answers in NAME.done ("ok", or the error):
//   down BROKER              take a broker down (connections refused)
//   up BROKER                bring it back
//   leader TOPIC PARTITION BROKER   move a partition's leadership

#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "libs/eventlog/testing/kafka_mock_cluster.h"
#include "libs/streams/topics.h"

ABSL_FLAG(int, brokers, 3, "Number of mock brokers.");
ABSL_FLAG(std::string, bootstrap_file, "",
          "Where to write the bootstrap servers once the topics exist.");
ABSL_FLAG(std::string, control_dir, "",
          "A directory polled for fault commands (see the file comment).");

namespace {

// Carries out one command line; "ok" or why not.
std::string Execute(strata::eventlog::KafkaMockCluster& cluster,
                    const std::string& line) {
  std::istringstream in(line);
  std::string verb;
  in >> verb;
  if (verb == "down" || verb == "up") {
    int broker = 0;
    if (!(in >> broker) || broker < 1 || broker > cluster.broker_count()) {
      return "error: bad broker in '" + line + "'";
    }
    cluster.SetBrokerUp(broker, verb == "up");
    return "ok";
  }
  if (verb == "leader") {
    std::string topic;
    int partition = 0, broker = 0;
    if (!(in >> topic >> partition >> broker)) {
      return "error: expected 'leader TOPIC PARTITION BROKER'";
    }
    absl::Status s = cluster.SetPartitionLeader(topic, partition, broker);
    return s.ok() ? "ok" : "error: " + s.ToString();
  }
  return "error: unknown command '" + line + "'";
}

// Carries out every NAME.cmd in `dir`, in name order, answering in NAME.done.
void ServeCommands(strata::eventlog::KafkaMockCluster& cluster,
                   const std::filesystem::path& dir) {
  std::set<std::filesystem::path> commands;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.path().extension() == ".cmd") commands.insert(entry.path());
  }
  for (const std::filesystem::path& command : commands) {
    std::ifstream in(command);
    std::string line;
    std::getline(in, line);
    const std::string answer = Execute(cluster, line);
    std::cerr << "control: " << line << " -> " << answer << std::endl;
    std::filesystem::path done = command;
    done.replace_extension(".done");
    std::ofstream(done.string() + ".tmp") << answer << "\n";
    std::filesystem::rename(done.string() + ".tmp", done, error);
    std::filesystem::remove(command, error);
  }
}

}  // namespace

int main(int argc, char** argv) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  absl::ParseCommandLine(argc, argv);

  auto cluster =
      strata::eventlog::KafkaMockCluster::Start(absl::GetFlag(FLAGS_brokers));
  if (!cluster.ok()) {
    std::cerr << cluster.status() << "\n";
    return 1;
  }
  for (const auto& [topic, partitions] : strata::DefaultTopics()) {
    absl::Status s = (*cluster)->CreateTopic(topic, partitions);
    if (!s.ok()) {
      std::cerr << s << "\n";
      return 1;
    }
  }
  const std::string bootstrap = (*cluster)->bootstrap_servers();
  const std::string path = absl::GetFlag(FLAGS_bootstrap_file);
  if (!path.empty()) {
    std::ofstream(path + ".tmp") << bootstrap << "\n";
    std::rename((path + ".tmp").c_str(), path.c_str());
  }
  std::cerr << "mock Kafka cluster at " << bootstrap << std::endl;
  const std::string control_dir = absl::GetFlag(FLAGS_control_dir);
  const timespec poll_interval = {0, 20'000'000};
  while (true) {
    if (sigtimedwait(&set, nullptr, &poll_interval) > 0) return 0;
    if (!control_dir.empty()) ServeCommands(**cluster, control_dir);
  }
}
