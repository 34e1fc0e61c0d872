#pragma once

// What rollup remembers of each event id it applied, and where it keeps
// the events a unit's latest, least or greatest value is chosen from.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "libs/aggregation/own_state.h"

namespace strata::rollup {

struct AppliedEvent {
  uint64_t fingerprint = 0;  // Of the first copy of the id: the fact.
  bool correction = false;
  // Held: waits for a decision on its closed period; rejected: never counts.
  enum class State : uint8_t { kApplied, kHeld, kRejected };
  // Events only (not corrections): where the event counts (KpiEventPlace)
  // and how it counts now, after any corrections.
  uint64_t place = 0;
  int64_t value = 0;  // Fixed point.
  bool voided = false;
  State state = State::kApplied;
};

std::string EncodeAppliedEvent(const AppliedEvent& event);
// nullopt when `encoded` is no AppliedEvent.
std::optional<AppliedEvent> DecodeAppliedEvent(absl::string_view encoded);

// Keys of the own-events index: "<kpi_id>/<unit_id>/" then the event time
// (sortable) then the event id, so that one unit's events of one KPI lie
// in time order and a period is one key range.
std::string OwnEventKey(absl::string_view cell_prefix, const EventTime& time,
                        absl::string_view event_id);
// The first key at or after `time` for `cell_prefix`.
std::string OwnEventBound(absl::string_view cell_prefix, const EventTime& time);
// The time and id in a key of `cell_prefix`; false when malformed.
bool ParseOwnEventKey(absl::string_view key, size_t prefix_size,
                      EventTime& time, std::string& event_id);

}  // namespace strata::rollup
