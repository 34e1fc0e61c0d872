#include "libs/aggregation/cell.h"

#include "gtest/gtest.h"
#include "libs/aggregation/fixed_point.h"

namespace strata {
namespace {

TEST(FixedPointTest, RoundTripsFourDecimals) {
  EXPECT_EQ(ToFixedPoint(12.3456), 123456);
  EXPECT_EQ(ToFixedPoint(-0.00005), -1);  // Rounds half away from zero.
  EXPECT_DOUBLE_EQ(FromFixedPoint(ToFixedPoint(1234567.8901)), 1234567.8901);
}

TEST(FixedPointTest, SumsAreExactWhateverTheOrder) {
  // 0.1 + 0.2 + 0.3 differs by order in doubles, never in fixed point.
  const int64_t a = ToFixedPoint(0.1), b = ToFixedPoint(0.2),
                c = ToFixedPoint(0.3);
  EXPECT_EQ((a + b) + c, a + (b + c));
  EXPECT_EQ(FromFixedPoint(a + b + c), 0.6);
}

TEST(CellTest, SumAddsEveryEvent) {
  OwnState own;
  EXPECT_EQ(FoldIntoOwn(TimeAggregation::kSum, {100, 1, 5}, own), 5);
  EXPECT_EQ(FoldIntoOwn(TimeAggregation::kSum, {50, 2, 7}, own), 7);
}

TEST(CellTest, LastKeepsTheLatestEventTimeNotTheLatestArrival) {
  OwnState own;
  EXPECT_EQ(FoldIntoOwn(TimeAggregation::kLast, {200, 1, 40}, own), 40);
  // Arrives later but happened earlier: no change.
  EXPECT_EQ(FoldIntoOwn(TimeAggregation::kLast, {100, 2, 99}, own), 0);
  EXPECT_EQ(own.last_value, 40);
  // Newer: the delta replaces the old contribution.
  EXPECT_EQ(FoldIntoOwn(TimeAggregation::kLast, {300, 3, 35}, own), -5);
  EXPECT_EQ(own.last_value, 35);
}

TEST(CellTest, LastBreaksTimeTiesDeterministically) {
  OwnState a, b;
  // Same two events in either order end in the same state.
  FoldIntoOwn(TimeAggregation::kLast, {100, 7, 1}, a);
  FoldIntoOwn(TimeAggregation::kLast, {100, 9, 2}, a);
  FoldIntoOwn(TimeAggregation::kLast, {100, 9, 2}, b);
  FoldIntoOwn(TimeAggregation::kLast, {100, 7, 1}, b);
  EXPECT_EQ(a.last_value, 2);
  EXPECT_EQ(b.last_value, 2);
}

TEST(CellTest, ApplyDeltaCountsAndVersions) {
  RollupCell cell;
  ApplyDelta(10, 500, cell);
  ApplyDelta(0, 300, cell);
  EXPECT_EQ(cell.value, 10);
  EXPECT_EQ(cell.event_count, 2);
  EXPECT_EQ(cell.last_event_time_us, 500);
  EXPECT_EQ(cell.version, 2);
}

}  // namespace
}  // namespace strata
