#pragma once

// What each Strata topic must keep for every state to be rebuilt from the
// log: the event, definitions and alert-action topics every record for
// ever (delete policy, unlimited time and size); the rollup changelog the
// latest record of every key (compacted, nothing deleted by age); and no
// topic may elect an out-of-sync replica leader.

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace strata {

// FAILED_PRECONDITION naming the topic, the config, its value and what it
// must be, for a topic whose configs (as DescribeConfigs reports them)
// would let the log lose what a state needs; OK otherwise, and for topics
// Strata does not know.
absl::Status CheckTopicRetention(
    absl::string_view topic, const std::map<std::string, std::string>& configs);

}  // namespace strata
