#include "libs/storage/state_db.h"

#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"
#include "libs/storage/testing/file_damage.h"

namespace strata {
namespace {

namespace fs = std::filesystem;
using ::strata::testing::FlipByte;
using ::strata::testing::LargestFile;
using ::strata::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

class StateDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("strata_state_db_", getpid(), "_", counter_++);
    fs::remove_all(dir_);
    fs::remove_all(Discarded());
  }
  void TearDown() override {
    fs::remove_all(dir_);
    fs::remove_all(Discarded());
  }

  fs::path Discarded() const {
    fs::path aside = dir_;
    aside += ".discarded";
    return aside;
  }

  StateDbOptions Options(bool rebuild, std::string format = "test/1") {
    StateDbOptions options;
    options.path = dir_.string();
    options.families = {"a", "b"};
    options.format = std::move(format);
    options.rebuild_when_damaged = rebuild;
    return options;
  }

  // A store with 20,000 incompressible values in SST files of both
  // families, and a position.
  void Fill() {
    auto db = StateDb::Open(Options(false));
    ASSERT_OK(db);
    std::mt19937_64 random(7);
    for (int batch = 0; batch < 20; ++batch) {
      rocksdb::WriteBatch write;
      for (int i = 0; i < 1000; ++i) {
        std::string value(100, '\0');
        for (char& c : value) c = static_cast<char>(random());
        const std::string key = absl::StrCat("key", batch * 1000 + i);
        write.Put((*db)->family(0), key, value);
        write.Put((*db)->family(1), key, value);
      }
      StateDb::PutPosition(write, "t", 0, batch + 1);
      ASSERT_OK((*db)->Write(write));
    }
    std::vector<rocksdb::ColumnFamilyHandle*> families = {
        (*db)->db().DefaultColumnFamily(), (*db)->family(0), (*db)->family(1)};
    ASSERT_TRUE((*db)->db().Flush(rocksdb::FlushOptions(), families).ok());
  }

  static inline int counter_ = 0;
  fs::path dir_;
};

TEST_F(StateDbTest, CreatesInAnEmptyDirectoryAndReopens) {
  Fill();
  auto db = StateDb::Open(Options(false));
  ASSERT_OK(db);
  EXPECT_FALSE((*db)->created());
  EXPECT_EQ((*db)->Position("t", 0)->offset, 20);
  EXPECT_TRUE((*(*db)->Get(0, "key19999")).has_value());
}

TEST_F(StateDbTest, AFlippedByteInAnSstIsFoundAtOpenNotByAQueryLater) {
  Fill();
  const fs::path sst = LargestFile(dir_, ".sst");
  ASSERT_FALSE(sst.empty());
  FlipByte(sst, fs::file_size(sst) / 4);
  EXPECT_THAT(
      StateDb::Open(Options(false)),
      StatusIs(absl::StatusCode::kDataLoss,
               AllOf(HasSubstr("is damaged"), HasSubstr("checksum mismatch"))));
  // Derived state: moved aside and started afresh, for the log to rebuild.
  auto rebuilt = StateDb::Open(Options(true));
  ASSERT_OK(rebuilt);
  EXPECT_TRUE((*rebuilt)->created());
  EXPECT_EQ((*rebuilt)->Position("t", 0)->offset, 0);
  EXPECT_TRUE(fs::exists(Discarded()));
}

TEST_F(StateDbTest, ATruncatedManifestIsRefused) {
  Fill();
  fs::path found;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().filename().string().rfind("MANIFEST-", 0) == 0) {
      found = entry.path();
    }
  }
  ASSERT_FALSE(found.empty());
  fs::resize_file(found, fs::file_size(found) / 2);
  EXPECT_THAT(StateDb::Open(Options(false)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("is damaged")));
}

TEST_F(StateDbTest, AManifestCutShortAnywhereIsRefused) {
  Fill();
  fs::path manifest;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().filename().string().rfind("MANIFEST-", 0) == 0) {
      manifest = entry.path();
    }
  }
  ASSERT_FALSE(manifest.empty());
  // At some record boundaries RocksDB opens a cut MANIFEST silently, with
  // the files of the lost records missing from the store (holes).
  fs::resize_file(manifest, fs::file_size(manifest) - 1);
  EXPECT_THAT(StateDb::Open(Options(false)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("cut short")));
}

TEST_F(StateDbTest, AStoreThatLostItsCurrentFileIsNotOpenedAsEmpty) {
  Fill();
  fs::remove(dir_ / "CURRENT");
  // Before, it opened as a new, empty store: every position back to 0.
  EXPECT_THAT(StateDb::Open(Options(false)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("is damaged")));
}

TEST_F(StateDbTest, AnotherFormatIsRefusedOrRebuilt) {
  Fill();
  EXPECT_THAT(StateDb::Open(Options(false, "test/2")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("holds format test/1; this build reads "
                                 "test/2")));
  auto rebuilt = StateDb::Open(Options(true, "test/2"));
  ASSERT_OK(rebuilt);
  EXPECT_TRUE((*rebuilt)->created());
}

TEST_F(StateDbTest, AStoreMarkedWhileRunningIsRebuiltAtTheNextOpen) {
  Fill();
  {
    auto db = StateDb::Open(Options(false));
    ASSERT_OK(db);
    ASSERT_OK((*db)->MarkForRebuild("malformed cell 'x'"));
  }
  EXPECT_THAT(StateDb::Open(Options(false)),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("marked for rebuild: malformed cell 'x'")));
  auto rebuilt = StateDb::Open(Options(true));
  ASSERT_OK(rebuilt);
  EXPECT_EQ((*rebuilt)->Position("t", 0)->offset, 0);
}

}  // namespace
}  // namespace strata
