// Which log a server opens, and what it refuses to start on.

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/eventlog/testing/kafka_mock_cluster.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/topics.h"
#include "services/common/process.h"

namespace strata {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

std::string TempDir() {
  const auto dir = std::filesystem::temp_directory_path() /
                   absl::StrCat("strata_open_log_", getpid());
  std::filesystem::remove_all(dir);
  return dir.string();
}

TEST(OpenEventLogTest, ADistributedServiceRefusesToRunWithoutBrokers) {
  ServerOptions options;
  options.data_dir = TempDir();
  options.require_kafka = true;
  EXPECT_THAT(OpenEventLog(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--kafka_brokers: required")));
  EXPECT_FALSE(std::filesystem::exists(options.data_dir + "/log"));
  // The all-in-one server runs on the embedded log.
  options.require_kafka = false;
  EXPECT_OK(OpenEventLog(options));
  std::filesystem::remove_all(options.data_dir);
}

TEST(OpenEventLogTest, RefusesATopicOfAnotherPartitionCountOrNone) {
  auto cluster = eventlog::KafkaMockCluster::Start(1);
  ASSERT_OK(cluster);
  ServerOptions options;
  options.require_kafka = true;
  options.kafka_brokers = (*cluster)->bootstrap_servers();
  options.check_topic_configs = false;  // The mock cannot answer.
  options.wait_for_topics = absl::ZeroDuration();
  for (const auto& [topic, partitions] : DefaultTopics()) {
    if (topic == kKpiEventsTopic) continue;
    ASSERT_OK((*cluster)->CreateTopic(topic, partitions));
  }
  EXPECT_THAT(OpenEventLog(options),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr(absl::StrCat("topic '", kKpiEventsTopic,
                                              "' does not exist"))));
  const int32_t wanted = DefaultTopics().at(kKpiEventsTopic);
  ASSERT_OK((*cluster)->CreateTopic(kKpiEventsTopic, wanted / 2));
  EXPECT_THAT(OpenEventLog(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr(absl::StrCat("topic '", kKpiEventsTopic,
                                              "' has ", wanted / 2,
                                              " partitions; Strata needs ",
                                              wanted))));
}

// A topics job that runs beside the services creates them a little later:
// the services wait for it rather than exit and be restarted in a loop.
TEST(OpenEventLogTest, WaitsForATopicThatComesLater) {
  auto cluster = eventlog::KafkaMockCluster::Start(1);
  ASSERT_OK(cluster);
  for (const auto& [topic, partitions] : DefaultTopics()) {
    if (topic != kKpiEventsTopic) {
      ASSERT_OK((*cluster)->CreateTopic(topic, partitions));
    }
  }
  ServerOptions options;
  options.kafka_brokers = (*cluster)->bootstrap_servers();
  options.check_topic_configs = false;
  options.wait_for_topics = absl::Seconds(60);
  std::thread topics_job([&] {
    absl::SleepFor(absl::Seconds(1));
    EXPECT_OK((*cluster)->CreateTopic(kKpiEventsTopic,
                                      DefaultTopics().at(kKpiEventsTopic)));
  });
  EXPECT_OK(OpenEventLog(options));
  topics_job.join();
}

// Retention is asked of the brokers; one that cannot say (the test broker
// never answers DescribeConfigs) is refused unless the check is turned off.
TEST(OpenEventLogTest, RefusesTopicsWhoseRetentionCannotBeChecked) {
  auto cluster = eventlog::KafkaMockCluster::Start(1);
  ASSERT_OK(cluster);
  for (const auto& [topic, partitions] : DefaultTopics()) {
    ASSERT_OK((*cluster)->CreateTopic(topic, partitions));
  }
  ServerOptions options;
  options.require_kafka = true;
  options.wait_for_topics = absl::ZeroDuration();
  options.kafka_brokers = (*cluster)->bootstrap_servers();
  // (The mock lets the request time out; a broker without the ACL would
  // answer PERMISSION_DENIED.)
  const absl::Status refused = OpenEventLog(options).status();
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("(--kafka_check_topic_configs=false skips the check)"));
  options.check_topic_configs = false;
  EXPECT_OK(OpenEventLog(options));
}

}  // namespace
}  // namespace strata
