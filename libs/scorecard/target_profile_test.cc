#include "libs/scorecard/target_profile.h"

#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "libs/period/calendar.h"
#include "libs/period/period.h"

namespace strata {
namespace {

Calendar CalendarIn(const char* zone) {
  return *Calendar::Create(zone, /*fiscal_year_start_month=*/1);
}

Period Month(int year, int month) {
  return {PeriodKind::kMonth, year * 12 + month - 1};
}

absl::Time Local(const Calendar& calendar, absl::CivilSecond t) {
  return absl::FromCivil(t, calendar.zone());
}

TEST(TargetProfileTest, WholeIsTheWholeTargetThroughout) {
  const Calendar utc = CalendarIn("UTC");
  for (absl::CivilSecond t : {absl::CivilSecond(2026, 10, 1),
                              absl::CivilSecond(2026, 11, 1),
                              absl::CivilSecond(2026, 11, 15, 12)}) {
    EXPECT_EQ(TargetProfile::Whole().ExpectedShare(utc, Month(2026, 11),
                                                   Local(utc, t)),
              1);
  }
}

TEST(TargetProfileTest, NothingIsExpectedBeforeTheStartAndAllFromTheEnd) {
  const Calendar utc = CalendarIn("UTC");
  const TargetProfile linear = TargetProfile::Linear();
  const Period november = Month(2026, 11);
  EXPECT_EQ(linear.ExpectedShare(utc, november,
                                 Local(utc, absl::CivilSecond(2026, 10, 20))),
            0);
  EXPECT_EQ(linear.ExpectedShare(utc, november, utc.Start(november)), 0);
  EXPECT_EQ(linear.ExpectedShare(utc, november, utc.End(november)), 1);
  EXPECT_EQ(linear.ExpectedShare(utc, november,
                                 Local(utc, absl::CivilSecond(2027, 1, 1))),
            1);
}

TEST(TargetProfileTest, LinearAccruesWithElapsedTime) {
  const Calendar utc = CalendarIn("UTC");
  EXPECT_DOUBLE_EQ(
      TargetProfile::Linear().ExpectedShare(
          utc, Month(2026, 11), Local(utc, absl::CivilSecond(2026, 11, 11))),
      10.0 / 30);
  // A quarter: Q4 2026 has 92 days; 31 of October and 10 of November.
  EXPECT_DOUBLE_EQ(TargetProfile::Linear().ExpectedShare(
                       utc, {PeriodKind::kQuarter, 2026 * 4 + 3},
                       Local(utc, absl::CivilSecond(2026, 11, 11))),
                   41.0 / 92);
}

TEST(TargetProfileTest, LinearCountsTheHoursOfAClockChange) {
  // London's March 2026 has 743 hours (the clocks go forward on the 29th).
  const Calendar london = CalendarIn("Europe/London");
  const absl::Time after_change =
      Local(london, absl::CivilSecond(2026, 3, 29, 12));
  // 28 days of 24 hours, then 11 hours of the 29th (01:00 was skipped).
  EXPECT_DOUBLE_EQ(TargetProfile::Linear().ExpectedShare(
                       london, Month(2026, 3), after_change),
                   (28.0 * 24 + 11) / 743);
}

TEST(TargetProfileTest, WorkingDaysSkipWeekendsAndHolidays) {
  // November 2026 starts on a Sunday: 21 weekdays, 20 without the 26th.
  const Calendar ny = CalendarIn("America/New_York");
  const TargetProfile profile =
      TargetProfile::WorkingDays({absl::CivilDay(2026, 11, 26)});
  auto share = [&](absl::CivilSecond t) {
    return profile.ExpectedShare(ny, Month(2026, 11), Local(ny, t));
  };
  EXPECT_DOUBLE_EQ(share(absl::CivilSecond(2026, 11, 9)), 5.0 / 20);
  EXPECT_DOUBLE_EQ(share(absl::CivilSecond(2026, 11, 9, 12)), 5.5 / 20);
  // Over the weekend nothing more is expected.
  EXPECT_DOUBLE_EQ(share(absl::CivilSecond(2026, 11, 7, 15)), 5.0 / 20);
  EXPECT_DOUBLE_EQ(share(absl::CivilSecond(2026, 11, 8, 23)), 5.0 / 20);
  // Nor on the holiday.
  EXPECT_DOUBLE_EQ(share(absl::CivilSecond(2026, 11, 26, 18)),
                   share(absl::CivilSecond(2026, 11, 26, 1)));
  EXPECT_DOUBLE_EQ(share(absl::CivilSecond(2026, 11, 30, 12)), 19.5 / 20);
  // A holiday on a weekend takes nothing more away.
  EXPECT_DOUBLE_EQ(
      TargetProfile::WorkingDays({absl::CivilDay(2026, 11, 7)})
          .ExpectedShare(ny, Month(2026, 11),
                         Local(ny, absl::CivilSecond(2026, 11, 9))),
      5.0 / 21);
}

TEST(TargetProfileTest, APeriodWithoutWorkingDaysAccruesLinearly) {
  const Calendar utc = CalendarIn("UTC");
  const Period saturday{PeriodKind::kDay,
                        static_cast<int32_t>(absl::CivilDay(2026, 11, 28) -
                                             kDayZero)};
  EXPECT_DOUBLE_EQ(TargetProfile::WorkingDays({}).ExpectedShare(
                       utc, saturday,
                       Local(utc, absl::CivilSecond(2026, 11, 28, 6))),
                   0.25);
}

TEST(TargetProfileTest, SeasonalWeighsEachMonth) {
  // December weighs double: 13 parts in a year.
  std::array<double, 12> weights;
  weights.fill(1);
  weights[11] = 2;
  const TargetProfile profile = TargetProfile::Seasonal(weights);
  const Calendar utc = CalendarIn("UTC");
  const Period year{PeriodKind::kYear, 2026};
  EXPECT_DOUBLE_EQ(
      profile.ExpectedShare(utc, year, Local(utc, absl::CivilSecond(2026, 7, 1))),
      6.0 / 13);
  EXPECT_DOUBLE_EQ(profile.ExpectedShare(
                       utc, year, Local(utc, absl::CivilSecond(2026, 12, 16))),
                   (11 + 2 * 15.0 / 31) / 13);
  // Within one month it is linear.
  EXPECT_DOUBLE_EQ(profile.ExpectedShare(
                       utc, Month(2026, 12),
                       Local(utc, absl::CivilSecond(2026, 12, 16))),
                   15.0 / 31);
  // A week across two months takes each day at its month's weight: one
  // November day (1/30) and six December ones (2/31 each).
  const Period week{PeriodKind::kIsoWeek,
                    (absl::CivilDay(2026, 11, 30) - absl::CivilDay(1969, 12, 29)) / 7};
  ASSERT_EQ(utc.Start(week), Local(utc, absl::CivilSecond(2026, 11, 30)));
  const double november_day = 1.0 / 30, december_day = 2.0 / 31;
  EXPECT_DOUBLE_EQ(
      profile.ExpectedShare(utc, week, Local(utc, absl::CivilSecond(2026, 12, 1))),
      november_day / (november_day + 6 * december_day));
}

}  // namespace
}  // namespace strata
