#include "libs/scorecard/rollup_score.h"

#include "gtest/gtest.h"
#include "libs/scorecard/status.h"

namespace strata {
namespace {

TEST(RollUpScoresTest, AWeightedMeanOfThePartsWithData) {
  const RolledUpScore s = RollUpScores({{2, 9}, {1, 3}, {5, std::nullopt}});
  ASSERT_TRUE(s.score.has_value());
  EXPECT_DOUBLE_EQ(*s.score, (2 * 9 + 1 * 3) / 3.0);
  EXPECT_EQ(s.status, KpiStatus::kGreen);
  EXPECT_EQ(s.parts, 3);
  EXPECT_EQ(s.parts_scored, 2);
}

TEST(RollUpScoresTest, NoDataIsAStatusOfItsOwn) {
  const RolledUpScore s = RollUpScores({{1, std::nullopt}});
  EXPECT_FALSE(s.score.has_value());
  EXPECT_EQ(s.status, KpiStatus::kNoData);
  EXPECT_EQ(RollUpScores({}).status, KpiStatus::kNoData);
}

TEST(RollUpScoresTest, ScoresMapToTheStatusesTheyStandFor) {
  // On the goal and on the red line as Score() puts a KPI there.
  EXPECT_EQ(StatusOfScore(Score(Polarity::kHigherIsBetter, {100, 90}, 100, 100)),
            KpiStatus::kGreen);
  EXPECT_EQ(StatusOfScore(Score(Polarity::kHigherIsBetter, {100, 90}, 90, 100)),
            KpiStatus::kAmber);
  EXPECT_EQ(StatusOfScore(Score(Polarity::kHigherIsBetter, {100, 90}, 89, 100)),
            KpiStatus::kRed);
  EXPECT_EQ(RollUpScores({{1, 10}, {1, 0}}).status, KpiStatus::kAmber);
}

}  // namespace
}  // namespace strata
