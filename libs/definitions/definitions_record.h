#pragma once

// How a record of the definitions topic is applied: the same way by every
// reader (each service's follower, and a reading "as of" a past time), so
// that they all hold the same snapshot after the same record.

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "libs/definitions/definitions.h"
#include "libs/eventlog/event_log.h"
#include "strata/v1/definitions.pb.h"

namespace strata {

struct DefinitionsRecord {
  // When it was appended: the producer's time, the log's own when it gave
  // none.
  absl::Time appended = absl::InfinitePast();
  std::string event_id;  // Of its envelope; empty when malformed.
  v1::DefinitionBatch batch;  // As applied (feed schedules stamped).
  // The snapshot it makes; nullopt when it was skipped (malformed, or a
  // batch two writers raced to and that no longer applies), which is
  // logged; then why.
  std::optional<Definitions> next;
  absl::Status skipped;
};

DefinitionsRecord ApplyDefinitionsRecord(const Definitions& base,
                                         const eventlog::LogRecord& record);

}  // namespace strata
