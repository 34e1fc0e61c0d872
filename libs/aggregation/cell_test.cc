#include "libs/aggregation/cell.h"

#include "gtest/gtest.h"
#include "libs/aggregation/figure.h"
#include "libs/aggregation/fixed_point.h"
#include "libs/aggregation/own_state.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "libs/status/status_matchers.h"

namespace strata {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

TEST(FixedPointTest, RoundTripsFourDecimals) {
  EXPECT_EQ(ToFixedPoint(12.3456), 123456);
  EXPECT_EQ(ToFixedPoint(-0.00005), -1);  // Rounds half away from zero.
  EXPECT_DOUBLE_EQ(FromFixedPoint(ToFixedPoint(1234567.8901)), 1234567.8901);
}

TEST(FixedPointTest, ConvertsToTheNearestDouble) {
  // Adding whole and fraction parts rounded twice: 1.8957000000000002.
  EXPECT_EQ(FromFixedPoint(absl::int128(18957)), 1.8957);
  EXPECT_EQ(FromFixedPoint(absl::int128(-18957)), -1.8957);
  EXPECT_EQ(FromFixedPoint(absl::int128(16668)), 1.6668);
}

TEST(FixedPointTest, SumsAreExactWhateverTheOrder) {
  // 0.1 + 0.2 + 0.3 differs by order in doubles, never in fixed point.
  const int64_t a = ToFixedPoint(0.1), b = ToFixedPoint(0.2),
                c = ToFixedPoint(0.3);
  EXPECT_EQ((a + b) + c, a + (b + c));
  EXPECT_EQ(FromFixedPoint(a + b + c), 0.6);
}

TEST(FixedPointTest, DecimalFormIsExact) {
  EXPECT_EQ(FixedPointDecimal(0), "0");
  EXPECT_EQ(FixedPointDecimal(1), "0.0001");
  EXPECT_EQ(FixedPointDecimal(-123450), "-12.345");
  EXPECT_EQ(FixedPointDecimal(absl::int128(10'000) * 5), "5");
  // 1,000 events of 1e12: beyond int64 fixed point, exact here.
  const absl::int128 total = absl::int128(ToFixedPoint(1e12)) * 1000;
  EXPECT_EQ(FixedPointDecimal(total), "1000000000000000");
  EXPECT_EQ(FromFixedPoint(total), 1e15);
  EXPECT_EQ(FixedPointDecimal(std::numeric_limits<absl::int128>::min()),
            "-17014118346046923173168730371588410.5728");
}

TEST(FixedPointTest, ValuesBelowTheResolutionAreRefusedNotZeroed) {
  EXPECT_OK(ValidateEventValue(0));
  EXPECT_OK(ValidateEventValue(0.0001));
  EXPECT_OK(ValidateEventValue(-0.00005));  // Rounds to -0.0001.
  EXPECT_OK(ValidateEventValue(-1e12));
  EXPECT_THAT(ValidateEventValue(1e-5),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("below the resolution of 0.0001")));
  EXPECT_THAT(ValidateEventValue(1e12 + 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("above 1e12")));
  EXPECT_THAT(ValidateEventValue(std::nan("")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("finite")));
}

Contribution Value(int64_t v) { return {true, v, 1, 0}; }
Contribution Weighted(int64_t v, int64_t w) { return {true, v, 1, w}; }
constexpr Contribution kNone{};

TEST(CellTest, SumsOfTheLargestEventsDoNotWrap) {
  // 923 events of 1e12 wrapped the former int64 cell to a negative total.
  RollupCell cell;
  for (int i = 0; i < 2000; ++i) {
    ASSERT_EQ(ApplyContribution(HierarchyAggregation::kSum, kNone,
                                Value(ToFixedPoint(1e12)), cell),
              CellUpdate::kApplied);
  }
  EXPECT_EQ(cell.value, absl::int128(ToFixedPoint(1e12)) * 2000);
  EXPECT_GT(cell.value, 0);
}

TEST(CellTest, OverflowOfTheWideSumIsRefusedAndLeavesTheCell) {
  RollupCell cell;
  cell.value = std::numeric_limits<absl::int128>::max() - 5;
  cell.version = 7;
  EXPECT_EQ(ApplyContribution(HierarchyAggregation::kSum, kNone, Value(6), cell),
            CellUpdate::kOverflow);
  EXPECT_EQ(cell.value, std::numeric_limits<absl::int128>::max() - 5);
  EXPECT_EQ(cell.version, 7);
  EXPECT_EQ(ApplyContribution(HierarchyAggregation::kSum, kNone, Value(5), cell),
            CellUpdate::kApplied);
  cell.value = std::numeric_limits<absl::int128>::min() + 1;
  EXPECT_EQ(
      ApplyContribution(HierarchyAggregation::kSum, kNone, Value(-2), cell),
      CellUpdate::kOverflow);
}

TEST(CellTest, WeightedProductsOverflowLoudly) {
  RollupCell cell;
  Contribution huge{true, absl::int128(1) << 100, 1, absl::int128(1) << 40};
  EXPECT_EQ(ApplyContribution(HierarchyAggregation::kWeightedAvg, kNone, huge,
                              cell),
            CellUpdate::kOverflow);
  EXPECT_EQ(cell.value, 0);
  EXPECT_EQ(cell.weight, 0);
}

TEST(OwnStateTest, SumAndAverageKeepSumAndCount) {
  OwnState own;
  AddToOwn(TimeAggregation::kAvg, {{100, 0}, "a", 5}, own);
  AddToOwn(TimeAggregation::kAvg, {{50, 0}, "b", 7}, own);
  const Contribution c = OwnContribution(TimeAggregation::kAvg, own);
  EXPECT_EQ(c.value, 12);
  EXPECT_EQ(c.count, 2);
  EXPECT_TRUE(RemoveFromOwn(TimeAggregation::kAvg, {{50, 0}, "b", 7}, own));
  EXPECT_EQ(OwnContribution(TimeAggregation::kAvg, own).value, 5);
}

TEST(OwnStateTest, LastKeepsTheLatestEventTimeNotTheLatestArrival) {
  OwnState own;
  AddToOwn(TimeAggregation::kLast, {{200, 0}, "a", 40}, own);
  // Arrives later but happened earlier: no change.
  AddToOwn(TimeAggregation::kLast, {{100, 0}, "b", 99}, own);
  EXPECT_EQ(OwnContribution(TimeAggregation::kLast, own).value, 40);
  AddToOwn(TimeAggregation::kLast, {{300, 0}, "c", 35}, own);
  EXPECT_EQ(OwnContribution(TimeAggregation::kLast, own).value, 35);
}

TEST(OwnStateTest, LastBreaksTimeTiesByEventId) {
  OwnState a, b;
  // Same two events in either order: the greater id is the latest.
  AddToOwn(TimeAggregation::kLast, {{100, 0}, "evt-9", 2}, a);
  AddToOwn(TimeAggregation::kLast, {{100, 0}, "evt-10", 1}, a);
  AddToOwn(TimeAggregation::kLast, {{100, 0}, "evt-10", 1}, b);
  AddToOwn(TimeAggregation::kLast, {{100, 0}, "evt-9", 2}, b);
  EXPECT_EQ(a.last_value, 2);  // "evt-9" > "evt-10" bytewise.
  EXPECT_EQ(b.last_value, 2);
}

TEST(OwnStateTest, LastOrdersEventsByNanoseconds) {
  OwnState own;
  AddToOwn(TimeAggregation::kLast, {{100, 800}, "a", 2}, own);
  AddToOwn(TimeAggregation::kLast, {{100, 0}, "z", 1}, own);
  EXPECT_EQ(own.last_value, 2);
  // Before 1970 too: -1 s + 0.5 s is later than -1 s.
  OwnState early;
  AddToOwn(TimeAggregation::kLast, {{-1, 500'000'000}, "a", 3}, early);
  AddToOwn(TimeAggregation::kLast, {{-1, 0}, "z", 4}, early);
  EXPECT_EQ(early.last_value, 3);
}

TEST(OwnStateTest, RemovingTheLatestOrTheExtremeAsksForARebuild) {
  OwnState last;
  AddToOwn(TimeAggregation::kLast, {{1, 0}, "a", 1}, last);
  AddToOwn(TimeAggregation::kLast, {{2, 0}, "b", 2}, last);
  EXPECT_TRUE(RemoveFromOwn(TimeAggregation::kLast, {{1, 0}, "a", 1}, last));
  EXPECT_FALSE(RemoveFromOwn(TimeAggregation::kLast, {{2, 0}, "b", 2}, last) &&
               last.count > 0);
  OwnState min;
  AddToOwn(TimeAggregation::kMin, {{1, 0}, "a", 5}, min);
  AddToOwn(TimeAggregation::kMin, {{2, 0}, "b", 3}, min);
  AddToOwn(TimeAggregation::kMin, {{3, 0}, "c", 9}, min);
  EXPECT_EQ(OwnContribution(TimeAggregation::kMin, min).value, 3);
  EXPECT_TRUE(RemoveFromOwn(TimeAggregation::kMin, {{3, 0}, "c", 9}, min));
  EXPECT_FALSE(RemoveFromOwn(TimeAggregation::kMin, {{2, 0}, "b", 3}, min));
}

TEST(CellTest, MinFollowsItsHolderAndAsksForARecomputeWhenItWeakens) {
  const auto kMin = HierarchyAggregation::kMin;
  RollupCell cell;
  ASSERT_EQ(ApplyContribution(kMin, kNone, Value(5), cell), CellUpdate::kApplied);
  ASSERT_EQ(ApplyContribution(kMin, kNone, Value(8), cell), CellUpdate::kApplied);
  EXPECT_EQ(cell.value, 5);
  EXPECT_EQ(cell.contributors, 2);
  // The holder improves: applied at once.
  ASSERT_EQ(ApplyContribution(kMin, Value(5), Value(4), cell),
            CellUpdate::kApplied);
  EXPECT_EQ(cell.value, 4);
  // A non-holder worsens: nothing to do.
  ASSERT_EQ(ApplyContribution(kMin, Value(8), Value(9), cell),
            CellUpdate::kApplied);
  EXPECT_EQ(cell.value, 4);
  // The holder worsens: only the other units can say what the minimum is.
  EXPECT_EQ(ApplyContribution(kMin, Value(4), Value(10), cell),
            CellUpdate::kRecompute);
  const RollupCell child{9, 0, 1};
  const RollupCell* children[] = {&child};
  RecomputeExtreme(kMin, Value(10), children, cell);
  EXPECT_EQ(cell.value, 9);
  EXPECT_EQ(cell.contributors, 2);
  // Every unit gone: no value.
  RollupCell single;
  ASSERT_EQ(ApplyContribution(kMin, kNone, Value(-3), single),
            CellUpdate::kApplied);
  ASSERT_EQ(ApplyContribution(kMin, Value(-3), kNone, single),
            CellUpdate::kApplied);
  EXPECT_EQ(single.contributors, 0);
  EXPECT_FALSE(CellFigure(TimeAggregation::kLast, kMin, single).value);
}

TEST(CellTest, AverageOfUnitsAndWeightedAverage) {
  RollupCell avg;
  ASSERT_EQ(ApplyContribution(HierarchyAggregation::kAvg, kNone, Value(10), avg),
            CellUpdate::kApplied);
  ASSERT_EQ(ApplyContribution(HierarchyAggregation::kAvg, kNone, Value(20), avg),
            CellUpdate::kApplied);
  ASSERT_EQ(
      ApplyContribution(HierarchyAggregation::kAvg, Value(20), Value(25), avg),
      CellUpdate::kApplied);
  Figure mean = CellFigure(TimeAggregation::kLast, HierarchyAggregation::kAvg, avg);
  EXPECT_EQ(mean.numerator, "0.0035");
  EXPECT_EQ(mean.denominator, "2");
  EXPECT_DOUBLE_EQ(*mean.value, 0.00175);
  // Satisfaction 80 with 100 customers, 60 with 300: (8000+18000)/400 = 65.
  RollupCell weighted;
  const auto kWeighted = HierarchyAggregation::kWeightedAvg;
  ASSERT_EQ(ApplyContribution(kWeighted, kNone,
                              Weighted(ToFixedPoint(80), ToFixedPoint(100)),
                              weighted),
            CellUpdate::kApplied);
  ASSERT_EQ(ApplyContribution(kWeighted, kNone,
                              Weighted(ToFixedPoint(60), ToFixedPoint(300)),
                              weighted),
            CellUpdate::kApplied);
  Figure f = CellFigure(TimeAggregation::kLast, kWeighted, weighted);
  EXPECT_DOUBLE_EQ(*f.value, 65);
  EXPECT_EQ(f.numerator, "26000");
  EXPECT_EQ(f.denominator, "400");
}

TEST(FigureTest, RatiosComeFromTheSumsNeverFromAveragedRatios) {
  // Profit 10 of revenue 100 and 90 of 100: margin 100/200 = 0.5, not the
  // mean of 0.1 and 0.9 (also 0.5) nor of 0.1 and 0.45 with revenue 200.
  Figure profit = CellFigure(TimeAggregation::kSum, HierarchyAggregation::kSum,
                             {ToFixedPoint(100)});
  Figure revenue = CellFigure(TimeAggregation::kSum, HierarchyAggregation::kSum,
                              {ToFixedPoint(300)});
  Figure margin = FormulaFigure(FormulaOperator::kRatio, 0, profit, revenue);
  EXPECT_DOUBLE_EQ(*margin.value, 1.0 / 3);
  EXPECT_EQ(margin.numerator, "100");
  EXPECT_EQ(margin.denominator, "300");
  Figure per_thousand =
      FormulaFigure(FormulaOperator::kRatio, 1000, profit, revenue);
  EXPECT_DOUBLE_EQ(*per_thousand.value, 1000.0 / 3);
  Figure pct = FormulaFigure(FormulaOperator::kPercentage, 0, profit, revenue);
  EXPECT_DOUBLE_EQ(*pct.value, 100.0 / 3);
  Figure difference =
      FormulaFigure(FormulaOperator::kDifference, 0, profit, revenue);
  EXPECT_EQ(difference.exact, "-200");
  Figure zero = CellFigure(TimeAggregation::kSum, HierarchyAggregation::kSum, {});
  Figure undefined = FormulaFigure(FormulaOperator::kRatio, 0, profit, zero);
  EXPECT_FALSE(undefined.value);
  EXPECT_EQ(undefined.no_value_reason, "the denominator is 0");
}

TEST(FigureTest, DecimalStringsAreExact) {
  EXPECT_EQ(DecimalString(125, 1), "12.5");
  EXPECT_EQ(DecimalString(-5, 8), "-0.00000005");
  EXPECT_EQ(DecimalString(300, 0), "300");
}

TEST(CellTest, NoteEventCountsAndVersions) {
  RollupCell cell;
  NoteEvent(1, {500, 1}, cell);
  NoteEvent(1, {400, 0}, cell);
  NoteEvent(-1, {300, 0}, cell);
  EXPECT_EQ(cell.event_count, 1);
  EXPECT_EQ(cell.last_event_time, (EventTime{500, 1}));
  EXPECT_EQ(cell.version, 3);
}

}  // namespace
}  // namespace strata
