#include "libs/storage/testing/fault_injecting_file_system.h"

#include <unistd.h>

#include <filesystem>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"
#include "libs/storage/state_db.h"

namespace strata {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;
using Operation = FaultInjectingFileSystem::Operation;

// A StateDb whose files go through a FaultInjectingFileSystem.
class FaultInjectingFileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_faulty_fs_", getpid(), "_", counter_++);
    std::filesystem::remove_all(dir_);
    fs_ = std::make_shared<FaultInjectingFileSystem>();
    env_ = NewFaultInjectingEnv(fs_);
    Open();
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Open() {
    db_.reset();
    StateDbOptions options;
    options.path = dir_.string();
    options.families = {"cells"};
    options.format = "test/1";
    options.rebuild_when_damaged = false;
    options.env = env_.get();
    auto db = StateDb::Open(options);
    ASSERT_OK(db);
    db_ = std::move(db).value();
  }

  absl::Status Put(const std::string& key, const std::string& value) {
    rocksdb::WriteBatch batch;
    batch.Put(db_->family(0), key, value);
    return db_->Write(batch);
  }

  std::optional<std::string> Get(const std::string& key) {
    auto value = db_->Get(0, key);
    EXPECT_OK(value);
    return value.ok() ? *value : std::nullopt;
  }

  rocksdb::Status Flush() {
    return db_->db().Flush(rocksdb::FlushOptions(),
                           {db_->db().DefaultColumnFamily(), db_->family(0)});
  }

  // Retries `put` until it succeeds or ten seconds pass: RocksDB resumes
  // from a retryable error by itself, about once a second.
  absl::Status PutOnceRecovered(const std::string& key,
                                const std::string& value) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    absl::Status status;
    while (!(status = Put(key, value)).ok() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    return status;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::shared_ptr<FaultInjectingFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<StateDb> db_;
};

TEST_F(FaultInjectingFileSystemTest, WithoutFaultsTheStoreWorks) {
  ASSERT_OK(Put("a", "1"));
  ASSERT_TRUE(Flush().ok());
  Open();
  EXPECT_EQ(Get("a"), "1");
  EXPECT_EQ(fs_->injected(Operation::kRead), 0);
  EXPECT_EQ(fs_->injected(Operation::kWrite), 0);
  EXPECT_EQ(fs_->injected(Operation::kSync), 0);
}

TEST_F(FaultInjectingFileSystemTest, WalWriteFailuresFailWritesUntilCleared) {
  ASSERT_OK(Put("before", "1"));
  fs_->Fail(Operation::kWrite, ".log");
  EXPECT_THAT(Put("during", "2"),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("injected write failure")));
  EXPECT_GE(fs_->injected(Operation::kWrite), 1);
  // The store refuses writes while it cannot recover.
  EXPECT_THAT(Put("during", "3"), StatusIs(absl::StatusCode::kUnavailable));
  fs_->Clear();
  ASSERT_OK(PutOnceRecovered("after", "4"));
  EXPECT_EQ(Get("before"), "1");
  EXPECT_EQ(Get("after"), "4");
  EXPECT_EQ(Get("during"), std::nullopt) << "a failed write applied";
}

TEST_F(FaultInjectingFileSystemTest, SyncFailuresFailAFlushAndThenWrites) {
  // StateDb::Write does not sync; a flush syncs the new SST and MANIFEST.
  ASSERT_OK(Put("before", "1"));
  fs_->Fail(Operation::kSync);
  EXPECT_FALSE(Flush().ok());
  EXPECT_GE(fs_->injected(Operation::kSync), 1);
  EXPECT_THAT(Put("during", "2"), StatusIs(absl::StatusCode::kUnavailable));
  fs_->Clear();
  ASSERT_OK(PutOnceRecovered("after", "3"));
  EXPECT_EQ(Get("before"), "1");
  EXPECT_EQ(Get("after"), "3");
}

TEST_F(FaultInjectingFileSystemTest, FailsOnlyTheNextCountCalls) {
  fs_->Fail(Operation::kWrite, ".log", 1);
  EXPECT_FALSE(Put("a", "1").ok());
  // No Clear(): the one failure spent, the store recovers by itself.
  ASSERT_OK(PutOnceRecovered("b", "2"));
  EXPECT_EQ(fs_->injected(Operation::kWrite), 1);
  EXPECT_EQ(Get("b"), "2");
}

TEST_F(FaultInjectingFileSystemTest, ReadFailuresFailGetsOfFlushedKeys) {
  ASSERT_OK(Put("flushed", "1"));
  ASSERT_TRUE(Flush().ok());
  // Reopened, the block cache is empty: a Get must read the SST.
  Open();
  ASSERT_OK(Put("in-memtable", "2"));
  fs_->Fail(Operation::kRead, ".sst");
  EXPECT_THAT(db_->Get(0, "flushed"),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("injected read failure")));
  EXPECT_GE(fs_->injected(Operation::kRead), 1);
  // What the memtable holds needs no file.
  EXPECT_EQ(Get("in-memtable"), "2");
  fs_->Clear();
  EXPECT_EQ(Get("flushed"), "1");
}

TEST_F(FaultInjectingFileSystemTest, ReadFailuresOfOtherFilesLeaveSstsAlone) {
  ASSERT_OK(Put("flushed", "1"));
  ASSERT_TRUE(Flush().ok());
  Open();
  fs_->Fail(Operation::kRead, "MANIFEST");
  EXPECT_EQ(Get("flushed"), "1");
  EXPECT_EQ(fs_->injected(Operation::kRead), 0);
}

TEST_F(FaultInjectingFileSystemTest, ANonRetryableWriteFailureNeedsAReopen) {
  ASSERT_OK(Put("before", "1"));
  fs_->set_retryable(false);
  fs_->Fail(Operation::kWrite, ".log");
  EXPECT_FALSE(Put("during", "2").ok());
  fs_->Clear();
  // A lost disk: RocksDB does not resume by itself, nor when asked.
  EXPECT_FALSE(db_->db().Resume().ok());
  EXPECT_FALSE(Put("after", "3").ok());
  Open();
  ASSERT_OK(Put("after", "3"));
  EXPECT_EQ(Get("before"), "1");
}

}  // namespace
}  // namespace strata
