#pragma once

// A rollup cell in memory: dense indexes instead of the ids of its key.

#include "libs/definitions/definitions.h"
#include "libs/period/period.h"

namespace strata::rollup {

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

}  // namespace strata::rollup
