#include "libs/aggregation/cell.h"

namespace strata {

int64_t FoldIntoOwn(TimeAggregation aggregation, const EventSample& event,
                    OwnState& own) {
  switch (aggregation) {
    case TimeAggregation::kSum:
      return event.value;
    case TimeAggregation::kLast: {
      const bool newer = !own.has_last || event.time_us > own.last_time_us ||
                         (event.time_us == own.last_time_us &&
                          event.tiebreak > own.last_tiebreak);
      if (!newer) return 0;  // A late event older than the latest one.
      const int64_t delta = event.value - (own.has_last ? own.last_value : 0);
      own = {true, event.time_us, event.tiebreak, event.value};
      return delta;
    }
  }
  return 0;
}

}  // namespace strata
