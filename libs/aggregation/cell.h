#pragma once

// The arithmetic of rollups, free of storage and transport.
//
// An event folds into its own unit's state (OwnState), which yields a delta;
// the delta then applies to the subtree cell (RollupCell) of the unit and of
// every ancestor. For time aggregation `sum` the delta is the event's value;
// for `last` it is the change of the unit's latest value, so a parent sums
// its children's latest values (headcount of a division = sum of its teams').

#include <cstdint>
#include <tuple>

#include "absl/numeric/int128.h"

namespace strata {

enum class TimeAggregation : uint8_t { kSum = 1, kLast = 2 };

// An event time at the full precision of google.protobuf.Timestamp, from
// 0001-01-01 to 9999-12-31: nanoseconds since 1970 would not fit 64 bits.
struct EventTime {
  int64_t seconds = 0;
  int32_t nanos = 0;  // 0 .. 999,999,999, also before 1970.

  friend bool operator<(const EventTime& a, const EventTime& b) {
    return std::tie(a.seconds, a.nanos) < std::tie(b.seconds, b.nanos);
  }
  friend bool operator==(const EventTime& a, const EventTime& b) {
    return a.seconds == b.seconds && a.nanos == b.nanos;
  }
};

// One unit's own events for one KPI and period (not its subtree).
struct OwnState {
  bool has_last = false;
  EventTime last_time;
  uint64_t last_tiebreak = 0;  // Orders events with equal times.
  int64_t last_value = 0;      // Fixed point.
};

struct EventSample {
  EventTime time;
  uint64_t tiebreak = 0;  // Stable per event, e.g. a hash of its id.
  int64_t value = 0;      // Fixed point, at most kMaxEventMagnitude.
};

// Folds `event` into `own` and returns how the unit's contribution to its
// subtree cells changes.
int64_t FoldIntoOwn(TimeAggregation aggregation, const EventSample& event,
                    OwnState& own);

// The rolled-up value of a unit's whole subtree for one KPI and period.
struct RollupCell {
  absl::int128 value = 0;  // Fixed point; 128 bits, so sums cannot wrap.
  int64_t event_count = 0;
  EventTime last_event_time;
  int64_t version = 0;  // Grows by one with every event folded in.
};

// Adds one event's delta. Returns false, leaving `cell` unchanged, when the
// value would leave the 128-bit range (about 1.7e34 units).
[[nodiscard]] bool ApplyDelta(int64_t delta, const EventTime& event_time,
                              RollupCell& cell);

}  // namespace strata
