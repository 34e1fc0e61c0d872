#pragma once

// The definitions as they stood at a past instant, read back from the
// definitions topic: redefining is an event, so history stays queryable.
//
//   ASSIGN_OR_RETURN(DefinitionsAsOf then,
//                    ReadDefinitionsAsOf(log, absl::FromCivil(...)));
//   then.definitions.ToBatch();

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/definitions/definitions.h"
#include "libs/eventlog/event_log.h"

namespace strata {

struct DefinitionsAsOf {
  Definitions definitions;
  // The records applied: offsets [0, records); and the time of the last
  // one (InfinitePast when none).
  int64_t records = 0;
  absl::Time last_appended = absl::InfinitePast();
};

// Every record of the topic from its start up to the first appended after
// `as_of`, applied as every follower applies them, so the result is a
// snapshot the services really held (log order decides, not clocks). Reads
// the whole prefix: cost grows with the definitions' history.
// FAILED_PRECONDITION when the topic no longer starts at offset 0 (its
// history was cut: the answer would be wrong); DEADLINE_EXCEEDED when the
// log does not deliver within `timeout`.
absl::StatusOr<DefinitionsAsOf> ReadDefinitionsAsOf(
    eventlog::EventLog& log, absl::Time as_of,
    absl::Duration timeout = absl::Seconds(30));

}  // namespace strata
