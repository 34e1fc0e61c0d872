#pragma once

// An actual judged against the part of its target expected by some time
// (see target_profile.h): what a record, a scorecard and an alert say.
//
//   const double share = kpi.target_profile.ExpectedShare(calendar, period, now);
//   Judgement j = Judge(kpi.polarity, kpi.bands, actual, target, share);
//   j.status;  // red/amber/green against j.expected

#include <optional>

#include "libs/scorecard/status.h"

namespace strata {

struct Judgement {
  double expected = 0;  // target x share
  double variance = 0;  // actual - expected
  // 100 x variance / |expected|; none where nothing is expected yet.
  std::optional<double> variance_pct;
  KpiStatus status = KpiStatus::kUnknown;
};

// `share` in [0, 1].
Judgement Judge(Polarity polarity, const ThresholdBands& bands, double actual,
                double target, double share);

}  // namespace strata
