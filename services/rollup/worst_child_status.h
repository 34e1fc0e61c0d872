#pragma once

// A KPI whose status comes from its worst child (Kpi.status_rule
// WORST_CHILD): a cell's status and score, as queries and scorecards show
// them, are those of the worst leaf below it. The changelog and the alerts
// service keep judging each cell on its own figure.
//
//   ASSIGN_OR_RETURN(v1::RollupRecord record, raw(id));
//   RETURN_IF_ERROR(ApplyStatusRule(defs, id, raw, record));

#include "absl/status/status.h"
#include "libs/definitions/cell_id.h"
#include "libs/definitions/definitions.h"
#include "services/rollup/record_reader.h"
#include "strata/v1/rollup.pb.h"

namespace strata::rollup {

// Sets `record`'s status, score and status_unit_id by the KPI's status
// rule; leaves it alone for a KPI judged on its own figure. Reads every
// cell of the subtree in the period's shape: its cost grows with it.
absl::Status ApplyStatusRule(const Definitions& defs, const CellId& id,
                             const RecordReader& read,
                             v1::RollupRecord& record);

}  // namespace strata::rollup
