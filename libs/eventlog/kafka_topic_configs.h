#pragma once

// A Kafka topic's configuration as the brokers report it (DescribeConfigs),
// so that a service can check, before it relies on a topic, that it keeps
// what it must (retention, cleanup policy).

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace strata::eventlog {

// Every config entry of `topic`, by name. NOT_FOUND for an unknown topic;
// UNIMPLEMENTED when the brokers do not take the request; UNAVAILABLE or
// DEADLINE_EXCEEDED when the cluster cannot be reached in `timeout`.
// librdkafka's mock cluster never answers it: the call times out.
absl::StatusOr<std::map<std::string, std::string>> DescribeTopicConfigs(
    const std::string& brokers, const std::string& topic,
    absl::Duration timeout);

}  // namespace strata::eventlog
