#include "libs/scorecard/status.h"

#include "gtest/gtest.h"

namespace strata {
namespace {

TEST(StatusTest, HigherIsBetterBands) {
  const ThresholdBands bands{100, 90};
  const auto p = Polarity::kHigherIsBetter;
  EXPECT_EQ(EvaluateStatus(p, bands, 100, 100), KpiStatus::kGreen);
  EXPECT_EQ(EvaluateStatus(p, bands, 120, 100), KpiStatus::kGreen);
  EXPECT_EQ(EvaluateStatus(p, bands, 90, 100), KpiStatus::kAmber);
  EXPECT_EQ(EvaluateStatus(p, bands, 89.99, 100), KpiStatus::kRed);
}

TEST(StatusTest, LowerIsBetterMirrors) {
  const ThresholdBands bands{100, 110};
  const auto p = Polarity::kLowerIsBetter;
  EXPECT_EQ(EvaluateStatus(p, bands, 80, 100), KpiStatus::kGreen);
  EXPECT_EQ(EvaluateStatus(p, bands, 105, 100), KpiStatus::kAmber);
  EXPECT_EQ(EvaluateStatus(p, bands, 111, 100), KpiStatus::kRed);
}

TEST(StatusTest, BandOrderMustMatchPolarity) {
  EXPECT_TRUE(BandsAreValid(Polarity::kHigherIsBetter, {100, 90}));
  EXPECT_FALSE(BandsAreValid(Polarity::kHigherIsBetter, {90, 100}));
  EXPECT_TRUE(BandsAreValid(Polarity::kLowerIsBetter, {100, 110}));
  EXPECT_FALSE(BandsAreValid(Polarity::kLowerIsBetter, {110, 100}));
  EXPECT_FALSE(BandsAreValid(Polarity::kHigherIsBetter, {0, 0}));
}

TEST(StatusTest, WithinABandTheTargetItselfIsBest) {
  const ThresholdBands bands{5, 10};  // Green within 5 %, amber within 10 %.
  const auto p = Polarity::kWithinBand;
  EXPECT_TRUE(BandsAreValid(p, bands));
  EXPECT_FALSE(BandsAreValid(p, {10, 5}));
  EXPECT_EQ(EvaluateStatus(p, bands, 100, 100), KpiStatus::kGreen);
  EXPECT_EQ(EvaluateStatus(p, bands, 95, 100), KpiStatus::kGreen);
  EXPECT_EQ(EvaluateStatus(p, bands, 105, 100), KpiStatus::kGreen);
  EXPECT_EQ(EvaluateStatus(p, bands, 108, 100), KpiStatus::kAmber);
  EXPECT_EQ(EvaluateStatus(p, bands, 91, 100), KpiStatus::kAmber);
  EXPECT_EQ(EvaluateStatus(p, bands, 111, 100), KpiStatus::kRed);
  EXPECT_EQ(EvaluateStatus(p, bands, 89, 100), KpiStatus::kRed);
  EXPECT_EQ(EvaluateStatus(p, bands, -95, -100), KpiStatus::kGreen);
}

// Spider Impact's normalisation: red line 3.33, goal 6.67, 10 at the goal
// plus its distance from the red line.
TEST(ScoreTest, HigherIsBetterNormalisesBetweenRedLineAndGoal) {
  const ThresholdBands bands{100, 90};
  const auto p = Polarity::kHigherIsBetter;
  EXPECT_DOUBLE_EQ(Score(p, bands, 90, 100), 10.0 / 3);
  EXPECT_DOUBLE_EQ(Score(p, bands, 100, 100), 20.0 / 3);
  EXPECT_DOUBLE_EQ(Score(p, bands, 95, 100), 5);
  EXPECT_DOUBLE_EQ(Score(p, bands, 110, 100), 10);
  EXPECT_DOUBLE_EQ(Score(p, bands, 80, 100), 0);
  EXPECT_EQ(Score(p, bands, 500, 100), 10);  // Clamped.
  EXPECT_EQ(Score(p, bands, -500, 100), 0);
}

TEST(ScoreTest, LowerIsBetterMirrors) {
  const ThresholdBands bands{100, 110};
  const auto p = Polarity::kLowerIsBetter;
  EXPECT_DOUBLE_EQ(Score(p, bands, 110, 100), 10.0 / 3);
  EXPECT_DOUBLE_EQ(Score(p, bands, 100, 100), 20.0 / 3);
  EXPECT_DOUBLE_EQ(Score(p, bands, 90, 100), 10);
  EXPECT_DOUBLE_EQ(Score(p, bands, 120, 100), 0);
  EXPECT_DOUBLE_EQ(Score(p, bands, 105, 100), 5);
}

TEST(ScoreTest, WithinABandTenAtTheTarget) {
  const ThresholdBands bands{5, 10};
  const auto p = Polarity::kWithinBand;
  EXPECT_EQ(Score(p, bands, 100, 100), 10);
  EXPECT_DOUBLE_EQ(Score(p, bands, 105, 100), 20.0 / 3);
  EXPECT_DOUBLE_EQ(Score(p, bands, 95, 100), 20.0 / 3);
  EXPECT_DOUBLE_EQ(Score(p, bands, 90, 100), 10.0 / 3);
  EXPECT_DOUBLE_EQ(Score(p, bands, 85, 100), 0);
  EXPECT_EQ(Score(p, bands, 50, 100), 0);
}

TEST(ScoreTest, AZeroTargetScoresBySide) {
  // Nothing expected yet: on it is the goal, past it full marks.
  EXPECT_DOUBLE_EQ(Score(Polarity::kHigherIsBetter, {100, 90}, 0, 0), 20.0 / 3);
  EXPECT_EQ(Score(Polarity::kHigherIsBetter, {100, 90}, 1, 0), 10);
  EXPECT_EQ(Score(Polarity::kHigherIsBetter, {100, 90}, -1, 0), 0);
  EXPECT_EQ(Score(Polarity::kLowerIsBetter, {100, 110}, 1, 0), 0);
  EXPECT_EQ(Score(Polarity::kLowerIsBetter, {100, 110}, -1, 0), 10);
}

// Found in review: percentages of a negative target reversed their sense
// (higher-is-better never amber, the score falling as the actual rose).
TEST(StatusTest, ANegativeTargetKeepsTheBandsSense) {
  // A loss limit of -100: up to 10 worse is amber.
  const auto higher = Polarity::kHigherIsBetter;
  EXPECT_EQ(EvaluateStatus(higher, {100, 90}, -50, -100), KpiStatus::kGreen);
  EXPECT_EQ(EvaluateStatus(higher, {100, 90}, -100, -100), KpiStatus::kGreen);
  EXPECT_EQ(EvaluateStatus(higher, {100, 90}, -105, -100), KpiStatus::kAmber);
  EXPECT_EQ(EvaluateStatus(higher, {100, 90}, -111, -100), KpiStatus::kRed);
  // Percentages of a negative target are not exact in binary: near.
  EXPECT_NEAR(Score(higher, {100, 90}, -100, -100), 20.0 / 3, 1e-9);
  EXPECT_NEAR(Score(higher, {100, 90}, -110, -100), 10.0 / 3, 1e-9);
  EXPECT_NEAR(Score(higher, {100, 90}, -90, -100), 10, 1e-9);
  EXPECT_GT(Score(higher, {100, 90}, -95, -100),
            Score(higher, {100, 90}, -105, -100));
  // Lower is better below zero: -100 or less is green, up to -90 amber.
  const auto lower = Polarity::kLowerIsBetter;
  EXPECT_EQ(EvaluateStatus(lower, {100, 110}, -120, -100), KpiStatus::kGreen);
  EXPECT_EQ(EvaluateStatus(lower, {100, 110}, -95, -100), KpiStatus::kAmber);
  EXPECT_EQ(EvaluateStatus(lower, {100, 110}, -80, -100), KpiStatus::kRed);
  EXPECT_NEAR(Score(lower, {100, 110}, -95, -100), 5, 1e-9);
}

}  // namespace
}  // namespace strata
