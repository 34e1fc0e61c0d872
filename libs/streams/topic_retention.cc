#include "libs/streams/topic_retention.h"

#include "absl/strings/str_cat.h"
#include "libs/streams/topics.h"

namespace strata {
namespace {

// A missing entry is the broker's default, which is not what Strata needs.
std::string Value(const std::map<std::string, std::string>& configs,
                  const std::string& name) {
  auto it = configs.find(name);
  return it == configs.end() ? "(the broker's default)" : it->second;
}

absl::Status Require(absl::string_view topic,
                     const std::map<std::string, std::string>& configs,
                     const std::string& name, const std::string& wanted,
                     absl::string_view why) {
  const std::string value = Value(configs, name);
  if (value == wanted) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("topic '", topic, "': ", name, " is ", value, ", must be ",
                   wanted, " (", why,
                   "; see deploy/k8s/topics-job.yaml)"));
}

}  // namespace

absl::Status CheckTopicRetention(
    absl::string_view topic,
    const std::map<std::string, std::string>& configs) {
  if (topic != kRollupsTopic && topic != kKpiEventsTopic &&
      topic != kDefinitionsTopic && topic != kAlertActionsTopic &&
      topic != kRollupChangesTopic && topic != kRollupPartialsTopic &&
      topic != kRollupMembersTopic) {
    return absl::OkStatus();
  }
  // An out-of-sync replica made leader drops what was acknowledged.
  if (absl::Status s = Require(topic, configs,
                               "unclean.leader.election.enable", "false",
                               "an unclean leader election loses "
                               "acknowledged records");
      !s.ok()) {
    return s;
  }
  if (topic == kRollupsTopic) {
    return Require(topic, configs, "cleanup.policy", "compact",
                   "the alerts state is rebuilt from the latest record of "
                   "every rollup cell");
  }
  if (topic == kRollupPartialsTopic) {
    return Require(topic, configs, "cleanup.policy", "compact",
                   "rollup's stage C restores from the latest part of every "
                   "cell");
  }
  if (topic == kRollupMembersTopic) {
    return Require(topic, configs, "cleanup.policy", "compact",
                   "an instance publishes the partitions it merges when they "
                   "change; deleted by age, queries for them would find no "
                   "instance");
  }
  constexpr absl::string_view kWhy =
      "every state is rebuilt from all of its records";
  if (absl::Status s = Require(topic, configs, "cleanup.policy", "delete",
                               "compaction would drop records that share a "
                               "key");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Require(topic, configs, "retention.ms", "-1", kWhy);
      !s.ok()) {
    return s;
  }
  return Require(topic, configs, "retention.bytes", "-1", kWhy);
}

}  // namespace strata
