// The rollup engine over a store whose disk fails on demand: what the engine
// reports while it does, and that no event is lost or counted twice once the
// disk works again.

#include <unistd.h>

#include <filesystem>
#include <functional>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/aggregation/fixed_point.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/status/status_matchers.h"
#include "libs/storage/testing/fault_injecting_file_system.h"
#include "libs/streams/cell_key.h"
#include "libs/streams/envelope.h"
#include "libs/streams/topics.h"
#include "services/rollup/rollup_engine.h"
#include "services/rollup/rollup_store.h"

namespace strata::rollup {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::KpiChange;
using ::strata::testing::StatusIs;
using ::strata::testing::UnitChange;
using ::testing::HasSubstr;
using Operation = FaultInjectingFileSystem::Operation;

absl::Time Utc(int y, int m, int d) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, 12, 0, 0),
                         absl::UTCTimeZone());
}

// Polls `done` until it holds or `timeout` passes; whether it held.
bool WaitUntil(const std::function<bool()>& done,
               absl::Duration timeout = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// An embedded log, a definitions follower and a rollup engine whose store
// reads and writes through a FaultInjectingFileSystem. The log's own files
// never fail.
class RollupEngineFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_rollup_faults_", getpid(), "_", counter_++);
    std::filesystem::remove_all(dir_);
    fs_ = std::make_shared<FaultInjectingFileSystem>();
    env_ = NewFaultInjectingEnv(fs_);
    eventlog::RocksDbEventLogOptions log_options;
    log_options.path = (dir_ / "log").string();
    log_options.topics = DefaultTopics();
    auto log = eventlog::OpenRocksDbEventLog(log_options);
    ASSERT_OK(log);
    log_ = std::move(log).value();
    StartEngine();
    // ent -> bu -> team-a; "sales" sums.
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    *envelope.mutable_definitions() =
        Batch({UnitChange("ent", ""), UnitChange("bu", "ent"),
               UnitChange("team-a", "bu"),
               KpiChange("sales", v1::TIME_AGGREGATION_SUM)});
    ASSERT_OK(log_->Append(kDefinitionsTopic,
                           {{"defs", envelope.SerializeAsString()}}));
    ASSERT_OK(definitions_->CatchUp(absl::Seconds(5)));
  }

  void TearDown() override {
    fs_->Clear();
    StopEngine();
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A fresh engine, store and follower over the same files: the engine's
  // cache and the store's block cache start empty.
  void StartEngine() {
    auto store = RollupStore::Open((dir_ / "rollup").string(), env_.get());
    ASSERT_OK(store);
    store_ = std::move(store).value();
    auto definitions = DefinitionsFollower::Create(*log_, "test");
    ASSERT_OK(definitions);
    definitions_ = std::move(definitions).value();
    RollupEngineOptions options;
    options.flush_interval = absl::Milliseconds(10);
    engine_ =
        std::make_unique<RollupEngine>(options, *log_, *definitions_, *store_);
    definitions_->Start();
    ASSERT_OK(engine_->Start());
  }

  void StopEngine() {
    engine_.reset();
    store_.reset();
    definitions_.reset();
  }

  void AppendSale(const std::string& id, absl::Time time, double value) {
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    v1::KpiEvent* e = envelope.mutable_kpi_events()->add_events();
    e->set_event_id(id);
    e->set_kpi_id("sales");
    e->set_unit_id("team-a");
    e->mutable_event_time()->set_seconds(absl::ToUnixSeconds(time));
    e->set_value(value);
    ASSERT_OK(log_->Append(kKpiEventsTopic, {{envelope.event_id(),
                                              envelope.SerializeAsString()}}));
  }

  // The committed cell, from the store.
  std::optional<RollupCell> Cell(const std::string& unit, PeriodKind kind,
                                 const std::string& label) {
    auto cell =
        store_->GetCell(CellKey("sales", unit, *ParsePeriod(kind, label)));
    EXPECT_OK(cell);
    return cell.ok() ? *cell : std::nullopt;
  }

  // Checks the cell of `period` for team-a and for each of its ancestors.
  void ExpectCells(PeriodKind kind, const std::string& label, double total,
                   int64_t count) {
    for (const char* unit : {"team-a", "bu", "ent"}) {
      const std::optional<RollupCell> cell = Cell(unit, kind, label);
      ASSERT_TRUE(cell.has_value()) << unit << "/" << label;
      EXPECT_EQ(cell->value, ToFixedPoint(total)) << unit << "/" << label;
      EXPECT_EQ(cell->event_count, count) << unit << "/" << label;
    }
  }

  // Commits e1 (10 on 2026-01-10), moves the store's contents into SST
  // files and starts a new engine and store over them: the engine's cache
  // and the block cache are empty, so folding another event of the same
  // cells must read them from the SSTs.
  void CommitOneSaleAndRestartCold() {
    AppendSale("e1", Utc(2026, 1, 10), 10);
    ASSERT_TRUE(WaitUntil([&] { return Committed(1); }));
    StopEngine();
    {
      StateDbOptions layout = RollupStore::Layout((dir_ / "rollup").string());
      layout.env = env_.get();
      auto raw = StateDb::Open(layout);
      ASSERT_OK(raw);
      std::vector<rocksdb::ColumnFamilyHandle*> families = {
          (*raw)->db().DefaultColumnFamily()};
      for (size_t i = 0; i < layout.families.size(); ++i) {
        families.push_back((*raw)->family(i));
      }
      ASSERT_TRUE((*raw)->db().Flush(rocksdb::FlushOptions(), families).ok());
    }
    StartEngine();
    ASSERT_TRUE(WaitUntil([&] { return engine_->Health().ok(); }))
        << engine_->Health();
  }

  // The most events any record on the changelog counts so far.
  int64_t MostEventsPublished() {
    auto consumer = log_->NewConsumer("reader");
    EXPECT_OK(consumer);
    std::vector<eventlog::Position> positions;
    for (int p = 0; p < DefaultTopics()[kRollupsTopic]; ++p) {
      positions.push_back({{kRollupsTopic, p}, 0});
    }
    EXPECT_OK((*consumer)->Assign(positions));
    int64_t most = 0;
    while (true) {
      auto records = (*consumer)->Poll(1000, absl::Milliseconds(20));
      EXPECT_OK(records);
      if (!records.ok() || records->empty()) return most;
      for (const eventlog::LogRecord& r : *records) {
        v1::RollupRecord record;
        EXPECT_TRUE(record.ParseFromString(r.value));
        most = std::max(most, record.event_count());
      }
    }
  }

  bool Committed(int64_t events) {
    return engine_->stats().events_committed == events;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::shared_ptr<FaultInjectingFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<DefinitionsFollower> definitions_;
  std::unique_ptr<RollupStore> store_;
  std::unique_ptr<RollupEngine> engine_;
};

// The changelog shows only committed state: what a store that fails to
// commit holds back is not published, so a replay can never publish other
// figures under the same versions.
TEST_F(RollupEngineFaultsTest, NothingIsPublishedBeforeItIsCommitted) {
  AppendSale("e1", Utc(2026, 1, 10), 10);
  ASSERT_TRUE(WaitUntil([&] { return Committed(1); }));
  fs_->Fail(Operation::kWrite);
  AppendSale("e2", Utc(2026, 1, 11), 5);
  ASSERT_TRUE(WaitUntil([&] {
    return engine_->stats().events_applied == 2 &&
           fs_->injected(Operation::kWrite) >= 2;
  }));
  EXPECT_EQ(MostEventsPublished(), 1) << "published before it was committed";
  fs_->Clear();
  EXPECT_TRUE(WaitUntil([&] { return MostEventsPublished() == 2; }));
}

TEST_F(RollupEngineFaultsTest, FailingStoreWritesHoldHealthAndLoseNothing) {
  AppendSale("e1", Utc(2026, 1, 10), 10);
  ASSERT_TRUE(WaitUntil([&] { return Committed(1); }));

  // A disk that refuses every write: the flusher cannot commit and retries.
  fs_->Fail(Operation::kWrite);
  AppendSale("e2", Utc(2026, 1, 11), 5);
  ASSERT_TRUE(WaitUntil([&] { return absl::IsUnavailable(engine_->Health()); }))
      << engine_->Health();
  EXPECT_THAT(engine_->Health(), StatusIs(absl::StatusCode::kUnavailable,
                                          HasSubstr("committing failed")));
  // The engine folds on meanwhile; the store keeps failing (RocksDB's own
  // recovery too) and nothing more becomes durable.
  AppendSale("e3", Utc(2026, 1, 12), 2.5);
  ASSERT_TRUE(WaitUntil([&] {
    return engine_->stats().events_applied == 3 &&
           fs_->injected(Operation::kWrite) >= 2;
  }));
  EXPECT_EQ(engine_->stats().events_committed, 1);
  EXPECT_THAT(engine_->Health(), StatusIs(absl::StatusCode::kUnavailable,
                                          HasSubstr("committing failed")));

  fs_->Clear();
  ASSERT_TRUE(WaitUntil([&] { return Committed(3) && engine_->Health().ok(); }))
      << engine_->stats().events_committed << " " << engine_->Health();
  ExpectCells(PeriodKind::kMonth, "2026-01", 17.5, 3);
  ExpectCells(PeriodKind::kQuarter, "2026-Q1", 17.5, 3);
  ExpectCells(PeriodKind::kYear, "2026", 17.5, 3);
  EXPECT_EQ(engine_->stats().events_duplicate, 0);
  EXPECT_EQ(engine_->stats().restarts, 0);

  // The positions were committed with the cells: a new engine replays
  // nothing.
  StopEngine();
  StartEngine();
  ASSERT_TRUE(WaitUntil([&] { return engine_->Health().ok(); }))
      << engine_->Health();
  EXPECT_EQ(engine_->stats().events_applied, 0);
  EXPECT_EQ(engine_->stats().events_duplicate, 0);
  ExpectCells(PeriodKind::kMonth, "2026-01", 17.5, 3);
  ExpectCells(PeriodKind::kQuarter, "2026-Q1", 17.5, 3);
  ExpectCells(PeriodKind::kYear, "2026", 17.5, 3);
}

TEST_F(RollupEngineFaultsTest, AFailedReadWhileFoldingResumesFromCommitted) {
  CommitOneSaleAndRestartCold();
  fs_->Fail(Operation::kRead, ".sst");
  // e2's February cells are new (their bloom filters answer without a
  // read), so the engine updates them in its cache before the read of a
  // Q1 cell fails: the half-updated cache must be dropped, not replayed
  // into.
  AppendSale("e2", Utc(2026, 2, 11), 5);
  // The engine resumes from the committed state, again and again while the
  // reads fail.
  ASSERT_TRUE(WaitUntil([&] { return engine_->stats().restarts >= 2; }));
  EXPECT_GE(fs_->injected(Operation::kRead), 2);
  EXPECT_EQ(engine_->stats().events_committed, 0);

  fs_->Clear();
  ASSERT_TRUE(WaitUntil([&] { return Committed(1) && engine_->Health().ok(); }))
      << engine_->stats().events_committed << " " << engine_->Health();
  // e2 counted once, though folded (in part) at every restart.
  ExpectCells(PeriodKind::kMonth, "2026-01", 10, 1);
  ExpectCells(PeriodKind::kMonth, "2026-02", 5, 1);
  ExpectCells(PeriodKind::kQuarter, "2026-Q1", 15, 2);
  ExpectCells(PeriodKind::kYear, "2026", 15, 2);
  EXPECT_EQ(engine_->stats().events_duplicate, 0);
  EXPECT_EQ(engine_->stats().events_conflicting, 0);
}

// Failed before: while a store read kept failing, the engine resumed from
// the committed state again at once for every poll (tens of thousands of
// restarts a second, each logged), and each successful poll in between set
// Health() back to OK, so it mostly reported serving while folding nothing.
TEST_F(RollupEngineFaultsTest,
       HealthStaysUnavailableAndRestartsBackOffWhileReadsFail) {
  CommitOneSaleAndRestartCold();
  fs_->Fail(Operation::kRead, ".sst");
  AppendSale("e2", Utc(2026, 1, 11), 5);
  ASSERT_TRUE(WaitUntil([&] { return engine_->stats().restarts >= 1; }));
  const int64_t restarts_before = engine_->stats().restarts;
  int ok_samples = 0;
  for (int i = 0; i < 200; ++i) {
    if (engine_->Health().ok()) ++ok_samples;
    absl::SleepFor(absl::Milliseconds(1));
  }
  // A fold whose reads the block cache answers can succeed between the
  // failures, and health then rightly says OK for a moment (a CI run caught
  // 1 of 200); the defect reported OK most of the time.
  EXPECT_LT(ok_samples, 20) << "Health() was mostly OK while folds failed";
  // One-sided: a slower machine only restarts less often.
  EXPECT_LT(engine_->stats().restarts - restarts_before, 50)
      << "restarts do not back off";
  fs_->Clear();
  ASSERT_TRUE(
      WaitUntil([&] { return Committed(1) && engine_->Health().ok(); }));
  ExpectCells(PeriodKind::kYear, "2026", 15, 2);
}

}  // namespace
}  // namespace strata::rollup
