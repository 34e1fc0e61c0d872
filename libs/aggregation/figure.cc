#include "libs/aggregation/figure.h"

#include <sstream>

#include "absl/strings/str_cat.h"
#include "libs/aggregation/checked_int128.h"
#include "libs/aggregation/fixed_point.h"

namespace strata {
namespace {

long double Scaled(absl::int128 value, int decimals) {
  long double out = static_cast<long double>(static_cast<__int128>(value));
  for (int i = 0; i < decimals; ++i) out /= 10;
  return out;
}

Figure Exact(absl::int128 fixed_point) {
  Figure f;
  f.value = FromFixedPoint(fixed_point);
  f.exact = FixedPointDecimal(fixed_point);
  f.fixed_point = fixed_point;
  return f;
}

// numerator / denominator, each with its own count of decimals.
Figure Fraction(absl::int128 numerator, int numerator_decimals,
                absl::int128 denominator, int denominator_decimals) {
  Figure f;
  f.numerator = DecimalString(numerator, numerator_decimals);
  f.denominator = DecimalString(denominator, denominator_decimals);
  if (denominator == 0) {
    f.no_value_reason = "the denominator is 0";
    return f;
  }
  f.value = static_cast<double>(Scaled(numerator, numerator_decimals) /
                                Scaled(denominator, denominator_decimals));
  return f;
}

Figure NoValue(std::string reason) {
  Figure f;
  f.no_value_reason = std::move(reason);
  return f;
}

}  // namespace

std::string DecimalString(absl::int128 value, int decimals) {
  const bool negative = value < 0;
  // Through uint128 so that the most negative value has a magnitude too.
  absl::uint128 magnitude =
      negative ? absl::uint128(0) - absl::uint128(value) : absl::uint128(value);
  absl::uint128 unit = 1;
  for (int i = 0; i < decimals; ++i) unit *= 10;
  std::ostringstream whole;
  whole << magnitude / unit;
  std::string out = absl::StrCat(negative ? "-" : "", whole.str());
  absl::uint128 fraction = magnitude % unit;
  if (fraction == 0) return out;
  std::ostringstream digits_stream;
  digits_stream << fraction;
  std::string digits = digits_stream.str();
  digits.insert(0, decimals - digits.size(), '0');
  digits.erase(digits.find_last_not_of('0') + 1);
  absl::StrAppend(&out, ".", digits);
  return out;
}

Figure CellFigure(TimeAggregation time, HierarchyAggregation hierarchy,
                  const RollupCell& cell) {
  switch (hierarchy) {
    case HierarchyAggregation::kSum:
      return Exact(cell.value);
    case HierarchyAggregation::kMin:
    case HierarchyAggregation::kMax:
      if (cell.contributors == 0) return NoValue("no unit has a value");
      return Exact(cell.value);
    case HierarchyAggregation::kAvg: {
      if (cell.weight == 0) return NoValue("no value to average");
      Figure f = Fraction(cell.value, kFixedPointDecimals, cell.weight, 0);
      // A mean that is a whole number of 0.0001s is exact too.
      if (cell.value % cell.weight == 0) {
        f.fixed_point = cell.value / cell.weight;
        f.exact = FixedPointDecimal(*f.fixed_point);
      }
      return f;
    }
    case HierarchyAggregation::kWeightedAvg:
      if (cell.weight == 0) return NoValue("no unit has a value and a weight");
      return Fraction(cell.value, 2 * kFixedPointDecimals, cell.weight,
                      kFixedPointDecimals);
    case HierarchyAggregation::kRatio:
    case HierarchyAggregation::kDerived:
      break;
  }
  return NoValue("a derived KPI holds no cells");
}

Figure FormulaFigure(FormulaOperator op, double scale, const Figure& left,
                     const Figure& right) {
  if (!left.value || !right.value) {
    return NoValue(absl::StrCat(
        !left.value ? "the left input has no value: " : "the right input has no value: ",
        !left.value ? left.no_value_reason : right.no_value_reason));
  }
  switch (op) {
    case FormulaOperator::kDifference: {
      absl::int128 difference;
      if (left.fixed_point && right.fixed_point &&
          CheckedSub(*left.fixed_point, *right.fixed_point, &difference)) {
        return Exact(difference);
      }
      Figure f;
      f.value = *left.value - *right.value;
      return f;
    }
    case FormulaOperator::kRatio:
    case FormulaOperator::kPercentage: {
      const long double factor =
          op == FormulaOperator::kPercentage ? 100 : (scale == 0 ? 1 : scale);
      if (*right.value == 0) return NoValue("the denominator is 0");
      Figure f;
      if (left.fixed_point && right.fixed_point) {
        f = Fraction(*left.fixed_point, kFixedPointDecimals,
                     *right.fixed_point, kFixedPointDecimals);
        f.value = static_cast<double>(
            factor * Scaled(*left.fixed_point, kFixedPointDecimals) /
            Scaled(*right.fixed_point, kFixedPointDecimals));
      } else {
        f.value = static_cast<double>(factor * *left.value / *right.value);
      }
      return f;
    }
  }
  return NoValue("unknown formula");
}

}  // namespace strata
