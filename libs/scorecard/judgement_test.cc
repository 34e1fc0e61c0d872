#include "libs/scorecard/judgement.h"

#include "gtest/gtest.h"

namespace strata {
namespace {

constexpr ThresholdBands kBands{100, 90};
constexpr ThresholdBands kLowerBands{100, 110};

TEST(JudgementTest, AFlowOnPaceIsGreenThoughFarFromTheWholeTarget) {
  // A third of the month gone, a third of the target made.
  const Judgement j = Judge(Polarity::kHigherIsBetter, kBands, 340, 1000, 0.33);
  EXPECT_DOUBLE_EQ(j.expected, 330);
  EXPECT_DOUBLE_EQ(j.variance, 10);
  EXPECT_DOUBLE_EQ(*j.variance_pct, 100.0 * 10 / 330);
  EXPECT_EQ(j.status, KpiStatus::kGreen);
  // Judged against the whole target, the same actual is red.
  EXPECT_EQ(Judge(Polarity::kHigherIsBetter, kBands, 340, 1000, 1).status,
            KpiStatus::kRed);
}

TEST(JudgementTest, BehindPaceTurnsAmberThenRed) {
  EXPECT_EQ(Judge(Polarity::kHigherIsBetter, kBands, 460, 1000, 0.5).status,
            KpiStatus::kAmber);
  EXPECT_EQ(Judge(Polarity::kHigherIsBetter, kBands, 440, 1000, 0.5).status,
            KpiStatus::kRed);
}

TEST(JudgementTest, LowerIsBetterMirrors) {
  // Costs: 600 spent by mid-period against a 1000 budget is over pace.
  const Judgement j = Judge(Polarity::kLowerIsBetter, kLowerBands, 600, 1000, 0.5);
  EXPECT_DOUBLE_EQ(j.expected, 500);
  EXPECT_EQ(j.status, KpiStatus::kRed);
  EXPECT_EQ(Judge(Polarity::kLowerIsBetter, kLowerBands, 540, 1000, 0.5).status,
            KpiStatus::kAmber);
  EXPECT_EQ(Judge(Polarity::kLowerIsBetter, kLowerBands, 480, 1000, 0.5).status,
            KpiStatus::kGreen);
}

TEST(JudgementTest, NothingExpectedYetHasNoPercentage) {
  const Judgement j = Judge(Polarity::kHigherIsBetter, kBands, 0, 1000, 0);
  EXPECT_EQ(j.expected, 0);
  EXPECT_FALSE(j.variance_pct.has_value());
  EXPECT_EQ(j.status, KpiStatus::kGreen);
}

TEST(JudgementTest, AtTheEndTheWholeTargetExactly) {
  EXPECT_EQ(Judge(Polarity::kHigherIsBetter, kBands, 1, 0.3, 1).expected, 0.3);
}

}  // namespace
}  // namespace strata
