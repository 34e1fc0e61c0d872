#pragma once

// A cell in memory: one KPI, one unit, one period, by the dense indexes
// Definitions gives them rather than by their ids.

#include <cstdint>

#include "libs/period/period.h"

namespace strata {

// Dense, process-local numbering in order of definition.
using UnitIndex = uint32_t;
using KpiIndex = uint32_t;

struct CellId {
  KpiIndex kpi;
  UnitIndex unit;
  Period period;

  friend bool operator==(const CellId& a, const CellId& b) {
    return a.kpi == b.kpi && a.unit == b.unit && a.period == b.period;
  }
  template <typename H>
  friend H AbslHashValue(H h, const CellId& c) {
    return H::combine(std::move(h), c.kpi, c.unit, c.period);
  }
};

}  // namespace strata
