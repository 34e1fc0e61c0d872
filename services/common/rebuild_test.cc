#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/eventlog/testing/fault_injecting_event_log.h"
#include "libs/status/status_matchers.h"
#include "libs/storage/state_db.h"
#include "libs/streams/topics.h"
#include "services/common/process.h"

namespace strata {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

class PrepareRebuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_rebuild_", getpid());
    std::filesystem::remove_all(dir_);
    options_.data_dir = dir_.string();
    eventlog::RocksDbEventLogOptions log_options;
    log_options.path = (dir_ / "log").string();
    log_options.topics = DefaultTopics();
    log_ = *eventlog::OpenRocksDbEventLog(log_options);
    faulty_ = std::make_unique<eventlog::FaultInjectingEventLog>(*log_);
    StateDbOptions store;
    store.path = (dir_ / "rollup").string();
    store.families = {"cells"};
    store.format = "test/1";
    ASSERT_OK(StateDb::Open(store).status());
  }
  void TearDown() override {
    faulty_.reset();
    log_.reset();
    std::filesystem::remove_all(dir_);
  }
  bool Marked(const std::string& store) {
    return std::filesystem::exists(dir_ / store / "REBUILD");
  }

  std::filesystem::path dir_;
  ServerOptions options_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<eventlog::FaultInjectingEventLog> faulty_;
};

TEST_F(PrepareRebuildTest, MarksEveryStoreButTheLog) {
  ASSERT_OK(PrepareRebuild(options_, *faulty_));
  EXPECT_TRUE(Marked("rollup"));
  EXPECT_FALSE(Marked("log"));
}

// A scaled-out rollup keeps a store per stage, and per instance of the
// process, in directories of their own: each is rebuilt too (before, only
// stores directly in the data directory were, and `strata rebuild` said
// it had rebuilt a scaled-out rollup it had left as it was).
TEST_F(PrepareRebuildTest, MarksTheStoresOfEveryStageAndInstance) {
  for (const char* nested : {"scaled/route", "scaled/fold",
                             "scaled/instance-2/combine"}) {
    StateDbOptions store;
    store.path = (dir_ / nested).string();
    store.families = {"cells"};
    store.format = "test/1";
    ASSERT_OK(StateDb::Open(store).status());
  }
  ASSERT_OK(PrepareRebuild(options_, *faulty_));
  EXPECT_TRUE(Marked("scaled/route"));
  EXPECT_TRUE(Marked("scaled/fold"));
  EXPECT_TRUE(Marked("scaled/instance-2/combine"));
  EXPECT_FALSE(Marked("scaled"));
}

TEST_F(PrepareRebuildTest, RefusesALogThatLostItsFirstRecordsAndKeepsTheStores) {
  faulty_->SimulateRetention({std::string(kKpiEventsTopic), 3}, 1200);
  EXPECT_THAT(PrepareRebuild(options_, *faulty_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("strata.kpi-events/3 starts at offset 1200")));
  // Nothing was given up: the stores stand as they were.
  EXPECT_FALSE(Marked("rollup"));
}

}  // namespace
}  // namespace strata
