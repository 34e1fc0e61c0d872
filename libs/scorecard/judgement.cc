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

// The first millisecond in (from, to] at which `holds` turns true, given that
// it never turns back over that span; nullopt when it is still false at `to`.
// A grid point, so that the instant does not depend on the search.
template <typename Predicate>
std::optional<absl::Time> FirstMillisecond(absl::Time from, absl::Time to,
                                           Predicate holds) {
  int64_t lo = absl::ToUnixMillis(from) + 1;  // ToUnixMillis rounds down.
  int64_t hi = absl::ToUnixMillis(to - absl::Nanoseconds(1)) + 1;  // >= to
  if (lo > hi || !holds(absl::FromUnixMillis(hi))) return std::nullopt;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (holds(absl::FromUnixMillis(mid))) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return absl::FromUnixMillis(lo);
}

// The first millisecond in (from, to] judged otherwise than `from`, given
// that the status only moves one way over that span.
std::optional<absl::Time> FirstChange(const JudgingRule& rule, double actual,
                                      double target, absl::Time from,
                                      absl::Time to) {
  const KpiStatus at_from = rule.At(actual, target, from).status;
  return FirstMillisecond(from, to, [&](absl::Time t) {
    return rule.At(actual, target, t).status != at_from;
  });
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
    const std::optional<absl::Time> turn =
        FirstMillisecond(from, end, [&](absl::Time t) {
          return rule.profile.ExpectedShare(rule.calendar, rule.period, t) >=
                 centre;
        });
    if (centre < 1 && turn) {
      if (auto change = FirstChange(rule, actual, target, from, *turn)) {
        return change;
      }
      // Unchanged up to the turn: the rest of the way starts from there.
      return FirstChange(rule, actual, target, *turn, end);
    }
  }
  return FirstChange(rule, actual, target, from, end);
}

}  // namespace strata
