#include "libs/scorecard/status.h"

#include <cmath>

namespace strata {

KpiStatus EvaluateStatus(Polarity polarity, const ThresholdBands& bands,
                         double actual, double target) {
  const double green = target * bands.green_pct / 100.0;
  const double amber = target * bands.amber_pct / 100.0;
  if (polarity == Polarity::kHigherIsBetter) {
    if (actual >= green) return KpiStatus::kGreen;
    if (actual >= amber) return KpiStatus::kAmber;
    return KpiStatus::kRed;
  }
  if (actual <= green) return KpiStatus::kGreen;
  if (actual <= amber) return KpiStatus::kAmber;
  return KpiStatus::kRed;
}

bool BandsAreValid(Polarity polarity, const ThresholdBands& bands) {
  if (!std::isfinite(bands.green_pct) || !std::isfinite(bands.amber_pct) ||
      bands.green_pct <= 0 || bands.amber_pct <= 0) {
    return false;
  }
  return polarity == Polarity::kHigherIsBetter
             ? bands.amber_pct <= bands.green_pct
             : bands.amber_pct >= bands.green_pct;
}

}  // namespace strata
