#include "libs/eventlog/testing/kafka_mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace strata::eventlog {

absl::StatusOr<std::unique_ptr<KafkaMockCluster>> KafkaMockCluster::Start(
    int brokers) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // A handle with no brokers of its own only hosts the mock cluster.
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof(error));
  rd_kafka_t* client =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (client == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("mock host client: ", error));
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(client, brokers);
  if (cluster == nullptr) {
    rd_kafka_destroy(client);
    return absl::InternalError("rd_kafka_mock_cluster_new failed");
  }
  std::unique_ptr<KafkaMockCluster> result(new KafkaMockCluster());
  result->client_ = client;
  result->cluster_ = cluster;
  result->brokers_ = brokers;
  result->bootstrap_servers_ = rd_kafka_mock_cluster_bootstraps(cluster);
  return result;
}

KafkaMockCluster::~KafkaMockCluster() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (client_ != nullptr) rd_kafka_destroy(client_);
}

absl::Status KafkaMockCluster::CreateTopic(const std::string& topic,
                                           int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
      cluster_, topic.c_str(), partitions, std::min(brokers_, 3));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(
        absl::StrCat("create topic ", topic, ": ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

void KafkaMockCluster::SetAllBrokersUp(bool up) {
  for (int id = 1; id <= brokers_; ++id) SetBrokerUp(id, up);
}

void KafkaMockCluster::SetBrokerUp(int broker_id, bool up) {
  if (up) {
    rd_kafka_mock_broker_set_up(cluster_, broker_id);
  } else {
    rd_kafka_mock_broker_set_down(cluster_, broker_id);
  }
}

void KafkaMockCluster::SetGroupCoordinator(const std::string& group,
                                           int broker_id) {
  rd_kafka_mock_coordinator_set(cluster_, "group", group.c_str(), broker_id);
}

absl::Status KafkaMockCluster::SetPartitionLeader(const std::string& topic,
                                                  int partition,
                                                  int broker_id) {
  rd_kafka_resp_err_t err = rd_kafka_mock_partition_set_leader(
      cluster_, topic.c_str(), partition, broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InvalidArgumentError(
        absl::StrCat("leader of ", topic, "/", partition, " to broker ",
                     broker_id, ": ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

void KafkaMockCluster::FailNextProduceRequests(int count) {
  std::vector<rd_kafka_resp_err_t> errors(
      count, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
  rd_kafka_mock_push_request_errors_array(cluster_, /*ApiKey=Produce*/ 0,
                                          errors.size(), errors.data());
}

}  // namespace strata::eventlog
