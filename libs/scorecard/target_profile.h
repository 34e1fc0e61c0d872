#pragma once

// How a KPI's target accrues through its period, so that a period still
// open is judged against what is expected by now: a month's sales target is
// a third due on the 10th, not all of it on the 1st.
//
//   TargetProfile profile = TargetProfile::WorkingDays({});
//   double share = profile.ExpectedShare(calendar, period, clock.Now());
//   double expected = target * share;  // 0 at the start, target at the end
//
// Shares are of elapsed time as the organisation's calendar counts it:
// periods start at local midnight, so a day across a clock change is 23 or
// 25 hours long and weighs as such.

#include <array>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "libs/period/calendar.h"
#include "libs/period/period.h"

namespace strata {

class TargetProfile {
 public:
  enum class Kind {
    kWhole,        // The whole target from the start: stocks, rates.
    kLinear,       // In proportion to elapsed time.
    kWorkingDays,  // In proportion to elapsed Monday-to-Friday days.
    kSeasonal,     // By a weight per calendar month, linearly within it.
  };

  // kWhole.
  TargetProfile() = default;
  static TargetProfile Whole() { return TargetProfile(); }
  static TargetProfile Linear();
  // `holidays` (local dates) are not working days.
  static TargetProfile WorkingDays(std::vector<absl::CivilDay> holidays);
  // `month_weights[0]` is January's; every weight positive.
  static TargetProfile Seasonal(const std::array<double, 12>& month_weights);

  Kind kind() const { return kind_; }

  // The share of `period`'s target expected by `now`, in [0, 1]: 0 up to
  // the period's start, 1 from its end on (kWhole: always 1). A period
  // without a working day accrues linearly.
  double ExpectedShare(const Calendar& calendar, const Period& period,
                       absl::Time now) const;

 private:
  double WorkingDayShare(const Calendar& calendar, absl::Time start,
                         absl::Time end, absl::Time now) const;
  double SeasonalShare(const Calendar& calendar, absl::Time start,
                       absl::Time end, absl::Time now) const;
  // Working days in [from, to), local dates.
  int64_t WorkingDaysBetween(absl::CivilDay from, absl::CivilDay to) const;
  bool IsWorkingDay(absl::CivilDay day) const;

  Kind kind_ = Kind::kWhole;
  std::vector<absl::CivilDay> holidays_;  // Sorted, distinct.
  std::array<double, 12> month_weights_{};
};

}  // namespace strata
