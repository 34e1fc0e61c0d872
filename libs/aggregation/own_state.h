#pragma once

// One unit's own events of one KPI in one period (not its subtree's), and
// the value the unit contributes to its subtree cells.
//
//   OwnState own;
//   Contribution before = OwnContribution(TimeAggregation::kLast, own);
//   AddToOwn(TimeAggregation::kLast, {time, "evt-1", ToFixedPoint(42)}, own);
//   Contribution after = OwnContribution(TimeAggregation::kLast, own);
//   // before -> after is what every ancestor's cell applies.

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

#include "absl/numeric/int128.h"
#include "absl/strings/string_view.h"
#include "libs/aggregation/aggregation.h"

namespace strata {

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

// One event as the own state sees it.
struct OwnEvent {
  EventTime time;
  absl::string_view id;
  int64_t value = 0;  // Fixed point, at most kMaxEventMagnitude.
};

// Whether `a` comes after `b` for TIME_AGGREGATION_LAST: by event time, then
// by event id, bytewise.
inline bool IsLater(const EventTime& a_time, absl::string_view a_id,
                    const EventTime& b_time, absl::string_view b_id) {
  if (b_time < a_time) return true;
  return a_time == b_time && a_id > b_id;
}

struct OwnState {
  int64_t count = 0;     // Events standing.
  absl::int128 sum = 0;  // Of the events standing.
  // kLast: the latest event; valid when count > 0.
  EventTime last_time;
  std::string last_id;
  int64_t last_value = 0;
  int64_t extreme = 0;  // kMin, kMax: valid when count > 0.
  // Carried forward (KPIs that carry stocks forward, kLast): the unit's
  // latest value before this period, counted while it has no event here.
  bool carried = false;
  int64_t carried_value = 0;
  // Carried-forward KPIs: the unit's events (and corrections) before this
  // period's end, and the latest time among them.
  int64_t history = 0;
  EventTime latest_time;
};

// The unit's value as of the period's end: its latest event in the period,
// else the value carried into it.
inline std::optional<int64_t> LatestValue(const OwnState& own) {
  if (own.count > 0) return own.last_value;
  if (own.carried) return own.carried_value;
  return std::nullopt;
}

// Folds in a new event.
void AddToOwn(TimeAggregation aggregation, const OwnEvent& event,
              OwnState& own);

// Takes out an event folded in before. Returns false when `own` must be
// rebuilt from the events left (the event was the latest, or held the
// extreme): what remains is not known from the state alone.
[[nodiscard]] bool RemoveFromOwn(TimeAggregation aggregation,
                                 const OwnEvent& event, OwnState& own);

// What a unit adds to each of its subtree cells.
struct Contribution {
  bool present = false;     // The unit has a value.
  absl::int128 value = 0;   // Its value; the sum of its events for kAvg.
  int64_t count = 0;        // kAvg: its events; otherwise 1 when present.
  absl::int128 weight = 0;  // kWeightedAvg: its weight (set by the caller).
};

Contribution OwnContribution(TimeAggregation aggregation, const OwnState& own);

}  // namespace strata
