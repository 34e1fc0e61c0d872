#pragma once

// Merges the partial cells that disjoint sets of units produced for one
// (kpi, unit, period) into the cell one engine over all those units would
// hold: how a scaled-out rollup combines what each of its fold partitions
// computed (services/rollup/SCALE_OUT.md).
//
//   // east's and west's teams folded apart; the enterprise cell is:
//   absl::StatusOr<RollupCell> cell =
//       MergePartialCells(HierarchyAggregation::kSum, {&from_east, &from_west});
//
// Every hierarchy aggregation merges exactly: sums and the sums behind
// averages add up, an extreme is the extreme of the parts that have a
// value. The merged version is the sum of the parts' versions, so it grows
// with every change of any part.

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "libs/aggregation/aggregation.h"
#include "libs/aggregation/cell.h"

namespace strata {

// OUT_OF_RANGE when the merged value would leave the 128-bit range (never a
// wrapped total); INVALID_ARGUMENT for a derived KPI, which holds no cells.
absl::StatusOr<RollupCell> MergePartialCells(
    HierarchyAggregation aggregation,
    absl::Span<const RollupCell* const> parts);

}  // namespace strata
