#pragma once

// The rolled-up state of one KPI for one unit's whole subtree in one
// period, and how a unit's changing contribution updates it.
//
// A change of one unit's contribution (OwnContribution before and after an
// event) applies to the cell of the unit and of every ancestor:
//
//   switch (ApplyContribution(HierarchyAggregation::kMin, before, after, cell)) {
//     case CellUpdate::kApplied: break;
//     case CellUpdate::kRecompute:  // the unit held the minimum, and lost it
//       RecomputeExtreme(kMin, own_of_ancestor, children_cells, cell); break;
//     case CellUpdate::kOverflow: ...  // refused, cell unchanged
//   }
//   NoteEvent(/*standing_delta=*/1, event_time, cell);

#include <cstdint>

#include "absl/numeric/int128.h"
#include "absl/types/span.h"
#include "libs/aggregation/aggregation.h"
#include "libs/aggregation/own_state.h"

namespace strata {

struct RollupCell {
  // kSum: the sum. kAvg: the sum of the values averaged. kWeightedAvg: the
  // sum of value x weight (in 0.0001^2). kMin, kMax: the extreme.
  absl::int128 value = 0;
  // kAvg: how many values are averaged. kWeightedAvg: the sum of weights.
  absl::int128 weight = 0;
  // Units in the subtree that have a value (where own state is kept).
  int64_t contributors = 0;
  int64_t event_count = 0;  // Events standing, subtree-wide.
  EventTime last_event_time;
  int64_t version = 0;  // Grows by one with every change folded in.
};

enum class CellUpdate {
  kApplied,
  kRecompute,  // A min/max lost its holder: RecomputeExtreme.
  kOverflow,   // The cell would leave the 128-bit range; left unchanged.
};

// Replaces one unit's contribution `before` by `after` in an ancestor's (or
// its own) cell. Does not count the event (NoteEvent does).
[[nodiscard]] CellUpdate ApplyContribution(HierarchyAggregation aggregation,
                                           const Contribution& before,
                                           const Contribution& after,
                                           RollupCell& cell);

// Sets a kMin/kMax cell's extreme and contributors from the unit's own
// contribution and its children's cells.
void RecomputeExtreme(HierarchyAggregation aggregation, const Contribution& own,
                      absl::Span<const RollupCell* const> children,
                      RollupCell& cell);

// Counts a change folded into `cell`: `standing_delta` is +1 for a new
// event, -1 for a voided one, 0 for a corrected one or a changed weight.
void NoteEvent(int64_t standing_delta, const EventTime& event_time,
               RollupCell& cell);

}  // namespace strata
