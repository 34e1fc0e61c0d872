#pragma once

// A unit's Balanced Scorecard for one period, assembled from the cells'
// figures and the open alerts: perspectives -> objectives (weighted
// scores) -> KPIs (figure, trend against the previous period, alerts).
// Free of the engine and of gRPC: the figures come through `read`.
//
//   ASSIGN_OR_RETURN(v1::Scorecard card,
//                    BuildScorecard(defs, unit, period, now, read, alerts));

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/definitions/definitions.h"
#include "libs/definitions/cell_id.h"
#include "services/rollup/record_reader.h"
#include "strata/v1/alert.pb.h"
#include "strata/v1/scorecard_service.pb.h"

namespace strata::rollup {

// The record of a cell of a KPI that keeps the period's kind, judged at
// the scorecard's instant; one without a value when no event reached it.
using FigureReader = RecordReader;

// `open_alerts`: the unresolved alerts of `unit` in `period`, or why they
// could not be read (then reported in alerts_unavailable, not as none).
absl::StatusOr<v1::Scorecard> BuildScorecard(
    const Definitions& defs, UnitIndex unit, const Period& period,
    absl::Time judged_at, const FigureReader& read,
    const absl::StatusOr<std::vector<v1::Alert>>& open_alerts);

}  // namespace strata::rollup
