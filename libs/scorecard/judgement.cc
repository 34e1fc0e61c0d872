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
  j.score = Score(polarity, bands, actual, j.expected);
  return j;
}

std::optional<absl::Time> NextStatusChange(const JudgingRule& rule,
                                           double actual, double target,
                                           absl::Time from) {
  if (rule.profile.kind() == TargetProfile::Kind::kWhole) return std::nullopt;
  const absl::Time end = rule.calendar.End(rule.period);
  if (from >= end) return std::nullopt;
  const KpiStatus now = rule.At(actual, target, from).status;
  if (rule.At(actual, target, end).status == now) return std::nullopt;
  // The first millisecond after `from` judged otherwise: a grid point, so
  // that the instant does not depend on the search.
  auto differs = [&](int64_t ms) {
    return rule.At(actual, target, absl::FromUnixMillis(ms)).status != now;
  };
  int64_t lo = absl::ToUnixMillis(from) + 1;  // ToUnixMillis rounds down.
  int64_t hi = absl::ToUnixMillis(end - absl::Nanoseconds(1)) + 1;  // >= end
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (differs(mid)) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return absl::FromUnixMillis(lo);
}

}  // namespace strata
