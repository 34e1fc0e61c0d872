#include "libs/scorecard/projection.h"

namespace strata {
namespace {

bool Accrues(const JudgingRule& rule) {
  return rule.profile.kind() != TargetProfile::Kind::kWhole;
}

}  // namespace

void PaceWindow::Observe(const JudgingRule& rule, absl::Duration window,
                         const PaceSample& sample) {
  if (from.time == absl::InfinitePast()) {
    from = Accrues(rule) ? PaceSample{rule.calendar.Start(rule.period), 0}
                         : sample;
    next = from;
  }
  if (sample.time - next.time >= window) {
    from = next;
    next = sample;
  }
}

std::optional<double> PaceWindow::ProjectedEnd(const JudgingRule& rule,
                                               absl::Duration window,
                                               const PaceSample& now) const {
  if (from.time == absl::InfinitePast() || now.time - from.time < window) {
    return std::nullopt;
  }
  const absl::Time end = rule.calendar.End(rule.period);
  if (now.time >= end) return std::nullopt;
  const double made = now.actual - from.actual;
  if (Accrues(rule)) {
    const double share_from =
        rule.profile.ExpectedShare(rule.calendar, rule.period, from.time);
    const double share_now =
        rule.profile.ExpectedShare(rule.calendar, rule.period, now.time);
    if (!(share_now > share_from)) return std::nullopt;
    return now.actual + made * (1 - share_now) / (share_now - share_from);
  }
  return now.actual + made * absl::FDivDuration(end - now.time,
                                                now.time - from.time);
}

}  // namespace strata
