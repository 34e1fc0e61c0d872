#include "libs/period/calendar.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace strata {
namespace {

using ::strata::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

absl::Time Utc(int y, int m, int d, int hh = 0, int mm = 0, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss),
                         absl::UTCTimeZone());
}

Calendar MustCreate(absl::string_view zone, int fiscal_start = 1) {
  auto calendar = Calendar::Create(zone, fiscal_start);
  EXPECT_OK(calendar) << zone;
  return calendar.ok() ? *calendar : Calendar();
}

Period MustParse(absl::string_view label) {
  auto kind = KindOfLabel(label);
  EXPECT_OK(kind) << label;
  auto period = ParsePeriod(kind.ok() ? *kind : PeriodKind::kYear, label);
  EXPECT_OK(period) << label;
  return period.ok() ? *period : Period{};
}

std::string LabelContaining(const Calendar& calendar, PeriodKind kind,
                            absl::Time t) {
  return PeriodLabel(calendar.Containing(kind, t));
}

std::vector<std::string> LabelsContaining(const Calendar& calendar,
                                          absl::Time t, PeriodKindSet kinds) {
  std::vector<Period> periods;
  calendar.PeriodsContaining(t, kinds, periods);
  std::vector<std::string> labels;
  for (const Period& p : periods) labels.push_back(PeriodLabel(p));
  return labels;
}

TEST(CalendarTest, DefaultIsUtcWithJanuaryFiscalYear) {
  const Calendar calendar;
  EXPECT_EQ(calendar.time_zone_name(), "UTC");
  EXPECT_EQ(calendar.fiscal_year_start_month(), 1);
  EXPECT_EQ(LabelContaining(calendar, PeriodKind::kFiscalYear,
                            Utc(2026, 12, 31, 23, 59, 59)),
            "FY2026");
  EXPECT_EQ(LabelContaining(calendar, PeriodKind::kDay, Utc(2026, 3, 1)),
            "2026-03-01");
}

TEST(CalendarTest, CreateRefusesWhatIsNoZoneOrMonth) {
  EXPECT_THAT(Calendar::Create("Mars/Olympus", 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'Mars/Olympus'")));
  EXPECT_THAT(Calendar::Create("", 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  // Names absl would read as paths or as this machine's zone.
  for (const char* zone : {"/usr/share/zoneinfo/UTC", "../zoneinfo/UTC",
                           "Europe/../UTC", "localtime", "Europe//London",
                           "Europe/London/", "file:UTC", "Europe/London\n"}) {
    EXPECT_THAT(Calendar::Create(zone, 1),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << zone;
  }
  for (int month : {0, 13, -1}) {
    EXPECT_THAT(Calendar::Create("UTC", month),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("fiscal year start month")))
        << month;
  }
}

TEST(CalendarTest, KeepsItsZoneNameAndFiscalStartWhenCopied) {
  std::vector<Calendar> copies;
  {
    const Calendar calendar = MustCreate("America/Argentina/Buenos_Aires", 7);
    copies.assign(3, calendar);
  }
  EXPECT_EQ(copies[2].time_zone_name(), "America/Argentina/Buenos_Aires");
  EXPECT_EQ(copies[2].fiscal_year_start_month(), 7);
  EXPECT_EQ(MustCreate("Etc/GMT+5").time_zone_name(), "Etc/GMT+5");
}

TEST(CalendarTest, ContainingGivesEveryKind) {
  const Calendar calendar = MustCreate("UTC", 10);
  const absl::Time t = Utc(2026, 11, 25, 12);
  const std::pair<PeriodKind, const char*> expected[] = {
      {PeriodKind::kDay, "2026-11-25"},
      {PeriodKind::kIsoWeek, "2026-W48"},
      {PeriodKind::kMonth, "2026-11"},
      {PeriodKind::kQuarter, "2026-Q4"},
      {PeriodKind::kFiscalYear, "FY2027"},
      {PeriodKind::kYear, "2026"},
      {PeriodKind::kYearToDate, "YTD2026-11"},
      {PeriodKind::kQuarterToDate, "QTD2026-11"},
  };
  for (const auto& [kind, label] : expected) {
    EXPECT_EQ(LabelContaining(calendar, kind, t), label);
  }
}

TEST(CalendarTest, IsoWeeksAtYearEnds) {
  const Calendar calendar;
  const auto week = [&](int y, int m, int d) {
    return LabelContaining(calendar, PeriodKind::kIsoWeek, Utc(y, m, d, 12));
  };
  EXPECT_EQ(week(2020, 12, 31), "2020-W53");
  EXPECT_EQ(week(2021, 1, 3), "2020-W53");
  EXPECT_EQ(week(2021, 1, 4), "2021-W01");
  EXPECT_EQ(week(2026, 12, 31), "2026-W53");
  EXPECT_EQ(week(2027, 1, 1), "2026-W53");
  EXPECT_EQ(week(2027, 1, 4), "2027-W01");
  EXPECT_EQ(week(2025, 12, 29), "2026-W01");
  EXPECT_EQ(week(1969, 12, 29), "1970-W01");
  EXPECT_EQ(week(1969, 12, 28), "1969-W52");
  EXPECT_EQ(calendar.Start(MustParse("2021-W01")), Utc(2021, 1, 4));
  EXPECT_EQ(calendar.End(MustParse("2020-W53")), Utc(2021, 1, 4));
}

TEST(CalendarTest, LeapDayIsADay) {
  const Calendar calendar;
  EXPECT_EQ(LabelContaining(calendar, PeriodKind::kDay, Utc(2024, 2, 29, 23)),
            "2024-02-29");
  EXPECT_EQ(calendar.End(MustParse("2024-02-29")), Utc(2024, 3, 1));
  EXPECT_EQ(
      calendar.End(MustParse("2024-02")) - calendar.Start(MustParse("2024-02")),
      absl::Hours(29 * 24));
}

TEST(CalendarTest, FiscalYearIsNamedByTheYearItEndsIn) {
  struct Case {
    int start_month;
    absl::Time t;
    const char* fiscal_year;
  };
  const Case cases[] = {
      {10, Utc(2026, 9, 30, 23, 59, 59), "FY2026"},
      {10, Utc(2026, 10, 1), "FY2027"},
      {10, Utc(2027, 9, 30), "FY2027"},
      {1, Utc(2026, 12, 31, 23, 59, 59), "FY2026"},
      {1, Utc(2027, 1, 1), "FY2027"},
      {4, Utc(2026, 3, 31, 23, 59, 59), "FY2026"},
      {4, Utc(2026, 4, 1), "FY2027"},
      {12, Utc(2026, 12, 1), "FY2027"},
      {12, Utc(2026, 11, 30), "FY2026"},
  };
  for (const Case& c : cases) {
    const Calendar calendar = MustCreate("UTC", c.start_month);
    EXPECT_EQ(LabelContaining(calendar, PeriodKind::kFiscalYear, c.t),
              c.fiscal_year)
        << c.start_month << " " << c.t;
  }
  const Period fy2027 = MustParse("FY2027");
  EXPECT_EQ(MustCreate("UTC", 10).Start(fy2027), Utc(2026, 10, 1));
  EXPECT_EQ(MustCreate("UTC", 10).End(fy2027), Utc(2027, 10, 1));
  EXPECT_EQ(MustCreate("UTC", 4).Start(fy2027), Utc(2026, 4, 1));
  EXPECT_EQ(MustCreate("UTC", 4).End(fy2027), Utc(2027, 4, 1));
  EXPECT_EQ(MustCreate("UTC", 1).Start(fy2027), Utc(2027, 1, 1));
  EXPECT_EQ(MustCreate("UTC", 1).End(fy2027), Utc(2028, 1, 1));
}

TEST(CalendarTest, PeriodsContainingExpandsYearToDate) {
  const absl::Time november = Utc(2026, 11, 25, 12);
  const std::vector<std::string> october_start = LabelsContaining(
      MustCreate("UTC", 10), november, {PeriodKind::kYearToDate});
  EXPECT_THAT(
      october_start,
      ElementsAre("YTD2026-11", "YTD2026-12", "YTD2027-01", "YTD2027-02",
                  "YTD2027-03", "YTD2027-04", "YTD2027-05", "YTD2027-06",
                  "YTD2027-07", "YTD2027-08", "YTD2027-09"));
  EXPECT_THAT(LabelsContaining(MustCreate("UTC", 1), november,
                               {PeriodKind::kYearToDate}),
              ElementsAre("YTD2026-11", "YTD2026-12"));
  // The first month of a fiscal year is in all 12; the last only in itself.
  EXPECT_EQ(LabelsContaining(MustCreate("UTC", 10), Utc(2026, 10, 1),
                             {PeriodKind::kYearToDate})
                .size(),
            12u);
  EXPECT_THAT(LabelsContaining(MustCreate("UTC", 10), Utc(2027, 9, 30),
                               {PeriodKind::kYearToDate}),
              ElementsAre("YTD2027-09"));
}

TEST(CalendarTest, PeriodsContainingExpandsQuarterToDate) {
  const Calendar calendar = MustCreate("UTC", 10);
  const PeriodKindSet qtd{PeriodKind::kQuarterToDate};
  EXPECT_THAT(LabelsContaining(calendar, Utc(2026, 1, 15), qtd),
              ElementsAre("QTD2026-01", "QTD2026-02", "QTD2026-03"));
  EXPECT_THAT(LabelsContaining(calendar, Utc(2026, 11, 15), qtd),
              ElementsAre("QTD2026-11", "QTD2026-12"));
  EXPECT_THAT(LabelsContaining(calendar, Utc(2026, 3, 31), qtd),
              ElementsAre("QTD2026-03"));
}

TEST(CalendarTest, PeriodsContainingAppendsEveryKindInOrder) {
  const Calendar calendar = MustCreate("UTC", 10);
  std::vector<Period> out = {Period{PeriodKind::kYear, 1999}};
  calendar.PeriodsContaining(Utc(2026, 12, 15), PeriodKindSet::All(), out);
  std::vector<std::string> labels;
  for (const Period& p : out) labels.push_back(PeriodLabel(p));
  EXPECT_THAT(labels,
              ElementsAreArray(
                  {"1999", "2026-12-15", "2026-W51", "2026-12", "2026-Q4",
                   "FY2027", "2026", "YTD2026-12", "YTD2027-01", "YTD2027-02",
                   "YTD2027-03", "YTD2027-04", "YTD2027-05", "YTD2027-06",
                   "YTD2027-07", "YTD2027-08", "YTD2027-09", "QTD2026-12"}));
  EXPECT_THAT(LabelsContaining(calendar, Utc(2026, 12, 15), PeriodKindSet()),
              ::testing::IsEmpty());
}

TEST(CalendarTest, StartAndEndOfEveryKind) {
  const Calendar calendar = MustCreate("UTC", 10);
  struct Case {
    const char* label;
    absl::Time start;
    absl::Time end;
  };
  const Case cases[] = {
      {"2026-11-25", Utc(2026, 11, 25), Utc(2026, 11, 26)},
      {"2026-W48", Utc(2026, 11, 23), Utc(2026, 11, 30)},
      {"2026-11", Utc(2026, 11, 1), Utc(2026, 12, 1)},
      {"2026-Q4", Utc(2026, 10, 1), Utc(2027, 1, 1)},
      {"FY2027", Utc(2026, 10, 1), Utc(2027, 10, 1)},
      {"2026", Utc(2026, 1, 1), Utc(2027, 1, 1)},
      {"YTD2026-11", Utc(2026, 10, 1), Utc(2026, 12, 1)},
      {"YTD2027-02", Utc(2026, 10, 1), Utc(2027, 3, 1)},
      {"YTD2026-09", Utc(2025, 10, 1), Utc(2026, 10, 1)},
      {"QTD2026-11", Utc(2026, 10, 1), Utc(2026, 12, 1)},
      {"QTD2026-12", Utc(2026, 10, 1), Utc(2027, 1, 1)},
      {"QTD2026-01", Utc(2026, 1, 1), Utc(2026, 2, 1)},
  };
  for (const Case& c : cases) {
    const Period period = MustParse(c.label);
    EXPECT_EQ(calendar.Start(period), c.start) << c.label;
    EXPECT_EQ(calendar.End(period), c.end) << c.label;
  }
  // Ordinary kinds tile time: each period ends where the next starts.
  for (int kind = 1; kind <= 6; ++kind) {
    const Period p = calendar.Containing(static_cast<PeriodKind>(kind),
                                         Utc(2026, 12, 31, 12));
    const Period next{p.kind, p.index + 1};
    EXPECT_EQ(calendar.End(p), calendar.Start(next)) << PeriodLabel(p);
  }
}

TEST(CalendarTest, DaylightSavingChangesLengthenAndShortenDays) {
  const Calendar new_york = MustCreate("America/New_York");
  const Period spring = MustParse("2026-03-08");
  const Period fall = MustParse("2026-11-01");
  EXPECT_EQ(new_york.Start(spring), Utc(2026, 3, 8, 5));  // midnight EST
  EXPECT_EQ(new_york.End(spring) - new_york.Start(spring), absl::Hours(23));
  EXPECT_EQ(new_york.Start(fall), Utc(2026, 11, 1, 4));  // midnight EDT
  EXPECT_EQ(new_york.End(fall) - new_york.Start(fall), absl::Hours(25));
  // 01:30 comes twice on 1 November: EDT, then EST. Both are that day.
  EXPECT_EQ(
      LabelContaining(new_york, PeriodKind::kDay, Utc(2026, 11, 1, 5, 30)),
      "2026-11-01");
  EXPECT_EQ(
      LabelContaining(new_york, PeriodKind::kDay, Utc(2026, 11, 1, 6, 30)),
      "2026-11-01");
  EXPECT_EQ(
      LabelContaining(new_york, PeriodKind::kDay, Utc(2026, 11, 2, 4, 59)),
      "2026-11-01");
  EXPECT_EQ(LabelContaining(new_york, PeriodKind::kDay, Utc(2026, 11, 2, 5)),
            "2026-11-02");
  // The week and month holding the change are an hour short or long too.
  const Period march = MustParse("2026-03");
  EXPECT_EQ(new_york.End(march) - new_york.Start(march),
            absl::Hours(31 * 24 - 1));
}

TEST(CalendarTest, DayStartingInAGapStartsWhenTheClocksJump) {
  // Havana springs forward at midnight: 2026-03-08 begins at 01:00 CDT.
  const Calendar havana = MustCreate("America/Havana");
  const Period day = MustParse("2026-03-08");
  EXPECT_EQ(havana.Start(day), Utc(2026, 3, 8, 5));
  EXPECT_EQ(havana.End(MustParse("2026-03-07")), havana.Start(day));
  EXPECT_EQ(havana.End(day) - havana.Start(day), absl::Hours(23));
  EXPECT_EQ(LabelContaining(havana, PeriodKind::kDay, Utc(2026, 3, 8, 5)),
            "2026-03-08");
  EXPECT_EQ(
      LabelContaining(havana, PeriodKind::kDay, Utc(2026, 3, 8, 4, 59, 59)),
      "2026-03-07");
}

TEST(CalendarTest, SkippedDaySpansNothing) {
  // Samoa crossed the date line by going from 29 to 31 December 2011.
  const Calendar apia = MustCreate("Pacific/Apia");
  const Period skipped = MustParse("2011-12-30");
  EXPECT_EQ(apia.Start(skipped), Utc(2011, 12, 30, 10));
  EXPECT_EQ(apia.End(skipped), apia.Start(skipped));
  EXPECT_EQ(
      LabelContaining(apia, PeriodKind::kDay, Utc(2011, 12, 30, 9, 59, 59)),
      "2011-12-29");
  EXPECT_EQ(LabelContaining(apia, PeriodKind::kDay, Utc(2011, 12, 30, 10)),
            "2011-12-31");
}

TEST(CalendarTest, LocalTimeDecidesTheMonth) {
  // Still 31 October in New York, already November in UTC.
  const absl::Time halloween_night = Utc(2026, 11, 1, 2, 30);
  EXPECT_EQ(LabelContaining(MustCreate("America/New_York"), PeriodKind::kMonth,
                            halloween_night),
            "2026-10");
  EXPECT_EQ(LabelContaining(Calendar(), PeriodKind::kMonth, halloween_night),
            "2026-11");
  // Already 1 April (BST) in London, still 31 March in UTC: a new quarter.
  const Calendar london = MustCreate("Europe/London");
  const absl::Time april_fool = Utc(2026, 3, 31, 23, 30);
  EXPECT_EQ(LabelContaining(london, PeriodKind::kMonth, april_fool), "2026-04");
  EXPECT_EQ(LabelContaining(london, PeriodKind::kQuarter, april_fool),
            "2026-Q2");
  EXPECT_EQ(london.Start(MustParse("2026-04")), Utc(2026, 3, 31, 23));
  // Southern hemisphere: Sydney is on summer time (UTC+11) in November.
  const Calendar sydney = MustCreate("Australia/Sydney");
  const absl::Time sydney_november = Utc(2026, 10, 31, 13, 30);
  EXPECT_EQ(LabelContaining(sydney, PeriodKind::kMonth, sydney_november),
            "2026-11");
  EXPECT_EQ(sydney.Start(MustParse("2026-11")), Utc(2026, 10, 31, 13));
  EXPECT_EQ(LabelContaining(sydney, PeriodKind::kMonth,
                            Utc(2026, 10, 31, 12, 59, 59)),
            "2026-10");
  // And on standard time (UTC+10) in May.
  EXPECT_EQ(sydney.Start(MustParse("2026-05")), Utc(2026, 4, 30, 14));
}

TEST(CalendarTest, FarOffsetMovesTheYearEnd) {
  const Calendar kiritimati = MustCreate("Pacific/Kiritimati", 1);  // UTC+14
  EXPECT_EQ(kiritimati.Start(MustParse("2027")), Utc(2026, 12, 31, 10));
  EXPECT_EQ(
      LabelContaining(kiritimati, PeriodKind::kYear, Utc(2026, 12, 31, 10)),
      "2027");
  EXPECT_EQ(LabelContaining(kiritimati, PeriodKind::kYear,
                            Utc(2026, 12, 31, 9, 59, 59)),
            "2026");
  EXPECT_EQ(LabelContaining(kiritimati, PeriodKind::kFiscalYear,
                            Utc(2026, 12, 31, 10)),
            "FY2027");
}

TEST(CalendarTest, OutOfRangeInstantsClampToTheLabelledYears) {
  const Calendar calendar;
  EXPECT_EQ(LabelContaining(calendar, PeriodKind::kDay, absl::InfiniteFuture()),
            "9999-12-31");
  EXPECT_EQ(LabelContaining(calendar, PeriodKind::kDay, absl::InfinitePast()),
            "0001-01-01");
}

// Every period PeriodsContaining gives spans the instant, and each ordinary
// kind's is the one Containing gives, across DST changes in both
// hemispheres, a midnight gap, a skipped day and far offsets.
TEST(CalendarTest, EveryPeriodGivenSpansTheInstant) {
  const char* zones[] = {"UTC",
                         "America/New_York",
                         "Europe/London",
                         "Australia/Sydney",
                         "America/Havana",
                         "Pacific/Apia",
                         "Pacific/Kiritimati",
                         "Asia/Kolkata"};
  for (const char* zone : zones) {
    for (int fiscal_start : {1, 10}) {
      const Calendar calendar = MustCreate(zone, fiscal_start);
      std::vector<Period> periods;
      // 151 minutes apart, so every hour and half hour of the day comes
      // round, over 2011-2012 (Apia's skipped day) and 2026-2027.
      for (absl::Time t : {Utc(2011, 1, 1), Utc(2026, 1, 1)}) {
        const absl::Time end = t + absl::Hours(24 * 400);
        for (; t < end; t += absl::Minutes(151)) {
          periods.clear();
          calendar.PeriodsContaining(t, PeriodKindSet::All(), periods);
          for (const Period& p : periods) {
            ASSERT_LE(calendar.Start(p), t) << zone << " " << PeriodLabel(p);
            ASSERT_GT(calendar.End(p), t) << zone << " " << PeriodLabel(p);
          }
          for (int kind = 1; kind <= 6; ++kind) {
            ASSERT_EQ(periods[kind - 1],
                      calendar.Containing(static_cast<PeriodKind>(kind), t));
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace strata
