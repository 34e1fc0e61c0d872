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

}  // namespace
}  // namespace strata
