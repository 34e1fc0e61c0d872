#pragma once

// Where an open period is heading: the actual it ends with if it keeps the
// pace of a recent window (PROJECTED_MISS).
//
//   PaceWindow pace;
//   pace.Observe(rule, window, {judged_at, actual});  // each new figure
//   std::optional<double> end = pace.ProjectedEnd(rule, window, {now, actual});
//
// A flow (a profile that accrues) is measured against its plan: the actual
// made over the window per share of target expected over it, applied to
// the share still to come, so that a working-day or seasonal profile
// projects its quiet days as quiet. Over a window that starts with the
// period this is the run rate since the start, which the status already
// judges; later windows show a pace that changed. A stock (the whole target
// from the start) is extrapolated in time: its change over the window per
// elapsed time, to the period's end.

#include <optional>

#include "absl/time/time.h"
#include "libs/scorecard/judgement.h"

namespace strata {

struct PaceSample {
  absl::Time time = absl::InfinitePast();
  double actual = 0;
};

// Two samples that keep a trailing window at least `window` long: the pace
// is measured since `from`; `next` takes its place once it is `window`
// behind the latest sample, so the window spans one to two `window`s.
struct PaceWindow {
  PaceSample from;
  PaceSample next;

  // Records the actual as of `sample.time`. A flow's window starts at the
  // period's start with nothing made; a stock's with its first sample.
  void Observe(const JudgingRule& rule, absl::Duration window,
               const PaceSample& sample);

  // The actual at the end of rule.period, the pace since `from` holding to
  // `now` and on; nullopt until the window spans `window`, once the period
  // ended, or where the pace says nothing (no share expected over it).
  std::optional<double> ProjectedEnd(const JudgingRule& rule,
                                     absl::Duration window,
                                     const PaceSample& now) const;
};

}  // namespace strata
