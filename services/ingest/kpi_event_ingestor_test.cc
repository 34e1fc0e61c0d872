#include "services/ingest/kpi_event_ingestor.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/envelope.h"
#include "libs/clock/clock.h"
#include "libs/streams/topics.h"

namespace strata::ingest {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::KpiChange;
using ::strata::testing::StatusIs;
using ::strata::testing::UnitChange;
using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// An embedded log with two teams and one KPI, and an ingestor over it.
class KpiEventIngestorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_ingestor_", getpid(), "_", counter_++);
    std::filesystem::remove_all(dir_);
    eventlog::RocksDbEventLogOptions options;
    options.path = (dir_ / "log").string();
    options.topics = DefaultTopics();
    log_ = *eventlog::OpenRocksDbEventLog(options);
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    *envelope.mutable_definitions() =
        Batch({UnitChange("ent", ""), UnitChange("team-a", "ent"),
               UnitChange("team-b", "ent"), KpiChange("sales")});
    ASSERT_OK(log_->Append(kDefinitionsTopic,
                           {{"defs", envelope.SerializeAsString()}}));
    definitions_ = *DefinitionsFollower::Create(*log_, "test");
    definitions_->Start();
    ASSERT_OK(definitions_->CatchUp(absl::Seconds(5)));
    partitions_ = *log_->PartitionCount(kKpiEventsTopic);
    index_ = *EventIdIndex::Open((dir_ / "ingest").string());
    ingestor_ = NewIngestor(*index_);
  }
  void TearDown() override {
    ingestor_.reset();
    index_.reset();
    definitions_.reset();
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<KpiEventIngestor> NewIngestor(EventIdIndex& index) {
    return std::make_unique<KpiEventIngestor>(
        *log_, *definitions_, index, ThisProducer("test"), partitions_);
  }

  static google::protobuf::RepeatedPtrField<v1::KpiEvent> Events(
      std::vector<std::tuple<std::string, std::string, double>> events) {
    google::protobuf::RepeatedPtrField<v1::KpiEvent> out;
    for (const auto& [id, unit, value] : events) {
      v1::KpiEvent* e = out.Add();
      e->set_event_id(id);
      e->set_kpi_id("sales");
      e->set_unit_id(unit);
      e->mutable_event_time()->set_seconds(1'790'000'000);
      e->set_value(value);
    }
    return out;
  }

  // Records on the KPI events topic, per partition.
  std::vector<int64_t> EndOffsets() {
    std::vector<int64_t> ends;
    for (int32_t p = 0; p < partitions_; ++p) {
      ends.push_back(*log_->EndOffset({kKpiEventsTopic, p}));
    }
    return ends;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<DefinitionsFollower> definitions_;
  int32_t partitions_ = 0;
  std::unique_ptr<EventIdIndex> index_;
  std::unique_ptr<KpiEventIngestor> ingestor_;
};

TEST_F(KpiEventIngestorTest, AnIdenticalResendIsAcceptedAndNotAppendedAgain) {
  ASSERT_OK(ingestor_->Ingest(Events({{"e1", "team-a", 10}})));
  const std::vector<int64_t> before = EndOffsets();
  absl::StatusOr<int64_t> accepted =
      ingestor_->Ingest(Events({{"e1", "team-a", 10}}));
  ASSERT_OK(accepted);
  EXPECT_EQ(*accepted, 1);
  EXPECT_EQ(EndOffsets(), before);
}

TEST_F(KpiEventIngestorTest, ReusingAnIdForAnotherFactIsRefusedAndAppliesNone) {
  ASSERT_OK(ingestor_->Ingest(Events({{"e1", "team-a", 10}})));
  const std::vector<int64_t> before = EndOffsets();
  // Answered `accepted: 1` and dropped the event before.
  EXPECT_THAT(ingestor_->Ingest(Events({{"new", "team-a", 1},
                                        {"e1", "team-b", 10}})),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr("events[1].event_id: 'e1' was accepted "
                                 "before with a different")));
  EXPECT_THAT(ingestor_->Ingest(Events({{"e1", "team-a", 10.5}})),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("'e1'")));
  EXPECT_EQ(EndOffsets(), before);
  // The batch applied nothing: "new" is still new.
  ASSERT_OK(ingestor_->Ingest(Events({{"new", "team-a", 1}})));
  EXPECT_NE(EndOffsets(), before);
}

TEST_F(KpiEventIngestorTest, EveryCopyOfAnIdLandsInOnePartition) {
  // Two ingest replicas, each with its own index, cannot see each other's
  // ids; the log must still order the copies, so rollup picks the same one
  // live and on replay. Keyed by KPI and unit, they went to two partitions.
  auto other_index = *EventIdIndex::Open((dir_ / "other").string());
  auto other = NewIngestor(*other_index);
  int32_t partition = -1;
  for (const auto& [ingestor, unit] :
       {std::pair{ingestor_.get(), "team-a"}, {other.get(), "team-b"}}) {
    const std::vector<int64_t> before = EndOffsets();
    ASSERT_OK(ingestor->Ingest(Events({{"shared-id", unit, 10}})));
    const std::vector<int64_t> after = EndOffsets();
    for (int32_t p = 0; p < partitions_; ++p) {
      if (after[p] == before[p]) continue;
      if (partition >= 0) {
        EXPECT_EQ(p, partition) << unit;
      }
      partition = p;
    }
  }
  EXPECT_GE(partition, 0);
}

TEST_F(KpiEventIngestorTest, RefusesWhileRollupLagsTooFarBehind) {
  // Ingest took ~600k events/s while rollup folded far fewer, and rollups
  // fell a minute behind. Rollup (absent here) never commits a position.
  SimulatedClock clock(absl::Now());
  RollupLagMonitor lag(*log_, RollupPipelines(), clock);
  KpiEventIngestorOptions options;
  options.max_rollup_lag = absl::Seconds(10);
  options.lag = &lag;
  KpiEventIngestor ingestor(*log_, *definitions_, *index_,
                            ThisProducer("test"), partitions_, options);
  ASSERT_OK(ingestor.Ingest(Events({{"e1", "team-a", 1}})));
  clock.Advance(absl::Seconds(11));
  ASSERT_OK(lag.Refresh());
  EXPECT_GE(lag.Lag(), absl::Seconds(10));
  const std::vector<int64_t> before = EndOffsets();
  EXPECT_THAT(ingestor.Ingest(Events({{"e2", "team-a", 1}})),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("behind the log (the limit is 10s; most "
                                 "behind: strata-rollup at "
                                 "strata.kpi-events/")));
  EXPECT_EQ(EndOffsets(), before);
  // Rollup catches up (commits its group position at the log's end).
  auto rollup = *log_->NewConsumer(kRollupConsumerGroup);
  std::vector<eventlog::Position> ends;
  for (int32_t p = 0; p < partitions_; ++p) {
    ends.push_back({{kKpiEventsTopic, p}, before[p]});
  }
  ASSERT_OK(rollup->Commit(ends));
  ASSERT_OK(lag.Refresh());
  EXPECT_EQ(lag.Lag(), absl::ZeroDuration());
  EXPECT_OK(ingestor.Ingest(Events({{"e2", "team-a", 1}})));
}

// Found by the fault harness: scaled out, rollup's stages commit in groups
// of their own, so its lag was measured from the first event ever sent and
// ingest refused every event after ten seconds.
TEST_F(KpiEventIngestorTest, ScaledOutRollupLagsAsItsMostBehindStage) {
  SimulatedClock clock(absl::Now());
  RollupLagMonitor lag(*log_, RollupPipelines(), clock);
  ASSERT_OK(ingestor_->Ingest(Events({{"e1", "team-a", 1}})));
  // Stage A routed everything; B and C have nothing to read yet.
  auto commit_ends = [&](const char* group, const char* topic) {
    auto consumer = *log_->NewConsumer(group);
    std::vector<eventlog::Position> ends;
    for (int32_t p = 0; p < *log_->PartitionCount(topic); ++p) {
      ends.push_back({{topic, p}, *log_->EndOffset({topic, p})});
    }
    ASSERT_OK(consumer->Commit(ends));
  };
  commit_ends(kRollupRouteConsumerGroup, kKpiEventsTopic);
  clock.Advance(absl::Seconds(11));
  ASSERT_OK(lag.Refresh());
  EXPECT_EQ(lag.Lag(), absl::ZeroDuration());
  // A routed record that the fold has not committed ages.
  ASSERT_OK(log_->Append(kRollupChangesTopic, {{"0@0", "routed", 0}}));
  clock.Advance(absl::Seconds(11));
  ASSERT_OK(lag.Refresh());
  EXPECT_GE(lag.Lag(), absl::Seconds(10));
  // Named, for the refusal and an operator: the fold's record, or e1 on
  // the way rollup does not run, as old within a millisecond.
  EXPECT_THAT(lag.LagWhere(),
              AnyOf(Eq("strata-rollup at strata.rollup-changes/0, offset 0 "
                       "of 1"),
                    StartsWith("strata-rollup at strata.kpi-events/")));
  commit_ends(kRollupConsumerGroup, kRollupChangesTopic);
  ASSERT_OK(lag.Refresh());
  EXPECT_EQ(lag.Lag(), absl::ZeroDuration());
}

TEST(EventIdIndexTest, ForgetsIdsBeyondItsHorizonAtCompaction) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      absl::StrCat("strata_event_id_index_", getpid());
  std::filesystem::remove_all(dir);
  SimulatedClock clock(absl::FromUnixSeconds(1'790'000'000));
  auto index = EventIdIndex::Open(dir.string(), absl::Hours(24), clock);
  ASSERT_OK(index);
  ASSERT_OK((*index)->Record({{"old", 1}},
                             absl::ToUnixMillis(clock.Now())));
  clock.Advance(absl::Hours(23));
  ASSERT_OK((*index)->Record({{"recent", 2}},
                             absl::ToUnixMillis(clock.Now())));
  clock.Advance(absl::Hours(2));
  ASSERT_OK((*index)->Compact());
  auto found = (*index)->Lookup({"old", "recent"});
  ASSERT_OK(found);
  EXPECT_EQ((*found)[0], std::nullopt);
  EXPECT_EQ((*found)[1], 2u);
  index->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strata::ingest
