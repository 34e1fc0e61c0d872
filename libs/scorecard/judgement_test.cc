#include "libs/scorecard/judgement.h"

#include <vector>

#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "libs/period/calendar.h"

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

absl::Time Utc(absl::CivilSecond t) {
  return absl::FromCivil(t, absl::UTCTimeZone());
}

// March 2026 (31 days) against a target of 100, linearly.
class NextStatusChangeTest : public ::testing::Test {
 protected:
  JudgingRule Rule(Polarity polarity, ThresholdBands bands,
                   const TargetProfile& profile) const {
    return {calendar_, {PeriodKind::kMonth, 2026 * 12 + 2}, profile, polarity,
            bands};
  }
  // Within two milliseconds after `t`: the change is on the first
  // millisecond judged otherwise.
  static void ExpectJustAfter(std::optional<absl::Time> got, absl::Time t) {
    ASSERT_TRUE(got.has_value());
    EXPECT_GT(*got, t);
    EXPECT_LE(*got, t + absl::Milliseconds(2));
    EXPECT_EQ(absl::ToUnixNanos(*got) % 1'000'000, 0);
  }

  const Calendar calendar_;  // UTC
  const TargetProfile linear_ = TargetProfile::Linear();
};

TEST_F(NextStatusChangeTest, AFlowStandingStillTurnsAmberThenRed) {
  const JudgingRule rule = Rule(Polarity::kHigherIsBetter, kBands, linear_);
  // 50 is on pace until half the month (15.5 days), within 90 % of it
  // until 50 / 0.9 are due (17 days and 5 h 20 min).
  const absl::Time amber = Utc(absl::CivilSecond(2026, 3, 16, 12));
  const auto first = NextStatusChange(rule, 50, 100, Utc(absl::CivilSecond(2026, 3, 1)));
  ExpectJustAfter(first, amber);
  EXPECT_EQ(rule.At(50, 100, *first).status, KpiStatus::kAmber);
  const auto second = NextStatusChange(rule, 50, 100, *first);
  ExpectJustAfter(second, Utc(absl::CivilSecond(2026, 3, 18, 5, 20)));
  EXPECT_EQ(rule.At(50, 100, *second).status, KpiStatus::kRed);
  EXPECT_FALSE(NextStatusChange(rule, 50, 100, *second).has_value());
  // Whatever it searches from, the same instant.
  EXPECT_EQ(NextStatusChange(rule, 50, 100, Utc(absl::CivilSecond(2026, 3, 9, 7, 3))),
            first);
}

TEST_F(NextStatusChangeTest, NoChangeWhereTheStatusHoldsToTheEnd) {
  const JudgingRule rule = Rule(Polarity::kHigherIsBetter, kBands, linear_);
  EXPECT_FALSE(NextStatusChange(rule, 120, 100, Utc(absl::CivilSecond(2026, 3, 2))));
  EXPECT_FALSE(NextStatusChange(rule, 50, 100, Utc(absl::CivilSecond(2026, 4, 2))));
  const TargetProfile whole_profile = TargetProfile::Whole();
  const JudgingRule whole = Rule(Polarity::kHigherIsBetter, kBands, whole_profile);
  EXPECT_FALSE(NextStatusChange(whole, 50, 100, Utc(absl::CivilSecond(2026, 3, 2))));
}

TEST_F(NextStatusChangeTest, SpendingStandingStillComesBackWithinBudget) {
  // 60 spent of a 100 budget is over pace until 60 / 1.1 are due, then
  // amber until 60 are.
  const JudgingRule rule = Rule(Polarity::kLowerIsBetter, kLowerBands, linear_);
  const auto amber = NextStatusChange(rule, 60, 100, Utc(absl::CivilSecond(2026, 3, 10)));
  ASSERT_TRUE(amber.has_value());
  EXPECT_EQ(rule.At(60, 100, *amber).status, KpiStatus::kAmber);
  const auto green = NextStatusChange(rule, 60, 100, *amber);
  // 60 % of 31 days: 18 days 14 h 24 min.
  ExpectJustAfter(green, Utc(absl::CivilSecond(2026, 3, 19, 14, 24)) -
                             absl::Milliseconds(1));
  EXPECT_EQ(rule.At(60, 100, *green).status, KpiStatus::kGreen);
}

// Within a band the status is not one-way: a flow standing at 50 against a
// 100 target first comes into the band as the expected part grows, then
// leaves it.
TEST_F(NextStatusChangeTest, WithinABandAFlowPassesThroughTheBand) {
  const JudgingRule rule = Rule(Polarity::kWithinBand, {5, 10}, linear_);
  std::vector<KpiStatus> statuses = {
      rule.At(50, 100, Utc(absl::CivilSecond(2026, 3, 1, 1))).status};
  std::vector<double> shares;
  absl::Time t = Utc(absl::CivilSecond(2026, 3, 1, 1));
  while (auto next = NextStatusChange(rule, 50, 100, t)) {
    ASSERT_GT(*next, t);
    t = *next;
    statuses.push_back(rule.At(50, 100, t).status);
    shares.push_back(linear_.ExpectedShare(calendar_, rule.period, t));
    ASSERT_LT(statuses.size(), 10u);
  }
  EXPECT_EQ(statuses,
            (std::vector<KpiStatus>{KpiStatus::kRed, KpiStatus::kAmber,
                                    KpiStatus::kGreen, KpiStatus::kAmber,
                                    KpiStatus::kRed}));
  // Where 50 is 10 %, 5 %, 5 % and 10 % off what is expected.
  const std::vector<double> want = {50 / 1.1 / 100, 50 / 1.05 / 100,
                                    50 / 0.95 / 100, 50 / 0.9 / 100};
  ASSERT_EQ(shares.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(shares[i], want[i], 1e-6) << i;
  }
}

}  // namespace
}  // namespace strata
