#pragma once

// The key of a rollup cell, identical in the state store and on the
// changelog topic, readable by people and tools such as kcat:
//   "<kpi_id>/<unit_id>/<period label>"   e.g. "revenue/team-7/2026-Q4"
// Ids never contain '/', and a label's shape tells its period kind.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/period/period.h"
#include "strata/v1/rollup.pb.h"

namespace strata {

std::string CellKey(absl::string_view kpi_id, absl::string_view unit_id,
                    const Period& period);

// INVALID_ARGUMENT naming the field when the key is malformed.
absl::StatusOr<std::string> CellKeyOf(const v1::RollupKey& key);

}  // namespace strata
