#include "libs/eventlog/testing/fault_injecting_event_log.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/status/status_matchers.h"

namespace strata::eventlog {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;
using Fault = FaultInjectingEventLog::Fault;
using Operation = FaultInjectingEventLog::Operation;

// A real embedded log in a fresh directory, wrapped.
class FaultInjectingEventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_faulty_log_", getpid(), "_", counter_++);
    std::filesystem::remove_all(dir_);
    RocksDbEventLogOptions options;
    options.path = dir_.string();
    options.topics = {{"t", 1}};
    auto real = OpenRocksDbEventLog(options);
    ASSERT_OK(real);
    real_ = std::move(real).value();
    log_ = std::make_unique<FaultInjectingEventLog>(*real_);
  }
  void TearDown() override {
    log_.reset();
    real_.reset();
    std::filesystem::remove_all(dir_);
  }

  absl::Status AppendOne(const std::string& value) {
    return log_->Append("t", {AppendRecord{"k", value}});
  }
  int64_t End() { return *real_->EndOffset({"t", 0}); }

  std::unique_ptr<LogConsumer> ConsumerFromStart(const std::string& group) {
    auto consumer = log_->NewConsumer(group);
    EXPECT_OK(consumer);
    EXPECT_OK((*consumer)->Assign({{{"t", 0}, 0}}));
    return std::move(consumer).value();
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<EventLog> real_;
  std::unique_ptr<FaultInjectingEventLog> log_;
};

TEST_F(FaultInjectingEventLogTest, WithoutFaultsForwardsEverything) {
  EXPECT_EQ(*log_->PartitionCount("t"), 1);
  EXPECT_THAT(log_->PartitionCount("nope"),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(AppendOne("a"));
  ASSERT_OK(AppendOne("b"));
  EXPECT_EQ(*log_->EndOffset({"t", 0}), 2);
  EXPECT_EQ(*log_->StartOffset({"t", 0}), 0);
  auto consumer = ConsumerFromStart("g");
  auto read = consumer->Poll(10, absl::Seconds(1));
  ASSERT_OK(read);
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[1].value, "b");
  ASSERT_OK(consumer->Commit({{{"t", 0}, 2}}));
  EXPECT_EQ(*consumer->Committed({"t", 0}), 2);
  EXPECT_EQ(log_->injected(Operation::kAppend), 0);
}

TEST_F(FaultInjectingEventLogTest, FailsOnlyTheNthAppendAndNothingLands) {
  log_->FailAppends(Fault::Nth(2));
  ASSERT_OK(AppendOne("first"));
  EXPECT_THAT(AppendOne("second"),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("injected append failure")));
  EXPECT_EQ(End(), 1) << "a failure before the call must not append";
  ASSERT_OK(AppendOne("third"));
  ASSERT_OK(AppendOne("fourth"));
  EXPECT_EQ(End(), 3);
  EXPECT_EQ(log_->injected(Operation::kAppend), 1);
}

TEST_F(FaultInjectingEventLogTest, FailsTheNextNAppendsThenPassesAgain) {
  log_->FailAppends(Fault::Next(3));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(AppendOne("x").ok()) << i;
  EXPECT_EQ(End(), 0);
  ASSERT_OK(AppendOne("y"));
  EXPECT_EQ(End(), 1);
  EXPECT_EQ(log_->injected(Operation::kAppend), 3);
}

TEST_F(FaultInjectingEventLogTest, AnAppendFailedAfterTheCallHasLanded) {
  log_->FailAppends(Fault::Next(1).AfterTheCall().WithStatus(
      absl::DeadlineExceededError("ack timed out")));
  EXPECT_THAT(
      log_->Append("t", {AppendRecord{"k", "a"}, AppendRecord{"k", "b"}}),
      StatusIs(absl::StatusCode::kDeadlineExceeded,
               HasSubstr("ack timed out")));
  EXPECT_EQ(End(), 2) << "the records should have landed";
  auto consumer = ConsumerFromStart("g");
  auto read = consumer->Poll(10, absl::Seconds(1));
  ASSERT_OK(read);
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].value, "a");
}

TEST_F(FaultInjectingEventLogTest, AnAppendTheLogRefusesReportsTheLogsError) {
  log_->FailAppends(Fault::Next(1).AfterTheCall());
  // The wrapped log refuses the call: its error, not the injected one.
  EXPECT_THAT(log_->Append("nope", {AppendRecord{"k", "v"}}),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(FaultInjectingEventLogTest, FailsPollsOfEveryConsumerUntilCleared) {
  ASSERT_OK(AppendOne("a"));
  auto first = ConsumerFromStart("g1");
  auto second = ConsumerFromStart("g2");
  log_->FailPolls(Fault::UntilCleared());
  for (int i = 0; i < 5; ++i) {
    EXPECT_THAT(first->Poll(10, absl::Milliseconds(1)),
                StatusIs(absl::StatusCode::kUnavailable,
                         HasSubstr("injected poll failure")));
    EXPECT_THAT(second->Poll(10, absl::Milliseconds(1)),
                StatusIs(absl::StatusCode::kUnavailable));
  }
  EXPECT_EQ(log_->injected(Operation::kPoll), 10);
  log_->ClearFaults();
  // The failed polls consumed nothing.
  auto read = first->Poll(10, absl::Seconds(1));
  ASSERT_OK(read);
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].offset, 0);
}

TEST_F(FaultInjectingEventLogTest, CommitsFailBeforeOrAfterStoring) {
  auto consumer = ConsumerFromStart("g");
  log_->FailCommits(Fault::Next(1));
  EXPECT_THAT(consumer->Commit({{{"t", 0}, 5}}),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("injected commit failure")));
  EXPECT_EQ(*consumer->Committed({"t", 0}), kNoOffset);

  log_->FailCommits(Fault::Next(1).AfterTheCall());
  EXPECT_THAT(consumer->Commit({{{"t", 0}, 7}}),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(*consumer->Committed({"t", 0}), 7);

  ASSERT_OK(consumer->Commit({{{"t", 0}, 8}}));
  EXPECT_EQ(*consumer->Committed({"t", 0}), 8);
  EXPECT_EQ(log_->injected(Operation::kCommit), 2);
}

TEST_F(FaultInjectingEventLogTest, ARearmedFaultCountsCallsFromThen) {
  ASSERT_OK(AppendOne("a"));
  log_->FailAppends(Fault::Nth(2));
  ASSERT_OK(AppendOne("b"));
  log_->FailAppends(Fault::Nth(2));  // Replaces the first: call 1 passes.
  ASSERT_OK(AppendOne("c"));
  EXPECT_FALSE(AppendOne("d").ok());
  EXPECT_EQ(End(), 3);
}

TEST_F(FaultInjectingEventLogTest, ConcurrentCallersShareTheCount) {
  log_->FailAppends(Fault::Next(25));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!AppendOne(absl::StrCat(t, "-", i)).ok()) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed, 25);
  EXPECT_EQ(log_->injected(Operation::kAppend), 25);
  EXPECT_EQ(End(), kThreads * kPerThread - 25);
}

TEST_F(FaultInjectingEventLogTest, AConsumerMayOutliveTheWrapper) {
  ASSERT_OK(AppendOne("a"));
  auto consumer = ConsumerFromStart("g");
  log_.reset();
  auto read = consumer->Poll(10, absl::Seconds(1));
  ASSERT_OK(read);
  EXPECT_EQ(read->size(), 1u);
}

}  // namespace
}  // namespace strata::eventlog
