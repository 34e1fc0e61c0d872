#pragma once

// A Kafka cluster for tests: librdkafka's mock brokers, which speak the real
// Kafka protocol over loopback TCP, so clients exercise their production code
// paths. Lives as long as this object.
//
//   ASSIGN_OR_RETURN(auto cluster, KafkaMockCluster::Start(3));
//   RETURN_IF_ERROR(cluster->CreateTopic("strata.kpi-events", 8));
//   options.brokers = cluster->bootstrap_servers();

#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace strata::eventlog {

class KafkaMockCluster {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaMockCluster>> Start(int brokers);
  ~KafkaMockCluster();

  // Replicated on every broker, up to three.
  absl::Status CreateTopic(const std::string& topic, int partitions);

  // Takes every broker down (connections refused) or brings them back.
  void SetAllBrokersUp(bool up);
  // The same for one broker (ids count from 1). Its partitions keep their
  // records and their leader: clients wait for it to come back.
  void SetBrokerUp(int broker_id, bool up);
  // Moves a partition's leadership, as a controller would after a failure
  // or a preferred-leader election.
  absl::Status SetPartitionLeader(const std::string& topic, int partition,
                                  int broker_id);
  // Makes `broker_id` the coordinator of `group`: before the group's first
  // member asks for it.
  void SetGroupCoordinator(const std::string& group, int broker_id);
  int broker_count() const { return brokers_; }

  // Fails the next `count` Produce requests with a retriable error.
  void FailNextProduceRequests(int count);

  const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  rd_kafka_mock_cluster_s* handle() const { return cluster_; }

 private:
  KafkaMockCluster() = default;

  rd_kafka_s* client_ = nullptr;  // Owns the mock cluster's threads.
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  int brokers_ = 0;
  std::string bootstrap_servers_;
};

}  // namespace strata::eventlog
