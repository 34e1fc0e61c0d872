#include "libs/aggregation/own_state.h"

namespace strata {
namespace {

bool Holds(TimeAggregation aggregation, int64_t extreme, int64_t value) {
  return aggregation == TimeAggregation::kMin ? value <= extreme
                                              : value >= extreme;
}

}  // namespace

void AddToOwn(TimeAggregation aggregation, const OwnEvent& event,
              OwnState& own) {
  const bool first = own.count == 0;
  ++own.count;
  own.sum += event.value;
  switch (aggregation) {
    case TimeAggregation::kLast:
      if (first ||
          IsLater(event.time, event.id, own.last_time, own.last_id)) {
        own.last_time = event.time;
        own.last_id = std::string(event.id);
        own.last_value = event.value;
      }
      break;
    case TimeAggregation::kMin:
    case TimeAggregation::kMax:
      if (first || Holds(aggregation, own.extreme, event.value)) {
        own.extreme = event.value;
      }
      break;
    case TimeAggregation::kSum:
    case TimeAggregation::kAvg:
      break;
  }
}

bool RemoveFromOwn(TimeAggregation aggregation, const OwnEvent& event,
                   OwnState& own) {
  --own.count;
  own.sum -= event.value;
  if (own.count == 0) {
    OwnState empty;
    empty.carried = own.carried;
    empty.carried_value = own.carried_value;
    empty.history = own.history;
    empty.latest_time = own.latest_time;
    own = empty;
    return true;
  }
  switch (aggregation) {
    case TimeAggregation::kLast:
      return !(event.time == own.last_time && event.id == own.last_id);
    case TimeAggregation::kMin:
    case TimeAggregation::kMax:
      return event.value != own.extreme;
    case TimeAggregation::kSum:
    case TimeAggregation::kAvg:
      return true;
  }
  return true;
}

Contribution OwnContribution(TimeAggregation aggregation, const OwnState& own) {
  Contribution c;
  if (own.count == 0) {
    if (aggregation == TimeAggregation::kLast && own.carried) {
      c = {true, own.carried_value, 1, 0};
    }
    return c;
  }
  c.present = true;
  c.count = 1;
  switch (aggregation) {
    case TimeAggregation::kSum:
      c.value = own.sum;
      break;
    case TimeAggregation::kAvg:
      c.value = own.sum;
      c.count = own.count;
      break;
    case TimeAggregation::kLast:
      c.value = own.last_value;
      break;
    case TimeAggregation::kMin:
    case TimeAggregation::kMax:
      c.value = own.extreme;
      break;
  }
  return c;
}

}  // namespace strata
