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

namespace {

int64_t CeilMillis(absl::Time t) {
  return absl::ToUnixMillis(t - absl::Nanoseconds(1)) + 1;  // Rounds down.
}

// The first millisecond in (from, to] judged otherwise than `from`, given
// that the status only moves one way over that span; nullopt when it holds.
// A grid point, so that the instant does not depend on the search.
std::optional<absl::Time> FirstChange(const JudgingRule& rule, double actual,
                                      double target, absl::Time from,
                                      absl::Time to) {
  const KpiStatus at_from = rule.At(actual, target, from).status;
  auto differs = [&](int64_t ms) {
    return rule.At(actual, target, absl::FromUnixMillis(ms)).status != at_from;
  };
  int64_t lo = absl::ToUnixMillis(from) + 1;  // ToUnixMillis rounds down.
  int64_t hi = CeilMillis(to);
  if (lo > hi || !differs(hi)) return std::nullopt;
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

}  // namespace

std::optional<absl::Time> NextStatusChange(const JudgingRule& rule,
                                           double actual, double target,
                                           absl::Time from) {
  if (rule.profile.kind() == TargetProfile::Kind::kWhole) return std::nullopt;
  const absl::Time end = rule.calendar.End(rule.period);
  if (from >= end) return std::nullopt;
  // Higher or lower is better: the status moves one way as the expected
  // part grows. Within a band it improves until the expected part reaches
  // the actual, then worsens: two spans, each one way.
  if (rule.polarity == Polarity::kWithinBand && target != 0) {
    const double centre = actual / target;  // The share expecting `actual`.
    const double share = rule.profile.ExpectedShare(rule.calendar, rule.period, from);
    if (centre > share && centre < 1) {
      // The first millisecond expecting at least `actual`.
      int64_t lo = absl::ToUnixMillis(from) + 1;
      int64_t hi = CeilMillis(end);
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (rule.profile.ExpectedShare(rule.calendar, rule.period,
                                       absl::FromUnixMillis(mid)) >= centre) {
          hi = mid;
        } else {
          lo = mid + 1;
        }
      }
      const absl::Time turn = absl::FromUnixMillis(lo);
      if (auto change = FirstChange(rule, actual, target, from, turn)) {
        return change;
      }
      // Unchanged up to the turn: the rest of the way starts from there.
      return FirstChange(rule, actual, target, turn, end);
    }
  }
  return FirstChange(rule, actual, target, from, end);
}

}  // namespace strata
