#pragma once

// An actual judged against the part of its target expected by some time
// (see target_profile.h): what a record, a scorecard and an alert say.
//
//   const double share = kpi.target_profile.ExpectedShare(calendar, period, now);
//   Judgement j = Judge(kpi.polarity, kpi.bands, actual, target, share);
//   j.status;  // red/amber/green against j.expected

#include <optional>

#include "absl/time/time.h"
#include "libs/period/calendar.h"
#include "libs/period/period.h"
#include "libs/scorecard/status.h"
#include "libs/scorecard/target_profile.h"

namespace strata {

struct Judgement {
  double expected = 0;  // target x share
  double variance = 0;  // actual - expected
  // 100 x variance / |expected|; none where nothing is expected yet.
  std::optional<double> variance_pct;
  KpiStatus status = KpiStatus::kUnknown;
  double score = 0;  // 0-10 against expected.
};

// `share` in [0, 1].
Judgement Judge(Polarity polarity, const ThresholdBands& bands, double actual,
                double target, double share);

// What judging an actual against a target of one KPI and period takes. It
// refers to the calendar and profile: they must outlive it.
struct JudgingRule {
  const Calendar& calendar;
  Period period;
  const TargetProfile& profile;
  Polarity polarity;
  ThresholdBands bands;

  Judgement At(double actual, double target, absl::Time t) const {
    return Judge(polarity, bands, actual, target,
                 profile.ExpectedShare(calendar, period, t));
  }
};

// The first instant after `from`, up to the period's end, at which the
// same actual and target are judged another status than at `from`, to the
// millisecond; nullopt when the status holds to the end. As the expected
// part only grows, the status only moves one way: it changes at most twice.
std::optional<absl::Time> NextStatusChange(const JudgingRule& rule,
                                           double actual, double target,
                                           absl::Time from);

}  // namespace strata
