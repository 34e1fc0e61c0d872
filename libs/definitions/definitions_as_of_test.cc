#include "libs/definitions/definitions_as_of.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/envelope.h"
#include "libs/streams/timestamps.h"
#include "libs/streams/topics.h"

namespace strata {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::KpiChange;
using ::strata::testing::TargetChange;
using ::strata::testing::UnitChange;

const absl::Time kT1 = absl::FromUnixSeconds(1780000000);

class DefinitionsAsOfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_as_of_", getpid());
    std::filesystem::remove_all(dir_);
    log_ = *eventlog::OpenRocksDbEventLog({dir_.string(), DefaultTopics()});
  }
  void TearDown() override {
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Append(absl::Time at, const v1::DefinitionBatch& batch) {
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    *envelope.mutable_append_time() = ToTimestamp(at);
    *envelope.mutable_definitions() = batch;
    ASSERT_OK(log_->Append(kDefinitionsTopic,
                           {{"defs", envelope.SerializeAsString()}}));
  }

  // The March target of sales at ent, as of `t`; -1 without one.
  double TargetAsOf(absl::Time t) {
    absl::StatusOr<DefinitionsAsOf> then = ReadDefinitionsAsOf(*log_, t);
    EXPECT_OK(then);
    if (!then.ok()) return -2;
    const v1::DefinitionBatch batch = then->definitions.ToBatch();
    for (const v1::DefinitionChange& change : batch.changes()) {
      if (change.has_target() && change.target().unit_id() == "ent") {
        return change.target().value();
      }
    }
    return -1;
  }

  std::filesystem::path dir_;
  std::unique_ptr<eventlog::EventLog> log_;
};

TEST_F(DefinitionsAsOfTest, EachInstantSeesTheDefinitionsAppendedByThen) {
  Append(kT1, Batch({UnitChange("ent", ""), KpiChange("sales"),
                     TargetChange("sales", "ent", "2026-03", 100)}));
  // A batch that no longer applies (its parent unknown) is skipped, as
  // every follower skips it.
  Append(kT1 + absl::Hours(1), Batch({UnitChange("lost", "nowhere")}));
  Append(kT1 + absl::Hours(2),
         Batch({TargetChange("sales", "ent", "2026-03", 150)}));
  Append(kT1 + absl::Hours(3), Batch({UnitChange("east", "ent")}));

  EXPECT_EQ(TargetAsOf(kT1 - absl::Seconds(1)), -1);
  EXPECT_EQ(TargetAsOf(kT1), 100);
  EXPECT_EQ(TargetAsOf(kT1 + absl::Hours(2) - absl::Nanoseconds(1)), 100);
  EXPECT_EQ(TargetAsOf(kT1 + absl::Hours(2)), 150);

  absl::StatusOr<DefinitionsAsOf> before_east =
      ReadDefinitionsAsOf(*log_, kT1 + absl::Hours(2));
  ASSERT_OK(before_east);
  EXPECT_EQ(before_east->records, 3);
  EXPECT_EQ(before_east->last_appended, kT1 + absl::Hours(2));
  EXPECT_FALSE(before_east->definitions.FindUnit("east").has_value());
  EXPECT_FALSE(before_east->definitions.FindUnit("lost").has_value());
  absl::StatusOr<DefinitionsAsOf> now =
      ReadDefinitionsAsOf(*log_, absl::InfiniteFuture());
  ASSERT_OK(now);
  EXPECT_EQ(now->records, 4);
  EXPECT_TRUE(now->definitions.FindUnit("east").has_value());
}

// The log's order decides, not the writers' clocks: a record stamped
// earlier than one before it is part of no instant before that one's, so
// every answer is a snapshot the services really held.
TEST_F(DefinitionsAsOfTest, ARecordBehindALaterStampedOneWaitsForIt) {
  Append(kT1, Batch({UnitChange("ent", ""), KpiChange("sales")}));
  Append(kT1 + absl::Hours(2),
         Batch({TargetChange("sales", "ent", "2026-03", 150)}));
  Append(kT1 + absl::Hours(1),  // A writer whose clock is behind.
         Batch({TargetChange("sales", "ent", "2026-03", 120)}));
  EXPECT_EQ(TargetAsOf(kT1 + absl::Hours(1)), -1);
  EXPECT_EQ(TargetAsOf(kT1 + absl::Hours(2) - absl::Nanoseconds(1)), -1);
  EXPECT_EQ(TargetAsOf(kT1 + absl::Hours(2)), 120);
}

TEST_F(DefinitionsAsOfTest, AnEmptyLogHasNoDefinitions) {
  absl::StatusOr<DefinitionsAsOf> then =
      ReadDefinitionsAsOf(*log_, absl::InfiniteFuture());
  ASSERT_OK(then);
  EXPECT_EQ(then->records, 0);
  EXPECT_EQ(then->definitions.ToBatch().changes_size(), 0);
}

}  // namespace
}  // namespace strata
