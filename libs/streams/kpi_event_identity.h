#pragma once

// What makes a KPI event the same fact. An event id names one fact forever:
// resending it is a no-op, reusing it for a different one is refused.
//
// Ingest appends every copy of an id to one partition (keyed by the id), so
// the log holds them in one order and the first copy is the fact, live and
// on every replay alike; later copies compare by fingerprint.
//
//   const uint64_t fp = KpiEventFingerprint(event);
//   if (stored_fp != fp) return AlreadyExists(...);

#include <cstdint>

#include "absl/strings/string_view.h"
#include "libs/hash/stable_hash.h"
#include "strata/v1/events.pb.h"

namespace strata {

// A stable hash of everything an event says: KPI, unit, time (to the
// nanosecond), value (as counted, i.e. to 0.0001), source, and what it
// corrects.
uint64_t KpiEventFingerprint(const v1::KpiEvent& event);

// A stable hash of where an event counts: KPI, unit and time. A correction
// must match the event it corrects.
uint64_t KpiEventPlace(const v1::KpiEvent& event);

// The key an event is appended under: its id, or for a correction the id
// of the event it corrects, so that both reach one partition in order.
inline absl::string_view KpiEventPartitionKey(const v1::KpiEvent& event) {
  return event.corrects_event_id().empty() ? event.event_id()
                                           : event.corrects_event_id();
}

}  // namespace strata
