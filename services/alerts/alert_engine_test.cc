#include "services/alerts/alert_engine.h"

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "libs/clock/clock.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/cell_key.h"
#include "libs/streams/envelope.h"
#include "libs/streams/timestamps.h"
#include "libs/streams/topics.h"
#include "services/alerts/alert_actions.h"

namespace strata::alerts {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::KpiChange;
using ::strata::testing::StatusIs;
using ::strata::testing::UnitChange;

// Records every alert the hub publishes.
class Recorder : public AlertSubscriber {
 public:
  void OnAlert(const v1::Alert& alert) override {
    std::lock_guard<std::mutex> lock(mu_);
    alerts_.push_back(alert);
  }
  std::vector<v1::Alert> alerts() {
    std::lock_guard<std::mutex> lock(mu_);
    return alerts_;
  }

 private:
  std::mutex mu_;
  std::vector<v1::Alert> alerts_;
};

// The engine on an embedded log, fed rollup records directly, as the rollup
// service would publish them, with their targets: "sales" (higher is better,
// amber at 90 %) against 100 unless said otherwise; "cost" (lower is better,
// amber at 110 %) against 50.
class AlertEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_alerts_", getpid(), "_", counter_++);
    std::filesystem::remove_all(dir_);
    eventlog::RocksDbEventLogOptions log_options;
    log_options.path = (dir_ / "log").string();
    log_options.topics = DefaultTopics();
    log_ = *eventlog::OpenRocksDbEventLog(log_options);
    definitions_ = *DefinitionsFollower::Create(*log_, "test");
    OpenEngine();
    hub_.Subscribe(&recorder_, "");
    definitions_->Start();
    AppendDefinitions();
  }

  void OpenEngine() {
    store_ = *AlertStore::Open((dir_ / "alerts").string());
    AlertEngineOptions options;
    options.clock = &clock_;
    options.settle_time = absl::ZeroDuration();
    engine_ = std::make_unique<AlertEngine>(options, *log_, *definitions_,
                                            *store_, hub_);
    ASSERT_OK(engine_->Start());
  }

  // Deletes the alerts state and replays the log into a new one.
  void Rebuild() {
    engine_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_ / "alerts");
    OpenEngine();
  }

  // Rebuilds the alerts state from the log and checks it holds the same
  // alerts, field for field, as before.
  void ExpectARebuildRaisesTheSameAlerts() {
    const std::vector<v1::Alert> live = *store_->ListAlerts();
    Rebuild();
    Settle();
    // And what the clock made due (cells, feed checks), judged after the
    // replay.
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline &&
           (*store_->EarliestDue() <= clock_.Now() ||
            store_->ListAlerts()->size() < live.size())) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    const std::vector<v1::Alert> rebuilt = *store_->ListAlerts();
    ASSERT_EQ(rebuilt.size(), live.size());
    // Feed numbers are the store's own: a rebuild numbers anew.
    for (size_t i = 0; i < live.size(); ++i) {
      v1::Alert a = live[i], b = rebuilt[i];
      a.clear_sequence();
      b.clear_sequence();
      EXPECT_EQ(b.ShortDebugString(), a.ShortDebugString());
    }
  }

  void TearDown() override {
    hub_.Unsubscribe(&recorder_);
    engine_.reset();
    store_.reset();
    definitions_.reset();
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  // ent (owner "ceo") -> region ("vp") -> area (no owner) -> team
  // ("lead"). "visits" is a stock whose unacknowledged alerts escalate
  // after an hour; "quality" one whose score falling 2 points is news and
  // whose red spells want a corrective action within 2 hours; "yield" one
  // whose score falling 2 points is news and whose alerts escalate;
  // "bookings" a flow projected from its pace over the last 2 to 4 days,
  // news when it is heading for amber or worse.
  void AppendDefinitions() {
    auto unit = [](const std::string& id, const std::string& parent,
                   const std::string& owner) {
      v1::DefinitionChange change = UnitChange(id, parent);
      change.mutable_org_unit()->set_owner(owner);
      return change;
    };
    v1::DefinitionChange visits =
        KpiChange("visits", v1::TIME_AGGREGATION_LAST,
                  v1::POLARITY_HIGHER_IS_BETTER, 90);
    visits.mutable_kpi()->mutable_alert_policy()->mutable_escalate_after()
        ->set_seconds(3600);
    v1::DefinitionChange quality =
        KpiChange("quality", v1::TIME_AGGREGATION_LAST,
                  v1::POLARITY_HIGHER_IS_BETTER, 90);
    v1::AlertPolicy& policy = *quality.mutable_kpi()->mutable_alert_policy();
    policy.set_worsening_score_drop(2);
    policy.mutable_corrective_action_within()->set_seconds(2 * 3600);
    v1::DefinitionChange yield = quality;
    yield.mutable_kpi()->set_kpi_id("yield");
    yield.mutable_kpi()->mutable_alert_policy()->clear_corrective_action_within();
    yield.mutable_kpi()
        ->mutable_alert_policy()
        ->mutable_escalate_after()
        ->set_seconds(3600);
    v1::DefinitionChange bookings =
        KpiChange("bookings", v1::TIME_AGGREGATION_SUM,
                  v1::POLARITY_HIGHER_IS_BETTER, 90);
    v1::AlertPolicy& projecting = *bookings.mutable_kpi()->mutable_alert_policy();
    projecting.mutable_projection_window()->set_seconds(2 * 86400);
    projecting.set_projected_miss_at(v1::KPI_STATUS_AMBER);
    AppendDefinitionBatch(
        Batch({unit("ent", "", "ceo"), unit("region", "ent", "vp"),
               unit("area", "region", ""), unit("team", "area", "lead"),
               KpiChange("sales", v1::TIME_AGGREGATION_SUM,
                         v1::POLARITY_HIGHER_IS_BETTER, 90),
               KpiChange("cost", v1::TIME_AGGREGATION_SUM,
                         v1::POLARITY_LOWER_IS_BETTER, 110),
               visits, quality, yield, bookings}));
  }

  void AppendDefinitionBatch(const v1::DefinitionBatch& batch) {
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    *envelope.mutable_definitions() = batch;
    ASSERT_OK(
        log_->Append(kDefinitionsTopic, {{"d", envelope.SerializeAsString()}}));
    ASSERT_OK(definitions_->CatchUp(absl::Seconds(5)));
  }

  // `target` < 0: the KPI's usual target; 0: none. Judged by rollup at
  // `judged_at`, when given.
  void PublishRollup(const std::string& kpi, double value, int64_t version,
                     double target = -1,
                     std::optional<absl::Time> judged_at = std::nullopt) {
    if (target < 0) target = kpi == "cost" ? 50 : 100;
    v1::RollupRecord record;
    record.mutable_key()->set_kpi_id(kpi);
    record.mutable_key()->set_unit_id("team");
    record.mutable_key()->mutable_period()->set_kind(v1::PERIOD_KIND_MONTH);
    record.mutable_key()->mutable_period()->set_label("2026-03");
    record.set_value(value);
    record.set_version(version);
    if (target > 0) record.set_target(target);
    if (judged_at) *record.mutable_judged_at() = ToTimestamp(*judged_at);
    const std::string key = *CellKeyOf(record.key());
    ASSERT_OK(log_->Append(kRollupsTopic, {{key, record.SerializeAsString()}}));
  }

  // The KPI's next version at `value`, judged a minute after the clock's
  // time (what happens at one instant applies actions first), committed.
  void PublishAMinuteOn(const std::string& kpi, double value) {
    clock_.Advance(absl::Minutes(1));
    PublishRollup(kpi, value, ++versions_[kpi], -1, clock_.Now());
    Settle();
  }

  // Acknowledges or resolves as AlertService does; the alert as applied.
  v1::Alert Acknowledge(const std::string& alert_id) {
    AlertActions actions(*log_, *store_, *engine_, ThisProducer("test"));
    v1::AcknowledgeAlertRequest request;
    request.set_alert_id(alert_id);
    request.set_acknowledged_by("maria");
    absl::StatusOr<v1::Alert> alert = actions.Acknowledge(request);
    EXPECT_OK(alert);
    return alert.value_or(v1::Alert());
  }
  v1::Alert Resolve(const std::string& alert_id,
                    const std::string& corrective_action) {
    AlertActions actions(*log_, *store_, *engine_, ThisProducer("test"));
    v1::ResolveAlertRequest request;
    request.set_alert_id(alert_id);
    request.set_resolved_by("maria");
    request.set_corrective_action(corrective_action);
    absl::StatusOr<v1::Alert> alert = actions.Resolve(request);
    EXPECT_OK(alert);
    return alert.value_or(v1::Alert());
  }

  // The alert as stored; an empty one when there is none.
  v1::Alert Stored(const std::string& alert_id) {
    absl::StatusOr<std::optional<v1::Alert>> alert = store_->GetAlert(alert_id);
    EXPECT_OK(alert);
    return alert.ok() ? alert->value_or(v1::Alert()) : v1::Alert();
  }

  // Waits (bounded) until the recorder has seen `count` alert changes.
  std::vector<v1::Alert> WaitForPublished(size_t count) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline && recorder_.alerts().size() < count) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    return recorder_.alerts();
  }

  // Waits (bounded) until the engine has committed everything on the
  // rollup changelog so far.
  void Settle() {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    for (int32_t p = 0; p < *log_->PartitionCount(kRollupsTopic); ++p) {
      const eventlog::TopicPartition tp{kRollupsTopic, p};
      const int64_t end = *log_->EndOffset(tp);
      while (absl::Now() < deadline && store_->Position(tp)->offset < end) {
        absl::SleepFor(absl::Milliseconds(5));
      }
      ASSERT_EQ(store_->Position(tp)->offset, end);
    }
  }

  // Settle(), then waits (bounded) until the engine has judged everything
  // the clock made due: what is not raised by then is not raised.
  void SettleClock() {
    Settle();
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline && engine_->JudgedThrough() < clock_.Now()) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_GE(engine_->JudgedThrough(), clock_.Now());
  }

  static inline int counter_ = 0;
  std::map<std::string, int64_t> versions_;  // Of PublishAMinuteOn, by KPI.
  // The engine's time: 10 of March 2026's 31 days gone. Records published
  // without a time of judging are judged at their time on the log, after
  // March: against the whole target.
  SimulatedClock clock_{
      absl::FromCivil(absl::CivilDay(2026, 3, 11), absl::UTCTimeZone())};
  std::filesystem::path dir_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<DefinitionsFollower> definitions_;
  std::unique_ptr<AlertStore> store_;
  AlertHub hub_;
  Recorder recorder_;
  std::unique_ptr<AlertEngine> engine_;
};

TEST_F(AlertEngineTest, GreenRaisesNothingRedOpensAnAlertThatFollowsChanges) {
  PublishRollup("sales", 120, 1);  // Green from the start: no alert.
  PublishRollup("sales", 80, 2);   // Red: opens one.
  std::vector<v1::Alert> alerts = WaitForPublished(1);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert_id(), "sales/team/2026-03#1");
  EXPECT_EQ(alerts[0].status(), v1::KPI_STATUS_RED);
  EXPECT_EQ(alerts[0].previous_status(), v1::KPI_STATUS_GREEN);
  EXPECT_EQ(alerts[0].actual(), 80);
  EXPECT_EQ(alerts[0].target(), 100);

  PublishRollup("sales", 95, 3);  // Amber: the open alert is updated.
  alerts = WaitForPublished(2);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].alert_id(), "sales/team/2026-03#1");
  EXPECT_EQ(alerts[1].status(), v1::KPI_STATUS_AMBER);
  EXPECT_EQ(alerts[1].version(), 2);
}

// Found in the trial: the alerts service never committed its consumer
// group's positions, so its lag was invisible to whoever watches groups.
// They follow what the store committed, within a second or so.
TEST_F(AlertEngineTest, TheConsumerGroupShowsHowFarTheEngineHasRead) {
  PublishRollup("sales", 80, 1);
  PublishRollup("sales", 95, 2);
  Settle();
  absl::StatusOr<std::unique_ptr<eventlog::LogConsumer>> watcher =
      log_->NewConsumer("strata-alerts");
  ASSERT_OK(watcher);
  const std::string key =
      "sales/team/2026-03";  // The cell PublishRollup writes.
  const int32_t partition = eventlog::PartitionForKey(
      key, DefaultTopics().at(kRollupsTopic));
  const eventlog::TopicPartition tp{kRollupsTopic, partition};
  const int64_t end = *log_->EndOffset(tp);
  ASSERT_GT(end, 0);
  int64_t committed = -1;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    committed = (*watcher)->Committed(tp).value_or(-1);
    if (committed == end) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(committed, end);
}

// Found in the trial: a month's flow was judged against the whole month's
// target from its first day, so every flow was red early in every month.
TEST_F(AlertEngineTest, AFlowIsJudgedAgainstItsTargetExpectedToDate) {
  // 10 of March's 31 days gone: 32.26 of the 100 expected.
  const absl::Time march_11 = clock_.Now();
  PublishRollup("sales", 35, 1, -1, march_11);  // Red against all 100.
  Settle();
  EXPECT_TRUE(recorder_.alerts().empty());
  PublishRollup("sales", 30, 2, -1, march_11);  // Within 90 % of 32.26.
  std::vector<v1::Alert> alerts = WaitForPublished(1);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].status(), v1::KPI_STATUS_AMBER);
  EXPECT_DOUBLE_EQ(alerts[0].expected(), 100.0 * 10 / 31);
  EXPECT_EQ(alerts[0].target(), 100);
  // From the month's end on, the whole target: 95 is amber.
  PublishRollup("sales", 95, 3, -1,
                absl::FromCivil(absl::CivilDay(2026, 4, 1), absl::UTCTimeZone()));
  Settle();
  alerts = recorder_.alerts();
  ASSERT_GE(alerts.size(), 2u);
  EXPECT_EQ(alerts.back().status(), v1::KPI_STATUS_AMBER);
  EXPECT_EQ(alerts.back().actual(), 95);
  EXPECT_EQ(alerts.back().expected(), 100);
}

// The expected part grows with time: a flow that stands still falls behind
// without any new record, and the engine says so when it does, on its
// clock; a replay of the log raises the very same alerts.
TEST_F(AlertEngineTest, AFlowStandingStillFallsBehindAsTimePasses) {
  const absl::Time march_11 = clock_.Now();
  PublishRollup("sales", 35, 1, -1, march_11);  // On pace: 32.26 expected.
  Settle();
  EXPECT_TRUE(recorder_.alerts().empty());
  // Less than is due from 10.85 days on (March 11, 20:24): amber.
  clock_.Advance(absl::Hours(24));
  std::vector<v1::Alert> alerts = WaitForPublished(1);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].status(), v1::KPI_STATUS_AMBER);
  const absl::Time amber_at = march_11 + absl::Hours(20) + absl::Minutes(24);
  EXPECT_GE(FromTimestamp(alerts[0].raised_time()), amber_at);
  EXPECT_LE(FromTimestamp(alerts[0].raised_time()),
            amber_at + absl::Milliseconds(2));
  EXPECT_NEAR(alerts[0].expected(), 35, 0.01);
  // Below 90 % of it from 12.06 days on (March 13, 01:20): red.
  clock_.Advance(absl::Hours(48));
  alerts = WaitForPublished(2);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].status(), v1::KPI_STATUS_RED);
  EXPECT_EQ(alerts[1].alert_id(), alerts[0].alert_id());
  // A new figure on March 14 is on pace again (41.9 expected).
  PublishRollup("sales", 45, 2, -1, clock_.Now());
  alerts = WaitForPublished(3);
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[2].status(), v1::KPI_STATUS_GREEN);
  // Replayed from the log with the clock where it is: the same history.
  ExpectARebuildRaisesTheSameAlerts();
}

// Found in review: an action on an alert that time alone raised was lost
// in a replay, which had not judged the cell that far when it read the
// action (the topics interleave otherwise), and the alerts came back
// without it.
TEST_F(AlertEngineTest, AnActionOnAnAlertRaisedByTimeSurvivesAReplay) {
  PublishRollup("sales", 35, 1, -1, clock_.Now());  // On pace on March 11.
  Settle();
  clock_.Advance(absl::Hours(24));  // Amber by time alone.
  ASSERT_EQ(WaitForPublished(1).size(), 1u);
  AlertActions actions(*log_, *store_, *engine_, ThisProducer("test"));
  v1::ResolveAlertRequest resolve;
  resolve.set_alert_id("sales/team/2026-03#1");
  resolve.set_resolved_by("maria");
  resolve.set_corrective_action("two more sales reps on the phones");
  auto resolved = actions.Resolve(resolve);
  ASSERT_OK(resolved);
  EXPECT_EQ(resolved->state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(FromTimestamp(resolved->updated_time()), clock_.Now());
  clock_.Advance(absl::Hours(48));  // Red by time: a new alert.
  std::vector<v1::Alert> alerts = WaitForPublished(3);
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[2].alert_id(), "sales/team/2026-03#2");
  ASSERT_EQ(store_->ListAlerts()->size(), 2u);
  ExpectARebuildRaisesTheSameAlerts();
}

// What a replay meets: every action is read before the records. Each
// applies at the time it was taken, in order with its cell's judgements,
// so a record judged later than the action does not overtake it.
TEST_F(AlertEngineTest, AnActionAppliesAtTheTimeItWasTaken) {
  const absl::Time raised = clock_.Now();
  v1::AlertAction resolve;
  resolve.set_alert_id("sales/team/2026-03#1");
  resolve.mutable_resolve()->set_corrective_action("repriced");
  *resolve.mutable_alert_updated_time() = ToTimestamp(raised);
  *resolve.mutable_acted_at() = ToTimestamp(raised + absl::Hours(1));
  v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
  envelope.mutable_producer()->set_principal("maria");
  *envelope.mutable_alert_action() = resolve;
  ASSERT_OK(
      log_->Append(kAlertActionsTopic, {{"a", envelope.SerializeAsString()}}));
  // It waits, stored with its cell.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline &&
         store_->DeferredActions("sales/team/2026-03")->empty()) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(store_->DeferredActions("sales/team/2026-03")->size(), 1u);
  PublishRollup("sales", 20, 1, -1, raised);  // Red: raises #1.
  // Green two hours on: after the resolution, which came first.
  PublishRollup("sales", 200, 2, -1, raised + absl::Hours(2));
  Settle();
  auto alert = store_->GetAlert("sales/team/2026-03#1");
  ASSERT_OK(alert);
  ASSERT_TRUE(alert->has_value());
  EXPECT_EQ((*alert)->state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ((*alert)->resolved_by(), "maria");
  EXPECT_EQ((*alert)->status(), v1::KPI_STATUS_RED);  // As resolved.
  EXPECT_EQ(FromTimestamp((*alert)->updated_time()), raised + absl::Hours(1));
  EXPECT_EQ(*store_->DeferredActions("sales/team/2026-03"),
            std::vector<std::string>{});
  ExpectARebuildRaisesTheSameAlerts();
}

// An action waits for its time on the engine's clock when no record comes.
TEST_F(AlertEngineTest, AnActionTakenAfterTheLatestRecordAppliesByTheClock) {
  PublishRollup("sales", 20, 1, -1, clock_.Now());  // Red: raises #1.
  ASSERT_EQ(WaitForPublished(1).size(), 1u);
  clock_.Advance(absl::Minutes(5));
  EXPECT_EQ(Acknowledge("sales/team/2026-03#1").state(),
            v1::ALERT_STATE_ACKNOWLEDGED);
  ExpectARebuildRaisesTheSameAlerts();
}

// An action on an alert that never was applies to nothing and is not kept.
TEST_F(AlertEngineTest, AnActionOnNoAlertIsDropped) {
  v1::AlertAction ack;
  ack.set_alert_id("sales/team/2026-03#7");
  ack.mutable_acknowledge();
  *ack.mutable_acted_at() = ToTimestamp(clock_.Now());
  v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
  *envelope.mutable_alert_action() = ack;
  ASSERT_OK(
      log_->Append(kAlertActionsTopic, {{"a", envelope.SerializeAsString()}}));
  clock_.Advance(absl::Seconds(1));
  PublishRollup("sales", 120, 1, -1, clock_.Now());  // Green: nothing.
  Settle();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline &&
         !store_->DeferredActions("sales/team/2026-03")->empty()) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(*store_->DeferredActions("sales/team/2026-03"),
            std::vector<std::string>{});
  EXPECT_TRUE(store_->ListAlerts()->empty());
}

// A figure that is gone (voided, or a ratio over 0) is no data: it is not
// judged again as time passes, and an open alert says so.
TEST_F(AlertEngineTest, AFigureWithoutValueIsNoDataAndNeverDue) {
  PublishRollup("sales", 30, 1, -1, clock_.Now());  // Amber on March 11.
  ASSERT_EQ(WaitForPublished(1).size(), 1u);
  v1::RollupRecord gone;
  gone.mutable_key()->set_kpi_id("sales");
  gone.mutable_key()->set_unit_id("team");
  gone.mutable_key()->mutable_period()->set_kind(v1::PERIOD_KIND_MONTH);
  gone.mutable_key()->mutable_period()->set_label("2026-03");
  gone.set_version(2);
  gone.set_target(100);
  *gone.mutable_judged_at() = ToTimestamp(clock_.Now());
  ASSERT_OK(log_->Append(kRollupsTopic, {{"sales/team/2026-03",
                                          gone.SerializeAsString()}}));
  std::vector<v1::Alert> alerts = WaitForPublished(2);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].status(), v1::KPI_STATUS_NO_DATA);
  auto cell = store_->GetCell("sales/team/2026-03");
  ASSERT_OK(cell);
  EXPECT_EQ((*cell)->due, absl::InfiniteFuture());
  clock_.Advance(absl::Hours(24 * 30));
  Settle();
  EXPECT_EQ(recorder_.alerts().size(), 2u);
}

// An open alert shows the figure as it is now: a new actual with the same
// status updates it in place, not only a change of status.
TEST_F(AlertEngineTest, AnOpenAlertFollowsTheActualWithinItsStatus) {
  PublishRollup("sales", 95, 1);  // Amber against 100.
  ASSERT_EQ(WaitForPublished(1).size(), 1u);
  PublishRollup("sales", 93, 2);  // Still amber.
  std::vector<v1::Alert> alerts = WaitForPublished(2);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].alert_id(), alerts[0].alert_id());
  EXPECT_EQ(alerts[1].actual(), 93);
  EXPECT_EQ(alerts[1].status(), v1::KPI_STATUS_AMBER);
  EXPECT_EQ(alerts[1].previous_status(), v1::KPI_STATUS_UNSPECIFIED);
  EXPECT_EQ(alerts[1].version(), 2);
  PublishRollup("sales", 93, 3);  // The same figure again: nothing new.
  PublishRollup("sales", 120, 4);  // Green: the alert says so.
  alerts = WaitForPublished(3);
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[2].status(), v1::KPI_STATUS_GREEN);
  EXPECT_EQ(alerts[2].previous_status(), v1::KPI_STATUS_AMBER);
  EXPECT_EQ(alerts[2].version(), 3);
}

TEST_F(AlertEngineTest, CellsWithoutTargetsAreNotJudged) {
  PublishRollup("sales", 1, 1, /*target=*/0);
  Settle();
  EXPECT_TRUE(recorder_.alerts().empty());
  auto cell = store_->GetCell("sales/team/2026-03");
  ASSERT_OK(cell);
  EXPECT_FALSE(cell->has_value());
}

TEST_F(AlertEngineTest, RepeatedAndOlderVersionsAreDropped) {
  PublishRollup("sales", 80, 5);
  WaitForPublished(1);
  PublishRollup("sales", 120, 5);  // Same version: a republished repeat.
  PublishRollup("sales", 120, 4);  // Older.
  Settle();
  EXPECT_EQ(recorder_.alerts().size(), 1u);
  auto stored = store_->GetAlert("sales/team/2026-03#1");
  ASSERT_OK(stored);
  EXPECT_EQ((*stored)->actual(), 80);
}

TEST_F(AlertEngineTest, LowerIsBetterMirrorsTheBands) {
  PublishRollup("cost", 45, 1);  // Under budget: green, no alert.
  PublishRollup("cost", 54, 2);  // 108 % of budget: amber.
  std::vector<v1::Alert> alerts = WaitForPublished(1);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].status(), v1::KPI_STATUS_AMBER);
}

// On March 11 (see clock_), 32.26 of sales' 100 are expected: below 29.03
// is red, below 32.26 amber. Each step a minute after the one before.
TEST_F(AlertEngineTest, ResolvedAlertsCloseAndTheNextChangeOpensANewOne) {
  auto publish = [&](double value, int64_t version) {
    clock_.Advance(absl::Minutes(1));
    PublishRollup("sales", value, version, -1, clock_.Now());
  };
  publish(20, 1);  // Red.
  WaitForPublished(1);
  clock_.Advance(absl::Minutes(1));
  const v1::Alert resolved =
      Resolve("sales/team/2026-03#1", "retrained the team");
  EXPECT_EQ(resolved.state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(resolved.resolved_by(), "maria");
  EXPECT_EQ(resolved.corrective_action(), "retrained the team");

  // Red to amber after the resolution: better, so no news.
  publish(30, 2);
  Settle();
  EXPECT_EQ(recorder_.alerts().size(), 2u);
  // Worse again (amber to red): it reopens, as the next generation.
  publish(25, 3);
  std::vector<v1::Alert> alerts = WaitForPublished(3);
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[2].alert_id(), "sales/team/2026-03#2");
  EXPECT_EQ(alerts[2].generation(), 2);
  EXPECT_EQ(alerts[2].state(), v1::ALERT_STATE_OPEN);
  EXPECT_EQ(alerts[2].status(), v1::KPI_STATUS_RED);
  EXPECT_EQ(alerts[2].previous_status(), v1::KPI_STATUS_AMBER);
  ExpectARebuildRaisesTheSameAlerts();
}

// Found in review of the lifecycle: after a resolution any change of
// status opened a new alert, improvements too; and a cleared condition
// that came back stayed acknowledged, so nobody was told. A replay of
// either, which reads every action before the records, came out otherwise.
TEST_F(AlertEngineTest, AResolvedAlertReopensOnlyWhenTheCellWorsensAgain) {
  auto publish = [&](double value, int64_t version) {
    clock_.Advance(absl::Minutes(1));
    PublishRollup("sales", value, version, -1, clock_.Now());
  };
  publish(20, 1);  // Red.
  WaitForPublished(1);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Resolve("sales/team/2026-03#1", "hired two reps").state(),
            v1::ALERT_STATE_RESOLVED);
  publish(40, 2);  // Green: cleared.
  publish(30, 3);  // Amber, worse than green: reopens.
  std::vector<v1::Alert> alerts = WaitForPublished(3);
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[2].alert_id(), "sales/team/2026-03#2");
  EXPECT_EQ(alerts[2].status(), v1::KPI_STATUS_AMBER);
  ExpectARebuildRaisesTheSameAlerts();
}

TEST_F(AlertEngineTest, AnAcknowledgementHoldsUntilTheConditionClears) {
  auto publish = [&](double value, int64_t version) {
    clock_.Advance(absl::Minutes(1));
    PublishRollup("sales", value, version, -1, clock_.Now());
  };
  publish(20, 1);  // Red.
  WaitForPublished(1);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Acknowledge("sales/team/2026-03#1").state(),
            v1::ALERT_STATE_ACKNOWLEDGED);
  publish(30, 2);  // Amber: still being dealt with.
  std::vector<v1::Alert> alerts = WaitForPublished(3);
  EXPECT_EQ(alerts[2].state(), v1::ALERT_STATE_ACKNOWLEDGED);
  publish(40, 3);  // Green: the condition clears.
  alerts = WaitForPublished(4);
  EXPECT_EQ(alerts[3].state(), v1::ALERT_STATE_ACKNOWLEDGED);
  EXPECT_EQ(alerts[3].status(), v1::KPI_STATUS_GREEN);
  publish(20, 4);  // Red again: open, to be looked at anew.
  alerts = WaitForPublished(5);
  ASSERT_EQ(alerts.size(), 5u);
  EXPECT_EQ(alerts[4].alert_id(), "sales/team/2026-03#1");
  EXPECT_EQ(alerts[4].state(), v1::ALERT_STATE_OPEN);
  EXPECT_EQ(alerts[4].status(), v1::KPI_STATUS_RED);
  ExpectARebuildRaisesTheSameAlerts();
}

TEST_F(AlertEngineTest, ARepublishedTargetReevaluatesTheSameActual) {
  PublishRollup("sales", 95, 1);  // Amber against 100.
  WaitForPublished(1);
  PublishRollup("sales", 95, 1, 200);  // Same version, new target: red.
  std::vector<v1::Alert> alerts = WaitForPublished(2);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].status(), v1::KPI_STATUS_RED);
  EXPECT_EQ(alerts[1].target(), 200);
  EXPECT_EQ(alerts[1].actual(), 95);
}

// Left unacknowledged, an alert goes one level up the organisation every
// escalate_after, passing over units without an owner, to the root.
TEST_F(AlertEngineTest, AnUnacknowledgedAlertEscalatesUpTheOrganisation) {
  const absl::Time raised = clock_.Now();
  PublishRollup("visits", 50, 1, -1, raised);  // Red.
  ASSERT_EQ(WaitForPublished(1).size(), 1u);
  clock_.Advance(absl::Minutes(59));
  Settle();
  EXPECT_EQ(recorder_.alerts().size(), 1u);
  clock_.Advance(absl::Minutes(2));
  std::vector<v1::Alert> alerts = WaitForPublished(2);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].alert_id(), "visits/team/2026-03#1");
  EXPECT_EQ(alerts[1].escalation_level(), 2);  // "area" has no owner.
  EXPECT_EQ(alerts[1].escalated_to(), "vp");
  EXPECT_EQ(FromTimestamp(alerts[1].escalated_time()), raised + absl::Hours(1));
  EXPECT_EQ(alerts[1].state(), v1::ALERT_STATE_OPEN);
  clock_.Advance(absl::Hours(1));
  alerts = WaitForPublished(3);
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[2].escalation_level(), 3);
  EXPECT_EQ(alerts[2].escalated_to(), "ceo");
  // At the root: no further.
  clock_.Advance(absl::Hours(5));
  Settle();
  EXPECT_EQ(recorder_.alerts().size(), 3u);
  ExpectARebuildRaisesTheSameAlerts();
}

TEST_F(AlertEngineTest, AnAcknowledgedAlertDoesNotEscalateUntilItOpensAgain) {
  auto publish = [&](double value, int64_t version) {
    PublishRollup("visits", value, version, -1, clock_.Now());
  };
  publish(50, 1);  // Red.
  ASSERT_EQ(WaitForPublished(1).size(), 1u);
  clock_.Advance(absl::Minutes(30));
  EXPECT_EQ(Acknowledge("visits/team/2026-03#1").state(),
            v1::ALERT_STATE_ACKNOWLEDGED);
  clock_.Advance(absl::Hours(3));
  Settle();
  ASSERT_EQ(WaitForPublished(2).size(), 2u);
  EXPECT_EQ(recorder_.alerts()[1].escalation_level(), 0);
  publish(120, 2);  // Green: the condition clears.
  // Read apart: one poll publishes only where an alert ended up.
  ASSERT_EQ(WaitForPublished(3).size(), 3u);
  clock_.Advance(absl::Minutes(1));
  const absl::Time back = clock_.Now();
  publish(50, 3);  // Red again: open, and escalating an hour on.
  std::vector<v1::Alert> alerts = WaitForPublished(4);
  ASSERT_EQ(alerts.size(), 4u);
  EXPECT_EQ(alerts[3].state(), v1::ALERT_STATE_OPEN);
  clock_.Advance(absl::Hours(1));
  alerts = WaitForPublished(5);
  ASSERT_EQ(alerts.size(), 5u);
  EXPECT_EQ(alerts[4].escalated_to(), "vp");
  EXPECT_EQ(FromTimestamp(alerts[4].escalated_time()), back + absl::Hours(1));
  ExpectARebuildRaisesTheSameAlerts();
}

// A score falling 2 points below the best the cell had is news even while
// the status holds; after a resolution, only a fall from where it was then.
TEST_F(AlertEngineTest, AScoreFallingFarEnoughRaisesAWorseningAlert) {
  auto publish = [&](double value) { PublishAMinuteOn("quality", value); };
  publish(110);  // Score 10, green.
  publish(105);  // 8.33: 1.67 down, not yet.
  EXPECT_TRUE(recorder_.alerts().empty());
  publish(102);  // 7.33: 2.67 down, still green.
  std::vector<v1::Alert> alerts = WaitForPublished(1);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert_id(), "quality/team/2026-03#worsening-1");
  EXPECT_EQ(alerts[0].rule(), v1::ALERT_RULE_WORSENING);
  EXPECT_EQ(alerts[0].status(), v1::KPI_STATUS_GREEN);
  EXPECT_NEAR(alerts[0].score(), 22.0 / 3, 1e-9);
  EXPECT_NEAR(alerts[0].best_score(), 10.0, 1e-9);
  EXPECT_EQ(alerts[0].actual(), 102);
  publish(101.5);  // The open alert follows the figure.
  alerts = WaitForPublished(2);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].alert_id(), "quality/team/2026-03#worsening-1");
  EXPECT_EQ(alerts[1].actual(), 101.5);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Resolve("quality/team/2026-03#worsening-1", "Supplier audit")
                .state(),
            v1::ALERT_STATE_RESOLVED);
  publish(100.5);  // 6.83: 0.33 below where it was resolved.
  EXPECT_EQ(recorder_.alerts().size(), 3u);
  publish(94);  // 4.67, amber: 2.5 below; and a status alert.
  alerts = WaitForPublished(5);
  ASSERT_EQ(alerts.size(), 5u);
  std::set<std::string> ids = {alerts[3].alert_id(), alerts[4].alert_id()};
  EXPECT_EQ(ids, (std::set<std::string>{"quality/team/2026-03#1",
                                        "quality/team/2026-03#worsening-2"}));
  ExpectARebuildRaisesTheSameAlerts();
}

// Red for two hours with no corrective action recorded: a reminder, which
// the next corrective action on the cell answers.
TEST_F(AlertEngineTest, RedWithNoCorrectiveActionInTimeRaisesAReminder) {
  auto publish = [&](double value) { PublishAMinuteOn("quality", value); };
  publish(80);  // Red: the status alert.
  const absl::Time red = clock_.Now();
  ASSERT_EQ(WaitForPublished(1).size(), 1u);
  clock_.Advance(absl::Minutes(119));
  Settle();
  EXPECT_EQ(recorder_.alerts().size(), 1u);
  clock_.Advance(absl::Minutes(1));
  std::vector<v1::Alert> alerts = WaitForPublished(2);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].alert_id(), "quality/team/2026-03#no-action-1");
  EXPECT_EQ(alerts[1].rule(), v1::ALERT_RULE_NO_CORRECTIVE_ACTION);
  EXPECT_EQ(alerts[1].state(), v1::ALERT_STATE_OPEN);
  EXPECT_EQ(FromTimestamp(alerts[1].red_since()), red);
  EXPECT_EQ(FromTimestamp(alerts[1].raised_time()), red + absl::Hours(2));
  EXPECT_EQ(alerts[1].status(), v1::KPI_STATUS_RED);

  // Resolving the status alert records the action: the reminder goes too.
  clock_.Advance(absl::Minutes(1));
  Resolve("quality/team/2026-03#1", "Retrained the line");
  const v1::Alert reminder = Stored("quality/team/2026-03#no-action-1");
  EXPECT_EQ(reminder.state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(reminder.corrective_action(), "Retrained the line");
  EXPECT_EQ(reminder.resolved_by(), "maria");

  // A new red spell with an action within two hours needs no reminder.
  publish(120);
  clock_.Advance(absl::Minutes(5));
  publish(80);
  ASSERT_EQ(Stored("quality/team/2026-03#2").state(), v1::ALERT_STATE_OPEN);
  clock_.Advance(absl::Hours(1));
  Resolve("quality/team/2026-03#2", "Second shift added");
  clock_.Advance(absl::Hours(3));
  Settle();
  EXPECT_EQ(Stored("quality/team/2026-03#no-action-2").alert_id(), "");
  ExpectARebuildRaisesTheSameAlerts();
}

// A corrective action's owner and due date go with the resolution; a due
// date that is no time is refused and nothing is applied.
TEST_F(AlertEngineTest, AResolutionRecordsTheActionsOwnerAndDueDate) {
  PublishRollup("sales", 20, 1, -1, clock_.Now());  // Red.
  ASSERT_EQ(WaitForPublished(1).size(), 1u);
  clock_.Advance(absl::Minutes(1));
  AlertActions actions(*log_, *store_, *engine_, ThisProducer("test"));
  v1::ResolveAlertRequest request;
  request.set_alert_id("sales/team/2026-03#1");
  request.set_resolved_by("maria");
  request.set_corrective_action("Two reps moved");
  request.set_action_owner("joe");
  request.mutable_action_due()->set_seconds(1798675200);
  request.mutable_action_due()->set_nanos(-1);
  EXPECT_THAT(actions.Resolve(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("action_due: not a valid time")));
  EXPECT_EQ(Stored("sales/team/2026-03#1").state(), v1::ALERT_STATE_OPEN);
  request.mutable_action_due()->set_nanos(0);
  absl::StatusOr<v1::Alert> resolved = actions.Resolve(request);
  ASSERT_OK(resolved);
  EXPECT_EQ(resolved->state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(resolved->corrective_action_owner(), "joe");
  EXPECT_EQ(resolved->corrective_action_due().seconds(), 1798675200);
  ExpectARebuildRaisesTheSameAlerts();
}

// Found in review: rollup judges by its own clock, which may run ahead of
// the alerts service's. An action stamped by the alerts clock alone came
// before the record that raised its alert: applied live, dropped by a
// replay (no alert yet at its time). It is now stamped no earlier than the
// alert's last change, and waits for the cell's time to get there.
TEST_F(AlertEngineTest, AnActionOnAnAlertJudgedAheadOfOurClockSurvivesAReplay) {
  const absl::Time ahead = clock_.Now() + absl::Minutes(5);
  PublishRollup("sales", 20, 1, -1, ahead);  // Red, by rollup's clock.
  ASSERT_EQ(WaitForPublished(1).size(), 1u);
  AlertActions actions(*log_, *store_, *engine_, ThisProducer("test"));
  v1::ResolveAlertRequest request;
  request.set_alert_id("sales/team/2026-03#1");
  request.set_resolved_by("maria");
  request.set_corrective_action("Two reps moved");
  std::thread resolving([&] { EXPECT_OK(actions.Resolve(request)); });
  absl::SleepFor(absl::Milliseconds(100));
  clock_.Advance(absl::Minutes(6));
  resolving.join();
  const v1::Alert resolved = Stored("sales/team/2026-03#1");
  EXPECT_EQ(resolved.state(), v1::ALERT_STATE_RESOLVED);
  EXPECT_EQ(FromTimestamp(resolved.updated_time()),
            ahead + absl::Nanoseconds(1));
  ExpectARebuildRaisesTheSameAlerts();
}

// Found in review: resolving an alert of another rule stopped the cell's
// status alert from escalating, though that alert was still OPEN.
TEST_F(AlertEngineTest, ResolvingAnotherRulesAlertLeavesEscalationAlone) {
  PublishAMinuteOn("yield", 110);  // Score 10, green.
  const absl::Time amber = clock_.Now() + absl::Minutes(1);
  PublishAMinuteOn("yield", 94);   // Amber, and 5.3 points down.
  ASSERT_EQ(Stored("yield/team/2026-03#1").state(), v1::ALERT_STATE_OPEN);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Resolve("yield/team/2026-03#worsening-1", "Line recalibrated")
                .state(),
            v1::ALERT_STATE_RESOLVED);
  clock_.Advance(absl::Hours(1));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline &&
         Stored("yield/team/2026-03#1").escalated_to().empty()) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const v1::Alert status_alert = Stored("yield/team/2026-03#1");
  EXPECT_EQ(status_alert.escalated_to(), "vp");
  EXPECT_EQ(FromTimestamp(status_alert.escalated_time()),
            amber + absl::Hours(1));
  ExpectARebuildRaisesTheSameAlerts();
}

}  // namespace
}  // namespace strata::alerts

namespace strata::alerts {
namespace {

// Ahead of its expected-to-date figure all along (green), but slowing: the
// pace of the last days says the month ends short, and the manager hears so
// while there is time to act.
TEST_F(AlertEngineTest, APaceHeadingForAMissRaisesAProjectedMissInTime) {
  const absl::Time march_1 =
      absl::FromCivil(absl::CivilDay(2026, 3, 1), absl::UTCTimeZone());
  // `value` judged `days` into March (on the clock, which only advances).
  auto publish_on = [&](double days, double value) {
    clock_.Advance(march_1 + absl::Hours(24 * days) - clock_.Now());
    PublishRollup("bookings", value, ++versions_["bookings"], -1,
                  clock_.Now());
    Settle();
  };
  publish_on(10, 45);  // 45 in 10 of 31 days: 139.5 at that pace.
  publish_on(12.5, 48);
  // 3 in the last 2.5 days: 48 + 3 x 18.5 / 2.5 = 70.2 at the end.
  std::vector<v1::Alert> alerts = WaitForPublished(1);
  ASSERT_EQ(alerts.size(), 1u);
  const v1::Alert raised = alerts[0];
  EXPECT_EQ(raised.alert_id(), "bookings/team/2026-03#projected-miss-1");
  EXPECT_EQ(raised.rule(), v1::ALERT_RULE_PROJECTED_MISS);
  EXPECT_EQ(raised.status(), v1::KPI_STATUS_GREEN);  // 48 of 40.3 expected.
  EXPECT_EQ(raised.actual(), 48);
  EXPECT_NEAR(raised.projected(), 70.2, 1e-9);
  EXPECT_EQ(raised.projected_status(), v1::KPI_STATUS_RED);

  clock_.Advance(absl::Minutes(1));
  Resolve(raised.alert_id(), "Second sales push");
  // Still heading for a miss (73): resolved, it is not raised again.
  publish_on(13, 49);
  // Back on course (102.75), then heading for amber (94.25): news again.
  publish_on(14, 56);
  EXPECT_EQ(Stored("bookings/team/2026-03#projected-miss-2").alert_id(), "");
  publish_on(16.5, 58);
  const v1::Alert again = Stored("bookings/team/2026-03#projected-miss-2");
  EXPECT_EQ(again.state(), v1::ALERT_STATE_OPEN);
  EXPECT_NEAR(again.projected(), 58 + 10 * 14.5 / 4, 1e-9);
  EXPECT_EQ(again.projected_status(), v1::KPI_STATUS_AMBER);
  // The status itself never left green: no status alert.
  EXPECT_EQ(Stored("bookings/team/2026-03#1").alert_id(), "");
  ExpectARebuildRaisesTheSameAlerts();
}

// An open alert of any rule shows where the period is heading, and stops
// once the period is over.
TEST_F(AlertEngineTest, OpenAlertsShowTheProjectionWhileThePeriodLasts) {
  const absl::Time march_1 =
      absl::FromCivil(absl::CivilDay(2026, 3, 1), absl::UTCTimeZone());
  // Red (25 of 32.3), and heading for red: both rules raise one.
  PublishRollup("bookings", 25, 1, -1, clock_.Now());
  ASSERT_EQ(WaitForPublished(2).size(), 2u);
  v1::Alert alert = Stored("bookings/team/2026-03#1");
  EXPECT_NEAR(alert.projected(), 25 * 3.1, 1e-9);
  EXPECT_EQ(alert.projected_status(), v1::KPI_STATUS_RED);
  PublishRollup("bookings", 70, 2, -1,
                march_1 + absl::Hours(24 * 31 + 1));  // April 1st.
  Settle();
  alert = Stored("bookings/team/2026-03#1");
  EXPECT_EQ(alert.actual(), 70);
  EXPECT_FALSE(alert.has_projected());
  EXPECT_EQ(alert.projected_status(), v1::KPI_STATUS_UNSPECIFIED);
}

}  // namespace
}  // namespace strata::alerts

namespace strata::alerts {
namespace {

// A feed that must deliver each day's calls by 06:00 the next day: a day
// with nothing by then raises STALE_FEED at that instant, on the clock; data
// in time raises nothing; data that comes late shows on the alert; a replay
// raises the same.
TEST_F(AlertEngineTest, ADayWithoutDataByItsDueTimeRaisesAStaleFeedAlert) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  v1::DefinitionChange calls = KpiChange("calls");
  calls.mutable_kpi()->add_periods(v1::PERIOD_KIND_DAY);
  v1::FeedSchedule& feed = *calls.mutable_kpi()->mutable_feed();
  feed.set_cadence(v1::PERIOD_KIND_DAY);
  feed.mutable_due_after()->set_seconds(6 * 3600);
  feed.mutable_since()->set_seconds(
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2026, 3, 10), utc)));
  AppendDefinitionBatch(Batch({calls}));
  // A day's figure for the team, without a target, as rollup publishes it.
  auto publish_day = [&](const std::string& day, double value,
                         absl::Time judged_at) {
    v1::RollupRecord record;
    record.mutable_key()->set_kpi_id("calls");
    record.mutable_key()->set_unit_id("team");
    record.mutable_key()->mutable_period()->set_kind(v1::PERIOD_KIND_DAY);
    record.mutable_key()->mutable_period()->set_label(day);
    record.set_value(value);
    record.set_version(1);
    *record.mutable_judged_at() = ToTimestamp(judged_at);
    ASSERT_OK(log_->Append(kRollupsTopic, {{*CellKeyOf(record.key()),
                                            record.SerializeAsString()}}));
    Settle();
  };
  // March 10th's calls come in time (due March 11th, 06:00).
  publish_day("2026-03-10", 5,
              absl::FromCivil(absl::CivilHour(2026, 3, 10, 18), utc));
  clock_.Advance(absl::Hours(30) - absl::Milliseconds(1));  // 05:59:59.999
  SettleClock();
  EXPECT_TRUE(recorder_.alerts().empty());
  // March 11th's do not: at 06:00 on the 12th, the alert.
  const absl::Time due = absl::FromCivil(absl::CivilHour(2026, 3, 12, 6), utc);
  clock_.Advance(due - clock_.Now());
  std::vector<v1::Alert> alerts = WaitForPublished(1);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert_id(), "calls/team/2026-03-11#stale-1");
  EXPECT_EQ(alerts[0].rule(), v1::ALERT_RULE_STALE_FEED);
  EXPECT_EQ(alerts[0].state(), v1::ALERT_STATE_OPEN);
  EXPECT_EQ(alerts[0].status(), v1::KPI_STATUS_NO_DATA);
  EXPECT_EQ(FromTimestamp(alerts[0].data_due()), due);
  EXPECT_EQ(FromTimestamp(alerts[0].raised_time()), due);
  EXPECT_EQ(Stored("calls/team/2026-03-10#stale-1").alert_id(), "");

  // The data comes three hours late: the alert shows it, and stays open
  // for the manager to close with what was done about the feed.
  clock_.Advance(absl::Hours(3));
  publish_day("2026-03-11", 7, clock_.Now());
  const v1::Alert late = Stored("calls/team/2026-03-11#stale-1");
  EXPECT_EQ(late.actual(), 7);
  EXPECT_EQ(late.state(), v1::ALERT_STATE_OPEN);
  EXPECT_EQ(FromTimestamp(late.updated_time()), clock_.Now());
  ExpectARebuildRaisesTheSameAlerts();
}

// Only the units the schedule names are checked, and only its kind of
// period; cells nobody scheduled are never created.
TEST_F(AlertEngineTest, AFeedScheduleChecksOnlyTheUnitsItNames) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  v1::DefinitionChange calls = KpiChange("calls");
  calls.mutable_kpi()->add_periods(v1::PERIOD_KIND_DAY);
  v1::FeedSchedule& feed = *calls.mutable_kpi()->mutable_feed();
  feed.set_cadence(v1::PERIOD_KIND_DAY);
  feed.add_unit_ids("region");
  feed.mutable_since()->set_seconds(
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2026, 3, 10), utc)));
  AppendDefinitionBatch(Batch({calls}));
  clock_.Advance(absl::Hours(24));  // March 11th is over.
  std::vector<v1::Alert> alerts = WaitForPublished(2);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].alert_id(), "calls/region/2026-03-10#stale-1");
  EXPECT_EQ(alerts[1].alert_id(), "calls/region/2026-03-11#stale-1");
  EXPECT_FALSE(store_->GetCell("calls/team/2026-03-11")->has_value());
  // Found in review: a replay read this resolution first, made the cell
  // for it, and the schedule's check then passed that cell over: the
  // alert was lost.
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(Resolve(alerts[0].alert_id(), "Feed restarted").state(),
            v1::ALERT_STATE_RESOLVED);
  ExpectARebuildRaisesTheSameAlerts();
}

}  // namespace
}  // namespace strata::alerts

namespace strata::alerts {
namespace {

// A corrective action promised by a date: if the cell is still amber or
// red when the date passes, the action is overdue and that is an alert of
// its own; back to green by then, it did its work.
TEST_F(AlertEngineTest, ACorrectiveActionPastItsDueDateWithTheCellStillRedIsOverdue) {
  auto resolve_by = [&](const std::string& alert_id, const std::string& what,
                        absl::Duration within) {
    AlertActions actions(*log_, *store_, *engine_, ThisProducer("test"));
    v1::ResolveAlertRequest request;
    request.set_alert_id(alert_id);
    request.set_resolved_by("maria");
    request.set_corrective_action(what);
    request.set_action_owner("joe");
    *request.mutable_action_due() = ToTimestamp(clock_.Now() + within);
    EXPECT_OK(actions.Resolve(request));
  };
  PublishAMinuteOn("visits", 80);  // Red: visits/team/2026-03#1.
  ASSERT_EQ(WaitForPublished(1).size(), 1u);
  clock_.Advance(absl::Minutes(1));
  resolve_by("visits/team/2026-03#1", "Door-to-door week", absl::Hours(24));
  const absl::Time due = clock_.Now() + absl::Hours(24);
  clock_.Advance(absl::Hours(24) - absl::Milliseconds(1));
  SettleClock();
  EXPECT_EQ(Stored("visits/team/2026-03#overdue-1").alert_id(), "");
  clock_.Advance(absl::Milliseconds(1));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline &&
         Stored("visits/team/2026-03#overdue-1").alert_id().empty()) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const v1::Alert overdue = Stored("visits/team/2026-03#overdue-1");
  EXPECT_EQ(overdue.rule(), v1::ALERT_RULE_ACTION_OVERDUE);
  EXPECT_EQ(overdue.state(), v1::ALERT_STATE_OPEN);
  EXPECT_EQ(FromTimestamp(overdue.raised_time()), due);
  EXPECT_EQ(overdue.status(), v1::KPI_STATUS_RED);
  EXPECT_EQ(overdue.corrective_action(), "Door-to-door week");
  EXPECT_EQ(overdue.corrective_action_owner(), "joe");
  EXPECT_EQ(FromTimestamp(overdue.corrective_action_due()), due);

  // A new action on it, due in two days; green by then: nothing more.
  clock_.Advance(absl::Minutes(1));
  resolve_by(overdue.alert_id(), "Second team on it", absl::Hours(48));
  PublishAMinuteOn("visits", 120);
  clock_.Advance(absl::Hours(48));
  SettleClock();
  EXPECT_EQ(Stored("visits/team/2026-03#overdue-2").alert_id(), "");
  ExpectARebuildRaisesTheSameAlerts();
}

}  // namespace
}  // namespace strata::alerts

namespace strata::alerts {
namespace {

// A manager silences the region for a known reorg: alerts raised there in
// the window are kept and visible, marked with the silence, and do not
// escalate; once it is ended (early, here), alerts are as before.
TEST_F(AlertEngineTest, AnAlertRaisedInASilenceIsMarkedAndDoesNotEscalate) {
  AlertActions actions(*log_, *store_, *engine_, ThisProducer("test"));
  v1::CreateSilenceRequest request;
  request.set_unit_id("region");
  request.set_reason("Reorg of the region's teams");
  request.set_created_by("maria");
  *request.mutable_ends() = ToTimestamp(clock_.Now() + absl::Hours(91 * 24));
  EXPECT_THAT(actions.CreateSilence(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "ends: a silence lasts at most 90 days; silences must "
                       "expire"));
  *request.mutable_ends() = ToTimestamp(clock_.Now() + absl::Hours(4));
  request.clear_reason();
  EXPECT_THAT(actions.CreateSilence(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "reason: required; say why (a reorg, a migration)"));
  request.set_reason("Reorg of the region's teams");
  absl::StatusOr<v1::Silence> silence = actions.CreateSilence(request);
  ASSERT_OK(silence);
  EXPECT_EQ(FromTimestamp(silence->starts()), clock_.Now());

  PublishAMinuteOn("visits", 80);  // Red on a team of the region.
  ASSERT_EQ(WaitForPublished(1).size(), 1u);
  EXPECT_EQ(Stored("visits/team/2026-03#1").silence_id(),
            silence->silence_id());
  clock_.Advance(absl::Minutes(90));  // Past escalate_after (an hour).
  SettleClock();
  EXPECT_EQ(Stored("visits/team/2026-03#1").escalation_level(), 0);
  clock_.Advance(absl::Minutes(1));
  Resolve("visits/team/2026-03#1", "Reorg done");
  PublishAMinuteOn("visits", 120);

  v1::ExpireSilenceRequest expire;
  expire.set_silence_id(silence->silence_id());
  expire.set_expired_by("maria");
  absl::StatusOr<v1::Silence> expired = actions.ExpireSilence(expire);
  ASSERT_OK(expired);
  EXPECT_EQ(FromTimestamp(expired->ends()), clock_.Now());
  EXPECT_THAT(actions.ExpireSilence(expire),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "silence_id: the silence has expired already"));
  expire.set_silence_id("nosuch");
  EXPECT_THAT(actions.ExpireSilence(expire),
              StatusIs(absl::StatusCode::kNotFound,
                       "silence_id: unknown silence 'nosuch'"));
  EXPECT_TRUE(actions.ListSilences(false)->empty());
  ASSERT_EQ(actions.ListSilences(true)->size(), 1u);
  EXPECT_EQ(actions.ListSilences(true)->front().expired_by(), "maria");

  PublishAMinuteOn("visits", 80);  // Red again, with no silence.
  const std::string next = "visits/team/2026-03#2";
  EXPECT_EQ(Stored(next).silence_id(), "");
  clock_.Advance(absl::Minutes(61));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline && Stored(next).escalation_level() == 0) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(Stored(next).escalated_to(), "vp");
  ExpectARebuildRaisesTheSameAlerts();
}

}  // namespace
}  // namespace strata::alerts

namespace strata::alerts {
namespace {

// Every rule's alert escalates when left OPEN, each on its own clock; an
// acknowledgement stops only the one acknowledged.
TEST_F(AlertEngineTest, AlertsOfEveryRuleEscalateEachOnItsOwnClock) {
  PublishAMinuteOn("yield", 110);  // Score 10, green.
  PublishAMinuteOn("yield", 94);   // Amber, and 5.3 points down: two alerts.
  const absl::Time raised = clock_.Now();
  ASSERT_EQ(Stored("yield/team/2026-03#1").state(), v1::ALERT_STATE_OPEN);
  const v1::Alert worsening = Stored("yield/team/2026-03#worsening-1");
  ASSERT_EQ(worsening.state(), v1::ALERT_STATE_OPEN);
  EXPECT_EQ(FromTimestamp(worsening.next_escalation_time()),
            raised + absl::Hours(1));
  clock_.Advance(absl::Minutes(1));
  Acknowledge("yield/team/2026-03#1");
  EXPECT_FALSE(Stored("yield/team/2026-03#1").has_next_escalation_time());
  clock_.Advance(absl::Hours(1));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline &&
         Stored("yield/team/2026-03#worsening-1").escalated_to().empty()) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const v1::Alert escalated = Stored("yield/team/2026-03#worsening-1");
  EXPECT_EQ(escalated.escalated_to(), "vp");
  EXPECT_EQ(FromTimestamp(escalated.escalated_time()), raised + absl::Hours(1));
  EXPECT_EQ(FromTimestamp(escalated.next_escalation_time()),
            raised + absl::Hours(2));
  EXPECT_EQ(Stored("yield/team/2026-03#1").escalation_level(), 0);
  ExpectARebuildRaisesTheSameAlerts();
}

}  // namespace
}  // namespace strata::alerts

namespace strata::alerts {
namespace {

// Found in review: the overdue alert named the action of the cell's latest
// alert of that rule, which after a reopening is the new one, with none.
TEST_F(AlertEngineTest, AnOverdueAlertNamesTheActionThatIsOverdue) {
  PublishAMinuteOn("visits", 80);  // Red: #1.
  ASSERT_EQ(WaitForPublished(1).size(), 1u);
  clock_.Advance(absl::Minutes(1));
  AlertActions actions(*log_, *store_, *engine_, ThisProducer("test"));
  v1::ResolveAlertRequest request;
  request.set_alert_id("visits/team/2026-03#1");
  request.set_resolved_by("maria");
  request.set_corrective_action("Door-to-door week");
  request.set_action_owner("joe");
  *request.mutable_action_due() = ToTimestamp(clock_.Now() + absl::Hours(24));
  ASSERT_OK(actions.Resolve(request));
  PublishAMinuteOn("visits", 120);  // Green,
  PublishAMinuteOn("visits", 80);   // then red again: #2, open.
  ASSERT_EQ(Stored("visits/team/2026-03#2").state(), v1::ALERT_STATE_OPEN);
  clock_.Advance(absl::Hours(24));
  SettleClock();
  const v1::Alert overdue = Stored("visits/team/2026-03#overdue-1");
  EXPECT_EQ(overdue.corrective_action(), "Door-to-door week");
  EXPECT_EQ(overdue.corrective_action_owner(), "joe");
  request.mutable_action_due()->set_seconds(7'258'118'400);  // 2200
  request.set_alert_id("visits/team/2026-03#2");
  EXPECT_THAT(actions.Resolve(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "action_due: must be before 2200"));
  ExpectARebuildRaisesTheSameAlerts();
}

}  // namespace
}  // namespace strata::alerts
