#pragma once

// Red/amber/green status of an actual against its target.
//
//   KpiStatus s = EvaluateStatus(Polarity::kHigherIsBetter, {100, 90},
//                                /*actual=*/95, /*target=*/100);  // kAmber

#include <cstdint>

namespace strata {

// Values match strata.v1.KpiStatus.
enum class KpiStatus : uint8_t {
  kUnknown = 0,
  kGreen = 1,
  kAmber = 2,
  kRed = 3,
  kNoData = 4,
};
// Values match strata.v1.Polarity.
enum class Polarity : uint8_t {
  kHigherIsBetter = 1,
  kLowerIsBetter = 2,
  kWithinBand = 3,
};

// Bands in percent of target. Higher-is-better: green at actual >=
// target*green_pct/100, amber at >= target*amber_pct/100 (amber_pct <=
// green_pct). Lower-is-better mirrors: green at actual <= target*green_pct/100,
// amber at <= target*amber_pct/100 (amber_pct >= green_pct). Within a band:
// green at |actual - target| <= |target|*green_pct/100, amber at <=
// |target|*amber_pct/100 (amber_pct >= green_pct).
struct ThresholdBands {
  double green_pct = 100;
  double amber_pct = 90;
};

KpiStatus EvaluateStatus(Polarity polarity, const ThresholdBands& bands,
                         double actual, double target);

// True when the bands are ordered for the polarity and positive.
bool BandsAreValid(Polarity polarity, const ThresholdBands& bands);

// The 0-10 score of `actual` against `target`: 10/3 on the red line, 20/3
// on the goal, linear between and beyond, clamped (see strata.v1.Thresholds).
// Where goal and red line coincide (a target of 0), 20/3 on it, 10 past
// it, 0 short of it.
double Score(Polarity polarity, const ThresholdBands& bands, double actual,
             double target);

}  // namespace strata
