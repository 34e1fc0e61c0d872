#include "libs/period/period.h"

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
  EXPECT_EQ(PeriodLabel(PeriodContaining(PeriodKind::kMonth, t)), "2026-11");
  EXPECT_EQ(PeriodLabel(PeriodContaining(PeriodKind::kQuarter, t)), "2026-Q4");
  EXPECT_EQ(PeriodLabel(PeriodContaining(PeriodKind::kYear, t)), "2026");
}

TEST(PeriodTest, BoundariesAreUtcAndHalfOpen) {
  const absl::Time last_second = Utc(2026, 3, 31, 23, 59, 59);
  const absl::Time first_second = Utc(2026, 4, 1);
  EXPECT_EQ(PeriodLabel(PeriodContaining(PeriodKind::kQuarter, last_second)),
            "2026-Q1");
  EXPECT_EQ(PeriodLabel(PeriodContaining(PeriodKind::kQuarter, first_second)),
            "2026-Q2");
  EXPECT_EQ(PeriodLabel(PeriodContaining(PeriodKind::kYear,
                                         Utc(2025, 12, 31, 23, 59, 59))),
            "2025");
}

TEST(PeriodTest, RollupPeriodsMatchEachKind) {
  const absl::Time t = Utc(2026, 2, 28, 23, 59, 59);
  const auto periods = RollupPeriodsContaining(t);
  for (size_t i = 0; i < kRollupPeriodKinds.size(); ++i) {
    EXPECT_EQ(periods[i], PeriodContaining(kRollupPeriodKinds[i], t));
  }
  EXPECT_EQ(PeriodLabel(periods[1]), "2026-Q1");
}

TEST(PeriodTest, ConsecutivePeriodsHaveConsecutiveIndexes) {
  const Period dec = PeriodContaining(PeriodKind::kMonth, Utc(2025, 12, 15));
  const Period jan = PeriodContaining(PeriodKind::kMonth, Utc(2026, 1, 15));
  EXPECT_EQ(jan.index, dec.index + 1);
}

TEST(PeriodTest, LabelsRoundTrip) {
  for (PeriodKind kind : kRollupPeriodKinds) {
    const Period p = PeriodContaining(kind, Utc(2024, 2, 29));
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

}  // namespace
}  // namespace strata
