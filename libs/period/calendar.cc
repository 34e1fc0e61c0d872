#include "libs/period/calendar.h"

#include <algorithm>
#include <functional>
#include <set>

#include "absl/base/const_init.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/status/quote.h"

namespace strata {
namespace {

constexpr absl::CivilDay kFirstDay(1, 1, 1);
constexpr absl::CivilDay kLastDay(9999, 12, 31);
constexpr absl::CivilMonth kMonthZero(0, 1);  // kMonth index 0

// absl::TimeZone::name() returns a copy; a Calendar keeps a view of the one
// copy here instead, so that copying a Calendar allocates nothing. Zones
// are few and absl never unloads them either.
absl::string_view InternZoneName(const std::string& name) {
  ABSL_CONST_INIT static absl::Mutex mu(absl::kConstInit);
  static auto* names = new std::set<std::string, std::less<>>();
  absl::MutexLock lock(&mu);
  return *names->insert(name).first;
}

// IANA names are ASCII words joined by '/' ("America/Port-au-Prince",
// "Etc/GMT+5"). Anything else absl might read as a file path ("/etc/x",
// "../x") or as the machine's own zone ("localtime").
bool IsIanaName(absl::string_view name) {
  if (name.empty() || name.size() > 128 || name == "localtime") return false;
  if (name.front() == '/' || name.back() == '/') return false;
  char previous = '/';
  for (char c : name) {
    const bool word = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                      c == '+';
    if (!word && c != '/') return false;
    if (c == '/' && previous == '/') return false;
    previous = c;
  }
  return true;
}

// Floor division: -1 / 7 is -1, so a week index never rounds up.
int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0);
}

absl::CivilMonth MonthOfIndex(int64_t month_index) {
  return kMonthZero + month_index;
}

// The first month of the fiscal year that `month` is in.
absl::CivilMonth FiscalYearStart(absl::CivilMonth month, int start_month) {
  const int64_t year = month.year() - (month.month() < start_month ? 1 : 0);
  return absl::CivilMonth(year, start_month);
}

absl::CivilMonth QuarterStart(absl::CivilMonth month) {
  return absl::CivilMonth(month.year(), (month.month() - 1) / 3 * 3 + 1);
}

// The index of the ordinary (not to-date) period of `kind` holding `day`.
int32_t IndexOf(PeriodKind kind, absl::CivilDay day, int fiscal_start) {
  const int64_t year = day.year();
  const int month0 = day.month() - 1;
  switch (kind) {
    case PeriodKind::kDay:
      return static_cast<int32_t>(day - kDayZero);
    case PeriodKind::kIsoWeek:
      return static_cast<int32_t>(FloorDiv(day - kIsoWeekZero, 7));
    case PeriodKind::kMonth:
    case PeriodKind::kYearToDate:
    case PeriodKind::kQuarterToDate:
      return static_cast<int32_t>(year * 12 + month0);
    case PeriodKind::kQuarter:
      return static_cast<int32_t>(year * 4 + month0 / 3);
    case PeriodKind::kFiscalYear:
      // A fiscal year from January is the calendar year; any other ends in
      // the calendar year after the one it starts in.
      return static_cast<int32_t>(
          year + (fiscal_start != 1 && day.month() >= fiscal_start ? 1 : 0));
    case PeriodKind::kYear:
      return static_cast<int32_t>(year);
  }
  return 0;
}

// The first day of the period of `kind` at `index`, ignoring to-date
// kinds' start (the caller handles it). int64_t so that index + 1 is safe.
absl::CivilDay FirstDayOf(PeriodKind kind, int64_t index, int fiscal_start) {
  switch (kind) {
    case PeriodKind::kDay:
      return kDayZero + index;
    case PeriodKind::kIsoWeek:
      return kIsoWeekZero + 7 * index;
    case PeriodKind::kMonth:
    case PeriodKind::kYearToDate:
    case PeriodKind::kQuarterToDate:
      return absl::CivilDay(MonthOfIndex(index));
    case PeriodKind::kQuarter:
      return absl::CivilDay(MonthOfIndex(3 * index));
    case PeriodKind::kFiscalYear:
      return absl::CivilDay(index - (fiscal_start == 1 ? 0 : 1), fiscal_start,
                            1);
    case PeriodKind::kYear:
      return absl::CivilDay(index, 1, 1);
  }
  return kDayZero;
}

}  // namespace

Calendar::Calendar() : Calendar(absl::UTCTimeZone(), "UTC", 1) {}

Calendar::Calendar(absl::TimeZone zone, absl::string_view name,
                   int fiscal_year_start_month)
    : zone_(zone),
      time_zone_name_(name),
      fiscal_year_start_month_(fiscal_year_start_month) {}

absl::StatusOr<Calendar> Calendar::Create(absl::string_view iana_time_zone,
                                          int fiscal_year_start_month) {
  if (iana_time_zone.empty()) {
    return absl::InvalidArgumentError(
        "time zone is empty: name an IANA zone such as 'Europe/London' or "
        "'UTC'");
  }
  if (!IsIanaName(iana_time_zone)) {
    return absl::InvalidArgumentError(
        absl::StrCat("time zone ", Quoted(iana_time_zone),
                     " is not an IANA name such as 'Europe/London' or 'UTC'"));
  }
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(std::string(iana_time_zone), &zone)) {
    return absl::InvalidArgumentError(
        absl::StrCat("time zone ", Quoted(iana_time_zone),
                     " is not in this machine's tzdata (/usr/share/zoneinfo)"));
  }
  if (fiscal_year_start_month < 1 || fiscal_year_start_month > 12) {
    return absl::InvalidArgumentError(
        absl::StrCat("fiscal year start month ", fiscal_year_start_month,
                     " is not from 1 (January) to 12"));
  }
  return Calendar(zone, InternZoneName(zone.name()), fiscal_year_start_month);
}

Period Calendar::Containing(PeriodKind kind, absl::Time t) const {
  const absl::CivilDay day =
      std::clamp(absl::ToCivilDay(t, zone_), kFirstDay, kLastDay);
  return {kind, IndexOf(kind, day, fiscal_year_start_month_)};
}

void Calendar::PeriodsContaining(absl::Time t, PeriodKindSet kinds,
                                 std::vector<Period>& out) const {
  const absl::CivilDay day =
      std::clamp(absl::ToCivilDay(t, zone_), kFirstDay, kLastDay);
  for (PeriodKind kind : kinds) {
    const int32_t index = IndexOf(kind, day, fiscal_year_start_month_);
    // The to-date periods that include this month are the ones ending with
    // it and with each later month of its fiscal year or quarter.
    int count = 1;
    if (kind == PeriodKind::kYearToDate) {
      count = 12 - (day.month() - fiscal_year_start_month_ + 12) % 12;
    } else if (kind == PeriodKind::kQuarterToDate) {
      count = 3 - (day.month() - 1) % 3;
    }
    for (int i = 0; i < count; ++i) out.push_back({kind, index + i});
  }
}

absl::Time Calendar::Start(const Period& period) const {
  absl::CivilDay first =
      FirstDayOf(period.kind, period.index, fiscal_year_start_month_);
  if (period.kind == PeriodKind::kYearToDate) {
    first = absl::CivilDay(
        FiscalYearStart(absl::CivilMonth(first), fiscal_year_start_month_));
  } else if (period.kind == PeriodKind::kQuarterToDate) {
    first = absl::CivilDay(QuarterStart(absl::CivilMonth(first)));
  }
  return absl::FromCivil(first, zone_);
}

absl::Time Calendar::End(const Period& period) const {
  // A to-date period ends with its last month, whose index it has.
  return absl::FromCivil(FirstDayOf(period.kind, int64_t{period.index} + 1,
                                    fiscal_year_start_month_),
                         zone_);
}

}  // namespace strata
