#include "libs/aggregation/cell.h"

#include "gtest/gtest.h"
#include "libs/aggregation/fixed_point.h"

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

TEST(CellTest, SumsOfTheLargestEventsDoNotWrap) {
  // 923 events of 1e12 wrapped the former int64 cell to a negative total.
  RollupCell cell;
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(ApplyDelta(ToFixedPoint(1e12), {i, 0}, cell));
  }
  EXPECT_EQ(cell.value, absl::int128(ToFixedPoint(1e12)) * 2000);
  EXPECT_GT(cell.value, 0);
}

TEST(CellTest, OverflowOfTheWideSumIsRefusedAndLeavesTheCell) {
  RollupCell cell;
  cell.value = std::numeric_limits<absl::int128>::max() - 5;
  cell.version = 7;
  EXPECT_FALSE(ApplyDelta(6, {1, 0}, cell));
  EXPECT_EQ(cell.value, std::numeric_limits<absl::int128>::max() - 5);
  EXPECT_EQ(cell.version, 7);
  EXPECT_TRUE(ApplyDelta(5, {1, 0}, cell));
  cell.value = std::numeric_limits<absl::int128>::min() + 1;
  EXPECT_FALSE(ApplyDelta(-2, {1, 0}, cell));
}

TEST(CellTest, SumAddsEveryEvent) {
  OwnState own;
  EXPECT_EQ(FoldIntoOwn(TimeAggregation::kSum, {{100, 0}, 1, 5}, own), 5);
  EXPECT_EQ(FoldIntoOwn(TimeAggregation::kSum, {{50, 0}, 2, 7}, own), 7);
}

TEST(CellTest, LastKeepsTheLatestEventTimeNotTheLatestArrival) {
  OwnState own;
  EXPECT_EQ(FoldIntoOwn(TimeAggregation::kLast, {{200, 0}, 1, 40}, own), 40);
  // Arrives later but happened earlier: no change.
  EXPECT_EQ(FoldIntoOwn(TimeAggregation::kLast, {{100, 0}, 2, 99}, own), 0);
  EXPECT_EQ(own.last_value, 40);
  // Newer: the delta replaces the old contribution.
  EXPECT_EQ(FoldIntoOwn(TimeAggregation::kLast, {{300, 0}, 3, 35}, own), -5);
  EXPECT_EQ(own.last_value, 35);
}

TEST(CellTest, LastBreaksTimeTiesDeterministically) {
  OwnState a, b;
  // Same two events in either order end in the same state.
  FoldIntoOwn(TimeAggregation::kLast, {{100, 0}, 7, 1}, a);
  FoldIntoOwn(TimeAggregation::kLast, {{100, 0}, 9, 2}, a);
  FoldIntoOwn(TimeAggregation::kLast, {{100, 0}, 9, 2}, b);
  FoldIntoOwn(TimeAggregation::kLast, {{100, 0}, 7, 1}, b);
  EXPECT_EQ(a.last_value, 2);
  EXPECT_EQ(b.last_value, 2);
}

TEST(CellTest, LastOrdersEventsByNanoseconds) {
  // 800 ns apart: the later one is the latest, whatever its tiebreak.
  OwnState own;
  FoldIntoOwn(TimeAggregation::kLast, {{100, 800}, 1, 2}, own);
  FoldIntoOwn(TimeAggregation::kLast, {{100, 0}, 9, 1}, own);
  EXPECT_EQ(own.last_value, 2);
  // Before 1970 too: -1 s + 0.5 s is later than -1 s.
  OwnState early;
  FoldIntoOwn(TimeAggregation::kLast, {{-1, 500'000'000}, 1, 3}, early);
  FoldIntoOwn(TimeAggregation::kLast, {{-1, 0}, 9, 4}, early);
  EXPECT_EQ(early.last_value, 3);
}

TEST(CellTest, ApplyDeltaCountsAndVersions) {
  RollupCell cell;
  ASSERT_TRUE(ApplyDelta(10, {500, 1}, cell));
  ASSERT_TRUE(ApplyDelta(0, {500, 0}, cell));
  EXPECT_EQ(cell.value, 10);
  EXPECT_EQ(cell.event_count, 2);
  EXPECT_EQ(cell.last_event_time, (EventTime{500, 1}));
  EXPECT_EQ(cell.version, 2);
}

}  // namespace
}  // namespace strata
