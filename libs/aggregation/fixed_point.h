#pragma once

// KPI values are held as integers of 1/10,000 of a unit. Integer sums are
// exact and do not depend on the order events arrive in, so replaying the
// log rebuilds bit-identical rollups however partitions interleave.

#include <cmath>
#include <cstdint>

namespace strata {

inline constexpr int64_t kFixedPointScale = 10'000;
// The largest magnitude one event may carry; leaves headroom for sums of
// billions of such events below 2^63 / 10^4 (about 9.2e14).
inline constexpr double kMaxEventMagnitude = 1e12;

inline int64_t ToFixedPoint(double value) {
  return std::llround(value * static_cast<double>(kFixedPointScale));
}

inline double FromFixedPoint(int64_t value) {
  return static_cast<double>(value) / static_cast<double>(kFixedPointScale);
}

}  // namespace strata
