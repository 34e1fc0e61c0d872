#pragma once

// What a downstream consumer of strata.rollups reads, for tests: every
// record on the changelog so far, per key, in the order published.
//
//   ASSIGN_OR_RETURN(PublishedRecords published, ReadPublished(log));
//   published["sales/bu/2026-01"].back().value()

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/eventlog/event_log.h"
#include "strata/v1/rollup.pb.h"

namespace strata::rollup {

using PublishedRecords = std::map<std::string, std::vector<v1::RollupRecord>>;

// Reads strata.rollups from its start until a poll finds nothing more.
absl::StatusOr<PublishedRecords> ReadPublished(eventlog::EventLog& log);

}  // namespace strata::rollup
