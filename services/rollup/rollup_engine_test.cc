#include "services/rollup/rollup_engine.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/aggregation/fixed_point.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/eventlog/testing/fault_injecting_event_log.h"
#include "libs/status/status_macros.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/cell_key.h"
#include "libs/streams/envelope.h"
#include "libs/streams/timestamps.h"
#include "libs/streams/topics.h"
#include "services/rollup/cell_combiner.h"
#include "services/rollup/combiner_store.h"
#include "services/rollup/event_router.h"
#include "services/rollup/route_store.h"
#include "services/rollup/rollup_store.h"
#include "services/rollup/testing/changelog_reader.h"

namespace strata::rollup {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::CascadedTargetChange;
using ::strata::testing::ComputedKpiChange;
using ::strata::testing::KpiChange;
using ::strata::testing::StatusIs;
using ::strata::testing::TargetChange;
using ::strata::testing::UnitChange;
using ::testing::AllOf;
using ::testing::HasSubstr;

absl::Time Utc(int y, int m, int d, int hh = 12) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, 0, 0),
                         absl::UTCTimeZone());
}

// Polls `done` until it holds or ten seconds pass; returns the last answer.
template <typename Done>
bool WaitUntil(Done done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!done() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  return done();
}

// How the engine under test folds.
struct FoldShape {
  int32_t parts = 1;  // RollupEngineOptions::fold_partitions.
  // Events reach it through stage A (EventRouter) and strata.rollup-changes.
  bool routed = false;
};
void PrintTo(const FoldShape& shape, std::ostream* out) {
  *out << shape.parts << (shape.routed ? " routed parts" : " parts");
}

// An embedded log, a definitions follower and a rollup engine over a fresh
// directory; Restart() reopens everything on the same files. Run with every
// cell whole, folded in three parts, and folded in three parts from what
// stage A routed.
class RollupEngineTest : public ::testing::TestWithParam<FoldShape> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_rollup_", getpid(), "_", counter_++);
    std::filesystem::remove_all(dir_);
    OpenAll();
    AppendDefinitions();
  }
  void TearDown() override {
    CloseAll();
    std::filesystem::remove_all(dir_);
  }

  void OpenAll() { ASSERT_OK(OpenAllAndStart()); }

  // Routed, with the topics of rollup's stages.
  std::map<std::string, int32_t> LogTopics() const {
    std::map<std::string, int32_t> topics = DefaultTopics();
    if (GetParam().routed) {
      topics[kRollupChangesTopic] = engine_options_.fold_partitions;
      topics[kRollupPartialsTopic] = 2;
    }
    return topics;
  }

  // Opens everything and returns how the engine's Start() went.
  absl::Status OpenAllAndStart() {
    eventlog::RocksDbEventLogOptions log_options;
    log_options.path = (dir_ / "log").string();
    log_options.topics = LogTopics();
    log_ = *eventlog::OpenRocksDbEventLog(log_options);
    definitions_ = *DefinitionsFollower::Create(*log_, "test");
    store_ = *RollupStore::Open((dir_ / "rollup").string());
    RollupEngineOptions options = engine_options_;
    // Before the follower starts, so that it hears of every target.
    // The engine reads through a log that can be made to fail.
    faulty_log_ = std::make_unique<eventlog::FaultInjectingEventLog>(*log_);
    engine_ = std::make_unique<RollupEngine>(options, *faulty_log_,
                                             *definitions_, *store_);
    if (GetParam().routed) {
      combiner_store_ = *CombinerStore::Open((dir_ / "combine").string());
      CellCombinerOptions combine;
      combine.clock = engine_options_.clock;
      combiner_ = std::make_unique<CellCombiner>(combine, *log_, *definitions_,
                                                 *combiner_store_);
    }
    definitions_->Start();
    RETURN_IF_ERROR(engine_->Start());
    if (!GetParam().routed) return absl::OkStatus();
    RETURN_IF_ERROR(combiner_->Start());
    route_store_ = *RouteStore::Open((dir_ / "route").string());
    router_ = std::make_unique<EventRouter>(EventRouterOptions{}, *log_, *route_store_);
    return router_->Start();
  }

  void CloseAll() {
    if (router_ != nullptr) {
      routed_duplicates_ += router_->stats().events_duplicate;
      routed_conflicting_ += router_->stats().events_conflicting;
    }
    router_.reset();
    route_store_.reset();
    engine_.reset();
    combiner_.reset();
    combiner_store_.reset();
    faulty_log_.reset();
    store_.reset();
    definitions_.reset();
    log_.reset();
  }

  void Restart() {
    CloseAll();
    OpenAll();
  }

  // ent -> bu -> {team-a, team-b}; "sales" sums, "headcount" keeps the last.
  void AppendDefinitions() {
    AppendDefinitionBatch(
        Batch({UnitChange("ent", ""), UnitChange("bu", "ent"),
               UnitChange("team-a", "bu"), UnitChange("team-b", "bu"),
               KpiChange("sales", v1::TIME_AGGREGATION_SUM),
               KpiChange("headcount", v1::TIME_AGGREGATION_LAST)}));
  }

  void AppendDefinitionBatch(const v1::DefinitionBatch& batch) {
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    *envelope.mutable_definitions() = batch;
    ASSERT_OK(log_->Append(kDefinitionsTopic,
                           {{"defs", envelope.SerializeAsString()}}));
    ASSERT_OK(definitions_->CatchUp(absl::Seconds(5)));
  }

  // The latest record per key on the changelog so far.
  absl::flat_hash_map<std::string, v1::RollupRecord> ReadChangelog() {
    auto consumer = *log_->NewConsumer("reader");
    std::vector<eventlog::Position> positions;
    for (int p = 0; p < DefaultTopics()[kRollupsTopic]; ++p) {
      positions.push_back({{kRollupsTopic, p}, 0});
    }
    EXPECT_OK(consumer->Assign(positions));
    absl::flat_hash_map<std::string, v1::RollupRecord> latest;
    while (true) {
      auto records = consumer->Poll(1000, absl::Milliseconds(50));
      EXPECT_OK(records);
      if (!records.ok() || records->empty()) break;
      for (const auto& r : *records) {
        v1::RollupRecord record;
        EXPECT_TRUE(record.ParseFromString(r.value));
        EXPECT_EQ(r.key, *CellKeyOf(record.key()));
        // Later records win: a republished target keeps the version.
        if (record.version() >= latest[r.key].version()) latest[r.key] = record;
      }
    }
    return latest;
  }

  // Appends `events` in one envelope to `partition`, or by the envelope's
  // key when negative.
  void AppendEvents(
      const std::vector<std::tuple<std::string, std::string, std::string,
                                   absl::Time, double>>& events,
      int32_t partition = -1) {
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    for (const auto& [id, kpi, unit, time, value] : events) {
      v1::KpiEvent* e = envelope.mutable_kpi_events()->add_events();
      e->set_event_id(id);
      e->set_kpi_id(kpi);
      e->set_unit_id(unit);
      *e->mutable_event_time() = ToTimestamp(time);
      e->set_value(value);
    }
    ASSERT_OK(log_->Append(
        kKpiEventsTopic,
        {{envelope.event_id(), envelope.SerializeAsString(), partition}}));
  }

  // Appends a correction of `corrects` (same KPI, unit and time) to
  // partition 0, where the tests that correct put their events too.
  void AppendCorrection(const std::string& id, const std::string& corrects,
                        const std::string& kpi, const std::string& unit,
                        absl::Time time, std::optional<double> value) {
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    v1::KpiEvent* e = envelope.mutable_kpi_events()->add_events();
    e->set_event_id(id);
    e->set_kpi_id(kpi);
    e->set_unit_id(unit);
    *e->mutable_event_time() = ToTimestamp(time);
    e->set_corrects_event_id(corrects);
    if (value) {
      e->set_value(*value);
    } else {
      e->set_voids(true);
    }
    ASSERT_OK(log_->Append(kKpiEventsTopic,
                           {{corrects, envelope.SerializeAsString(), 0}}));
  }

  // A close of `month`, in every partition.
  void AppendClose(const std::string& month) {
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    envelope.mutable_period_closing()->mutable_period()->set_kind(
        v1::PERIOD_KIND_MONTH);
    envelope.mutable_period_closing()->mutable_period()->set_label(month);
    envelope.mutable_period_closing()->set_closed_by("controller");
    std::vector<eventlog::AppendRecord> records;
    for (int p = 0; p < DefaultTopics()[kKpiEventsTopic]; ++p) {
      records.push_back({month, envelope.SerializeAsString(), p});
    }
    ASSERT_OK(log_->Append(kKpiEventsTopic, records));
  }

  void AppendDecision(const std::string& id, bool approve) {
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    envelope.mutable_pending_decision()->set_event_id(id);
    envelope.mutable_pending_decision()->set_approve(approve);
    envelope.mutable_pending_decision()->set_decided_by("cfo");
    ASSERT_OK(log_->Append(kKpiEventsTopic,
                           {{id, envelope.SerializeAsString(), 0}}));
  }

  v1::RollupRecord Record(const std::string& kpi, const std::string& unit,
                          PeriodKind kind, const std::string& label) {
    std::shared_ptr<const Definitions> defs = definitions_->Current();
    auto record = engine_->ReadRecord(
        *defs, {*defs->FindKpi(kpi), *defs->FindUnit(unit),
                *ParsePeriod(kind, label)});
    EXPECT_OK(record);
    return record.ok() && *record ? **record : v1::RollupRecord();
  }

  // Queries may be answered: routed, stage C too (UNAVAILABLE while a
  // reorg is rolled up again).
  bool Serving() {
    return engine_->Health().ok() &&
           (!GetParam().routed || combiner_->Health().ok());
  }

  // The cell as stored; routed, as stage C merged it.
  std::optional<RollupCell> Cell(const std::string& kpi,
                                 const std::string& unit, PeriodKind kind,
                                 const std::string& label) {
    if (GetParam().routed) {
      std::shared_ptr<const Definitions> defs = definitions_->Current();
      auto cell = combiner_->Read(
          *defs, {*defs->FindKpi(kpi), *defs->FindUnit(unit),
                  *ParsePeriod(kind, label)});
      EXPECT_OK(cell);
      return cell.ok() ? *cell : std::nullopt;
    }
    auto cell = store_->GetCell(CellKey(kpi, unit, *ParsePeriod(kind, label)));
    EXPECT_OK(cell);
    return cell.ok() ? *cell : std::nullopt;
  }

  const std::string& InputTopic() const { return engine_options_.input_topic; }

  // Every event waiting for a decision, over the fold parts.
  absl::StatusOr<std::vector<v1::PendingEvent>> AllPending() const {
    ASSIGN_OR_RETURN(std::vector<v1::PartClosings> parts,
                     engine_->ClosingsOfParts(""));
    std::vector<v1::PendingEvent> pending;
    for (const v1::PartClosings& part : parts) {
      pending.insert(pending.end(), part.pending().begin(),
                     part.pending().end());
    }
    return pending;
  }

  // Routed: the engine folded every record on strata.rollup-changes (the
  // frontiers parts announced too), published every part it committed,
  // and stage C merged them.
  bool CombinedAll() {
    if (!GetParam().routed) return true;
    auto outbox = store_->Outbox();
    if (!outbox.ok() || !outbox->empty()) return false;
    auto read_to_end = [&](auto& store, const char* topic) {
      for (int32_t p = 0; p < *log_->PartitionCount(topic); ++p) {
        const eventlog::TopicPartition tp{topic, p};
        auto committed = store.Position(tp);
        if (!committed.ok() || committed->offset != *log_->EndOffset(tp)) {
          return false;
        }
      }
      return true;
    };
    return read_to_end(*store_, kRollupChangesTopic) &&
           read_to_end(*combiner_store_, kRollupPartialsTopic);
  }

  // Repeats dropped: by the engine, or, routed, by stage A first.
  int64_t Duplicates() const {
    return engine_->stats().events_duplicate + routed_duplicates_ +
           (router_ != nullptr ? router_->stats().events_duplicate.load() : 0);
  }
  int64_t Conflicting() const {
    return engine_->stats().events_conflicting + routed_conflicting_ +
           (router_ != nullptr ? router_->stats().events_conflicting.load()
                               : 0);
  }

  // Waits (bounded) until `applied` events are committed and `duplicates`
  // repeats were dropped, then checks nothing more happened.
  void WaitForApplied(int64_t applied, int64_t duplicates = 0) {
    const RollupStats& stats = engine_->stats();
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline && (stats.events_committed < applied ||
                                      Duplicates() < duplicates ||
                                      !CombinedAll())) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_EQ(stats.events_committed, applied);
    ASSERT_EQ(Duplicates(), duplicates);
  }

  // Every record of the changelog, in order, per key.
  PublishedRecords PublishedInOrder() {
    absl::StatusOr<PublishedRecords> published = ReadPublished(*log_);
    EXPECT_OK(published);
    return published.ok() ? *std::move(published) : PublishedRecords();
  }

  // Versions never go back per key; one version says one figure.
  static void ExpectNoVersionGoesBack(
      const std::map<std::string, std::vector<v1::RollupRecord>>& published) {
    for (const auto& [key, records] : published) {
      for (size_t i = 1; i < records.size(); ++i) {
        EXPECT_GE(records[i].version(), records[i - 1].version()) << key;
        if (records[i].version() == records[i - 1].version()) {
          EXPECT_EQ(records[i].exact_value(), records[i - 1].exact_value())
              << key;
        }
      }
    }
  }

  static inline int counter_ = 0;
  RollupEngineOptions engine_options_ = [] {
    RollupEngineOptions options;
    options.flush_interval = absl::Milliseconds(10);
    options.fold_partitions = GetParam().parts;
    if (GetParam().routed) options.input_topic = kRollupChangesTopic;
    return options;
  }();
  std::filesystem::path dir_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<eventlog::FaultInjectingEventLog> faulty_log_;
  std::unique_ptr<DefinitionsFollower> definitions_;
  std::unique_ptr<RollupStore> store_;
  std::unique_ptr<RollupEngine> engine_;
  // Routed: stages A and C. A's counts survive Restart().
  std::unique_ptr<CombinerStore> combiner_store_;
  std::unique_ptr<CellCombiner> combiner_;
  std::unique_ptr<RouteStore> route_store_;
  std::unique_ptr<EventRouter> router_;
  int64_t routed_duplicates_ = 0;
  int64_t routed_conflicting_ = 0;
};

INSTANTIATE_TEST_SUITE_P(
    FoldPartitions, RollupEngineTest,
    ::testing::Values(FoldShape{1, false}, FoldShape{3, false},
                      FoldShape{3, true}),
    [](const ::testing::TestParamInfo<FoldShape>& info) {
      if (info.param.parts == 1) return std::string("Whole");
      return absl::StrCat(info.param.routed ? "Routed" : "", "In",
                          info.param.parts, "Parts");
    });

TEST_P(RollupEngineTest, SumsRollUpTheHierarchyAndThroughPeriods) {
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 100.25},
                {"e2", "sales", "team-b", Utc(2026, 2, 10), 50},
                {"e3", "sales", "team-a", Utc(2026, 4, 1), 7}});
  WaitForApplied(3);
  EXPECT_EQ(Cell("sales", "team-a", PeriodKind::kMonth, "2026-01")->value,
            ToFixedPoint(100.25));
  EXPECT_EQ(Cell("sales", "bu", PeriodKind::kQuarter, "2026-Q1")->value,
            ToFixedPoint(150.25));
  EXPECT_EQ(Cell("sales", "ent", PeriodKind::kQuarter, "2026-Q2")->value,
            ToFixedPoint(7));
  const auto year = Cell("sales", "ent", PeriodKind::kYear, "2026");
  EXPECT_EQ(year->value, ToFixedPoint(157.25));
  EXPECT_EQ(year->event_count, 3);
  EXPECT_FALSE(Cell("sales", "team-b", PeriodKind::kMonth, "2026-01"));
}

TEST_P(RollupEngineTest, LastKeepsEachUnitsLatestValueAndParentsSumThem) {
  AppendEvents({{"h1", "headcount", "team-a", Utc(2026, 3, 1), 10},
                {"h2", "headcount", "team-b", Utc(2026, 3, 2), 5},
                {"h3", "headcount", "team-a", Utc(2026, 3, 20), 12},
                // Late: happened before h3, so it does not replace it.
                {"h4", "headcount", "team-a", Utc(2026, 3, 5), 99}});
  WaitForApplied(4);
  EXPECT_EQ(Cell("headcount", "team-a", PeriodKind::kMonth, "2026-03")->value,
            ToFixedPoint(12));
  EXPECT_EQ(Cell("headcount", "bu", PeriodKind::kMonth, "2026-03")->value,
            ToFixedPoint(17));
  EXPECT_EQ(Cell("headcount", "ent", PeriodKind::kYear, "2026")->value,
            ToFixedPoint(17));
}

TEST_P(RollupEngineTest, SumsOfTheLargestValuesAreExactNotWrapped) {
  // 923 events of 1e12 wrapped a 64-bit cell to a negative total.
  std::vector<
      std::tuple<std::string, std::string, std::string, absl::Time, double>>
      events;
  for (int i = 0; i < 1000; ++i) {
    events.emplace_back(absl::StrCat("big", i), "sales", "team-a",
                        Utc(2026, 1, 10), 1e12);
  }
  AppendEvents(events);
  WaitForApplied(1000);
  const auto year = Cell("sales", "ent", PeriodKind::kYear, "2026");
  EXPECT_EQ(year->value, absl::int128(ToFixedPoint(1e12)) * 1000);
  const v1::RollupRecord record = ReadChangelog().at(
      CellKey("sales", "ent", *ParsePeriod(PeriodKind::kYear, "2026")));
  EXPECT_EQ(record.exact_value(), "1000000000000000");
  EXPECT_EQ(record.value(), 1e15);
}

TEST_P(RollupEngineTest, LastOrdersByNanosecondsAndKeepsValidTimestamps) {
  // 800 ns apart. Truncated to microseconds the two tie, and the id hash
  // (larger for "early") picked the earlier one.
  const absl::Time t = Utc(2026, 3, 1);
  AppendEvents({{"late", "headcount", "team-a", t + absl::Nanoseconds(800), 2},
                {"early", "headcount", "team-a", t, 1}});
  // Before 1970 with a fraction: nanos must stay within 0..999,999,999.
  AppendEvents({{"old", "sales", "team-b",
                 absl::FromUnixSeconds(-1) + absl::Milliseconds(500), 3}});
  WaitForApplied(3);
  EXPECT_EQ(Cell("headcount", "team-a", PeriodKind::kMonth, "2026-03")->value,
            ToFixedPoint(2));
  const auto changelog = ReadChangelog();
  const v1::RollupRecord& old = changelog.at(
      CellKey("sales", "team-b", *ParsePeriod(PeriodKind::kYear, "1969")));
  EXPECT_EQ(old.last_event_time().seconds(), -1);
  EXPECT_EQ(old.last_event_time().nanos(), 500'000'000);
  const v1::RollupRecord& late = changelog.at(
      CellKey("headcount", "ent", *ParsePeriod(PeriodKind::kMonth, "2026-03")));
  EXPECT_EQ(late.last_event_time().nanos(), 800);
}

TEST_P(RollupEngineTest, RepeatedEventIdsCountOnce) {
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10}});
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10},
                {"e2", "sales", "team-a", Utc(2026, 1, 11), 1}});
  WaitForApplied(2, 1);
  EXPECT_EQ(Cell("sales", "ent", PeriodKind::kMonth, "2026-01")->value,
            ToFixedPoint(11));
}

TEST_P(RollupEngineTest, AReusedIdLosesToTheFirstCopyLiveAndOnReplay) {
  // Ingest puts every copy of an id in one partition, the id's.
  const int32_t partition =
      eventlog::PartitionForKey("x", DefaultTopics()[kKpiEventsTopic]);
  AppendEvents({{"x", "sales", "team-a", Utc(2026, 1, 10), 10}}, partition);
  AppendEvents({{"x", "sales", "team-b", Utc(2026, 1, 10), 99},
                {"x", "sales", "team-a", Utc(2026, 1, 10), 10},
                {"y", "sales", "team-b", Utc(2026, 1, 11), 1}},
               partition);
  WaitForApplied(2, 1);
  auto check = [&] {
    EXPECT_EQ(Conflicting(), 1);
    EXPECT_EQ(Cell("sales", "team-a", PeriodKind::kMonth, "2026-01")->value,
              ToFixedPoint(10));
    EXPECT_EQ(Cell("sales", "team-b", PeriodKind::kMonth, "2026-01")->value,
              ToFixedPoint(1));
    EXPECT_EQ(Cell("sales", "ent", PeriodKind::kMonth, "2026-01")->value,
              ToFixedPoint(11));
  };
  check();
  CloseAll();
  std::filesystem::remove_all(dir_ / "rollup");
  OpenAll();
  WaitForApplied(2, 1);
  check();
}

TEST_P(RollupEngineTest, ALogShorterThanTheStateIsDataLossNotASilentSkip) {
  // The log as it was before any event: a restored backup, or a tail lost
  // to a power loss with fsync off.
  CloseAll();
  std::filesystem::copy(dir_ / "log", dir_ / "log-before");
  OpenAll();
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10},
                {"e2", "sales", "team-a", Utc(2026, 1, 11), 5}});
  WaitForApplied(2);
  CloseAll();
  std::filesystem::remove_all(dir_ / "log");
  std::filesystem::rename(dir_ / "log-before", dir_ / "log");
  // Before: the engine resumed past the log's end, so the next events
  // landed below its position and were never counted.
  const absl::Status started = OpenAllAndStart();
  // Routed, the engine reads what stage A wrote, lost with the rest.
  EXPECT_THAT(started,
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(absl::StrCat("rollup state reflects ",
                                                    InputTopic(), "/")),
                             HasSubstr(GetParam().routed
                                           ? "but the log ends at 0"
                                           : "up to offset 1 but the log "
                                             "ends at 0"))));
  EXPECT_THAT(engine_->Health(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_P(RollupEngineTest, ALogReplacedUnderTheStateIsDataLossNotASilentSkip) {
  CloseAll();
  std::filesystem::copy(dir_ / "log", dir_ / "log-before");
  OpenAll();
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10}}, 0);
  AppendEvents({{"e2", "sales", "team-a", Utc(2026, 1, 11), 5}}, 0);
  WaitForApplied(2);
  CloseAll();
  std::filesystem::remove_all(dir_ / "log");
  std::filesystem::rename(dir_ / "log-before", dir_ / "log");
  // The restored log grows past the state's position with other events:
  // the end check passes, and the engine skipped the first two of them.
  {
    eventlog::RocksDbEventLogOptions options;
    options.path = (dir_ / "log").string();
    options.topics = LogTopics();
    log_ = *eventlog::OpenRocksDbEventLog(options);
    for (const char* id : {"n1", "n2", "n3"}) {
      AppendEvents({{id, "sales", "team-b", Utc(2026, 1, 12), 1}}, 0);
    }
    log_.reset();
  }
  EXPECT_THAT(OpenAllAndStart(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr(GetParam().routed
                                     ? "rollup state reflects "
                                       "strata.rollup-changes/"
                                     : "rollup state does not match the log: "
                                       "the record at strata.kpi-events/0@1")));
  EXPECT_THAT(engine_->Health(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_P(RollupEngineTest, ACorruptLogRecordStopsTheEngineLoudlyNotSilently) {
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10}});
  WaitForApplied(1);
  // Before: a warning a poll, forever, while health said SERVING.
  faulty_log_->FailPolls(
      eventlog::FaultInjectingEventLog::Fault::UntilCleared().WithStatus(
          absl::DataLossError("corrupt record at strata.kpi-events/3@7")));
  AppendEvents({{"e2", "sales", "team-a", Utc(2026, 1, 11), 5}});
  WaitUntil([&] { return !engine_->Health().ok(); });
  EXPECT_THAT(engine_->Health(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("corrupt record at strata.kpi-events/3@7")));
  faulty_log_->ClearFaults();
}

// What reaches the changelog is committed first: a batch whose publishing
// fails stays committed, and its records are published after a restart.
TEST_P(RollupEngineTest, CommittedRecordsArePublishedEvenAfterARestart) {
  faulty_log_->FailAppends(
      eventlog::FaultInjectingEventLog::Fault::UntilCleared());
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10}});
  // Committed, its records waiting in the outbox: not counted as done.
  ASSERT_TRUE(WaitUntil([&] {
    absl::StatusOr<std::vector<eventlog::AppendRecord>> outbox =
        store_->Outbox();
    return outbox.ok() && !outbox->empty();
  })) << "not committed while the changelog refuses records";
  EXPECT_TRUE(ReadChangelog().empty());
  EXPECT_EQ(engine_->stats().events_committed, 0);

  Restart();  // The changelog takes records again.
  int64_t published = 0;
  EXPECT_TRUE(WaitUntil([&] {
    for (const auto& [key, record] : ReadChangelog()) {
      if (record.key().unit_id() == "ent" &&
          record.key().period().label() == "2026") {
        published = record.event_count();
      }
    }
    return published == 1;
  })) << published;
}

// Health counts the records the engine has yet to read (its lag).
TEST_P(RollupEngineTest, RecordsBehindShowsTheLagAndFallsBackToZero) {
  faulty_log_->FailPolls(
      eventlog::FaultInjectingEventLog::Fault::UntilCleared());
  // A poll already waiting when the fault came would still read a record.
  ASSERT_TRUE(WaitUntil([&] {
    return absl::StrContains(engine_->Health().message(), "reading the log");
  }));
  for (int i = 0; i < 5; ++i) {
    AppendEvents(
        {{absl::StrCat("e", i), "sales", "team-a", Utc(2026, 1, 10), 1}});
  }
  EXPECT_TRUE(WaitUntil([&] { return engine_->stats().records_behind == 5; }))
      << engine_->stats().records_behind;
  faulty_log_->ClearFaults();
  WaitForApplied(5);
  EXPECT_TRUE(WaitUntil([&] { return engine_->stats().records_behind == 0; }))
      << engine_->stats().records_behind;
}

// A failure that passes is UNAVAILABLE while it lasts, then OK again.
TEST_P(RollupEngineTest, APassingLogFailureIsUnavailableThenRecovers) {
  faulty_log_->FailPolls(
      eventlog::FaultInjectingEventLog::Fault::UntilCleared());
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10}});
  WaitUntil([&] { return !engine_->Health().ok(); });
  EXPECT_THAT(engine_->Health(), StatusIs(absl::StatusCode::kUnavailable,
                                          HasSubstr("reading the log")));
  faulty_log_->ClearFaults();
  WaitForApplied(1);
  WaitUntil([&] { return engine_->Health().ok(); });
  EXPECT_OK(engine_->Health());
}

TEST_P(RollupEngineTest, AnUnreadableCellStopsTheEngineAndIsRebuiltOnRestart) {
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10}});
  WaitForApplied(1);
  CloseAll();
  {
    // A cell the store returns damaged (as a bad block would be).
    StateDbOptions layout = RollupStore::Layout((dir_ / "rollup").string());
    layout.rebuild_when_damaged = false;
    auto raw = StateDb::Open(layout);
    ASSERT_OK(raw);
    const std::string key =
        CellKey("sales", "ent", *ParsePeriod(PeriodKind::kYear, "2026"));
    rocksdb::WriteBatch batch;
    batch.Put((*raw)->family(0), key, "garbage");
    // Folded in parts, the engine reads the parts.
    const auto partials = std::find(layout.families.begin(),
                                    layout.families.end(), "partials");
    ASSERT_NE(partials, layout.families.end());
    for (int32_t p = 0; p < GetParam().parts; ++p) {
      batch.Put((*raw)->family(partials - layout.families.begin()),
                PartialCellKey(p, key), "garbage");
    }
    ASSERT_OK((*raw)->Write(batch));
  }
  OpenAll();
  AppendEvents({{"e2", "sales", "team-a", Utc(2026, 1, 11), 5}});
  // Before: std::abort, and the same again at every restart.
  WaitUntil([&] { return !engine_->Health().ok(); });
  EXPECT_THAT(engine_->Health(),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("malformed cell '"),
                             HasSubstr("sales/ent/2026'"),
                             HasSubstr("restart to rebuild"))));
  Restart();
  WaitForApplied(2);
  EXPECT_EQ(Cell("sales", "ent", PeriodKind::kYear, "2026")->value,
            ToFixedPoint(15));
  EXPECT_EQ(Cell("sales", "ent", PeriodKind::kYear, "2026")->event_count, 2);
}

TEST_P(RollupEngineTest, ABoundedCacheKeepsEveryTotalExact) {
  engine_options_.max_cached_cells = 5;
  Restart();
  // 12 months x 2 teams x (month, quarter, year) x 3 levels: far more cells
  // than the cache holds, each revisited across many flushes.
  for (int round = 0; round < 4; ++round) {
    for (int month = 1; month <= 12; ++month) {
      AppendEvents({{absl::StrCat("a", round, "-", month), "sales", "team-a",
                     Utc(2026, month, 3), 1},
                    {absl::StrCat("b", round, "-", month), "sales", "team-b",
                     Utc(2026, month, 4), 2}});
    }
  }
  // Not waiting in between: hand-offs happen while a batch is in flight.
  WaitForApplied(4 * 24);
  EXPECT_EQ(Cell("sales", "ent", PeriodKind::kYear, "2026")->value,
            ToFixedPoint(4 * 12 * 3));
  EXPECT_EQ(Cell("sales", "bu", PeriodKind::kQuarter, "2026-Q2")->value,
            ToFixedPoint(4 * 3 * 3));
  EXPECT_EQ(Cell("sales", "team-b", PeriodKind::kMonth, "2026-07")->value,
            ToFixedPoint(4 * 2));
  // Queries read dropped cells from the store: the same values.
  auto defs = definitions_->Current();
  auto read =
      engine_->Read(*defs, *defs->FindKpi("sales"), *defs->FindUnit("ent"),
                    *ParsePeriod(PeriodKind::kYear, "2026"));
  ASSERT_OK(read);
  EXPECT_EQ((*read)->value, ToFixedPoint(4 * 12 * 3));
}

TEST_P(RollupEngineTest, AHandOffIsDueWhenTheIntervalHasPassedOnItsClock) {
  SimulatedClock clock(absl::FromUnixSeconds(1'790'000'000));
  engine_options_.clock = &clock;
  engine_options_.flush_interval = absl::Minutes(1);
  Restart();
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10}});
  const RollupStats& stats = engine_->stats();
  WaitUntil([&] { return stats.events_applied >= 1; });
  ASSERT_EQ(stats.events_applied, 1);
  // Folded and queryable, not yet committed: the clock has not moved.
  auto defs = definitions_->Current();
  auto read =
      engine_->Read(*defs, *defs->FindKpi("sales"), *defs->FindUnit("ent"),
                    *ParsePeriod(PeriodKind::kMonth, "2026-01"));
  ASSERT_OK(read);
  EXPECT_EQ((*read)->value, ToFixedPoint(10));
  EXPECT_EQ(stats.events_committed, 0);
  EXPECT_FALSE(Cell("sales", "ent", PeriodKind::kMonth, "2026-01"));
  clock.Advance(absl::Minutes(1));
  WaitForApplied(1);
  EXPECT_EQ(Cell("sales", "ent", PeriodKind::kMonth, "2026-01")->value,
            ToFixedPoint(10));
  engine_.reset();  // Before `clock`, which its thread reads, goes.
}

// Found in the trial: a record judged a month's flow against the whole
// month's target from its first day, so every flow was red early on.
TEST_P(RollupEngineTest, RecordsJudgeAFlowAgainstTheTargetExpectedByNow) {
  // 10 of March's 31 days gone.
  SimulatedClock clock(Utc(2026, 3, 11, /*hh=*/0));
  engine_options_.clock = &clock;
  engine_options_.flush_interval = absl::ZeroDuration();
  Restart();
  AppendDefinitionBatch(Batch({TargetChange("sales", "team-a", "2026-03", 100),
                               TargetChange("headcount", "team-a", "2026-03", 10)}));
  AppendEvents({{"s1", "sales", "team-a", Utc(2026, 3, 5), 35},
                {"h1", "headcount", "team-a", Utc(2026, 3, 5), 9.5}});
  WaitForApplied(2);
  const double expected = 100.0 * 10 / 31;
  v1::RollupRecord sales = Record("sales", "team-a", PeriodKind::kMonth, "2026-03");
  EXPECT_EQ(sales.target(), 100);
  EXPECT_DOUBLE_EQ(sales.expected(), expected);
  EXPECT_DOUBLE_EQ(sales.variance(), 35 - expected);
  EXPECT_DOUBLE_EQ(sales.variance_pct(), 100 * (35 - expected) / expected);
  EXPECT_EQ(sales.status(), v1::KPI_STATUS_GREEN);
  // 3.33 on the red line (90 % of expected), 6.67 on it, linear beyond.
  EXPECT_DOUBLE_EQ(sales.score(),
                   10.0 / 3 * (1 + (35 - 0.9 * expected) / (0.1 * expected)));
  EXPECT_EQ(FromTimestamp(sales.judged_at()), Utc(2026, 3, 11, 0));
  // Where nothing was reported, no data: never green.
  const auto defs = definitions_->Current();
  const v1::RollupRecord nothing = MakeEmptyRecord(
      *defs, {*defs->FindKpi("sales"), *defs->FindUnit("team-a"),
              *ParsePeriod(PeriodKind::kMonth, "2026-03")},
      clock.Now());
  EXPECT_EQ(nothing.status(), v1::KPI_STATUS_NO_DATA);
  EXPECT_FALSE(nothing.has_score());
  // A stock is judged against its whole target throughout.
  v1::RollupRecord headcount =
      Record("headcount", "team-a", PeriodKind::kMonth, "2026-03");
  EXPECT_EQ(headcount.expected(), 10);
  EXPECT_EQ(headcount.status(), v1::KPI_STATUS_AMBER);
  // The changelog has them as judged when published.
  absl::flat_hash_map<std::string, v1::RollupRecord> latest = ReadChangelog();
  EXPECT_EQ(latest["sales/team-a/2026-03"].status(), v1::KPI_STATUS_GREEN);
  EXPECT_DOUBLE_EQ(latest["sales/team-a/2026-03"].expected(), expected);
  // Ten days on, 35 is far behind the 64.5 expected: a read says so.
  clock.Advance(absl::Hours(24 * 10));
  sales = Record("sales", "team-a", PeriodKind::kMonth, "2026-03");
  EXPECT_DOUBLE_EQ(sales.expected(), 100.0 * 20 / 31);
  EXPECT_EQ(sales.status(), v1::KPI_STATUS_RED);
  engine_.reset();  // Before `clock`, which its thread reads, goes.
}

// A target declared once at the top reaches the units below that have none
// of their own: their cells are published again with it.
TEST_P(RollupEngineTest, CascadedTargetsReachTheCellsBelow) {
  AppendEvents({{"a", "sales", "team-a", Utc(2026, 1, 10), 700},
                {"b", "sales", "team-b", Utc(2026, 1, 10), 300},
                {"h", "headcount", "team-b", Utc(2026, 1, 10), 12}});
  WaitForApplied(3);
  AppendDefinitionBatch(Batch(
      {CascadedTargetChange("sales", "bu", "2026-01", 1000,
                            v1::TargetCascade::RULE_SHARE,
                            {{"team-a", 60}, {"team-b", 40}}),
       CascadedTargetChange("headcount", "ent", "2026-01", 10,
                            v1::TargetCascade::RULE_COPY)}));
  absl::flat_hash_map<std::string, v1::RollupRecord> latest;
  ASSERT_TRUE(WaitUntil([&] {
    latest = ReadChangelog();
    return latest["sales/team-b/2026-01"].has_target() &&
           latest["headcount/team-b/2026-01"].has_target();
  }));
  EXPECT_EQ(latest["sales/bu/2026-01"].target(), 1000);
  EXPECT_EQ(latest["sales/team-a/2026-01"].target(), 600);
  EXPECT_EQ(latest["sales/team-a/2026-01"].status(), v1::KPI_STATUS_GREEN);
  EXPECT_EQ(latest["sales/team-b/2026-01"].target(), 400);
  EXPECT_EQ(latest["sales/team-b/2026-01"].status(), v1::KPI_STATUS_RED);
  EXPECT_FALSE(latest["sales/ent/2026-01"].has_target());
  EXPECT_EQ(latest["headcount/team-b/2026-01"].target(), 10);
  EXPECT_EQ(latest["headcount/bu/2026-01"].target(), 10);
  EXPECT_EQ(Record("headcount", "team-b", PeriodKind::kMonth, "2026-01").target(),
            10);
}

TEST_P(RollupEngineTest, ReportsEveryDurablePositionToItsGroup) {
  // Only the flush before the last one was reported: after a quiet spell,
  // ingest's back-pressure saw lag that was not there and refused events
  // for good.
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10}});
  WaitForApplied(1);
  // Routed, stage A reports on the events, and the fold partitions on
  // what it routed.
  std::vector<std::pair<std::string, std::string>> groups = {
      {kRollupConsumerGroup, InputTopic()}};
  if (GetParam().routed) {
    groups.emplace_back(kRollupRouteConsumerGroup, kKpiEventsTopic);
  }
  auto all_reported = [&] {
    for (const auto& [name, topic] : groups) {
      auto group = *log_->NewConsumer(name);
      for (int32_t p = 0; p < *log_->PartitionCount(topic); ++p) {
        const eventlog::TopicPartition tp{topic, p};
        const int64_t end = *log_->EndOffset(tp);
        const int64_t committed = *group->Committed(tp);
        if (end > 0 && committed != end) return false;
      }
    }
    return true;
  };
  WaitUntil(all_reported);
  EXPECT_TRUE(all_reported());
}

TEST_P(RollupEngineTest, TearsDownWhileDefinitionsKeepArriving) {
  // The follower called the engine's target listener after the engine was
  // gone (a use-after-free, in the order RunServices destroyed them).
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
      *envelope.mutable_definitions() =
          Batch({TargetChange("sales", "team-a", "2026-01", i)});
      ASSERT_OK(log_->Append(kDefinitionsTopic,
                             {{"defs", envelope.SerializeAsString()}}));
    }
  });
  absl::SleepFor(absl::Milliseconds(50));
  engine_.reset();
  absl::SleepFor(absl::Milliseconds(50));
  stop = true;
  writer.join();
  ASSERT_OK(definitions_->CatchUp(absl::Seconds(10)));
}

TEST_P(RollupEngineTest, RestartResumesWithoutLosingOrRecounting) {
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10}});
  WaitForApplied(1);
  Restart();
  // A retry of e1 after the restart is still recognised.
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10},
                {"e2", "sales", "team-b", Utc(2026, 1, 12), 5}});
  WaitForApplied(1, 1);
  const auto cell = Cell("sales", "ent", PeriodKind::kMonth, "2026-01");
  EXPECT_EQ(cell->value, ToFixedPoint(15));
  EXPECT_EQ(cell->event_count, 2);
}

TEST_P(RollupEngineTest, DeletedStateRebuildsIdenticallyFromTheLog) {
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10.5},
                {"h1", "headcount", "team-b", Utc(2026, 2, 1), 4},
                {"h2", "headcount", "team-b", Utc(2026, 2, 9), 6}});
  AppendEvents({{"e2", "sales", "team-b", Utc(2026, 5, 10), 2},
                {"e1", "sales", "team-a", Utc(2026, 1, 10), 10.5}});
  WaitForApplied(4, 1);
  // Every cell the events reach, or could, keyed by its name.
  auto snapshot = [&] {
    std::map<std::string, std::optional<RollupCell>> cells;
    const std::pair<const char*, PeriodKind> periods[] = {
        {"2026-01", PeriodKind::kMonth},
        {"2026-Q1", PeriodKind::kQuarter},
        {"2026-Q2", PeriodKind::kQuarter},
        {"2026", PeriodKind::kYear}};
    for (const char* kpi : {"sales", "headcount"}) {
      for (const char* unit : {"team-a", "team-b", "bu", "ent"}) {
        for (const auto& [label, kind] : periods) {
          cells[absl::StrCat(kpi, "/", unit, "/", label)] =
              Cell(kpi, unit, kind, label);
        }
      }
    }
    return cells;
  };
  const auto before = snapshot();
  CloseAll();
  std::filesystem::remove_all(dir_ / "rollup");
  OpenAll();
  WaitForApplied(4, 1);
  for (const auto& [name, after] : snapshot()) {
    const std::optional<RollupCell>& was = before.at(name);
    ASSERT_EQ(after.has_value(), was.has_value()) << name;
    if (!after) continue;
    EXPECT_EQ(after->value, was->value) << name;
    EXPECT_EQ(after->event_count, was->event_count) << name;
    EXPECT_EQ(after->last_event_time, was->last_event_time) << name;
    EXPECT_EQ(after->version, was->version) << name;
  }
  EXPECT_EQ(Cell("headcount", "ent", PeriodKind::kQuarter, "2026-Q1")->value,
            ToFixedPoint(6));
}

TEST_P(RollupEngineTest, CorrectionsAndVoidsReachEveryCellLiveAndOnReplay) {
  v1::DefinitionChange worst = KpiChange("worst", v1::TIME_AGGREGATION_MIN);
  worst.mutable_kpi()->set_hierarchy_aggregation(v1::HIERARCHY_AGGREGATION_MIN);
  AppendDefinitionBatch(Batch({worst}));
  const absl::Time mar10 = Utc(2026, 3, 10), mar20 = Utc(2026, 3, 20);
  AppendEvents({{"e1", "sales", "team-a", mar10, 10},
                {"e2", "sales", "team-b", mar10, 5},
                {"h1", "headcount", "team-a", Utc(2026, 3, 1), 10},
                {"h2", "headcount", "team-a", mar20, 12},
                {"w1", "worst", "team-a", mar10, 5},
                {"w2", "worst", "team-b", mar10, 3}},
               0);
  WaitForApplied(6);
  ASSERT_EQ(Cell("sales", "ent", PeriodKind::kMonth, "2026-03")->value,
            ToFixedPoint(15));
  ASSERT_EQ(Cell("worst", "bu", PeriodKind::kMonth, "2026-03")->value,
            ToFixedPoint(3));
  AppendCorrection("c1", "e1", "sales", "team-a", mar10, 7);
  AppendCorrection("c2", "e2", "sales", "team-b", mar10, std::nullopt);
  // The latest headcount voided: the one before it counts again.
  AppendCorrection("c3", "h2", "headcount", "team-a", mar20, std::nullopt);
  // The minimum voided: bu's minimum comes from its other child.
  AppendCorrection("c4", "w2", "worst", "team-b", mar10, std::nullopt);
  // Refused: another unit than the event's, an unknown event, a correction.
  AppendCorrection("bad1", "e1", "sales", "team-b", mar10, 1);
  AppendCorrection("bad2", "nope", "sales", "team-a", mar10, 1);
  AppendCorrection("bad3", "c1", "sales", "team-a", mar10, 1);
  WaitForApplied(10);
  EXPECT_TRUE(
      WaitUntil([&] { return engine_->stats().corrections_rejected == 3; }));
  auto check = [&] {
    const auto sales = Cell("sales", "ent", PeriodKind::kMonth, "2026-03");
    EXPECT_EQ(sales->value, ToFixedPoint(7));
    EXPECT_EQ(sales->event_count, 1);  // e2 voided.
    EXPECT_EQ(Cell("sales", "team-b", PeriodKind::kYear, "2026")->value, 0);
    const auto worst = Cell("worst", "bu", PeriodKind::kMonth, "2026-03");
    EXPECT_EQ(worst->value, ToFixedPoint(5));
    EXPECT_EQ(worst->contributors, 1);
  };
  check();
  EXPECT_EQ(Cell("headcount", "bu", PeriodKind::kQuarter, "2026-Q1")->value,
            ToFixedPoint(10));
  // A voided event corrected again counts again: h2 back, as 20.
  AppendCorrection("c5", "h2", "headcount", "team-a", mar20, 20);
  WaitForApplied(11);
  EXPECT_EQ(Cell("headcount", "ent", PeriodKind::kMonth, "2026-03")->value,
            ToFixedPoint(20));
  // Rebuilt from the log: the same figures.
  CloseAll();
  std::filesystem::remove_all(dir_ / "rollup");
  OpenAll();
  WaitForApplied(11);
  EXPECT_EQ(Cell("headcount", "ent", PeriodKind::kMonth, "2026-03")->value,
            ToFixedPoint(20));
  check();
}

TEST_P(RollupEngineTest, AClosedPeriodHoldsLateEventsUntilApprovedAndKeepsItsFigures) {
  const absl::Time mar10 = Utc(2026, 3, 10);
  AppendEvents({{"e1", "sales", "team-a", mar10, 10},
                {"e2", "sales", "team-b", mar10, 5}},
               0);
  WaitForApplied(2);
  AppendClose("2026-03");
  // After the close: a late March event and a correction wait; April counts.
  AppendEvents({{"late", "sales", "team-a", Utc(2026, 3, 31, 23), 100},
                {"apr", "sales", "team-a", Utc(2026, 4, 1), 7}},
               0);
  AppendCorrection("fix", "e2", "sales", "team-b", mar10, 6);
  WaitForApplied(5);
  EXPECT_EQ(engine_->stats().events_held, 2);
  EXPECT_EQ(Record("sales", "ent", PeriodKind::kMonth, "2026-03").value(), 15);
  EXPECT_EQ(Record("sales", "ent", PeriodKind::kMonth, "2026-04").value(), 7);
  auto pending = AllPending();
  ASSERT_OK(pending);
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].closed_period().label(), "2026-03");
  // Approved: counts, and March as reported at the close stays beside it.
  AppendDecision("late", true);
  AppendDecision("fix", false);
  AppendDecision("nope", true);  // Nothing waits under that id.
  EXPECT_TRUE(WaitUntil([&] {
    return Record("sales", "ent", PeriodKind::kMonth, "2026-03").value() == 115;
  }));
  EXPECT_TRUE(WaitUntil([&] { return engine_->stats().decisions_ignored == 1; }));
  auto check = [&] {
    const v1::RollupRecord march =
        Record("sales", "ent", PeriodKind::kMonth, "2026-03");
    EXPECT_EQ(march.value(), 115);
    EXPECT_EQ(march.reported_value(), 15);
    EXPECT_EQ(march.reported_exact_value(), "15");
    // The quarter is not closed: it simply changes, with nothing kept.
    const v1::RollupRecord q1 =
        Record("sales", "ent", PeriodKind::kQuarter, "2026-Q1");
    EXPECT_EQ(q1.value(), 115);
    EXPECT_FALSE(q1.has_reported_value());
    // The rejected correction never counts: team-b keeps 5.
    EXPECT_EQ(Record("sales", "team-b", PeriodKind::kMonth, "2026-03").value(), 5);
  };
  check();
  // A resent late event is a repeat, not a new pending one.
  AppendEvents({{"late", "sales", "team-a", Utc(2026, 3, 31, 23), 100}}, 0);
  WaitForApplied(5, 1);
  auto after = AllPending();
  ASSERT_OK(after);
  EXPECT_TRUE(after->empty());
  // Rebuilt from the log: the same figures, the same figures at close.
  CloseAll();
  std::filesystem::remove_all(dir_ / "rollup");
  OpenAll();
  EXPECT_TRUE(WaitUntil([&] {
    return Record("sales", "ent", PeriodKind::kMonth, "2026-03").value() == 115;
  }));
  check();
}

// Found by review: two decisions on one event can both reach the log (two
// clients, or two instances, each saw it waiting). A rejection after an
// approval still waiting for its close to complete took the approval back,
// where the closing service promises that the first decision stands.
TEST_P(RollupEngineTest, ARejectionAfterAnApprovalIsIgnored) {
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 3, 10), 10}}, 0);
  WaitForApplied(1);
  // The close, in partition 0 only so far: not complete.
  v1::EventEnvelope close = NewEnvelope(ThisProducer("test"));
  close.mutable_period_closing()->mutable_period()->set_kind(
      v1::PERIOD_KIND_MONTH);
  close.mutable_period_closing()->mutable_period()->set_label("2026-03");
  close.mutable_period_closing()->set_closed_by("controller");
  ASSERT_OK(log_->Append(kKpiEventsTopic,
                         {{"2026-03", close.SerializeAsString(), 0}}));
  AppendEvents({{"late", "sales", "team-a", Utc(2026, 3, 31, 23), 100}}, 0);
  ASSERT_TRUE(WaitUntil([&] { return engine_->stats().events_held == 1; }));
  AppendDecision("late", true);
  AppendDecision("late", false);
  EXPECT_TRUE(
      WaitUntil([&] { return engine_->stats().decisions_ignored == 1; }));
  AppendClose("2026-03");  // Complete now: the approval counts.
  EXPECT_TRUE(WaitUntil([&] {
    return Record("sales", "ent", PeriodKind::kMonth, "2026-03").value() == 110;
  })) << Record("sales", "ent", PeriodKind::kMonth, "2026-03").value();
}

TEST_P(RollupEngineTest, AReorgReshapesPeriodsFromItsDateAndKeepsEarlierOnes) {
  AppendDefinitionBatch(Batch({UnitChange("bu2", "ent")}));
  AppendEvents({{"jan", "sales", "team-a", Utc(2026, 1, 10), 10},
                {"mar", "sales", "team-a", Utc(2026, 3, 10), 5},
                {"apr", "sales", "team-a", Utc(2026, 4, 10), 7}});
  WaitForApplied(3);
  ASSERT_EQ(Cell("sales", "bu", PeriodKind::kMonth, "2026-03")->value,
            ToFixedPoint(5));
  // team-a moves to bu2 from March: periods that start on or after March 1
  // take the new shape; January, Q1 and 2026 (begun before) keep the old.
  v1::DefinitionChange move = UnitChange("team-a", "bu2");
  move.mutable_org_unit()->set_effective_from("2026-03-01");
  AppendDefinitionBatch(Batch({move}));
  auto check = [&] {
    EXPECT_EQ(Cell("sales", "bu", PeriodKind::kMonth, "2026-01")->value,
              ToFixedPoint(10));
    EXPECT_FALSE(Cell("sales", "bu2", PeriodKind::kMonth, "2026-01"));
    EXPECT_FALSE(Cell("sales", "bu", PeriodKind::kMonth, "2026-03"));
    EXPECT_EQ(Cell("sales", "bu2", PeriodKind::kMonth, "2026-03")->value,
              ToFixedPoint(5));
    EXPECT_EQ(Cell("sales", "bu", PeriodKind::kQuarter, "2026-Q1")->value,
              ToFixedPoint(15));
    EXPECT_EQ(Cell("sales", "bu2", PeriodKind::kQuarter, "2026-Q2")->value,
              ToFixedPoint(7));
    EXPECT_EQ(Cell("sales", "bu", PeriodKind::kYear, "2026")->value,
              ToFixedPoint(22));
    EXPECT_EQ(Cell("sales", "ent", PeriodKind::kYear, "2026")->value,
              ToFixedPoint(22));
  };
  ASSERT_TRUE(WaitUntil([&] {
    return Serving() &&
           Cell("sales", "bu2", PeriodKind::kMonth, "2026-03").has_value() &&
           !Cell("sales", "bu", PeriodKind::kMonth, "2026-03").has_value();
  })) << engine_->Health() << " committed " << engine_->stats().events_committed;
  check();
  // The cell bu lost is published once more, without a value, at a version
  // above the old ones, so that consumers drop it.
  absl::flat_hash_map<std::string, v1::RollupRecord> latest;
  EXPECT_TRUE(WaitUntil([&] {
    latest = ReadChangelog();
    return latest["sales/bu/2026-03"].version() >= (int64_t{1} << 40);
  }));
  EXPECT_FALSE(latest["sales/bu/2026-03"].has_value());
  EXPECT_GE(latest["sales/bu2/2026-03"].version(), int64_t{1} << 40);
  EXPECT_EQ(latest["sales/bu2/2026-03"].value(), 5);
  // Rebuilt from scratch with the reorg known from the start: the same.
  CloseAll();
  std::filesystem::remove_all(dir_ / "rollup");
  OpenAll();
  EXPECT_TRUE(WaitUntil([&] {
    return Serving() &&
           Cell("sales", "bu2", PeriodKind::kMonth, "2026-03").has_value();
  }));
  EXPECT_EQ(engine_->stats().restarts, 0);  // Folded in the new shape at once.
  check();
}

// Found by review: each fold part said it completed an epoch only in an
// idle moment (nothing pending, the last batch written), which a feed that
// never pauses never gives; stage C, which serves an epoch only once every
// part completed it, then answered UNAVAILABLE for as long as the feed ran.
TEST_P(RollupEngineTest, AReorgCompletesUnderAFeedThatNeverPauses) {
  if (!GetParam().routed) GTEST_SKIP() << "stage C: routed";
  AppendDefinitionBatch(Batch({UnitChange("bu2", "ent")}));
  AppendEvents({{"e0", "sales", "team-a", Utc(2026, 1, 10), 1}});
  WaitForApplied(1);
  // Parts take a while to publish, as to brokers: the flusher is still
  // busy right after each hand-off.
  faulty_log_->SlowAppends(kRollupPartialsTopic, absl::Milliseconds(20));
  std::atomic<bool> feeding{true};
  std::thread feed([&] {
    for (int i = 1; feeding; ++i) {
      AppendEvents({{absl::StrCat("e", i), "sales", "team-b",
                     Utc(2026, 1, 10), 1}});
    }
  });
  v1::DefinitionChange move = UnitChange("team-a", "bu2");
  move.mutable_org_unit()->set_effective_from("2026-01-01");
  AppendDefinitionBatch(Batch({move}));
  // Served in the new shape (bu2 holds team-a's event) while the feed runs.
  const bool served = WaitUntil([&] {
    std::shared_ptr<const Definitions> now = definitions_->Current();
    if (now->reorg_count() == 0 || !Serving()) return false;
    absl::StatusOr<std::optional<RollupCell>> cell = combiner_->Read(
        *now, {*now->FindKpi("sales"), *now->FindUnit("bu2"),
               *ParsePeriod(PeriodKind::kMonth, "2026-01")});
    return cell.ok() && cell->has_value() && (*cell)->value == ToFixedPoint(1);
  });
  feeding = false;
  feed.join();
  faulty_log_->SlowAppends(kRollupPartialsTopic, absl::ZeroDuration());
  EXPECT_TRUE(served) << combiner_->Health();
}

// Found by the property test: a reorg left derived cells on the changelog
// as the old shape had them. A derived KPI's cells are not stored, so a
// reshape never retracted those the new shape lacks; and a derived
// record's version (the sum of its inputs') fell below the old shape's
// once one input was gone, so consumers kept the old figure.
TEST_P(RollupEngineTest, AReorgRetractsAndRepublishesDerivedCells) {
  AppendDefinitionBatch(Batch(
      {UnitChange("bu2", "ent"), UnitChange("team-c", "bu"),
       KpiChange("costs", v1::TIME_AGGREGATION_SUM),
       ComputedKpiChange("margin", v1::HIERARCHY_AGGREGATION_DERIVED,
                         v1::Formula::OPERATOR_DIFFERENCE, "sales", "costs")}));
  AppendEvents({{"s-mar", "sales", "team-a", Utc(2026, 3, 10), 5},
                {"c-mar", "costs", "team-b", Utc(2026, 3, 10), 2},
                {"s-apr", "sales", "team-b", Utc(2026, 4, 10), 7},
                {"c-apr", "costs", "team-b", Utc(2026, 4, 10), 3}});
  WaitForApplied(4);
  auto move = [&](const std::string& unit) {
    v1::DefinitionChange change = UnitChange(unit, "bu2");
    change.mutable_org_unit()->set_effective_from("2026-01-01");
    AppendDefinitionBatch(Batch({change}));
    ASSERT_TRUE(WaitUntil([&] {
      return engine_->Health().ok() && store_->Tombstones().ok() &&
             store_->Tombstones()->empty() &&
             store_->FoldedShape()->reorgs == definitions_->Current()->reorg_count();
    }));
  };
  move("team-c");  // Sent nothing: bu keeps what it had.
  move("team-b");  // bu keeps team-a's March sales only.
  absl::flat_hash_map<std::string, v1::RollupRecord> latest;
  ASSERT_TRUE(WaitUntil([&] {
    latest = ReadChangelog();
    // Routed, stage C retracts per partition of its input, each on its own.
    return latest["margin/bu2/2026-04"].has_value() &&
           !latest["margin/bu/2026-03"].has_value() &&
           latest["margin/bu/2026-04"].version() >= int64_t{2} << 40;
  }));
  // Sales without costs: no margin, where the old shape had 5 - 2.
  EXPECT_FALSE(latest["margin/bu/2026-03"].has_value());
  EXPECT_EQ(latest["margin/bu/2026-03"].version(),
            Record("margin", "bu", PeriodKind::kMonth, "2026-03").version());
  ASSERT_TRUE(latest.contains("margin/bu2/2026-03"));  // No sales there.
  EXPECT_FALSE(latest["margin/bu2/2026-03"].has_value());
  EXPECT_FALSE(latest["margin/bu/2026-04"].has_value());
  EXPECT_GE(latest["margin/bu/2026-04"].version(), int64_t{2} << 40);
  EXPECT_EQ(latest["margin/bu2/2026-04"].value(), 4);
}

// Found by review: folded in parts, an approved late event carried every
// part's stocks into the closed period before the figure as reported at
// the close was kept, which then counted stocks that came with the event.
TEST_P(RollupEngineTest, AnApprovedStockKeepsTheFigureReportedBeforeItsCarry) {
  v1::DefinitionChange staff = KpiChange("staff", v1::TIME_AGGREGATION_LAST);
  staff.mutable_kpi()->set_carry_forward(true);
  AppendDefinitionBatch(Batch({staff}));
  AppendEvents({{"a-jan", "staff", "team-a", Utc(2026, 1, 10), 10}}, 0);
  WaitForApplied(1);
  AppendClose("2026-04");
  // Late for April: waits, then counts once approved, taking the frontier
  // (and team-a's January value) into April.
  AppendEvents({{"b-apr", "staff", "team-b", Utc(2026, 4, 10), 5}}, 0);
  WaitForApplied(2);
  EXPECT_FALSE(Cell("staff", "ent", PeriodKind::kMonth, "2026-04"));
  AppendDecision("b-apr", true);
  ASSERT_TRUE(WaitUntil([&] {
    return Record("staff", "ent", PeriodKind::kMonth, "2026-04").value() == 15;
  }));
  // April had no events at its close: it reported 0, not team-a's 10.
  const v1::RollupRecord april =
      Record("staff", "ent", PeriodKind::kMonth, "2026-04");
  EXPECT_EQ(april.reported_value(), 0);
  EXPECT_EQ(april.reported_exact_value(), "0");
}

TEST_P(RollupEngineTest, StocksCarryForwardIntoPeriodsAUnitSentNothingIn) {
  v1::DefinitionChange staff = KpiChange("staff", v1::TIME_AGGREGATION_LAST);
  staff.mutable_kpi()->set_carry_forward(true);
  AppendDefinitionBatch(Batch({staff}));
  // Two partitions, so that live and replay may interleave them otherwise.
  AppendEvents({{"b-mar", "staff", "team-b", Utc(2026, 3, 5), 5},
                {"b-jan", "staff", "team-b", Utc(2026, 1, 20), 4}},
               1);
  AppendEvents({{"a-jan", "staff", "team-a", Utc(2026, 1, 10), 10},
                {"a-feb", "staff", "team-a", Utc(2026, 2, 1), 12}},
               0);
  WaitForApplied(4);
  auto month = [&](const std::string& unit, const std::string& label) {
    return Record("staff", unit, PeriodKind::kMonth, label);
  };
  EXPECT_EQ(month("bu", "2026-01").value(), 14);
  EXPECT_EQ(month("bu", "2026-02").value(), 16);  // b's January carried.
  EXPECT_EQ(month("bu", "2026-03").value(), 17);  // a's February carried.
  EXPECT_EQ(month("team-a", "2026-03").event_count(), 0);
  EXPECT_EQ(month("team-a", "2026-03").value(), 12);
  EXPECT_FALSE(Cell("staff", "bu", PeriodKind::kMonth, "2026-04"));
  // Voiding a's February: its January value carries through March.
  AppendCorrection("void-a-feb", "a-feb", "staff", "team-a", Utc(2026, 2, 1),
                   std::nullopt);
  WaitForApplied(5);  // In a-feb's partition, after it, as ingest puts it.
  auto snapshot = [&] {
    std::map<std::string, v1::RollupRecord> cells;
    for (const char* unit : {"team-a", "team-b", "bu", "ent"}) {
      for (const char* label : {"2026-01", "2026-02", "2026-03"}) {
        cells[absl::StrCat(unit, "/", label)] = month(unit, label);
      }
    }
    return cells;
  };
  const auto live = snapshot();
  EXPECT_EQ(live.at("bu/2026-02").value(), 14);
  EXPECT_EQ(live.at("ent/2026-03").value(), 15);
  // Rebuilt by replay: the same figures, versions and times.
  CloseAll();
  std::filesystem::remove_all(dir_ / "rollup");
  OpenAll();
  WaitForApplied(5);
  for (const auto& [name, record] : snapshot()) {
    const v1::RollupRecord& was = live.at(name);
    EXPECT_EQ(record.value(), was.value()) << name;
    EXPECT_EQ(record.version(), was.version()) << name;
    EXPECT_EQ(record.event_count(), was.event_count()) << name;
    EXPECT_EQ(record.last_event_time().seconds(),
              was.last_event_time().seconds())
        << name;
  }
}

// Found by the property test: a to-date period that holds an event also
// carries in the value of the period before it, which holds the event too.
// Voiding the event changed the period before but left the carried value
// it had passed on, so the later period still counted the voided event:
// when an earlier value arrived between the event and its void.
TEST_P(RollupEngineTest, AVoidReachesTheValueCarriedIntoLaterToDatePeriods) {
  v1::DefinitionChange staff = KpiChange("staff", v1::TIME_AGGREGATION_LAST);
  staff.mutable_kpi()->set_carry_forward(true);
  staff.mutable_kpi()->add_periods(v1::PERIOD_KIND_YEAR_TO_DATE);
  AppendDefinitionBatch(Batch({staff}));
  AppendEvents({{"nov", "staff", "team-a", Utc(2026, 11, 10), 2}}, 0);
  WaitForApplied(1);
  AppendEvents({{"last-year", "staff", "team-a", Utc(2025, 12, 10), 1}}, 1);
  WaitForApplied(2);
  AppendCorrection("void-nov", "nov", "staff", "team-a", Utc(2026, 11, 10),
                   std::nullopt);
  WaitForApplied(3);
  for (const char* label : {"YTD2026-10", "YTD2026-11", "YTD2026-12"}) {
    EXPECT_EQ(Record("staff", "team-a", PeriodKind::kYearToDate, label).value(),
              1)
        << label;
  }
}

TEST_P(RollupEngineTest, PublishesChangedCellsOnTheChangelog) {
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10},
                {"e2", "sales", "team-a", Utc(2026, 1, 11), 5}});
  WaitForApplied(2);
  absl::flat_hash_map<std::string, v1::RollupRecord> latest = ReadChangelog();
  // 3 units x 3 period kinds, each at its final version.
  EXPECT_EQ(latest.size(), 9u);
  const v1::RollupRecord& ent = latest["sales/ent/2026"];
  EXPECT_EQ(ent.value(), 15);
  EXPECT_EQ(ent.event_count(), 2);
  EXPECT_EQ(ent.version(), 2);
  EXPECT_FALSE(ent.has_target());
}

// Found by review: a store folded again in another number of parts
// replayed the log from version 1, publishing every cell again below the
// versions consumers had kept (and other figures under versions they knew).
TEST_P(RollupEngineTest, FoldingInOtherPartsNeverPublishesALowerVersion) {
  if (GetParam().routed) {
    GTEST_SKIP() << "routed, the parts are the partitions of the topic";
  }
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10}}, 0);
  AppendEvents({{"e2", "sales", "team-b", Utc(2026, 1, 11), 5}}, 1);
  WaitForApplied(2);
  engine_options_.fold_partitions = GetParam().parts == 1 ? 3 : 1;
  // The replay publishes after each event: versions 1, then 2.
  engine_options_.poll_batch = 1;
  engine_options_.max_pending_events = 1;
  Restart();
  WaitForApplied(2);
  const auto published = PublishedInOrder();
  ASSERT_EQ(published.size(), 12u);
  for (const auto& [key, records] : published) {
    EXPECT_GE(records.size(), 2u) << key;  // Published again by the replay.
  }
  ExpectNoVersionGoesBack(published);
  EXPECT_EQ(Record("sales", "ent", PeriodKind::kYear, "2026").value(), 15);
}

// Routed, a second instance shares the fold partitions, then leaves: the
// first restores its parts from its own store and goes on; totals stay
// exact, and no version on the changelog goes back.
TEST_P(RollupEngineTest, InstancesShareTheFoldPartitionsAndHandThemOver) {
  if (!GetParam().routed) {
    GTEST_SKIP() << "whole cells need every partition of strata.kpi-events";
  }
  std::vector<v1::DefinitionChange> teams;
  for (int t = 0; t < 8; ++t) {
    teams.push_back(UnitChange(absl::StrCat("team-", t), "bu"));
  }
  AppendDefinitionBatch(Batch(teams));
  auto other_definitions = *DefinitionsFollower::Create(*log_, "test-2");
  auto other_store = *RollupStore::Open((dir_ / "rollup-2").string());
  auto other = std::make_unique<RollupEngine>(engine_options_, *log_,
                                              *other_definitions, *other_store);
  other_definitions->Start();
  ASSERT_OK(other->Start());
  auto send = [&](const std::string& prefix) {
    for (int t = 0; t < 8; ++t) {
      AppendEvents({{absl::StrCat(prefix, t), "sales", absl::StrCat("team-", t),
                     Utc(2026, 1, 10), 1}});
    }
  };
  auto ent_year = [&](int64_t want) {
    return WaitUntil([&] {
      auto cell = combiner_->Read(
          *definitions_->Current(),
          {*definitions_->Current()->FindKpi("sales"),
           *definitions_->Current()->FindUnit("ent"),
           *ParsePeriod(PeriodKind::kYear, "2026")});
      return cell.ok() && cell->has_value() &&
             (*cell)->value == ToFixedPoint(want);
    });
  };
  // Sent once the group shares the parts, so each instance folds its own.
  ASSERT_TRUE(WaitUntil([&] {
    return !other->ReadParts().empty() &&
           other->ReadParts().size() + engine_->ReadParts().size() == 3;
  }));
  send("a");
  ASSERT_TRUE(ent_year(8));
  // An engine counts a batch once published, so stage C may merge it first.
  EXPECT_TRUE(WaitUntil([&] {
    return other->stats().events_committed +
               engine_->stats().events_committed ==
           8;
  })) << other->stats().events_committed << " + "
      << engine_->stats().events_committed;
  EXPECT_GT(other->stats().events_committed, 0);
  EXPECT_GT(engine_->stats().events_committed, 0);

  other.reset();  // Its parts come back here, restored from this store.
  send("b");
  ASSERT_TRUE(ent_year(16));
  send("a");  // Repeats, known to the parts restored here.
  send("c");
  ASSERT_TRUE(ent_year(24));
  ExpectNoVersionGoesBack(PublishedInOrder());
  for (int t = 0; t < 8; ++t) {
    EXPECT_EQ(Cell("sales", absl::StrCat("team-", t), PeriodKind::kYear, "2026")
                  ->value,
              ToFixedPoint(3))
        << "team-" << t;
  }
}

TEST_P(RollupEngineTest, ANewTargetRepublishesItsCellWithTheTarget) {
  AppendEvents({{"e1", "sales", "team-a", Utc(2026, 1, 10), 10}});
  WaitForApplied(1);
  AppendDefinitionBatch(
      Batch({TargetChange("sales", "bu", "2026-01", 40),
             // team-b has no events.
             TargetChange("sales", "team-b", "2026-01", 40)}));
  absl::flat_hash_map<std::string, v1::RollupRecord> latest;
  WaitUntil([&] {
    latest = ReadChangelog();
    return latest["sales/bu/2026-01"].has_target();
  });
  const v1::RollupRecord& bu = latest["sales/bu/2026-01"];
  ASSERT_TRUE(bu.has_target());
  EXPECT_EQ(bu.target(), 40);
  EXPECT_EQ(bu.value(), 10);
  EXPECT_EQ(bu.version(), 1);  // Same events, same version.
  EXPECT_FALSE(latest.contains("sales/team-b/2026-01"));
  EXPECT_FALSE(Cell("sales", "team-b", PeriodKind::kMonth, "2026-01"));
}

}  // namespace
}  // namespace strata::rollup
