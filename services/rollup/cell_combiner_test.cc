#include "services/rollup/cell_combiner.h"

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "libs/aggregation/fixed_point.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/eventlog/testing/fault_injecting_event_log.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/cell_key.h"
#include "libs/streams/envelope.h"
#include "libs/streams/topics.h"
#include "services/rollup/cell_codec.h"
#include "services/rollup/cell_folder.h"
#include "services/rollup/rollup_record.h"
#include "services/rollup/testing/changelog_reader.h"
#include "strata/v1/rollup_internal.pb.h"

namespace strata::rollup {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::ComputedKpiChange;
using ::strata::testing::KpiChange;
using ::strata::testing::StatusIs;
using ::strata::testing::UnitChange;
using ::testing::HasSubstr;

constexpr int32_t kPartialsPartitions = 3;
constexpr int32_t kFoldPartitions = 2;

// A fold partition's part of a sum: `value` from `events` events.
RollupCell Part(double value, int64_t version, int64_t events = 1) {
  RollupCell cell;
  cell.value = ToFixedPoint(value);
  cell.event_count = events;
  cell.version = version;
  return cell;
}

// An embedded log with stage C's topics, definitions (ent -> bu; sales and
// costs summed, margin = sales - costs), a combiner store and a combiner;
// Restart() reopens the combiner on the same store.
class CellCombinerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_combiner_", getpid(), "_", counter_++);
    std::filesystem::remove_all(dir_);
    eventlog::RocksDbEventLogOptions options;
    options.path = (dir_ / "log").string();
    options.topics = DefaultTopics();
    options.topics[kRollupPartialsTopic] = kPartialsPartitions;
    log_ = *eventlog::OpenRocksDbEventLog(options);
    faulty_log_ = std::make_unique<eventlog::FaultInjectingEventLog>(*log_);
    definitions_ = *DefinitionsFollower::Create(*log_, "test");
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    *envelope.mutable_definitions() = Batch(
        {UnitChange("ent", ""), UnitChange("bu", "ent"), KpiChange("sales"),
         KpiChange("costs"),
         ComputedKpiChange("margin", v1::HIERARCHY_AGGREGATION_DERIVED,
                           v1::Formula::OPERATOR_DIFFERENCE, "sales",
                           "costs")});
    ASSERT_OK(log_->Append(kDefinitionsTopic,
                           {{"defs", envelope.SerializeAsString()}}));
    definitions_->Start();
    ASSERT_OK(definitions_->CatchUp(absl::Seconds(5)));
    StartCombiner();
  }
  void TearDown() override {
    combiner_.reset();
    store_.reset();
    definitions_.reset();
    faulty_log_.reset();
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartCombiner() {
    store_ = *CombinerStore::Open((dir_ / "combine").string());
    combiner_ = std::make_unique<CellCombiner>(options_, *faulty_log_,
                                               *definitions_, *store_);
    ASSERT_OK(combiner_->Start());
  }
  void Restart() {
    combiner_.reset();
    store_.reset();
    StartCombiner();
  }

  // A fold partition publishes its part of `cell_key` (its unit "bu" or
  // "ent", its period the month 2026-01).
  void AppendPart(int32_t fold_partition, const std::string& cell_key,
                  int64_t epoch, const RollupCell& cell,
                  const RollupCell* reported = nullptr) {
    v1::PartialCell part;
    part.set_fold_partition(fold_partition);
    part.set_cell_key(cell_key);
    part.set_version_epoch(epoch);
    part.set_cell(EncodeCell(cell));
    if (reported != nullptr) part.set_reported(EncodeCell(*reported));
    absl::StatusOr<CellKeyParts> parsed = ParseCellKey(cell_key);
    ASSERT_OK(parsed);
    ASSERT_OK(log_->Append(
        kRollupPartialsTopic,
        {{PartialCellKey(fold_partition, cell_key), part.SerializeAsString(),
          PartialsPartitionOf(parsed->unit_id, parsed->period,
                              kPartialsPartitions)}}));
  }
  // Every fold partition completed `epoch`, in every partition.
  void AppendEpochComplete(int64_t epoch) {
    std::vector<eventlog::AppendRecord> records;
    for (int32_t p = 0; p < kFoldPartitions; ++p) {
      v1::PartialCell complete;
      complete.set_fold_partition(p);
      complete.set_version_epoch(epoch);
      complete.set_epoch_complete(true);
      complete.set_fold_partitions(kFoldPartitions);
      for (int32_t c = 0; c < kPartialsPartitions; ++c) {
        records.push_back({PartialCellKey(p, ""), complete.SerializeAsString(), c});
      }
    }
    ASSERT_OK(log_->Append(kRollupPartialsTopic, records));
  }

  // Polls `done` for up to ten seconds.
  template <typename Done>
  bool WaitUntil(Done done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!done() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    return done();
  }

  // Every record on strata.rollups so far, per key, in order.
  PublishedRecords Published() {
    absl::StatusOr<PublishedRecords> published = ReadPublished(*log_);
    EXPECT_OK(published);
    return published.ok() ? *std::move(published) : PublishedRecords();
  }
  // The latest record published under `key`, once its version reached
  // `version` (parts read in one poll publish once).
  v1::RollupRecord Latest(const std::string& key, int64_t version) {
    std::vector<v1::RollupRecord> records;
    WaitUntil([&] {
      records = Published()[key];
      return !records.empty() && records.back().version() >= version;
    });
    EXPECT_FALSE(records.empty()) << key;
    if (records.empty()) return v1::RollupRecord();
    EXPECT_EQ(records.back().version(), version) << key;
    return records.back();
  }

  static inline int counter_ = 0;
  CellCombinerOptions options_;  // Of the combiners StartCombiner starts.
  std::filesystem::path dir_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<eventlog::FaultInjectingEventLog> faulty_log_;
  std::unique_ptr<DefinitionsFollower> definitions_;
  std::unique_ptr<CombinerStore> store_;
  std::unique_ptr<CellCombiner> combiner_;
};

TEST_F(CellCombinerTest, ACellIsTheMergeOfTheLatestPartOfEachFoldPartition) {
  AppendPart(0, "sales/bu/2026-01", 0, Part(10, 2));
  AppendPart(1, "sales/bu/2026-01", 0, Part(5, 3));
  // The parts' versions added.
  v1::RollupRecord bu = Latest("sales/bu/2026-01", 5);
  EXPECT_EQ(bu.value(), 15);
  EXPECT_EQ(bu.event_count(), 2);
  // A part replaces its partition's, never the other's.
  AppendPart(0, "sales/bu/2026-01", 0, Part(12, 3));
  bu = Latest("sales/bu/2026-01", 6);
  EXPECT_EQ(bu.value(), 17);
  // Re-sent (a fold partition's crash before its commit) or older: nothing.
  const size_t published = Published()["sales/bu/2026-01"].size();
  AppendPart(0, "sales/bu/2026-01", 0, Part(12, 3));
  AppendPart(1, "sales/bu/2026-01", 0, Part(4, 2));
  ASSERT_TRUE(WaitUntil([&] { return combiner_->stats().parts_stale == 2; }));
  EXPECT_EQ(Published()["sales/bu/2026-01"].size(), published);
  // Queries read the same cell.
  const std::shared_ptr<const Definitions> defs = definitions_->Current();
  auto cell = combiner_->Read(
      *defs, {*defs->FindKpi("sales"), *defs->FindUnit("bu"),
              *ParsePeriod(PeriodKind::kMonth, "2026-01")});
  ASSERT_OK(cell);
  ASSERT_TRUE(cell->has_value());
  EXPECT_EQ((*cell)->value, ToFixedPoint(17));
  EXPECT_EQ((*cell)->version, 6);
  EXPECT_OK(combiner_->Health());
}

TEST_F(CellCombinerTest, ADerivedKpiIsPublishedWithEachOfItsInputs) {
  AppendPart(0, "sales/bu/2026-01", 0, Part(10, 1));
  EXPECT_FALSE(Latest("margin/bu/2026-01", 1).has_value());  // No costs yet.
  AppendPart(1, "costs/bu/2026-01", 0, Part(4, 1));
  EXPECT_EQ(Latest("margin/bu/2026-01", 2).value(), 6);
}

TEST_F(CellCombinerTest, ANewEpochReplacesTheOldAndRetractsWhatItLacks) {
  AppendPart(0, "sales/bu/2026-01", 0, Part(10, 1));
  AppendPart(1, "sales/bu/2026-01", 0, Part(5, 1));
  AppendPart(0, "sales/ent/2026-01", 0, Part(15, 2));
  ASSERT_EQ(Latest("sales/ent/2026-01", 2).value(), 15);
  ASSERT_EQ(Latest("sales/bu/2026-01", 2).value(), 15);
  // Refolded in a new epoch (a reorg): only partition 1 has a part of bu,
  // and nothing reaches ent.
  const int64_t epoch = int64_t{1} << kReorgVersionShift;
  AppendPart(1, "sales/bu/2026-01", 1, Part(5, 1));
  EXPECT_EQ(Latest("sales/bu/2026-01", epoch + 1).value(), 5);  // Not 15.
  // Once every fold partition completed the epoch, ent is retracted.
  AppendEpochComplete(1);
  EXPECT_FALSE(Latest("sales/ent/2026-01", epoch).has_value());
  EXPECT_FALSE(Latest("margin/ent/2026-01", epoch).has_value());
  // A late part of the old epoch changes nothing.
  const size_t published = Published()["sales/bu/2026-01"].size();
  AppendPart(0, "sales/bu/2026-01", 0, Part(99, 9));
  ASSERT_TRUE(WaitUntil([&] { return combiner_->stats().parts_stale == 1; }));
  EXPECT_EQ(Published()["sales/bu/2026-01"].size(), published);
}

// While a reorg is rolled up again, a cell merges the parts of the new
// epoch read so far: a partial figure until every fold partition completed
// it. Queries and health then say UNAVAILABLE, as a whole engine does
// during its replay (before, the partial figure was served as OK).
TEST_F(CellCombinerTest, QueriesWaitWhileAReorgIsRolledUpAgain) {
  AppendPart(0, "sales/bu/2026-01", 0, Part(10, 1));
  AppendPart(1, "sales/bu/2026-01", 0, Part(5, 1));
  ASSERT_EQ(Latest("sales/bu/2026-01", 2).value(), 15);
  const std::shared_ptr<const Definitions> defs = definitions_->Current();
  const CellId bu{*defs->FindKpi("sales"), *defs->FindUnit("bu"),
                  *ParsePeriod(PeriodKind::kMonth, "2026-01")};
  EXPECT_OK(combiner_->Read(*defs, bu));
  const int64_t epoch = int64_t{1} << kReorgVersionShift;
  AppendPart(1, "sales/bu/2026-01", 1, Part(5, 1));
  ASSERT_EQ(Latest("sales/bu/2026-01", epoch + 1).value(), 5);
  EXPECT_THAT(combiner_->Read(*defs, bu),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("rolled up again after a reorg")));
  EXPECT_THAT(combiner_->Health(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("epoch 1 not complete")));
  AppendPart(0, "sales/bu/2026-01", 1, Part(12, 1));
  AppendEpochComplete(1);
  ASSERT_TRUE(WaitUntil([&] { return combiner_->Health().ok(); }))
      << combiner_->Health();
  absl::StatusOr<std::optional<RollupCell>> cell = combiner_->Read(*defs, bu);
  ASSERT_OK(cell);
  ASSERT_TRUE(cell->has_value());
  EXPECT_EQ((*cell)->value, ToFixedPoint(17));
}

// Found by review: a poll's commit stored a new epoch's first part before
// queries knew of the epoch, and a query in between merged the old
// epoch's parts without the one just replaced: 10 of 15, served as the
// cell.
TEST_F(CellCombinerTest, AQueryNeverMergesAnEpochMissingAPartOfTheNext) {
  // Queries right after each commit, before anything else moves.
  std::atomic<CellCombiner*> queried{nullptr};
  std::shared_ptr<const Definitions> defs = definitions_->Current();
  const CellId bu{*defs->FindKpi("sales"), *defs->FindUnit("bu"),
                  *ParsePeriod(PeriodKind::kMonth, "2026-01")};
  absl::Mutex mu;
  std::vector<absl::StatusOr<std::optional<RollupCell>>> answers;
  options_.on_committed = [&] {
    CellCombiner* combiner = queried.load();
    if (combiner == nullptr) return;
    auto answer = combiner->Read(*defs, bu);
    absl::MutexLock lock(&mu);
    answers.push_back(std::move(answer));
  };
  Restart();
  AppendPart(0, "sales/bu/2026-01", 0, Part(10, 1));
  AppendPart(1, "sales/bu/2026-01", 0, Part(5, 1));
  ASSERT_EQ(Latest("sales/bu/2026-01", 2).value(), 15);
  queried = combiner_.get();
  const int64_t epoch = int64_t{1} << kReorgVersionShift;
  AppendPart(1, "sales/bu/2026-01", 1, Part(5, 1));
  ASSERT_EQ(Latest("sales/bu/2026-01", epoch + 1).value(), 5);
  queried = nullptr;
  absl::MutexLock lock(&mu);
  int refused = 0;
  for (const auto& answer : answers) {
    if (!answer.ok()) {
      EXPECT_THAT(answer, StatusIs(absl::StatusCode::kUnavailable,
                                   HasSubstr("rolled up again")));
      ++refused;
      continue;
    }
    ASSERT_TRUE(answer->has_value());
    EXPECT_EQ((*answer)->value, ToFixedPoint(15)) << "a partial figure";
  }
  EXPECT_GT(refused, 0) << "no query after the new epoch's commit";
}

// Found by review: the sweep followed the commit of the poll that
// completed the epoch, so a crash in between left it undone for good.
TEST_F(CellCombinerTest, ASweepACrashCutShortIsDoneAtTheNextStart) {
  AppendPart(0, "sales/ent/2026-01", 0, Part(15, 2));
  ASSERT_EQ(Latest("sales/ent/2026-01", 2).value(), 15);
  combiner_.reset();
  // As the crash left it: epoch 1 completed everywhere, nothing swept.
  CombineChanges completed;
  for (int32_t c = 0; c < kPartialsPartitions; ++c) {
    for (int32_t p = 0; p < kFoldPartitions; ++p) {
      completed.completed.push_back({{c, p}, 1});
    }
  }
  completed.fold_partitions = kFoldPartitions;
  completed.latest_epoch = 1;
  ASSERT_OK(store_->Commit(completed, {}));
  combiner_ = std::make_unique<CellCombiner>(
      CellCombinerOptions{}, *faulty_log_, *definitions_, *store_);
  ASSERT_OK(combiner_->Start());
  EXPECT_FALSE(
      Latest("sales/ent/2026-01", int64_t{1} << kReorgVersionShift).has_value());
}

// Found by the fault harness (seed 10042): a restarted instance published
// what its crash left in the outbox at once, before it read its partitions
// again; an append held up by a broker down landed after the instance that
// had taken the partition over published newer merges: versions went
// backwards. It now waits for the partition's next reader.
TEST_F(CellCombinerTest, WhatACrashLeftUnpublishedWaitsForThePartitionsNextReader) {
  AppendPart(0, "sales/bu/2026-01", 0, Part(10, 1));
  AppendPart(1, "sales/bu/2026-01", 0, Part(5, 1));
  const v1::RollupRecord newest = Latest("sales/bu/2026-01", 2);
  ASSERT_EQ(newest.value(), 15);
  combiner_.reset();
  // As a crash left it: an older merge not yet published.
  v1::RollupRecord older = newest;
  older.set_version(1);
  older.set_value(10);
  ASSERT_OK(store_->Commit(CombineChanges{},
                           {{"sales/bu/2026-01", older.SerializeAsString()}}));
  combiner_ = std::make_unique<CellCombiner>(options_, *faulty_log_,
                                             *definitions_, *store_);
  ASSERT_OK(combiner_->Start());
  ASSERT_TRUE(WaitUntil([&] { return combiner_->Health().ok(); }))
      << combiner_->Health();
  // Published again only as merged once the partition was read again.
  const std::vector<v1::RollupRecord> records = Published()["sales/bu/2026-01"];
  ASSERT_FALSE(records.empty());
  for (size_t i = 1; i < records.size(); ++i) {
    EXPECT_GE(records[i].version(), records[i - 1].version())
        << "record " << i << " went back to version " << records[i].version();
  }
  EXPECT_EQ(records.back().version(), 2);
  EXPECT_EQ(records.back().value(), 15);
}

TEST_F(CellCombinerTest, TheFigureReportedAtACloseMergesTheReportedParts) {
  const RollupCell reported = Part(10, 1);
  AppendPart(0, "sales/bu/2026-01", 0, Part(30, 2), &reported);
  AppendPart(1, "sales/bu/2026-01", 0, Part(5, 1));
  ASSERT_EQ(Latest("sales/bu/2026-01", 3).value(), 35);
  const std::shared_ptr<const Definitions> defs = definitions_->Current();
  auto record = combiner_->ReadRecord(
      *defs,
      {*defs->FindKpi("sales"), *defs->FindUnit("bu"),
       *ParsePeriod(PeriodKind::kMonth, "2026-01")},
      absl::Now());
  ASSERT_OK(record);
  ASSERT_TRUE(record->has_value());
  EXPECT_EQ((*record)->value(), 35);
  EXPECT_EQ((*record)->reported_value(), 15);  // 10 as reported, and 5.
}

TEST_F(CellCombinerTest, WhatWasCommittedIsPublishedOnceAcrossFailuresAndRestarts) {
  // The first publish fails after the commit: the combiner retries it.
  faulty_log_->FailAppends(eventlog::FaultInjectingEventLog::Fault::Next(1));
  AppendPart(0, "sales/bu/2026-01", 0, Part(10, 1));
  EXPECT_EQ(Latest("sales/bu/2026-01", 1).value(), 10);
  EXPECT_EQ(Published()["sales/bu/2026-01"].size(), 1u);
  // Restarted: nothing read again, what follows merges with what was kept.
  Restart();
  AppendPart(1, "sales/bu/2026-01", 0, Part(5, 1));
  EXPECT_EQ(Latest("sales/bu/2026-01", 2).value(), 15);
  EXPECT_EQ(Published()["sales/bu/2026-01"].size(), 2u);
  EXPECT_OK(combiner_->Health());
}

// Found by review: a part naming a KPI the combiner's definitions did not
// have yet (the fold read a newer batch first) was committed unpublished,
// and never published once the definition came.
TEST_F(CellCombinerTest, APartOfAKpiNotDefinedYetWaitsForItsDefinition) {
  AppendPart(0, "visits/bu/2026-01", 0, Part(7, 1));
  ASSERT_TRUE(WaitUntil([&] {
    return absl::StrContains(combiner_->Health().message(), "not defined yet");
  })) << combiner_->Health();
  EXPECT_THAT(combiner_->Health(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("'visits/bu/2026-01' names a KPI or unit "
                                 "not defined yet")));
  v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
  *envelope.mutable_definitions() = Batch({KpiChange("visits")});
  ASSERT_OK(log_->Append(kDefinitionsTopic,
                         {{"defs", envelope.SerializeAsString()}}));
  EXPECT_EQ(Latest("visits/bu/2026-01", 1).value(), 7);
  EXPECT_TRUE(WaitUntil([&] { return combiner_->Health().ok(); }));
}

// Versions on strata.rollups never go back, per key.
void ExpectNoVersionGoesBack(
    const std::map<std::string, std::vector<v1::RollupRecord>>& published) {
  for (const auto& [key, records] : published) {
    for (size_t i = 1; i < records.size(); ++i) {
      EXPECT_GE(records[i].version(), records[i - 1].version())
          << key << ": record " << i << " went back";
    }
  }
}

TEST_F(CellCombinerTest, InstancesShareThePartitionsAndHandThemOver) {
  auto other_store = *CombinerStore::Open((dir_ / "combine-2").string());
  auto other = std::make_unique<CellCombiner>(
      CellCombinerOptions{}, *faulty_log_, *definitions_, *other_store);
  ASSERT_OK(other->Start());
  ASSERT_TRUE(WaitUntil([&] {
    return !other->OwnedPartitions().empty() &&
           combiner_->OwnedPartitions().size() + other->OwnedPartitions().size() ==
               kPartialsPartitions;
  }));
  // Months spread over every partition of strata.rollup-partials.
  auto key = [](int month) { return absl::StrCat("sales/bu/2026-0", month); };
  for (int month = 1; month <= 6; ++month) {
    AppendPart(0, key(month), 0, Part(month, 1));
    AppendPart(1, key(month), 0, Part(10, 1));
  }
  for (int month = 1; month <= 6; ++month) {
    EXPECT_EQ(Latest(key(month), 2).value(), month + 10) << key(month);
  }
  EXPECT_GT(other->stats().records_published, 0);
  EXPECT_GT(combiner_->stats().records_published, 0);

  // The other leaves: this one restores its partitions from its own store
  // (which never read them) and goes on from where the other stopped.
  const int64_t published_before = combiner_->stats().records_published;
  other.reset();
  ASSERT_TRUE(WaitUntil([&] {
    return combiner_->OwnedPartitions().size() == kPartialsPartitions &&
           combiner_->Health().ok();
  })) << combiner_->Health();
  for (int month = 1; month <= 6; ++month) {
    AppendPart(0, key(month), 0, Part(month + 1, 2));
  }
  for (int month = 1; month <= 6; ++month) {
    EXPECT_EQ(Latest(key(month), 3).value(), month + 11) << key(month);
  }
  // What the other published was not published again: the six cells and
  // their margins (sales without costs) once each.
  EXPECT_EQ(combiner_->stats().records_published - published_before, 12);
  ExpectNoVersionGoesBack(Published());
  const std::shared_ptr<const Definitions> defs = definitions_->Current();
  for (int month = 1; month <= 6; ++month) {
    auto cell = combiner_->Read(
        *defs, {*defs->FindKpi("sales"), *defs->FindUnit("bu"),
                *ParsePeriod(PeriodKind::kMonth, absl::StrCat("2026-0", month))});
    ASSERT_OK(cell);
    ASSERT_TRUE(cell->has_value());
    EXPECT_EQ((*cell)->value, ToFixedPoint(month + 11));
  }
}

// What an instance committed but could not publish before it left is
// published by the partition's next reader, from the group's position.
TEST_F(CellCombinerTest, APartitionLeftUnpublishedIsPublishedByItsNextReader) {
  faulty_log_->FailAppends(
      eventlog::FaultInjectingEventLog::Fault::UntilCleared());
  AppendPart(0, "sales/bu/2026-01", 0, Part(10, 1));
  AppendPart(1, "sales/bu/2026-01", 0, Part(5, 1));
  ASSERT_TRUE(WaitUntil([&] {
    auto outbox = store_->Outbox();
    return outbox.ok() && !outbox->empty();
  }));
  combiner_.reset();  // Hands over with its records unpublished.
  absl::StatusOr<std::vector<eventlog::AppendRecord>> outbox = store_->Outbox();
  ASSERT_OK(outbox);
  EXPECT_TRUE(outbox->empty()) << "kept to publish after a hand-over";
  faulty_log_->ClearFaults();

  auto other_store = *CombinerStore::Open((dir_ / "combine-2").string());
  CellCombiner other(CellCombinerOptions{}, *faulty_log_, *definitions_,
                     *other_store);
  ASSERT_OK(other.Start());
  EXPECT_EQ(Latest("sales/bu/2026-01", 2).value(), 15);
  EXPECT_FALSE(Latest("margin/bu/2026-01", 2).has_value());  // No costs.
  EXPECT_EQ(Published()["sales/bu/2026-01"].size(), 1u);
}

TEST_F(CellCombinerTest, AMalformedPartStopsTheCombinerLoudly) {
  ASSERT_OK(log_->Append(kRollupPartialsTopic, {{"0/x", "garbage", 0}}));
  ASSERT_TRUE(WaitUntil([&] { return absl::IsDataLoss(combiner_->Health()); }))
      << combiner_->Health();
  EXPECT_THAT(combiner_->Health(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("malformed part at strata.rollup-partials/0@0")));
}

TEST_F(CellCombinerTest, ALogShorterThanTheStoreIsDataLossNotASilentSkip) {
  AppendPart(0, "sales/bu/2026-01", 0, Part(10, 1));
  ASSERT_EQ(Latest("sales/bu/2026-01", 1).value(), 10);
  combiner_.reset();
  eventlog::RocksDbEventLogOptions options;
  options.path = (dir_ / "restored-log").string();
  options.topics = DefaultTopics();
  options.topics[kRollupPartialsTopic] = kPartialsPartitions;
  std::unique_ptr<eventlog::EventLog> restored =
      *eventlog::OpenRocksDbEventLog(options);
  CellCombiner combiner(CellCombinerOptions{}, *restored, *definitions_,
                        *store_);
  EXPECT_THAT(combiner.Start(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("rollup combine reflects "
                                 "strata.rollup-partials/")));
}

}  // namespace
}  // namespace strata::rollup
