// A Kafka cluster for cross-service tests: librdkafka's mock brokers in
// their own process, with Strata's topics created, serving the service
// binaries over loopback TCP until SIGTERM.
//
//   kafka_mock_broker --brokers=3 --bootstrap_file=/tmp/bootstrap

#include <csignal>
#include <fstream>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "libs/eventlog/testing/kafka_mock_cluster.h"
#include "libs/streams/topics.h"

ABSL_FLAG(int, brokers, 3, "Number of mock brokers.");
ABSL_FLAG(std::string, bootstrap_file, "",
          "Where to write the bootstrap servers once the topics exist.");

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
  int signal = 0;
  sigwait(&set, &signal);
  return 0;
}
