#include "services/ingest/definitions_writer.h"

#include <filesystem>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/envelope.h"
#include "libs/streams/topics.h"

namespace strata::ingest {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::KpiChange;
using ::strata::testing::StatusIs;
using ::strata::testing::TargetChange;
using ::strata::testing::UnitChange;
using ::testing::HasSubstr;

// A log on which another ingest replica's batch, when one is set, lands
// just before the next definitions append: the race of two writers that
// both checked against the same definitions.
class RacedLog final : public eventlog::EventLog {
 public:
  explicit RacedLog(eventlog::EventLog& log) : log_(log) {}

  void RivalAppendsFirst(const v1::DefinitionBatch& batch) {
    absl::MutexLock lock(&mu_);
    rival_ = batch;
  }

  absl::StatusOr<int32_t> PartitionCount(absl::string_view topic) override {
    return log_.PartitionCount(topic);
  }
  absl::Status Append(absl::string_view topic,
                      absl::Span<const eventlog::AppendRecord> records) override {
    std::optional<v1::DefinitionBatch> rival;
    {
      absl::MutexLock lock(&mu_);
      if (topic == kDefinitionsTopic) std::swap(rival, rival_);
    }
    if (rival) {
      v1::EventEnvelope envelope = NewEnvelope(ThisProducer("rival"));
      *envelope.mutable_definitions() = *rival;
      absl::Status landed = log_.Append(
          topic, {{envelope.event_id(), envelope.SerializeAsString()}});
      if (!landed.ok()) return landed;
    }
    return log_.Append(topic, records);
  }
  absl::StatusOr<int64_t> EndOffset(const eventlog::TopicPartition& tp) override {
    return log_.EndOffset(tp);
  }
  absl::StatusOr<int64_t> StartOffset(
      const eventlog::TopicPartition& tp) override {
    return log_.StartOffset(tp);
  }
  absl::StatusOr<std::unique_ptr<eventlog::LogConsumer>> NewConsumer(
      absl::string_view group) override {
    return log_.NewConsumer(group);
  }

 private:
  eventlog::EventLog& log_;
  absl::Mutex mu_;
  std::optional<v1::DefinitionBatch> rival_ ABSL_GUARDED_BY(mu_);
};

class DefinitionsWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_writer_", getpid());
    std::filesystem::remove_all(dir_);
    real_ = *eventlog::OpenRocksDbEventLog({dir_.string(), DefaultTopics()});
    log_ = std::make_unique<RacedLog>(*real_);
    definitions_ = *DefinitionsFollower::Create(*log_, "test");
    definitions_->Start();
    writer_ = std::make_unique<DefinitionsWriter>(*log_, *definitions_,
                                                  ThisProducer("test"));
    ASSERT_OK(writer_->Apply(Batch({UnitChange("ent", ""),
                                    UnitChange("east", "ent"),
                                    KpiChange("sales")})));
  }
  void TearDown() override {
    writer_.reset();
    definitions_.reset();
    log_.reset();
    real_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<eventlog::EventLog> real_;
  std::unique_ptr<RacedLog> log_;
  std::unique_ptr<DefinitionsFollower> definitions_;
  std::unique_ptr<DefinitionsWriter> writer_;
};

// Both writers checked against definitions without "margin": the rival
// defines it as a stock first, and this batch, defining it as a sum, then
// changes the aggregation of an existing KPI, which every reader refuses.
// It must not be acknowledged.
TEST_F(DefinitionsWriterTest, ABatchARivalMadeInvalidIsAbortedNotAcknowledged) {
  v1::DefinitionChange stock = KpiChange("margin", v1::TIME_AGGREGATION_LAST);
  log_->RivalAppendsFirst(Batch({stock}));
  absl::StatusOr<int64_t> applied = writer_->Apply(
      Batch({KpiChange("margin", v1::TIME_AGGREGATION_SUM),
             TargetChange("margin", "east", "2026-03", 10)}));
  EXPECT_THAT(applied, StatusIs(absl::StatusCode::kAborted,
                                HasSubstr("another writer changed the "
                                          "definitions first")));
  // Every reader holds the rival's margin, a stock, and no target of it.
  const auto current = definitions_->Current();
  const auto margin = current->FindKpi("margin");
  ASSERT_TRUE(margin.has_value());
  EXPECT_EQ(current->kpi(*margin).definition.time_aggregation(),
            v1::TIME_AGGREGATION_LAST);
  EXPECT_FALSE(current
                   ->Target(*margin, *current->FindUnit("east"),
                            *ParsePeriod(PeriodKind::kMonth, "2026-03"))
                   .has_value());
  // Checked and sent again, it is refused at once, precisely.
  EXPECT_THAT(writer_->Apply(Batch({KpiChange("margin", v1::TIME_AGGREGATION_SUM)})),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(DefinitionsWriterTest, ARivalBatchThatLeavesThisOneValidLetsBothApply) {
  log_->RivalAppendsFirst(Batch({UnitChange("west", "ent")}));
  absl::StatusOr<int64_t> applied =
      writer_->Apply(Batch({TargetChange("sales", "east", "2026-03", 10)}));
  ASSERT_OK(applied);
  EXPECT_EQ(*applied, 1);
  EXPECT_TRUE(definitions_->Current()->FindUnit("west").has_value());
  EXPECT_TRUE(definitions_->Current()
                  ->Target(*definitions_->Current()->FindKpi("sales"),
                           *definitions_->Current()->FindUnit("east"),
                           *ParsePeriod(PeriodKind::kMonth, "2026-03"))
                  .has_value());
}

}  // namespace
}  // namespace strata::ingest
