#include "services/rollup/member_directory.h"

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/topics.h"
#include "strata/v1/rollup_internal.pb.h"

namespace strata::rollup {
namespace {

// Waits (bounded) until `done`.
bool WaitUntil(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// What an instance holds, as the test sets it.
class Held {
 public:
  void Set(std::vector<int32_t> partials, std::vector<int32_t> fold_parts = {}) {
    absl::MutexLock lock(&mu_);
    held_ = {std::move(partials), std::move(fold_parts)};
  }
  std::function<MemberHoldings()> Reader() {
    return [this] {
      absl::MutexLock lock(&mu_);
      return held_;
    };
  }

 private:
  absl::Mutex mu_;
  MemberHoldings held_;
};

class MemberDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_members_", getpid(), "_", counter_++);
    std::filesystem::remove_all(dir_);
    eventlog::RocksDbEventLogOptions options;
    options.path = (dir_ / "log").string();
    options.topics = DefaultTopics();
    log_ = *eventlog::OpenRocksDbEventLog(options);
  }
  void TearDown() override {
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<MemberDirectory> Started(Held& merged,
                                           const std::string& address) {
    auto directory = std::make_unique<MemberDirectory>(
        *log_, merged.Reader(), absl::Milliseconds(10));
    EXPECT_OK(directory->Start(address));
    return directory;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<eventlog::EventLog> log_;
};

TEST_F(MemberDirectoryTest, EveryInstanceLearnsWhoMergesWhatAndTheLatestClaimWins) {
  Held a_merges, b_merges;
  a_merges.Set({0, 1});
  auto a = Started(a_merges, "10.0.0.1:7402");
  ASSERT_TRUE(WaitUntil([&] { return a->OwnerOf(1).has_value(); }));
  auto b = Started(b_merges, "10.0.0.2:7402");
  ASSERT_TRUE(WaitUntil([&] { return b->Health().ok(); }));
  // B read A's claim before saying it is healthy.
  EXPECT_EQ(b->OwnerOf(0), "10.0.0.1:7402");
  EXPECT_EQ(b->OwnerOf(2), std::nullopt);

  // Partition 1 moves to B, which claims it before A says it let go.
  b_merges.Set({1, 2});
  for (auto* directory : {a.get(), b.get()}) {
    ASSERT_TRUE(WaitUntil([&] {
      return directory->OwnerOf(1) == "10.0.0.2:7402" &&
             directory->OwnerOf(2) == "10.0.0.2:7402";
    }));
    EXPECT_EQ(directory->OwnerOf(0), "10.0.0.1:7402");
  }
  // Fold parts are claimed alike, apart from the partitions merged.
  a_merges.Set({0}, {0, 1});
  b_merges.Set({1, 2});
  ASSERT_TRUE(WaitUntil([&] { return b->FoldPartOwner(1) == "10.0.0.1:7402"; }));
  b_merges.Set({1, 2}, {1});
  ASSERT_TRUE(WaitUntil([&] { return b->FoldPartOwner(1) == "10.0.0.2:7402"; }));
  EXPECT_EQ(b->FoldPartOwner(0), "10.0.0.1:7402");
  EXPECT_EQ(b->OwnerOf(1), "10.0.0.2:7402");
  EXPECT_EQ(b->OwnerOf(0), "10.0.0.1:7402");

  // A claims it again, after B: A's now, whatever the addresses' order.
  a_merges.Set({});
  ASSERT_TRUE(WaitUntil([&] { return !b->OwnerOf(0).has_value(); }));
  EXPECT_EQ(b->OwnerOf(1), "10.0.0.2:7402");
  a_merges.Set({0, 1});
  for (auto* directory : {a.get(), b.get()}) {
    ASSERT_TRUE(
        WaitUntil([&] { return directory->OwnerOf(1) == "10.0.0.1:7402"; }));
  }
  b_merges.Set({2});

  // B stops: what it merged has no reader until claimed again.
  ASSERT_TRUE(WaitUntil([&] { return a->OwnerOf(2) == "10.0.0.2:7402"; }));
  b.reset();
  ASSERT_TRUE(WaitUntil([&] { return !a->OwnerOf(2).has_value(); }));
  EXPECT_EQ(a->OwnerOf(1), "10.0.0.1:7402");
  EXPECT_EQ(a->OwnerOf(0), "10.0.0.1:7402");
}

TEST_F(MemberDirectoryTest, ARestartedInstanceReplacesItsOwnClaim) {
  Held merged;
  merged.Set({3});
  auto first = Started(merged, "10.0.0.1:7402");
  ASSERT_TRUE(WaitUntil([&] { return first->OwnerOf(3).has_value(); }));
  first.reset();  // Says it merges nothing.
  merged.Set({4});
  auto again = Started(merged, "10.0.0.1:7402");
  ASSERT_TRUE(WaitUntil([&] { return again->OwnerOf(4).has_value(); }));
  EXPECT_EQ(again->OwnerOf(3), std::nullopt);
}

TEST_F(MemberDirectoryTest, AMalformedRecordIsIgnored) {
  Held merged;
  merged.Set({5});
  ASSERT_OK(log_->Append(kRollupMembersTopic, {{"10.0.0.9:1", "\xff\xff", 0}}));
  v1::RollupMember mismatched;  // Its key names another instance.
  mismatched.set_address("10.0.0.8:1");
  mismatched.add_partials_partitions(6);
  ASSERT_OK(log_->Append(kRollupMembersTopic,
                         {{"10.0.0.7:1", mismatched.SerializeAsString(), 0}}));
  auto directory = Started(merged, "10.0.0.1:7402");
  ASSERT_TRUE(WaitUntil([&] { return directory->OwnerOf(5).has_value(); }));
  EXPECT_TRUE(directory->Health().ok());
  EXPECT_EQ(directory->OwnerOf(6), std::nullopt);
}

TEST_F(MemberDirectoryTest, AnInstanceNeedsAnAddress) {
  Held merged;
  MemberDirectory directory(*log_, merged.Reader());
  EXPECT_EQ(directory.Start("").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace strata::rollup
