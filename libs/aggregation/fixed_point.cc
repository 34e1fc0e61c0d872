#include "libs/aggregation/fixed_point.h"

#include <sstream>

#include "absl/strings/str_cat.h"

namespace strata {

double FromFixedPoint(absl::int128 value) {
  // Below 2^53 both operands are exact doubles, so the one division rounds
  // once: the nearest double. (Adding the whole and fraction parts rounded
  // twice: 1.8957 came out as 1.8957000000000002.)
  constexpr int64_t kExact = int64_t{1} << 53;
  if (value > -kExact && value < kExact) {
    return static_cast<double>(static_cast<int64_t>(value)) /
           static_cast<double>(kFixedPointScale);
  }
  return static_cast<double>(
      static_cast<long double>(static_cast<__int128>(value)) /
      kFixedPointScale);
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
