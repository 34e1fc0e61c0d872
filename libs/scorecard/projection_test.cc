#include "libs/scorecard/projection.h"

#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "libs/period/calendar.h"

namespace strata {
namespace {

constexpr ThresholdBands kBands{100, 90};

absl::Time Utc(absl::CivilSecond t) {
  return absl::FromCivil(t, absl::UTCTimeZone());
}

// April 2026 (30 days), in UTC.
class ProjectionTest : public ::testing::Test {
 protected:
  JudgingRule Rule(const TargetProfile& profile) const {
    return {calendar_, {PeriodKind::kMonth, 2026 * 12 + 3}, profile,
            Polarity::kHigherIsBetter, kBands};
  }
  static PaceSample On(int day, double actual) {
    return {Utc(absl::CivilSecond(2026, 4, day)), actual};
  }

  const Calendar calendar_;
  const TargetProfile linear_ = TargetProfile::Linear();
  const TargetProfile whole_ = TargetProfile::Whole();
  const absl::Duration week_ = absl::Hours(24 * 7);
};

TEST_F(ProjectionTest, AFlowWithinItsFirstWindowProjectsItsRunRateSinceTheStart) {
  const JudgingRule rule = Rule(linear_);
  PaceWindow pace;
  pace.Observe(rule, week_, On(4, 30));
  // Three days in: not a week of evidence yet.
  EXPECT_FALSE(pace.ProjectedEnd(rule, week_, On(4, 30)).has_value());
  pace.Observe(rule, week_, On(11, 100));
  // 100 in 10 days of 30: 300 at the end.
  EXPECT_DOUBLE_EQ(*pace.ProjectedEnd(rule, week_, On(11, 100)), 300);
}

TEST_F(ProjectionTest, AFlowThatSlowedDownProjectsItsRecentPace) {
  const JudgingRule rule = Rule(linear_);
  PaceWindow pace;
  pace.Observe(rule, week_, On(11, 100));  // 10 a day since the start
  pace.Observe(rule, week_, On(16, 110));
  pace.Observe(rule, week_, On(19, 115));  // 2 a day since the 11th
  // Since the start it is 115 in 18 days (192 at the end, amber against
  // 200); the last 8 days made 15, 15 / 8 a day for 12 more days: 137.5.
  EXPECT_DOUBLE_EQ(*pace.ProjectedEnd(rule, week_, On(19, 115)), 137.5);
  // Standing still, the projection falls as time passes.
  EXPECT_DOUBLE_EQ(*pace.ProjectedEnd(rule, week_, On(21, 115)),
                   115 + 15.0 * 10 / 10);
}

TEST_F(ProjectionTest, AWorkingDayProfileProjectsWeekendsAsQuiet) {
  const TargetProfile working = TargetProfile::WorkingDays({});
  const JudgingRule rule = Rule(working);
  PaceWindow pace;
  // April 2026 has 22 working days; by Monday the 13th, 8 have passed.
  pace.Observe(rule, week_, On(13, 80));
  // 10 per working day: 220 at the end, not 80 x 30 / 12.
  EXPECT_DOUBLE_EQ(*pace.ProjectedEnd(rule, week_, On(13, 80)), 220);
}

TEST_F(ProjectionTest, AStockExtrapolatesItsTrendToTheEnd) {
  const JudgingRule rule = Rule(whole_);
  PaceWindow pace;
  pace.Observe(rule, week_, On(1, 95));
  EXPECT_FALSE(pace.ProjectedEnd(rule, week_, On(5, 93)).has_value());
  pace.Observe(rule, week_, On(11, 90));
  // Down 5 in 10 days; 20 days to go: 80.
  EXPECT_DOUBLE_EQ(*pace.ProjectedEnd(rule, week_, On(11, 90)), 80);
}

TEST_F(ProjectionTest, TheWindowSlidesOnceItsNextSampleIsAWindowOld) {
  const JudgingRule rule = Rule(linear_);
  PaceWindow pace;
  pace.Observe(rule, week_, On(2, 10));  // Within a week of the start: kept.
  EXPECT_EQ(pace.from.time, Utc(absl::CivilSecond(2026, 4, 1)));
  EXPECT_EQ(pace.next.time, pace.from.time);
  pace.Observe(rule, week_, On(9, 50));
  EXPECT_EQ(pace.next.time, On(9, 50).time);
  pace.Observe(rule, week_, On(12, 60));  // Three days after the 9th.
  EXPECT_EQ(pace.from.time, Utc(absl::CivilSecond(2026, 4, 1)));
  pace.Observe(rule, week_, On(17, 90));
  EXPECT_EQ(pace.from.time, On(9, 50).time);
  EXPECT_EQ(pace.from.actual, 50);
  EXPECT_EQ(pace.next.time, On(17, 90).time);
}

TEST_F(ProjectionTest, NothingIsProjectedOnceThePeriodEnded) {
  const JudgingRule rule = Rule(linear_);
  PaceWindow pace;
  pace.Observe(rule, week_, On(20, 100));
  EXPECT_FALSE(pace
                   .ProjectedEnd(rule, week_,
                                 {Utc(absl::CivilSecond(2026, 5, 1)), 100})
                   .has_value());
  EXPECT_FALSE(PaceWindow().ProjectedEnd(rule, week_, On(20, 100)).has_value());
}

}  // namespace
}  // namespace strata
