#pragma once

// KPI values are held as integers of 1/10,000 of a unit. Integer sums are
// exact and do not depend on the order events arrive in, so replaying the
// log rebuilds bit-identical rollups however partitions interleave.
//
// The range and precision, as the README states them:
// - one event's value: finite, |v| <= 1e12, rounded to the nearest 0.0001
//   (half away from zero); a non-zero value that would round to 0 is
//   refused (ValidateEventValue), never stored as 0;
// - a rolled-up sum: a 128-bit integer of 0.0001s, exact up to about
//   1.7e34, i.e. more than 1e22 events of the largest value (overflow is
//   checked all the same, and refused loudly);
// - below 2^53 / 10^4 (about 9e11) the double an event arrives as holds
//   every 0.0001 exactly; above it the double itself is coarser.

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"

namespace strata {

inline constexpr int64_t kFixedPointScale = 10'000;
inline constexpr int kFixedPointDecimals = 4;
// The largest magnitude one event may carry.
inline constexpr double kMaxEventMagnitude = 1e12;

// Rounds half away from zero. Only for values ValidateEventValue accepts.
inline int64_t ToFixedPoint(double value) {
  return std::llround(value * static_cast<double>(kFixedPointScale));
}

inline double FromFixedPoint(int64_t value) {
  return static_cast<double>(value) / static_cast<double>(kFixedPointScale);
}

// The nearest double to a 128-bit fixed-point sum.
double FromFixedPoint(absl::int128 value);

// The exact decimal form: "-1234.5", "0.0001", "12"; no trailing zeros.
std::string FixedPointDecimal(absl::int128 value);

// OK when `value` is finite, within kMaxEventMagnitude and either zero or
// large enough not to round to zero; otherwise INVALID_ARGUMENT whose
// message is the reason (the caller prefixes the field).
absl::Status ValidateEventValue(double value);

}  // namespace strata
