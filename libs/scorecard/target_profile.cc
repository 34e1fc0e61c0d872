#include "libs/scorecard/target_profile.h"

#include <algorithm>

namespace strata {
namespace {

double Ratio(absl::Duration part, absl::Duration whole) {
  if (whole <= absl::ZeroDuration()) return 1;
  return std::clamp(absl::FDivDuration(part, whole), 0.0, 1.0);
}

bool IsWeekday(absl::CivilDay day) {
  const absl::Weekday w = absl::GetWeekday(day);
  return w != absl::Weekday::saturday && w != absl::Weekday::sunday;
}

}  // namespace

TargetProfile TargetProfile::Linear() {
  TargetProfile profile;
  profile.kind_ = Kind::kLinear;
  return profile;
}

TargetProfile TargetProfile::WorkingDays(std::vector<absl::CivilDay> holidays) {
  TargetProfile profile;
  profile.kind_ = Kind::kWorkingDays;
  std::sort(holidays.begin(), holidays.end());
  holidays.erase(std::unique(holidays.begin(), holidays.end()), holidays.end());
  profile.holidays_ = std::move(holidays);
  return profile;
}

TargetProfile TargetProfile::Seasonal(
    const std::array<double, 12>& month_weights) {
  TargetProfile profile;
  profile.kind_ = Kind::kSeasonal;
  profile.month_weights_ = month_weights;
  return profile;
}

double TargetProfile::ExpectedShare(const Calendar& calendar,
                                    const Period& period,
                                    absl::Time now) const {
  if (kind_ == Kind::kWhole) return 1;
  const absl::Time start = calendar.Start(period);
  const absl::Time end = calendar.End(period);
  if (now <= start) return 0;
  if (now >= end) return 1;
  switch (kind_) {
    case Kind::kWorkingDays:
      return WorkingDayShare(calendar, start, end, now);
    case Kind::kSeasonal:
      return SeasonalShare(calendar, start, end, now);
    case Kind::kWhole:
    case Kind::kLinear:
      break;
  }
  return Ratio(now - start, end - start);
}

bool TargetProfile::IsWorkingDay(absl::CivilDay day) const {
  return IsWeekday(day) &&
         !std::binary_search(holidays_.begin(), holidays_.end(), day);
}

int64_t TargetProfile::WorkingDaysBetween(absl::CivilDay from,
                                          absl::CivilDay to) const {
  if (to <= from) return 0;
  const int64_t days = to - from;
  int64_t count = days / 7 * 5;
  for (absl::CivilDay d = from + days / 7 * 7; d < to; ++d) {
    count += IsWeekday(d);
  }
  for (auto it = std::lower_bound(holidays_.begin(), holidays_.end(), from);
       it != holidays_.end() && *it < to; ++it) {
    count -= IsWeekday(*it);
  }
  return count;
}

double TargetProfile::WorkingDayShare(const Calendar& calendar,
                                      absl::Time start, absl::Time end,
                                      absl::Time now) const {
  const absl::TimeZone& zone = calendar.zone();
  const absl::CivilDay first = absl::ToCivilDay(start, zone);
  const absl::CivilDay after_last = absl::ToCivilDay(end, zone);
  const int64_t total = WorkingDaysBetween(first, after_last);
  if (total == 0) return Ratio(now - start, end - start);
  const absl::CivilDay today = absl::ToCivilDay(now, zone);
  double elapsed = static_cast<double>(WorkingDaysBetween(first, today));
  if (IsWorkingDay(today)) {
    const absl::Time day_start = absl::FromCivil(today, zone);
    elapsed += Ratio(now - day_start, absl::FromCivil(today + 1, zone) - day_start);
  }
  return std::min(1.0, elapsed / static_cast<double>(total));
}

double TargetProfile::SeasonalShare(const Calendar& calendar, absl::Time start,
                                    absl::Time end, absl::Time now) const {
  // Each month's weight is spread evenly over its time; a period takes the
  // part of each month it spans.
  const absl::TimeZone& zone = calendar.zone();
  double total = 0;
  double elapsed = 0;
  for (absl::CivilMonth month = absl::ToCivilMonth(start, zone);; ++month) {
    const absl::Time month_start = absl::FromCivil(month, zone);
    if (month_start >= end) break;
    const absl::Duration month_length =
        absl::FromCivil(month + 1, zone) - month_start;
    const double weight = month_weights_[month.month() - 1];
    const absl::Time from = std::max(month_start, start);
    const absl::Time to = std::min(month_start + month_length, end);
    total += weight * Ratio(to - from, month_length);
    if (now > from) {
      elapsed += weight * Ratio(std::min(now, to) - from, month_length);
    }
  }
  if (total <= 0) return Ratio(now - start, end - start);
  return std::min(1.0, elapsed / total);
}

}  // namespace strata
