// Records Strata places by key land where a stock Kafka producer would put
// them: librdkafka with the Java client's default partitioner
// (murmur2_random), against the mock cluster over real TCP.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/eventlog/event_log.h"
#include "libs/eventlog/testing/kafka_mock_cluster.h"
#include "librdkafka/rdkafkacpp.h"

namespace strata::eventlog {
namespace {

// Collects the partition each delivered record went to, by key.
class DeliveryRecorder : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    ASSERT_EQ(message.err(), RdKafka::ERR_NO_ERROR) << message.errstr();
    partitions.emplace_back(*message.key(), message.partition());
  }
  std::vector<std::pair<std::string, int32_t>> partitions;
};

TEST(KafkaPartitionerTest, KeysLandWhereKafkasDefaultPartitionerPutsThem) {
  auto cluster = KafkaMockCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  constexpr int kPartitions = 8;
  ASSERT_TRUE((*cluster)->CreateTopic("keyed", kPartitions).ok());
  DeliveryRecorder recorder;
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(
      RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  ASSERT_EQ(conf->set("bootstrap.servers", (*cluster)->bootstrap_servers(),
                      error),
            RdKafka::Conf::CONF_OK);
  ASSERT_EQ(conf->set("partitioner", "murmur2_random", error),
            RdKafka::Conf::CONF_OK)
      << error;
  ASSERT_EQ(conf->set("dr_cb", &recorder, error), RdKafka::Conf::CONF_OK);
  std::unique_ptr<RdKafka::Producer> producer(
      RdKafka::Producer::create(conf.get(), error));
  ASSERT_NE(producer, nullptr) << error;
  std::vector<std::string> keys = {"revenue/acme/2026-11", "21", "foobar",
                                   "headcount/team-7/YTD2026-11"};
  for (int i = 0; i < 200; ++i) keys.push_back(absl::StrCat("evt-", i));
  for (const std::string& key : keys) {
    ASSERT_EQ(producer->produce("keyed", RdKafka::Topic::PARTITION_UA,
                                RdKafka::Producer::RK_MSG_COPY, nullptr, 0,
                                key.data(), key.size(), 0, nullptr),
              RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(producer->flush(30'000), RdKafka::ERR_NO_ERROR);
  ASSERT_EQ(recorder.partitions.size(), keys.size());
  for (const auto& [key, partition] : recorder.partitions) {
    EXPECT_EQ(PartitionForKey(key, kPartitions), partition) << key;
  }
}

}  // namespace
}  // namespace strata::eventlog
