#include "services/rollup/restore_clock.h"

#include "gtest/gtest.h"
#include "libs/clock/clock.h"

namespace strata::rollup {
namespace {

TEST(RestoreClockTest, TimesATakeOverFromTheAssignmentUntilRestored) {
  SimulatedClock clock(absl::FromUnixSeconds(1'790'000'000));
  RestoreClock restores("rollup combine", "strata.rollup-partials", clock);
  restores.Check(true);  // Nothing taken over: nothing to time.
  EXPECT_EQ(restores.figures().restores, 0);

  restores.TookOver({3, 1}, 1200);
  clock.Advance(absl::Milliseconds(700));
  restores.Check(false);
  EXPECT_EQ(restores.figures().restores, 0);
  clock.Advance(absl::Milliseconds(800));
  restores.Check(true);
  RestoreFigures f = restores.figures();
  EXPECT_EQ(f.restores, 1);
  EXPECT_EQ(f.last_ms, 1500);
  EXPECT_EQ(f.max_ms, 1500);
  EXPECT_EQ(f.last_records, 1200);

  // Restored once: later checks time nothing more.
  clock.Advance(absl::Seconds(5));
  restores.Check(true);
  EXPECT_EQ(restores.figures().restores, 1);
}

TEST(RestoreClockTest, ATakeOverDuringARestoreExtendsIt) {
  SimulatedClock clock(absl::FromUnixSeconds(1'790'000'000));
  RestoreClock restores("rollup", "strata.rollup-changes", clock);
  restores.TookOver({0}, 10);
  clock.Advance(absl::Milliseconds(200));
  restores.TookOver({5}, 30);
  clock.Advance(absl::Milliseconds(300));
  restores.Check(true);
  RestoreFigures f = restores.figures();
  EXPECT_EQ(f.restores, 1);
  EXPECT_EQ(f.last_ms, 500);  // From the first assignment.
  EXPECT_EQ(f.last_records, 40);

  // A quicker one later: the longest stays.
  restores.TookOver({2}, 0);
  clock.Advance(absl::Milliseconds(20));
  restores.Check(true);
  f = restores.figures();
  EXPECT_EQ(f.restores, 2);
  EXPECT_EQ(f.last_ms, 20);
  EXPECT_EQ(f.max_ms, 500);
}

}  // namespace
}  // namespace strata::rollup
