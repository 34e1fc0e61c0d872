#include "libs/streams/topic_retention.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/streams/topics.h"

namespace strata {
namespace {

using ::testing::HasSubstr;

// What a broker reports for a topic created as deploy/k8s/topics-job.yaml
// creates it (retention.bytes is -1 by default).
std::map<std::string, std::string> KeptForEver() {
  return {{"cleanup.policy", "delete"},
          {"retention.ms", "-1"},
          {"retention.bytes", "-1"},
          {"unclean.leader.election.enable", "false"},
          {"min.insync.replicas", "2"}};
}

TEST(TopicRetentionTest, EventTopicsMustKeepEveryRecordForEver) {
  for (const char* topic : {kKpiEventsTopic, kDefinitionsTopic,
                            kAlertActionsTopic, kRollupChangesTopic}) {
    EXPECT_TRUE(CheckTopicRetention(topic, KeptForEver()).ok()) << topic;
  }
  // A scaled-out rollup's part restores from every routed event.
  auto aged = KeptForEver();
  aged["retention.ms"] = "604800000";
  EXPECT_THAT(
      std::string(CheckTopicRetention(kRollupChangesTopic, aged).message()),
      HasSubstr("topic 'strata.rollup-changes': retention.ms is 604800000"));
  auto week = KeptForEver();
  week["retention.ms"] = "604800000";  // The broker's default.
  const absl::Status refused = CheckTopicRetention(kKpiEventsTopic, week);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("topic 'strata.kpi-events': retention.ms is "
                        "604800000, must be -1"));
  auto sized = KeptForEver();
  sized["retention.bytes"] = "1073741824";
  EXPECT_THAT(std::string(CheckTopicRetention(kDefinitionsTopic, sized).message()),
              HasSubstr("retention.bytes is 1073741824, must be -1"));
  auto compacted = KeptForEver();
  compacted["cleanup.policy"] = "compact";
  EXPECT_THAT(
      std::string(CheckTopicRetention(kAlertActionsTopic, compacted).message()),
      HasSubstr("cleanup.policy is compact, must be delete"));
  auto unknown = KeptForEver();
  unknown.erase("retention.ms");
  EXPECT_THAT(std::string(CheckTopicRetention(kKpiEventsTopic, unknown).message()),
              HasSubstr("retention.ms is (the broker's default)"));
}

TEST(TopicRetentionTest, TheChangelogMustBeCompactedNotAged) {
  const std::map<std::string, std::string> compacted = {
      {"cleanup.policy", "compact"},
      {"unclean.leader.election.enable", "false"}};
  EXPECT_TRUE(CheckTopicRetention(kRollupsTopic, compacted).ok());
  // A scaled-out rollup's stage C restores from the latest part per key.
  EXPECT_TRUE(CheckTopicRetention(kRollupPartialsTopic, compacted).ok());
  EXPECT_THAT(
      std::string(CheckTopicRetention(kRollupPartialsTopic, KeptForEver())
                      .message()),
      HasSubstr("topic 'strata.rollup-partials': cleanup.policy is delete, "
                "must be compact"));
  // Instances publish what they merge only when it changes.
  EXPECT_TRUE(CheckTopicRetention(kRollupMembersTopic, compacted).ok());
  EXPECT_THAT(
      std::string(
          CheckTopicRetention(kRollupMembersTopic, KeptForEver()).message()),
      HasSubstr("topic 'strata.rollup-members': cleanup.policy is delete, "
                "must be compact"));
  auto aged = compacted;
  aged["cleanup.policy"] = "compact,delete";
  EXPECT_THAT(std::string(CheckTopicRetention(kRollupsTopic, aged).message()),
              HasSubstr("cleanup.policy is compact,delete, must be compact"));
  auto unclean = compacted;
  unclean["unclean.leader.election.enable"] = "true";
  EXPECT_THAT(std::string(CheckTopicRetention(kRollupsTopic, unclean).message()),
              HasSubstr("unclean.leader.election.enable is true, must be "
                        "false"));
  EXPECT_TRUE(CheckTopicRetention("someone-elses-topic", {}).ok());
}

}  // namespace
}  // namespace strata
