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

struct CellKeyParts {
  std::string kpi_id;
  std::string unit_id;
  Period period;
};

// What CellKey() joined; INVALID_ARGUMENT when `key` is not a cell key.
absl::StatusOr<CellKeyParts> ParseCellKey(absl::string_view key);

// The RollupKey of a cell key; INVALID_ARGUMENT when it is not one.
absl::StatusOr<v1::RollupKey> RollupKeyOf(absl::string_view cell_key);

}  // namespace strata
