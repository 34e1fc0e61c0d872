#include "libs/aggregation/cell.h"

#include <limits>

namespace strata {

int64_t FoldIntoOwn(TimeAggregation aggregation, const EventSample& event,
                    OwnState& own) {
  switch (aggregation) {
    case TimeAggregation::kSum:
      return event.value;
    case TimeAggregation::kLast: {
      const bool newer = !own.has_last || own.last_time < event.time ||
                         (event.time == own.last_time &&
                          event.tiebreak > own.last_tiebreak);
      if (!newer) return 0;  // A late event older than the latest one.
      // Both values are within 1e16, so the difference fits.
      const int64_t delta = event.value - (own.has_last ? own.last_value : 0);
      own = {true, event.time, event.tiebreak, event.value};
      return delta;
    }
  }
  return 0;
}

bool ApplyDelta(int64_t delta, const EventTime& event_time, RollupCell& cell) {
  constexpr absl::int128 kMax = std::numeric_limits<absl::int128>::max();
  constexpr absl::int128 kMin = std::numeric_limits<absl::int128>::min();
  if ((delta > 0 && cell.value > kMax - delta) ||
      (delta < 0 && cell.value < kMin - delta)) {
    return false;
  }
  cell.value += delta;
  ++cell.event_count;
  if (cell.event_count == 1 || cell.last_event_time < event_time) {
    cell.last_event_time = event_time;
  }
  ++cell.version;
  return true;
}

}  // namespace strata
