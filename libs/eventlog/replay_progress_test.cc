#include "libs/eventlog/replay_progress.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/eventlog/testing/fault_injecting_event_log.h"
#include "libs/hash/stable_hash.h"
#include "libs/status/status_matchers.h"

namespace strata::eventlog {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

class ReplayProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_replay_", getpid());
    std::filesystem::remove_all(dir_);
    log_ = *OpenRocksDbEventLog({dir_.string(), {{"t", 2}}});
    std::vector<AppendRecord> records;
    for (int i = 0; i < 5; ++i) records.push_back({"k", "v", 0});
    records.push_back({"k", "v", 1});
    ASSERT_OK(log_->Append("t", records));
  }
  void TearDown() override {
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<EventLog> log_;
};

TEST_F(ReplayProgressTest, UnavailableUntilTheEndsAtBeginAreReached) {
  auto progress = ReplayProgress::Begin(*log_, {{{"t", 0}, 1}, {{"t", 1}, 0}},
                                        "test state");
  ASSERT_OK(progress);
  EXPECT_THAT((*progress)->Status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("test state: catching up with the log, 0 of "
                                 "5 records replayed")));
  (*progress)->Advance({"t", 0}, 5);
  EXPECT_THAT((*progress)->Status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("4 of 5")));
  // Records appended after Begin() are not waited for.
  ASSERT_OK(log_->Append("t", {{"k", "v", 1}}));
  (*progress)->Advance({"t", 1}, 1);
  EXPECT_OK((*progress)->Status());
  // A rewind (resuming from committed positions) counts back.
  (*progress)->Advance({"t", 0}, 2);
  EXPECT_THAT((*progress)->Status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("2 of 5")));
}

TEST_F(ReplayProgressTest, APositionBeyondTheLogsEndIsDataLoss) {
  EXPECT_THAT(
      ReplayProgress::Begin(*log_, {{{"t", 0}, 5}, {{"t", 1}, 9}}, "state"),
      StatusIs(absl::StatusCode::kDataLoss,
               HasSubstr("state reflects t/1 up to offset 9 but the log ends "
                         "at 1: 8 records")));
}

// A state that saw records checks the last one it saw; reads failing for a
// moment (a broker down) are retried, not a start refused until restarted.
TEST_F(ReplayProgressTest, ACheckOfTheLastRecordSeenOutlastsFailingReads) {
  const uint64_t hash = StableHash("v");
  FaultInjectingEventLog faulty(*log_);
  faulty.FailPolls(FaultInjectingEventLog::Fault::Next(3));
  EXPECT_OK(ReplayProgress::Begin(faulty, {{{"t", 0}, 5, hash}}, "state")
                .status());
  EXPECT_EQ(faulty.injected(FaultInjectingEventLog::Operation::kPoll), 3);
  // What is read, and does not match, is refused at once.
  faulty.FailPolls(FaultInjectingEventLog::Fault::Next(1));
  EXPECT_THAT(
      ReplayProgress::Begin(faulty, {{{"t", 0}, 5, hash + 1}}, "state")
          .status(),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not match")));
}

}  // namespace
}  // namespace strata::eventlog
