#include "libs/aggregation/fixed_point.h"

#include <sstream>

#include "absl/strings/str_cat.h"

namespace strata {

double FromFixedPoint(absl::int128 value) {
  // Split so that the integer part converts once, with one rounding.
  const absl::int128 whole = value / kFixedPointScale;
  const int64_t fraction = static_cast<int64_t>(value % kFixedPointScale);
  return static_cast<double>(whole) +
         static_cast<double>(fraction) / static_cast<double>(kFixedPointScale);
}

std::string FixedPointDecimal(absl::int128 value) {
  const bool negative = value < 0;
  // Through uint128 so that the most negative value has a magnitude too.
  const absl::uint128 magnitude =
      negative ? absl::uint128(0) - absl::uint128(value) : absl::uint128(value);
  const absl::uint128 whole = magnitude / kFixedPointScale;
  uint64_t fraction = absl::Uint128Low64(magnitude % kFixedPointScale);
  std::ostringstream whole_digits;
  whole_digits << whole;
  std::string out = negative ? "-" : "";
  absl::StrAppend(&out, whole_digits.str());
  if (fraction == 0) return out;
  std::string digits = absl::StrCat(fraction);
  digits.insert(0, kFixedPointDecimals - digits.size(), '0');
  digits.erase(digits.find_last_not_of('0') + 1);
  absl::StrAppend(&out, ".", digits);
  return out;
}

absl::Status ValidateEventValue(double value) {
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError("must be finite");
  }
  if (std::fabs(value) > kMaxEventMagnitude) {
    return absl::InvalidArgumentError("magnitude above 1e12");
  }
  if (value != 0 && ToFixedPoint(value) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        value, " is below the resolution of 0.0001 and would count as 0"));
  }
  return absl::OkStatus();
}

}  // namespace strata
