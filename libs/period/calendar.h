#pragma once

// An organisation's calendar: which periods an instant falls in, and which
// instants a period spans. Periods turn over at local midnight in the
// organisation's IANA time zone; fiscal years start on the first of a chosen
// month.
//
//   ASSIGN_OR_RETURN(Calendar calendar,
//                    Calendar::Create("America/New_York",
//                                     /*fiscal_year_start_month=*/10));
//   std::vector<Period> periods;
//   calendar.PeriodsContaining(event_time, PeriodKindSet::All(), periods);
//   absl::Time start = calendar.Start(periods[0]);  // local midnight
//
// Daylight saving: a day is as long as the clocks make it (23 or 25 hours
// at a change). A day that starts inside a gap (clocks jump over midnight)
// starts at the first instant after the jump: absl::FromCivil's rule, which
// keeps Start and End in order. A day that is skipped altogether (Samoa's
// 2011-12-30) spans nothing: Start == End, and no instant is in it. Where
// clocks go back across midnight, the repeated local hour belongs to the day
// its civil date names, so that day's span and the next one's overlap.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/period/period.h"

namespace strata {

class Calendar {
 public:
  // UTC, fiscal year from January.
  Calendar();

  // The calendar of IANA zone `iana_time_zone` ("Europe/London", "UTC")
  // with fiscal years starting on the first of `fiscal_year_start_month`
  // (1 = January). INVALID_ARGUMENT naming the zone when it is empty, not
  // an IANA name, or not in the machine's tzdata (/usr/share/zoneinfo), or
  // when the month is outside 1..12.
  static absl::StatusOr<Calendar> Create(absl::string_view iana_time_zone,
                                         int fiscal_year_start_month);

  // The period of `kind` whose span contains `t`, by the local civil time
  // of `t`. For kYearToDate and kQuarterToDate: the to-date period ending
  // with the month of `t`. Instants before 0001-01-01 or after 9999-12-31
  // local count as those days, so that indexes cannot overflow.
  Period Containing(PeriodKind kind, absl::Time t) const;

  // Appends to `out`, in kind order, every period of `kinds` whose span
  // contains `t`: one of each ordinary kind; for kYearToDate each to-date
  // period from the month of `t` through the last month of its fiscal year
  // (up to 12); for kQuarterToDate each one through the last month of the
  // calendar quarter (up to 3). One civil conversion, no allocation beyond
  // `out`'s: this runs for every event.
  void PeriodsContaining(absl::Time t, PeriodKindSet kinds,
                         std::vector<Period>& out) const;

  // The first instant of `period`: local midnight of its first day. A
  // to-date period starts with its fiscal year or quarter.
  absl::Time Start(const Period& period) const;
  // The first instant after `period`: local midnight after its last day.
  absl::Time End(const Period& period) const;

  const absl::TimeZone& zone() const { return zone_; }
  // The zone's IANA name; valid for the life of the process.
  absl::string_view time_zone_name() const { return time_zone_name_; }
  int fiscal_year_start_month() const { return fiscal_year_start_month_; }

 private:
  Calendar(absl::TimeZone zone, absl::string_view name,
           int fiscal_year_start_month);

  absl::TimeZone zone_;
  absl::string_view time_zone_name_;  // interned, never freed
  int fiscal_year_start_month_;       // 1..12
};

}  // namespace strata
