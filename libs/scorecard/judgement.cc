#include "libs/scorecard/judgement.h"

#include <cmath>

namespace strata {

Judgement Judge(Polarity polarity, const ThresholdBands& bands, double actual,
                double target, double share) {
  Judgement j;
  // The whole target exactly once the period is over.
  j.expected = share >= 1 ? target : target * share;
  j.variance = actual - j.expected;
  if (j.expected != 0) j.variance_pct = 100 * j.variance / std::fabs(j.expected);
  j.status = EvaluateStatus(polarity, bands, actual, j.expected);
  return j;
}

}  // namespace strata
