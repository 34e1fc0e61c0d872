#include "libs/period/period.h"

#include <vector>

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

absl::Time Utc(int y, int m, int d, int hh = 0, int mm = 0, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss),
                         absl::UTCTimeZone());
}

TEST(PeriodTest, EventTimeDecidesMonthQuarterAndYear) {
  const absl::Time t = Utc(2026, 11, 24, 13, 5);
  EXPECT_EQ(PeriodLabel(Calendar().Containing(PeriodKind::kMonth, t)), "2026-11");
  EXPECT_EQ(PeriodLabel(Calendar().Containing(PeriodKind::kQuarter, t)), "2026-Q4");
  EXPECT_EQ(PeriodLabel(Calendar().Containing(PeriodKind::kYear, t)), "2026");
}

TEST(PeriodTest, BoundariesAreUtcAndHalfOpen) {
  const absl::Time last_second = Utc(2026, 3, 31, 23, 59, 59);
  const absl::Time first_second = Utc(2026, 4, 1);
  EXPECT_EQ(PeriodLabel(Calendar().Containing(PeriodKind::kQuarter, last_second)),
            "2026-Q1");
  EXPECT_EQ(PeriodLabel(Calendar().Containing(PeriodKind::kQuarter, first_second)),
            "2026-Q2");
  EXPECT_EQ(PeriodLabel(Calendar().Containing(PeriodKind::kYear,
                                         Utc(2025, 12, 31, 23, 59, 59))),
            "2025");
}

TEST(PeriodTest, RollupPeriodsMatchEachKind) {
  const absl::Time t = Utc(2026, 2, 28, 23, 59, 59);
  std::vector<Period> periods;
  Calendar().PeriodsContaining(
      t, {PeriodKind::kMonth, PeriodKind::kQuarter, PeriodKind::kYear}, periods);
  ASSERT_EQ(periods.size(), 3u);
  for (const Period& period : periods) {
    EXPECT_EQ(period, Calendar().Containing(period.kind, t));
  }
  EXPECT_EQ(PeriodLabel(periods[1]), "2026-Q1");
}

TEST(PeriodTest, ConsecutivePeriodsHaveConsecutiveIndexes) {
  const Period dec = Calendar().Containing(PeriodKind::kMonth, Utc(2025, 12, 15));
  const Period jan = Calendar().Containing(PeriodKind::kMonth, Utc(2026, 1, 15));
  EXPECT_EQ(jan.index, dec.index + 1);
}

TEST(PeriodTest, LabelsRoundTrip) {
  for (PeriodKind kind :
       {PeriodKind::kMonth, PeriodKind::kQuarter, PeriodKind::kYear}) {
    const Period p = Calendar().Containing(kind, Utc(2024, 2, 29));
    auto parsed = ParsePeriod(kind, PeriodLabel(p));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, p);
  }
}

TEST(PeriodTest, MalformedLabelsAreRejected) {
  EXPECT_THAT(ParsePeriod(PeriodKind::kMonth, "2026-13"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePeriod(PeriodKind::kMonth, "2026-1"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePeriod(PeriodKind::kQuarter, "2026-Q5"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePeriod(PeriodKind::kQuarter, "2026-11"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePeriod(PeriodKind::kYear, "26"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePeriod(PeriodKind::kYear, "0000"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PeriodTest, OnlyCanonicalLabelsAreAccepted) {
  // Signs and spaces passed as digits before: "+202" was year 202.
  for (const char* label : {"+202", " 202", "-202"}) {
    EXPECT_THAT(ParsePeriod(PeriodKind::kYear, label),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << label;
  }
  for (const char* label : {"2025-+1", "2025- 1", "+025-11"}) {
    EXPECT_THAT(ParsePeriod(PeriodKind::kMonth, label),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << label;
  }
  EXPECT_THAT(ParsePeriod(PeriodKind::kQuarter, "2025-Q+"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // A label is echoed bounded, however long.
  const absl::Status long_label =
      ParsePeriod(PeriodKind::kMonth, std::string(9000, '9')).status();
  EXPECT_LT(long_label.message().size(), 200u);
  EXPECT_THAT(long_label, StatusIs(absl::StatusCode::kInvalidArgument,
                                   ::testing::HasSubstr("(9000 bytes)")));
}

// Kinds, labels and indexes, one line per kind and some edges of each.
struct LabelCase {
  PeriodKind kind;
  const char* label;
  int32_t index;
};
constexpr LabelCase kLabelCases[] = {
    {PeriodKind::kDay, "1970-01-01", 0},
    {PeriodKind::kDay, "1969-12-31", -1},
    {PeriodKind::kDay, "2026-11-25", 20782},
    {PeriodKind::kDay, "2024-02-29", 19782},
    {PeriodKind::kIsoWeek, "1970-W01", 0},
    {PeriodKind::kIsoWeek, "1969-W52", -1},
    {PeriodKind::kIsoWeek, "2026-W48", 2969},
    {PeriodKind::kIsoWeek, "2020-W53", 2661},
    {PeriodKind::kIsoWeek, "2021-W01", 2662},
    {PeriodKind::kIsoWeek, "2026-W53", 2974},
    {PeriodKind::kMonth, "2026-11", 2026 * 12 + 10},
    {PeriodKind::kQuarter, "2026-Q4", 2026 * 4 + 3},
    {PeriodKind::kFiscalYear, "FY2027", 2027},
    {PeriodKind::kYear, "2026", 2026},
    {PeriodKind::kYearToDate, "YTD2026-11", 2026 * 12 + 10},
    {PeriodKind::kQuarterToDate, "QTD2026-11", 2026 * 12 + 10},
};

TEST(PeriodLabelTest, EveryKindRoundTrips) {
  for (const LabelCase& c : kLabelCases) {
    const Period period{c.kind, c.index};
    EXPECT_EQ(PeriodLabel(period), c.label);
    auto parsed = ParsePeriod(c.kind, c.label);
    ASSERT_OK(parsed) << c.label;
    EXPECT_EQ(*parsed, period) << c.label;
    auto kind = KindOfLabel(c.label);
    ASSERT_OK(kind) << c.label;
    EXPECT_EQ(*kind, c.kind) << c.label;
  }
}

TEST(PeriodLabelTest, ConsecutiveIndexesCrossYearEnds) {
  const std::pair<const char*, const char*> year_ends[] = {
      {"2026-12-31", "2027-01-01"}, {"2026-W53", "2027-W01"},
      {"2027-W52", "2028-W01"},     {"2026-12", "2027-01"},
      {"2026-Q4", "2027-Q1"},       {"2026", "2027"},
      {"FY2026", "FY2027"},         {"YTD2026-12", "YTD2027-01"},
      {"QTD2026-12", "QTD2027-01"}, {"1969-12-31", "1970-01-01"},
  };
  for (const auto& [last, first] : year_ends) {
    auto kind = KindOfLabel(last);
    ASSERT_OK(kind) << last;
    auto before = ParsePeriod(*kind, last);
    auto after = ParsePeriod(*kind, first);
    ASSERT_OK(before) << last;
    ASSERT_OK(after) << first;
    EXPECT_EQ(after->index, before->index + 1) << last << " " << first;
  }
}

TEST(PeriodLabelTest, EveryDayAndWeekOfTwoCenturiesRoundTrips) {
  const int32_t first = absl::CivilDay(1900, 1, 1) - kDayZero;
  const int32_t last = absl::CivilDay(2100, 12, 31) - kDayZero;
  for (int32_t i = first; i <= last; ++i) {
    const Period day{PeriodKind::kDay, i};
    auto parsed = ParsePeriod(PeriodKind::kDay, PeriodLabel(day));
    ASSERT_OK(parsed) << PeriodLabel(day);
    ASSERT_EQ(*parsed, day);
  }
  std::string previous;
  for (int32_t i = first / 7 - 1; i <= last / 7; ++i) {
    const Period week{PeriodKind::kIsoWeek, i};
    const std::string label = PeriodLabel(week);
    auto parsed = ParsePeriod(PeriodKind::kIsoWeek, label);
    ASSERT_OK(parsed) << label;
    ASSERT_EQ(*parsed, week);
    ASSERT_LT(previous, label);  // labels sort as the weeks do
    previous = label;
  }
}

TEST(PeriodLabelTest, OnlyRealDatesAndWeeksParse) {
  EXPECT_THAT(ParsePeriod(PeriodKind::kDay, "2026-02-29"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("'2026-02-29' is not a date")));
  EXPECT_OK(ParsePeriod(PeriodKind::kDay, "2024-02-29"));
  EXPECT_OK(ParsePeriod(PeriodKind::kDay, "2000-02-29"));
  EXPECT_OK(ParsePeriod(PeriodKind::kDay, "0001-01-01"));
  EXPECT_OK(ParsePeriod(PeriodKind::kDay, "9999-12-31"));
  for (const char* label : {"1900-02-29", "2026-04-31", "2026-13-01",
                            "2026-00-10", "2026-01-00", "0000-01-01"}) {
    EXPECT_THAT(ParsePeriod(PeriodKind::kDay, label),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << label;
  }
  EXPECT_THAT(ParsePeriod(PeriodKind::kIsoWeek, "2027-W53"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("52 weeks")));
  EXPECT_OK(ParsePeriod(PeriodKind::kIsoWeek, "2015-W53"));
  EXPECT_OK(ParsePeriod(PeriodKind::kIsoWeek, "0001-W01"));
  EXPECT_OK(ParsePeriod(PeriodKind::kIsoWeek, "9999-W52"));
}

TEST(PeriodLabelTest, NonCanonicalLabelsAreRefused) {
  const std::pair<PeriodKind, const char*> refused[] = {
      {PeriodKind::kDay, "2026-1-25"},
      {PeriodKind::kDay, "2026-11-25T00"},
      {PeriodKind::kDay, "2026/11/25"},
      {PeriodKind::kDay, "2026-11-+5"},
      {PeriodKind::kIsoWeek, "2026-W00"},
      {PeriodKind::kIsoWeek, "2026-W54"},
      {PeriodKind::kIsoWeek, "2026-W5"},
      {PeriodKind::kIsoWeek, "2026-w48"},
      {PeriodKind::kIsoWeek, "2026W48"},
      {PeriodKind::kFiscalYear, "FY27"},
      {PeriodKind::kFiscalYear, "fy2027"},
      {PeriodKind::kFiscalYear, "FY0000"},
      {PeriodKind::kFiscalYear, "2027"},
      {PeriodKind::kYearToDate, "YTD2026-13"},
      {PeriodKind::kYearToDate, "YTD2026-1"},
      {PeriodKind::kYearToDate, "2026-11"},
      {PeriodKind::kYearToDate, "QTD2026-11"},
      {PeriodKind::kQuarterToDate, "QTD 2026-11"},
      {PeriodKind::kQuarterToDate, "YTD2026-11"},
      {PeriodKind::kMonth, "YTD2026-11"},
      {PeriodKind::kMonth, "2026-11-25"},
      {PeriodKind::kYear, "FY2026"},
      {static_cast<PeriodKind>(0), "2026"},
      {static_cast<PeriodKind>(9), "2026"},
  };
  for (const auto& [kind, label] : refused) {
    EXPECT_THAT(ParsePeriod(kind, label),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << PeriodKindName(kind) << " " << label;
  }
}

TEST(PeriodLabelTest, KindOfLabelRefusesWhatNoKindParses) {
  for (const char* label :
       {"", "hello", "2026-13", "2026-Q5", "2026-02-30", "2027-W53", "FY26",
        "YTD2026", "QTD2026-00", "20261", "2026-11-25 "}) {
    EXPECT_THAT(KindOfLabel(label),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << label;
  }
  EXPECT_THAT(KindOfLabel("hello"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("not a period label")));
}

TEST(PeriodKindTest, NamesAndProtoNumbers) {
  EXPECT_FALSE(IsPeriodKind(0));
  EXPECT_FALSE(IsPeriodKind(9));
  EXPECT_FALSE(IsPeriodKind(-1));
  const char* names[] = {"day",          "iso_week",       "month",
                         "quarter",      "fiscal_year",    "year",
                         "year_to_date", "quarter_to_date"};
  for (int number = 1; number <= 8; ++number) {
    EXPECT_TRUE(IsPeriodKind(number));
    EXPECT_EQ(PeriodKindName(static_cast<PeriodKind>(number)),
              names[number - 1]);
  }
  EXPECT_EQ(PeriodKindName(static_cast<PeriodKind>(0)), "");
  // The proto numbers, which stored cells and the API depend on.
  EXPECT_EQ(static_cast<int>(PeriodKind::kDay), 1);
  EXPECT_EQ(static_cast<int>(PeriodKind::kFiscalYear), 5);
  EXPECT_EQ(static_cast<int>(PeriodKind::kYear), 6);
  EXPECT_EQ(static_cast<int>(PeriodKind::kQuarterToDate), 8);
}

std::vector<PeriodKind> KindsOf(PeriodKindSet set) {
  return std::vector<PeriodKind>(set.begin(), set.end());
}

TEST(PeriodKindSetTest, AddsTestsAndIteratesInKindOrder) {
  PeriodKindSet kinds{PeriodKind::kYear, PeriodKind::kDay};
  EXPECT_TRUE(kinds.Contains(PeriodKind::kDay));
  EXPECT_FALSE(kinds.Contains(PeriodKind::kMonth));
  kinds.Add(PeriodKind::kQuarterToDate);
  kinds.Add(PeriodKind::kMonth);
  kinds.Add(PeriodKind::kMonth);
  EXPECT_THAT(
      KindsOf(kinds),
      ::testing::ElementsAre(PeriodKind::kDay, PeriodKind::kMonth,
                             PeriodKind::kYear, PeriodKind::kQuarterToDate));
  EXPECT_TRUE(PeriodKindSet().empty());
  EXPECT_THAT(KindsOf(PeriodKindSet()), ::testing::IsEmpty());
  EXPECT_EQ(KindsOf(PeriodKindSet::All()).size(), 8u);
  EXPECT_EQ(*PeriodKindSet::All().begin(), PeriodKind::kDay);
  EXPECT_EQ(PeriodKindSet({PeriodKind::kMonth, PeriodKind::kDay}),
            PeriodKindSet({PeriodKind::kDay, PeriodKind::kMonth}));
  // A number that is no kind is never a member.
  kinds.Add(static_cast<PeriodKind>(200));
  EXPECT_FALSE(kinds.Contains(static_cast<PeriodKind>(200)));
  EXPECT_EQ(KindsOf(kinds).size(), 4u);
  static_assert(PeriodKindSet::All().Contains(PeriodKind::kQuarterToDate));
  EXPECT_THAT(KindsOf(kinds.Intersect({PeriodKind::kYear, PeriodKind::kMonth,
                                       PeriodKind::kIsoWeek})),
              ::testing::ElementsAre(PeriodKind::kMonth, PeriodKind::kYear));
  EXPECT_EQ(PeriodKindSet::All().Intersect(kinds), kinds);
}

}  // namespace
}  // namespace strata
