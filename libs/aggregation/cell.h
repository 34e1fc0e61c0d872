#pragma once

// The arithmetic of rollups, free of storage and transport.
//
// An event folds into its own unit's state (OwnState), which yields a delta;
// the delta then applies to the subtree cell (RollupCell) of the unit and of
// every ancestor. For time aggregation `sum` the delta is the event's value;
// for `last` it is the change of the unit's latest value, so a parent sums
// its children's latest values (headcount of a division = sum of its teams').

#include <cstdint>

namespace strata {

enum class TimeAggregation : uint8_t { kSum = 1, kLast = 2 };

// One unit's own events for one KPI and period (not its subtree).
struct OwnState {
  bool has_last = false;
  int64_t last_time_us = 0;
  uint64_t last_tiebreak = 0;  // Orders events with equal times.
  int64_t last_value = 0;      // Fixed point.
};

struct EventSample {
  int64_t time_us = 0;
  uint64_t tiebreak = 0;  // Stable per event, e.g. a hash of its id.
  int64_t value = 0;      // Fixed point.
};

// Folds `event` into `own` and returns how the unit's contribution to its
// subtree cells changes.
int64_t FoldIntoOwn(TimeAggregation aggregation, const EventSample& event,
                    OwnState& own);

// The rolled-up value of a unit's whole subtree for one KPI and period.
struct RollupCell {
  int64_t value = 0;  // Fixed point.
  int64_t event_count = 0;
  int64_t last_event_time_us = 0;
  int64_t version = 0;  // Grows by one with every event folded in.
};

inline void ApplyDelta(int64_t delta, int64_t event_time_us, RollupCell& cell) {
  cell.value += delta;
  ++cell.event_count;
  if (cell.event_count == 1 || event_time_us > cell.last_event_time_us) {
    cell.last_event_time_us = event_time_us;
  }
  ++cell.version;
}

}  // namespace strata
