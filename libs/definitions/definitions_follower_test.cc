#include "libs/definitions/definitions_follower.h"

#include <atomic>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/envelope.h"
#include "libs/streams/topics.h"

namespace strata {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::KpiChange;
using ::strata::testing::UnitChange;

class DefinitionsFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_follower_", getpid());
    std::filesystem::remove_all(dir_);
    log_ = *eventlog::OpenRocksDbEventLog({dir_.string(), DefaultTopics()});
    follower_ = *DefinitionsFollower::Create(*log_, "test");
  }
  void TearDown() override {
    follower_.reset();
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  void AppendUnit(const std::string& id) {
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    *envelope.mutable_definitions() = Batch({UnitChange(id, "")});
    ASSERT_OK(log_->Append(kDefinitionsTopic,
                           {{"defs", envelope.SerializeAsString()}}));
    ASSERT_OK(follower_->CatchUp(absl::Seconds(5)));
  }

  std::filesystem::path dir_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<DefinitionsFollower> follower_;
};

TEST_F(DefinitionsFollowerTest, AListenerIsCalledOnlyWhileRegistered) {
  std::atomic<int> calls{0};
  auto registration = std::make_unique<DefinitionsFollower::Registration>(
      follower_->AddListener(
          [&](const Definitions& defs, const v1::DefinitionBatch&) {
            EXPECT_TRUE(defs.FindUnit("a").has_value());
            ++calls;
          }));
  follower_->Start();
  AppendUnit("a");
  // Listeners run just after CatchUp() sees the batch applied.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (calls < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(calls, 1);
  // An owner going away takes its listener with it (the rollup engine's
  // was called after the engine was destroyed).
  registration.reset();
  AppendUnit("b");
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(follower_->Current()->FindUnit("b").has_value());
}

// Every reader checks a feed schedule from the same instant: when it was
// first declared on the log.
TEST_F(DefinitionsFollowerTest, AFeedScheduleCountsFromWhenItWasFirstDeclared) {
  follower_->Start();
  auto append = [&](absl::Time at) {
    v1::DefinitionChange kpi = KpiChange("k");
    kpi.mutable_kpi()->add_periods(v1::PERIOD_KIND_DAY);
    kpi.mutable_kpi()->mutable_feed()->set_cadence(v1::PERIOD_KIND_DAY);
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    envelope.mutable_append_time()->set_seconds(absl::ToUnixSeconds(at));
    envelope.mutable_append_time()->set_nanos(0);
    *envelope.mutable_definitions() = Batch({UnitChange("a", ""), kpi});
    ASSERT_OK(log_->Append(kDefinitionsTopic,
                           {{"defs", envelope.SerializeAsString()}}));
    ASSERT_OK(follower_->CatchUp(absl::Seconds(5)));
  };
  const absl::Time first = absl::FromUnixSeconds(1'770'000'000);
  append(first);
  auto since = [&] {
    std::shared_ptr<const Definitions> defs = follower_->Current();
    return defs->kpi(*defs->FindKpi("k")).feed->since;
  };
  EXPECT_EQ(since(), first);
  append(first + absl::Hours(30));
  EXPECT_EQ(since(), first);
}

}  // namespace
}  // namespace strata
