#include "libs/aggregation/cell.h"

#include "libs/aggregation/checked_int128.h"

namespace strata {
namespace {

// a is strictly better than b for the extreme kept.
bool Better(HierarchyAggregation aggregation, absl::int128 a, absl::int128 b) {
  return aggregation == HierarchyAggregation::kMin ? a < b : a > b;
}

CellUpdate ApplyExtreme(HierarchyAggregation aggregation,
                        const Contribution& before, const Contribution& after,
                        RollupCell& cell) {
  const int64_t had = cell.contributors;
  const int64_t has = had - before.present + after.present;
  // The unit may hold the extreme (another unit may tie with it).
  const bool held = before.present && before.value == cell.value;
  const bool at_least_as_good =
      after.present && !Better(aggregation, cell.value, after.value);
  if (has == 0) {
    cell.value = 0;
  } else if (held && !at_least_as_good) {
    return CellUpdate::kRecompute;  // The holder got worse or left.
  } else if (had == 0 || at_least_as_good) {
    cell.value = after.value;
  }
  cell.contributors = has;
  return CellUpdate::kApplied;
}

bool AddDifference(absl::int128 after, absl::int128 before,
                   absl::int128* total) {
  absl::int128 delta;
  return CheckedSub(after, before, &delta) && CheckedAdd(*total, delta, total);
}

// value x weight of a contribution that has both, else 0.
bool Product(const Contribution& c, absl::int128* out) {
  *out = 0;
  return !c.present || CheckedMul(c.value, c.weight, out);
}

}  // namespace

CellUpdate ApplyContribution(HierarchyAggregation aggregation,
                             const Contribution& before,
                             const Contribution& after, RollupCell& cell) {
  if (aggregation == HierarchyAggregation::kMin ||
      aggregation == HierarchyAggregation::kMax) {
    // Recompute leaves the cell to RecomputeExtreme, which sets it whole.
    return ApplyExtreme(aggregation, before, after, cell);
  }
  RollupCell next = cell;
  next.contributors += after.present - before.present;
  bool fits = true;
  switch (aggregation) {
    case HierarchyAggregation::kSum:
      fits = AddDifference(after.value, before.value, &next.value);
      break;
    case HierarchyAggregation::kAvg:
      fits = AddDifference(after.value, before.value, &next.value) &&
             AddDifference(after.count, before.count, &next.weight);
      break;
    case HierarchyAggregation::kWeightedAvg: {
      absl::int128 product_before, product_after;
      fits = Product(before, &product_before) &&
             Product(after, &product_after) &&
             AddDifference(product_after, product_before, &next.value) &&
             AddDifference(after.present ? after.weight : 0,
                           before.present ? before.weight : 0, &next.weight);
      break;
    }
    default:
      break;  // Derived KPIs hold no cells.
  }
  if (!fits) return CellUpdate::kOverflow;
  cell = next;
  return CellUpdate::kApplied;
}

void RecomputeExtreme(HierarchyAggregation aggregation, const Contribution& own,
                      absl::Span<const RollupCell* const> children,
                      RollupCell& cell) {
  int64_t contributors = 0;
  absl::int128 extreme = 0;
  auto consider = [&](absl::int128 value, int64_t count) {
    if (count == 0) return;
    if (contributors == 0 || Better(aggregation, value, extreme)) {
      extreme = value;
    }
    contributors += count;
  };
  if (own.present) consider(own.value, 1);
  for (const RollupCell* child : children) {
    consider(child->value, child->contributors);
  }
  cell.value = extreme;
  cell.contributors = contributors;
}

void NoteEvent(int64_t standing_delta, const EventTime& event_time,
               RollupCell& cell) {
  cell.event_count += standing_delta;
  if (cell.version == 0 || cell.last_event_time < event_time) {
    cell.last_event_time = event_time;
  }
  ++cell.version;
}

}  // namespace strata
