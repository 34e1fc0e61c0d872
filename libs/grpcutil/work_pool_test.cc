#include "libs/grpcutil/work_pool.h"

#include <atomic>
#include <memory>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace strata {
namespace {

TEST(WorkPoolTest, RunsWorkOnItsThreadsAndRefusesPastItsLimit) {
  absl::Notification release;
  std::atomic<int> ran{0};
  {
    WorkPool pool("test-pool", 2, 3);
    // Two hold both threads until released; three more wait.
    for (int i = 0; i < 5; ++i) {
      bool submitted = false;
      for (int tries = 0; tries < 1000 && !submitted; ++tries) {
        submitted = pool.Submit([&] {
          release.WaitForNotification();
          ++ran;
        });
        // The first two are taken by the threads before the next wait.
        if (!submitted) absl::SleepFor(absl::Milliseconds(1));
      }
      ASSERT_TRUE(submitted) << i;
      if (i < 2) {
        // Let a thread take it, so that it does not count as waiting.
        absl::SleepFor(absl::Milliseconds(50));
      }
    }
    EXPECT_FALSE(pool.Submit([&] { ++ran; }));  // Three wait already.
    release.Notify();
  }  // Runs what still waits before its threads end.
  EXPECT_EQ(ran, 5);
}

TEST(WorkPoolTest, WorkSubmittedFromItsOwnThreadsRuns) {
  std::atomic<int> ran{0};
  {
    WorkPool pool("test-pool", 1, 10);
    ASSERT_TRUE(pool.Submit([&] {
      ++ran;
      EXPECT_TRUE(pool.Submit([&] { ++ran; }));
    }));
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(ran, 2);
}

}  // namespace
}  // namespace strata
