#pragma once

// The figure a rollup cell shows: its value, exact where it can be, and why
// there is none when there is none.
//
//   Figure f = CellFigure(TimeAggregation::kAvg, HierarchyAggregation::kAvg,
//                         cell);
//   f.value;        // 2.3333333333333335
//   f.numerator;    // "7" (the exact sum), f.denominator: "3" (the count)
//
//   Figure margin = FormulaFigure(FormulaOperator::kRatio, 1, profit, revenue);

#include <optional>
#include <string>

#include "libs/aggregation/aggregation.h"
#include "libs/aggregation/cell.h"

namespace strata {

struct Figure {
  std::optional<double> value;  // None: see no_value_reason.
  // The exact decimal, when the value is a whole number of 0.0001s.
  std::string exact;
  // value = numerator / denominator (x a formula's scale), exactly.
  std::string numerator;
  std::string denominator;
  std::string no_value_reason;

  // The exact fixed-point value behind `exact`, for formulas.
  std::optional<absl::int128> fixed_point;
};

Figure CellFigure(TimeAggregation time, HierarchyAggregation hierarchy,
                  const RollupCell& cell);

// `scale` multiplies kRatio (0 means 1); kPercentage is 100 x left / right.
Figure FormulaFigure(FormulaOperator op, double scale, const Figure& left,
                     const Figure& right);

// "-12.5" from 125 with 1 decimal; no trailing zeros.
std::string DecimalString(absl::int128 value, int decimals);

}  // namespace strata
