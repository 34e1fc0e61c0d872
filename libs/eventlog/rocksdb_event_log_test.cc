// What the embedded log does when its directory is damaged: refuse, naming
// the problem, rather than open empty or short. (What every backend does is
// in event_log_conformance_test.cc.)

#include "libs/eventlog/rocksdb_event_log.h"

#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/eventlog/end_offsets_mark.h"
#include "libs/status/status_matchers.h"
#include "libs/storage/testing/file_damage.h"

namespace strata::eventlog {
namespace {

namespace fs = std::filesystem;
using ::strata::testing::FlipByte;
using ::strata::testing::LargestFile;
using ::strata::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

class RocksDbEventLogDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("strata_log_damage_", getpid(), "_", counter_++);
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  absl::StatusOr<std::unique_ptr<EventLog>> Open(bool verify = true) {
    RocksDbEventLogOptions options;
    options.path = (dir_ / "log").string();
    options.topics = {{"t", 2}};
    options.verify_on_open = verify;
    return OpenRocksDbEventLog(options);
  }

  // Appends `n` incompressible records to t/0 and closes the log; opening
  // it again moves them from the WAL into an SST file.
  void AppendAndSettle(int n) {
    {
      auto log = Open();
      ASSERT_OK(log);
      std::mt19937_64 random(n);
      std::vector<AppendRecord> records;
      for (int i = 0; i < n; ++i) {
        std::string value(200, '\0');
        for (char& c : value) c = static_cast<char>(random());
        records.push_back({"k", value, 0});
      }
      ASSERT_OK((*log)->Append("t", records));
    }
    ASSERT_OK(Open());
  }

  static inline int counter_ = 0;
  fs::path dir_;
};

TEST_F(RocksDbEventLogDamageTest, ReopensWhatItHeldAndKeepsAnEndMark) {
  AppendAndSettle(1000);
  auto log = Open();
  ASSERT_OK(log);
  EXPECT_EQ(*(*log)->EndOffset({"t", 0}), 1000);
  auto mark = ReadEndOffsetsMark((dir_ / "log").string());
  ASSERT_OK(mark);
  EXPECT_EQ((*mark)[TopicPartition({"t", 0})], 1000);
}

TEST_F(RocksDbEventLogDamageTest, ALogThatLostRecordsItAcknowledgedIsRefused) {
  AppendAndSettle(100);
  fs::copy(dir_ / "log", dir_ / "older", fs::copy_options::recursive);
  AppendAndSettle(100);
  // The database as it was at 100 records, under the mark of 200: what a
  // MANIFEST that dropped files, or a restored database, looks like.
  for (const auto& entry : fs::directory_iterator(dir_ / "log")) {
    if (entry.path().filename() != kEndOffsetsMarkFile) fs::remove(entry);
  }
  for (const auto& entry : fs::directory_iterator(dir_ / "older")) {
    if (entry.path().filename() == kEndOffsetsMarkFile) continue;
    fs::copy(entry.path(), dir_ / "log" / entry.path().filename());
  }
  // Before: it opened at offset 100, and the next appends reused offsets
  // consumers had already passed.
  EXPECT_THAT(Open(), StatusIs(absl::StatusCode::kDataLoss,
                               AllOf(HasSubstr("t/0 ends at 100 but had "
                                               "reached 200"),
                                     HasSubstr("100 acknowledged records"))));
}

TEST_F(RocksDbEventLogDamageTest, AFlippedByteIsFoundAtOpen) {
  AppendAndSettle(2000);
  const fs::path sst = LargestFile(dir_ / "log", ".sst");
  ASSERT_FALSE(sst.empty());
  FlipByte(sst, fs::file_size(sst) / 4);
  EXPECT_THAT(Open(), StatusIs(absl::StatusCode::kDataLoss,
                               AllOf(HasSubstr("is damaged"),
                                     HasSubstr("reading t/0"))));
}

TEST_F(RocksDbEventLogDamageTest,
       ACorruptBlockUnverifiedAtOpenFailsTheReadByName) {
  AppendAndSettle(2000);
  const fs::path sst = LargestFile(dir_ / "log", ".sst");
  FlipByte(sst, fs::file_size(sst) / 4);
  auto log = Open(/*verify=*/false);
  ASSERT_OK(log);
  auto consumer = (*log)->NewConsumer("g");
  ASSERT_OK(consumer);
  ASSERT_OK((*consumer)->Assign({{{"t", 0}, 0}}));
  absl::Status failure;
  int64_t read = 0;
  for (int i = 0; i < 100 && failure.ok(); ++i) {
    auto batch = (*consumer)->Poll(500, absl::Milliseconds(10));
    if (!batch.ok())
      failure = batch.status();
    else
      read += batch->size();
  }
  // Before the records up to the bad block, then the block by name; never
  // a silent end of the partition.
  EXPECT_LT(read, 2000);
  EXPECT_THAT(failure, StatusIs(absl::StatusCode::kDataLoss,
                                AllOf(HasSubstr("reading t/0 at offset "),
                                      HasSubstr("Corruption"))));
}

TEST_F(RocksDbEventLogDamageTest, ALogThatLostItsCurrentFileIsNotOpenedEmpty) {
  AppendAndSettle(100);
  fs::remove(dir_ / "log" / "CURRENT");
  EXPECT_THAT(Open(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("is damaged")));
}

}  // namespace
}  // namespace strata::eventlog
