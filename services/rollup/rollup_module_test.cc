#include "services/rollup/rollup_module.h"

#include <unistd.h>

#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/topics.h"

namespace strata::rollup {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

class RollupModuleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_rollup_module_", getpid());
    std::filesystem::remove_all(dir_);
    log_ = *eventlog::OpenRocksDbEventLog(
        {(dir_ / "log").string(), DefaultTopics()});
    definitions_ = *DefinitionsFollower::Create(*log_, "test");
  }
  void TearDown() override {
    definitions_.reset();
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  absl::Status Create(const std::string& state, bool scale_out) {
    RollupModuleOptions options;
    options.state_dir = (dir_ / state).string();
    options.scale_out = scale_out;
    return RollupModule::Create(options, *log_, *definitions_).status();
  }

  std::filesystem::path dir_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<DefinitionsFollower> definitions_;
};

// Versions published whole and scaled out do not follow each other, so a
// state directory stays in the mode it was folded in.
TEST_F(RollupModuleTest, AStateDirectoryIsNotSwitchedBetweenWholeAndScaledOut) {
  ASSERT_OK(Create("whole", /*scale_out=*/false));
  EXPECT_THAT(Create("whole", /*scale_out=*/true),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("was folded whole; switching to scaled out")));
  ASSERT_OK(Create("scaled", /*scale_out=*/true));
  EXPECT_THAT(Create("scaled", /*scale_out=*/false),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("was folded scaled out; switching to whole")));
  EXPECT_OK(Create("whole", /*scale_out=*/false));
  EXPECT_OK(Create("scaled", /*scale_out=*/true));
}

// Several instances in one process fold scaled out, and only there: the
// instances of another process could not reach them.
TEST_F(RollupModuleTest, SeveralInstancesInOneProcessAreScaledOutAndEmbedded) {
  RollupModuleOptions options;
  options.state_dir = (dir_ / "state").string();
  options.instances = 0;
  EXPECT_THAT(RollupModule::Create(options, *log_, *definitions_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("rollup instances: 0")));
  options.instances = 2;
  EXPECT_THAT(RollupModule::Create(options, *log_, *definitions_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("several folding scaled out")));
  options.scale_out = true;
  options.peer_address = [] { return std::string("rollup-0:7402"); };
  EXPECT_THAT(RollupModule::Create(options, *log_, *definitions_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not instances elsewhere")));
  options.peer_address = nullptr;
  // One the groups would give nothing could never catch up.
  options.instances = 9;
  EXPECT_THAT(RollupModule::Create(options, *log_, *definitions_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("rollup instances: 9: at most 8")));
  options.instances = 2;
  ASSERT_OK(RollupModule::Create(options, *log_, *definitions_).status());
  // The second instance keeps its stores apart.
  EXPECT_TRUE(std::filesystem::exists(dir_ / "state" / "fold"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "state" / "instance-2" / "fold"));
}

}  // namespace
}  // namespace strata::rollup
