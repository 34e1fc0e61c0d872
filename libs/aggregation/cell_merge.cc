#include "libs/aggregation/cell_merge.h"

#include "absl/status/status.h"
#include "libs/aggregation/checked_int128.h"

namespace strata {

absl::StatusOr<RollupCell> MergePartialCells(
    HierarchyAggregation aggregation,
    absl::Span<const RollupCell* const> parts) {
  if (aggregation == HierarchyAggregation::kRatio ||
      aggregation == HierarchyAggregation::kDerived) {
    return absl::InvalidArgumentError(
        "a derived KPI has no cells to merge: merge its inputs");
  }
  RollupCell merged;
  for (const RollupCell* part : parts) {
    if (part->version == 0) continue;  // Nothing ever reached it.
    if (merged.version == 0 || merged.last_event_time < part->last_event_time) {
      merged.last_event_time = part->last_event_time;
    }
    merged.version += part->version;
    merged.event_count += part->event_count;
    if (aggregation == HierarchyAggregation::kMin ||
        aggregation == HierarchyAggregation::kMax) {
      continue;  // Below, over all parts at once.
    }
    merged.contributors += part->contributors;
    if (!CheckedAdd(merged.value, part->value, &merged.value) ||
        !CheckedAdd(merged.weight, part->weight, &merged.weight)) {
      return absl::OutOfRangeError(
          "merging partial cells: the total leaves the 128-bit range");
    }
  }
  if (aggregation == HierarchyAggregation::kMin ||
      aggregation == HierarchyAggregation::kMax) {
    // The parts are like children of the cell, with no value of its own.
    RecomputeExtreme(aggregation, Contribution{}, parts, merged);
  }
  return merged;
}

}  // namespace strata
