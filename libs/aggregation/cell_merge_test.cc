#include "libs/aggregation/cell_merge.h"

#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "libs/aggregation/own_state.h"
#include "libs/status/status_matchers.h"

namespace strata {
namespace {

using ::strata::testing::StatusIs;

constexpr int kUnits = 10;
constexpr int kParts = 3;

// Folds one unit's change into `cell`, whose scope is the units `in_scope`
// says, as the engine folds it into an ancestor's cell.
void Fold(HierarchyAggregation aggregation, const Contribution& before,
          const Contribution& after, const std::vector<Contribution>& units,
          const std::function<bool(int)>& in_scope, const EventTime& time,
          RollupCell& cell) {
  const CellUpdate update = ApplyContribution(aggregation, before, after, cell);
  ASSERT_NE(update, CellUpdate::kOverflow);
  if (update == CellUpdate::kRecompute) {
    // Each unit of the scope as a child holding its own contribution.
    std::vector<RollupCell> children;
    for (int u = 0; u < kUnits; ++u) {
      if (!in_scope(u) || !units[u].present) continue;
      RollupCell child;
      child.value = units[u].value;
      child.contributors = 1;
      children.push_back(child);
    }
    std::vector<const RollupCell*> pointers;
    for (const RollupCell& c : children) pointers.push_back(&c);
    RecomputeExtreme(aggregation, Contribution{}, pointers, cell);
  }
  NoteEvent(before.present == after.present ? 0 : (after.present ? 1 : -1),
            time, cell);
}

class CellMergeTest
    : public ::testing::TestWithParam<HierarchyAggregation> {};

// Units fold into one cell and, split three ways, into three partial cells;
// after every change the merged parts equal the whole, field by field.
TEST_P(CellMergeTest, MergedPartsEqualOneCellOverEveryUnit) {
  const HierarchyAggregation aggregation = GetParam();
  std::mt19937_64 rng(20261207 + static_cast<int>(aggregation));
  std::vector<Contribution> units(kUnits);
  RollupCell whole;
  std::vector<RollupCell> parts(kParts);
  for (int step = 0; step < 2000; ++step) {
    const int u = static_cast<int>(rng() % kUnits);
    Contribution after;
    after.present = rng() % 5 != 0;  // Sometimes the unit's value goes.
    if (after.present) {
      after.value = static_cast<int64_t>(rng() % 2001) - 1000;
      after.count = aggregation == HierarchyAggregation::kAvg
                        ? static_cast<int64_t>(1 + rng() % 5)
                        : 1;
      after.weight = static_cast<int64_t>(1 + rng() % 100);
    }
    const Contribution before = units[u];
    units[u] = after;
    const EventTime time{1767225600 + static_cast<int64_t>(rng() % 100000),
                         0};
    Fold(aggregation, before, after, units, [](int) { return true; }, time,
         whole);
    Fold(aggregation, before, after, units,
         [&](int other) { return other % kParts == u % kParts; }, time,
         parts[u % kParts]);
    ASSERT_FALSE(::testing::Test::HasFatalFailure());

    std::vector<const RollupCell*> pointers;
    for (const RollupCell& p : parts) pointers.push_back(&p);
    absl::StatusOr<RollupCell> merged =
        MergePartialCells(aggregation, pointers);
    ASSERT_OK(merged);
    ASSERT_EQ(merged->value, whole.value) << "step " << step;
    ASSERT_EQ(merged->weight, whole.weight) << "step " << step;
    ASSERT_EQ(merged->contributors, whole.contributors) << "step " << step;
    ASSERT_EQ(merged->event_count, whole.event_count) << "step " << step;
    ASSERT_EQ(merged->last_event_time, whole.last_event_time)
        << "step " << step;
    ASSERT_EQ(merged->version, whole.version) << "step " << step;
  }
}

INSTANTIATE_TEST_SUITE_P(Aggregations, CellMergeTest,
                         ::testing::Values(HierarchyAggregation::kSum,
                                           HierarchyAggregation::kAvg,
                                           HierarchyAggregation::kWeightedAvg,
                                           HierarchyAggregation::kMin,
                                           HierarchyAggregation::kMax));

TEST(CellMergeTest, PartsNothingReachedLeaveNoTrace) {
  RollupCell reached;
  reached.value = 5;
  reached.contributors = 1;
  reached.event_count = 1;
  reached.last_event_time = {100, 0};
  reached.version = 1;
  const RollupCell empty;
  absl::StatusOr<RollupCell> merged =
      MergePartialCells(HierarchyAggregation::kMin, {&empty, &reached});
  ASSERT_OK(merged);
  EXPECT_EQ(merged->value, 5);  // Not 0 from the empty part.
  EXPECT_EQ(merged->last_event_time, (EventTime{100, 0}));
  EXPECT_EQ(merged->version, 1);
}

TEST(CellMergeTest, ATotalLeavingItsRangeIsRefusedNotWrapped) {
  RollupCell big;
  big.value = std::numeric_limits<absl::int128>::max() - 1;
  big.contributors = 1;
  big.event_count = 1;
  big.version = 1;
  RollupCell more = big;
  more.value = 2;
  EXPECT_THAT(MergePartialCells(HierarchyAggregation::kSum, {&big, &more}),
              StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(CellMergeTest, DerivedKpisHaveNothingToMerge) {
  EXPECT_THAT(MergePartialCells(HierarchyAggregation::kRatio, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace strata
