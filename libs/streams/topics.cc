#include "libs/streams/topics.h"

namespace strata {

std::map<std::string, int32_t> DefaultTopics() {
  return {{kKpiEventsTopic, 8},
          {kDefinitionsTopic, 1},
          {kRollupsTopic, 8},
          {kAlertActionsTopic, 1},
          {kRollupChangesTopic, 8},
          {kRollupPartialsTopic, 8},
          {kRollupMembersTopic, 1}};
}

}  // namespace strata
