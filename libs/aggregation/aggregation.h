#pragma once

// How a KPI's events combine: first over time within one unit and period
// (its own value), then up the organisation (its subtree value). The values
// match strata.v1.TimeAggregation and strata.v1.HierarchyAggregation.

#include <cstdint>

namespace strata {

enum class TimeAggregation : uint8_t {
  kSum = 1,
  kLast = 2,  // Latest by event time, then by event id.
  kAvg = 3,
  kMin = 4,
  kMax = 5,
};

enum class HierarchyAggregation : uint8_t {
  kSum = 1,
  kAvg = 2,
  kWeightedAvg = 3,
  kMin = 4,
  kMax = 5,
  kRatio = 6,    // A formula over two summed KPIs.
  kDerived = 7,  // A formula over any two KPIs.
};

enum class FormulaOperator : uint8_t {
  kRatio = 1,
  kDifference = 2,
  kPercentage = 3,
};

// True for KPIs computed from others, which hold no cells of their own.
inline bool IsDerived(HierarchyAggregation h) {
  return h == HierarchyAggregation::kRatio || h == HierarchyAggregation::kDerived;
}

// True when a subtree cell follows from each event's value alone, with no
// per-unit state: sums of sums, and the pooled mean of every event.
inline bool FoldsWithoutOwnState(TimeAggregation t, HierarchyAggregation h) {
  return (t == TimeAggregation::kSum && h == HierarchyAggregation::kSum) ||
         (t == TimeAggregation::kAvg && h == HierarchyAggregation::kAvg);
}

}  // namespace strata
