#pragma once

// The public form of a rollup cell, as queries answer and the changelog
// publishes it.

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "libs/aggregation/cell.h"
#include "libs/definitions/cell_id.h"
#include "libs/definitions/definitions.h"
#include "libs/period/period.h"
#include "strata/v1/rollup.pb.h"

namespace strata::rollup {

// The cell's key on the changelog and in the state store.
std::string CellKeyFor(const Definitions& defs, const CellId& id);

v1::RollupRecord MakeRollupRecord(absl::string_view kpi_id,
                                  absl::string_view unit_id,
                                  const Period& period, const RollupCell& cell,
                                  std::optional<double> target);

}  // namespace strata::rollup
