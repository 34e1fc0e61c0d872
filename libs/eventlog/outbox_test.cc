#include "libs/eventlog/outbox.h"

#include <filesystem>
#include <string>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace strata::eventlog {
namespace {

using ::strata::testing::StatusIs;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_outbox_", getpid());
    std::filesystem::remove_all(dir_);
    StateDbOptions options;
    options.path = dir_.string();
    options.families = {"state", "meta"};
    options.format = "strata.outbox-test/1";
    db_ = *StateDb::Open(options);
  }
  void TearDown() override {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<StateDb> db_;
};

TEST_F(OutboxTest, KeepsRecordsInOrderWithTheirPlacementUntilCleared) {
  Outbox outbox(*db_, 1);
  // Over ten records, so that byte order of the keys must follow numbers.
  std::vector<AppendRecord> records;
  for (int i = 0; i < 12; ++i) {
    records.push_back({absl::StrCat("key-", i),
                       std::string("va\0lue", 6) + std::to_string(i),
                       i % 3 == 0 ? -1 : i});
  }
  rocksdb::WriteBatch batch;
  outbox.PutInto(batch, records);
  ASSERT_OK(db_->Write(batch));

  absl::StatusOr<std::vector<AppendRecord>> read = outbox.Read();
  ASSERT_OK(read);
  ASSERT_EQ(read->size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ((*read)[i].key, records[i].key);
    EXPECT_EQ((*read)[i].value, records[i].value);
    EXPECT_EQ((*read)[i].partition, records[i].partition);
  }
  ASSERT_OK(outbox.Clear());
  read = outbox.Read();
  ASSERT_OK(read);
  EXPECT_TRUE(read->empty());
}

TEST_F(OutboxTest, ADamagedRecordIsDataLossNotASkippedRecord) {
  rocksdb::WriteBatch batch;
  Outbox(*db_, 1).PutInto(batch, {{"k", "v", 2}});
  ASSERT_OK(db_->Write(batch));
  // The record's header says its key is longer than the record.
  rocksdb::WriteBatch damage;
  std::string key = "outbox/";
  key += std::string(8, '\0');
  damage.Put(db_->family(1), key, EncodeFixed64s({100, 2}) + "kv");
  ASSERT_OK(db_->Write(damage));
  EXPECT_THAT(Outbox(*db_, 1).Read(),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::HasSubstr("malformed outbox record")));
}

}  // namespace
}  // namespace strata::eventlog
