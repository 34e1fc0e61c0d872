#include "services/rollup/event_router.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/eventlog/testing/fault_injecting_event_log.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/envelope.h"
#include "libs/streams/timestamps.h"
#include "libs/streams/topics.h"
#include "strata/v1/rollup_internal.pb.h"

namespace strata::rollup {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int32_t kFoldPartitions = 4;

absl::Time Utc(int y, int m, int d) {
  return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone());
}

v1::KpiEvent Event(const std::string& id, const std::string& kpi,
                   const std::string& unit, absl::Time time, double value) {
  v1::KpiEvent event;
  event.set_event_id(id);
  event.set_kpi_id(kpi);
  event.set_unit_id(unit);
  *event.mutable_event_time() = ToTimestamp(time);
  event.set_value(value);
  return event;
}

int32_t FoldPartitionOf(const std::string& unit) {
  return eventlog::PartitionForKey(unit, kFoldPartitions);
}

// A team (defined below) in another fold partition than team-a.
std::string OtherTeam() {
  for (const std::string team : {"team-b", "team-c", "team-d", "team-e",
                                  "team-f", "team-g"}) {
    if (FoldPartitionOf(team) != FoldPartitionOf("team-a")) return team;
  }
  return "none";
}

// An embedded log with strata.rollup-changes, a route store and a router
// over them; Restart() reopens the router on the same store.
class EventRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_router_", getpid(), "_", counter_++);
    std::filesystem::remove_all(dir_);
    eventlog::RocksDbEventLogOptions options;
    options.path = (dir_ / "log").string();
    options.topics = DefaultTopics();
    options.topics[kRollupChangesTopic] = kFoldPartitions;
    log_ = *eventlog::OpenRocksDbEventLog(options);
    faulty_log_ = std::make_unique<eventlog::FaultInjectingEventLog>(*log_);
    StartRouter();
  }
  void TearDown() override {
    router_.reset();
    store_.reset();
    faulty_log_.reset();
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartRouter() {
    store_ = *RouteStore::Open((dir_ / "route").string());
    router_ = std::make_unique<EventRouter>(EventRouterOptions{}, *faulty_log_,
                                            *store_);
    ASSERT_OK(router_->Start());
  }
  void Restart() {
    router_.reset();
    store_.reset();
    StartRouter();
  }

  void Append(int32_t partition, const std::vector<v1::KpiEvent>& events) {
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    for (const v1::KpiEvent& e : events) {
      *envelope.mutable_kpi_events()->add_events() = e;
    }
    ASSERT_OK(log_->Append(kKpiEventsTopic,
                           {{"k", envelope.SerializeAsString(), partition}}));
  }
  void AppendControl(int32_t partition, const v1::EventEnvelope& envelope) {
    ASSERT_OK(log_->Append(kKpiEventsTopic,
                           {{"c", envelope.SerializeAsString(), partition}}));
  }

  // Polls `done` for up to ten seconds.
  template <typename Done>
  bool WaitUntil(Done done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!done() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
    return done();
  }

  // Every routed record so far, per fold partition, in order.
  std::map<int32_t, std::vector<v1::RoutedRecord>> Routed() {
    auto consumer = *log_->NewConsumer("reader");
    std::vector<eventlog::Position> positions;
    for (int32_t p = 0; p < kFoldPartitions; ++p) {
      positions.push_back({{kRollupChangesTopic, p}, 0});
    }
    EXPECT_OK(consumer->Assign(positions));
    std::map<int32_t, std::vector<v1::RoutedRecord>> routed;
    while (true) {
      auto records = consumer->Poll(1000, absl::Milliseconds(50));
      EXPECT_OK(records);
      if (!records.ok() || records->empty()) break;
      for (const eventlog::LogRecord& r : *records) {
        EXPECT_TRUE(routed[r.topic_partition.partition]
                        .emplace_back()
                        .ParseFromString(r.value));
      }
    }
    return routed;
  }

  // The ids of the events routed to each partition, in order.
  std::map<int32_t, std::vector<std::string>> RoutedIds() {
    std::map<int32_t, std::vector<std::string>> ids;
    for (const auto& [partition, records] : Routed()) {
      for (const v1::RoutedRecord& r : records) {
        for (const v1::KpiEvent& e : r.envelope().kpi_events().events()) {
          ids[partition].push_back(e.event_id());
        }
      }
    }
    return ids;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<eventlog::FaultInjectingEventLog> faulty_log_;
  std::unique_ptr<RouteStore> store_;
  std::unique_ptr<EventRouter> router_;
};

TEST_F(EventRouterTest, EachEventReachesItsUnitsPartitionOnceInLogOrder) {
  const std::string team_b = OtherTeam();
  const absl::Time jan = Utc(2026, 1, 10);
  Append(0, {Event("e1", "sales", "team-a", jan, 1),
             Event("e2", "sales", team_b, jan, 2),
             Event("e1", "sales", "team-a", jan, 1),  // A repeat.
             Event("e3", "sales", "team-a", jan, 3)});
  ASSERT_TRUE(WaitUntil([&] {
    return router_->stats().events_routed == 3 &&
           router_->stats().events_duplicate == 1;
  }));
  // The id reused for another fact: the first copy stands. Appended once
  // the first is routed: partitions are read in no set order, and the
  // copy read first is the first.
  Append(1, {Event("e1", "sales", team_b, jan, 9)});
  ASSERT_TRUE(WaitUntil(
      [&] { return router_->stats().events_conflicting == 1; }));
  EXPECT_EQ(router_->stats().events_routed, 3);
  std::map<int32_t, std::vector<std::string>> ids = RoutedIds();
  EXPECT_EQ(ids[FoldPartitionOf("team-a")],
            (std::vector<std::string>{"e1", "e3"}));
  EXPECT_EQ(ids[FoldPartitionOf(team_b)], (std::vector<std::string>{"e2"}));
  // Where each came from, for closes and pending events downstream.
  const v1::RoutedRecord first = Routed()[FoldPartitionOf("team-a")].at(0);
  EXPECT_EQ(first.source_partition(), 0);
  EXPECT_EQ(first.source_offset(), 0);
  EXPECT_GT(first.source_append_time_ms(), 0);
  EXPECT_OK(router_->Health());
}

TEST_F(EventRouterTest, ClosesReachEveryPartitionAndDecisionsTheirEvents) {
  v1::EventEnvelope close = NewEnvelope(ThisProducer("test"));
  close.mutable_period_closing()->mutable_period()->set_kind(
      v1::PERIOD_KIND_MONTH);
  close.mutable_period_closing()->mutable_period()->set_label("2026-01");
  AppendControl(2, close);
  Append(2, {Event("late", "sales", "team-a", Utc(2026, 1, 10), 1)});
  v1::EventEnvelope decision = NewEnvelope(ThisProducer("test"));
  decision.mutable_pending_decision()->set_event_id("late");
  decision.mutable_pending_decision()->set_approve(true);
  AppendControl(2, decision);
  ASSERT_TRUE(WaitUntil([&] {
    auto routed = Routed();
    return routed.size() == kFoldPartitions &&
           routed[FoldPartitionOf("team-a")].size() == 3;
  }));
  for (const auto& [partition, records] : Routed()) {
    ASSERT_FALSE(records.empty()) << partition;
    EXPECT_EQ(records[0].source_partition(), 2);
    EXPECT_EQ(records[0].envelope().period_closing().period().label(),
              "2026-01");
    if (partition != FoldPartitionOf("team-a")) {
      EXPECT_EQ(records.size(), 1u) << partition;
      continue;
    }
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[1].envelope().kpi_events().events(0).event_id(), "late");
    EXPECT_EQ(records[2].envelope().pending_decision().event_id(), "late");
  }
  // Known after a restart too, from the store.
  Restart();
  AppendControl(2, decision);
  ASSERT_TRUE(WaitUntil(
      [&] { return Routed()[FoldPartitionOf("team-a")].size() == 4; }));
  EXPECT_EQ(
      Routed()[FoldPartitionOf("team-a")][3].envelope().pending_decision().event_id(),
      "late");
}

// Found by running every engine test routed: the router resumed past the
// end of a log restored from before its last records, so the next events
// landed below its position and were never routed.
TEST_F(EventRouterTest, ALogShorterThanTheRoutesIsDataLossNotASilentSkip) {
  Append(0, {Event("e1", "sales", "team-a", Utc(2026, 1, 10), 1)});
  ASSERT_TRUE(WaitUntil([&] { return router_->stats().events_routed == 1; }));
  router_.reset();
  // The same routes over a log that never had the event.
  eventlog::RocksDbEventLogOptions options;
  options.path = (dir_ / "restored-log").string();
  options.topics = DefaultTopics();
  options.topics[kRollupChangesTopic] = kFoldPartitions;
  std::unique_ptr<eventlog::EventLog> restored =
      *eventlog::OpenRocksDbEventLog(options);
  EventRouter router(EventRouterOptions{}, *restored, *store_);
  EXPECT_THAT(router.Start(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("rollup routes reflects strata.kpi-events/0 "
                                 "up to offset 1 but the log ends at 0")));
  EXPECT_THAT(router.Health(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(EventRouterTest, NothingIsLostOrRoutedTwiceAcrossFailuresAndRestarts) {
  const std::string team_b = OtherTeam();
  const absl::Time jan = Utc(2026, 1, 10);
  // The first publish fails before it lands; the router retries.
  faulty_log_->FailAppends(eventlog::FaultInjectingEventLog::Fault::Next(1));
  Append(0, {Event("a1", "sales", "team-a", jan, 1),
             Event("b1", "sales", team_b, jan, 1)});
  ASSERT_TRUE(WaitUntil([&] {
    auto ids = RoutedIds();
    return ids[FoldPartitionOf("team-a")].size() == 1 &&
           ids[FoldPartitionOf(team_b)].size() == 1;
  }));
  EXPECT_OK(router_->Health());
  // Restarted: what was routed is not routed again, what follows is.
  Restart();
  Append(0, {Event("a2", "sales", "team-a", jan, 1),
             Event("a1", "sales", "team-a", jan, 1)});  // A late repeat.
  ASSERT_TRUE(WaitUntil([&] {
    return router_->stats().events_routed == 1 &&
           router_->stats().events_duplicate == 1;
  }));
  std::map<int32_t, std::vector<std::string>> ids = RoutedIds();
  EXPECT_EQ(ids[FoldPartitionOf("team-a")],
            (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(ids[FoldPartitionOf(team_b)], (std::vector<std::string>{"b1"}));
}

TEST_F(EventRouterTest, InstancesShareThePartitionsAndHandThemOver) {
  const int32_t partitions = *log_->PartitionCount(kKpiEventsTopic);
  auto other_store = *RouteStore::Open((dir_ / "route-2").string());
  auto other = std::make_unique<EventRouter>(EventRouterOptions{},
                                             *faulty_log_, *other_store);
  ASSERT_OK(other->Start());
  const absl::Time jan = Utc(2026, 1, 10);
  // An event in every partition; both instances route some.
  for (int32_t p = 0; p < partitions; ++p) {
    Append(p, {Event(absl::StrCat("e", p), "sales", "team-a", jan, 1)});
  }
  ASSERT_TRUE(WaitUntil([&] {
    return router_->stats().events_routed + other->stats().events_routed ==
           partitions;
  }));
  EXPECT_GT(other->stats().events_routed, 0);
  EXPECT_GT(router_->stats().events_routed, 0);

  // The other leaves: this one reads its partitions from their start, but
  // routes only what follows; it knows the ids routed there before.
  other.reset();
  for (int32_t p = 0; p < partitions; ++p) {
    Append(p, {Event(absl::StrCat("e", p), "sales", "team-a", jan, 1),
               Event(absl::StrCat("f", p), "sales", "team-a", jan, 1)});
  }
  // Conflicting, in the partition its id lies in, as ingest keys it.
  Append(1, {Event("e1", "sales", OtherTeam(), jan, 9)});
  ASSERT_TRUE(WaitUntil([&] {
    return router_->stats().events_conflicting == 1 &&
           RoutedIds()[FoldPartitionOf("team-a")].size() ==
               static_cast<size_t>(2 * partitions);
  })) << RoutedIds()[FoldPartitionOf("team-a")].size();
  std::map<std::string, int> routed;
  for (const auto& [partition, ids] : RoutedIds()) {
    for (const std::string& id : ids) ++routed[id];
  }
  EXPECT_EQ(routed.size(), static_cast<size_t>(2 * partitions));
  for (const auto& [id, times] : routed) EXPECT_EQ(times, 1) << id;
}

TEST_F(EventRouterTest, WhatWasCommittedButNotPublishedIsPublishedAtStart) {
  const absl::Time jan = Utc(2026, 1, 10);
  // Every publish fails: the routed events wait in the store's outbox.
  faulty_log_->FailAppends(
      eventlog::FaultInjectingEventLog::Fault::UntilCleared());
  Append(0, {Event("a1", "sales", "team-a", jan, 1)});
  ASSERT_TRUE(WaitUntil([&] { return router_->stats().events_routed == 1; }));
  ASSERT_TRUE(WaitUntil([&] { return !router_->Health().ok(); }));
  router_.reset();
  store_.reset();
  EXPECT_TRUE(RoutedIds().empty());
  faulty_log_->ClearFaults();
  StartRouter();
  // Published by Start, not routed again (the position was committed).
  EXPECT_EQ(RoutedIds()[FoldPartitionOf("team-a")],
            (std::vector<std::string>{"a1"}));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(router_->stats().events_routed, 0);
  EXPECT_EQ(RoutedIds()[FoldPartitionOf("team-a")].size(), 1u);
}

TEST_F(EventRouterTest, APublishThatLandedButFailedIsSentAgainNotLost) {
  const absl::Time jan = Utc(2026, 1, 10);
  // Lands, yet the router hears UNAVAILABLE (a timed-out acknowledgement):
  // the re-send is a repeat the fold partition recognises by its id.
  faulty_log_->FailAppends(
      eventlog::FaultInjectingEventLog::Fault::Next(1).AfterTheCall());
  Append(0, {Event("a1", "sales", "team-a", jan, 1)});
  ASSERT_TRUE(WaitUntil([&] {
    return RoutedIds()[FoldPartitionOf("team-a")].size() == 2;
  }));
  EXPECT_EQ(RoutedIds()[FoldPartitionOf("team-a")],
            (std::vector<std::string>{"a1", "a1"}));
  EXPECT_TRUE(WaitUntil([&] { return router_->Health().ok(); }));
}

// Found by the end-to-end test of several instances: a report of the
// group's position that failed (the group was rebalancing) was not made
// again once the router went idle, so ingest saw rollup behind by that
// record for ever after and refused every event.
TEST_F(EventRouterTest, AReportOfItsPositionThatFailedIsMadeAgainWhenIdle) {
  faulty_log_->FailCommits(
      eventlog::FaultInjectingEventLog::Fault::UntilCleared());
  Append(0, {Event("a1", "sales", "team-a", Utc(2026, 1, 10), 1)});
  ASSERT_TRUE(WaitUntil([&] { return router_->stats().events_routed == 1; }));
  absl::SleepFor(absl::Milliseconds(100));
  faulty_log_->ClearFaults();
  auto group = *log_->NewConsumer(kRollupRouteConsumerGroup);
  EXPECT_TRUE(WaitUntil([&] {
    return *group->Committed({kKpiEventsTopic, 0}) == 1;
  })) << *group->Committed({kKpiEventsTopic, 0});
}

// Found by the same test: a partition taken over by a reader whose store
// stood ahead of the group's position (its reports had failed) kept the
// group's position behind until new records came, so ingest refused every
// event meanwhile.
TEST_F(EventRouterTest, AStoreAheadOfTheGroupReportsItsPositionWhenTakenOver) {
  faulty_log_->FailCommits(
      eventlog::FaultInjectingEventLog::Fault::UntilCleared());
  Append(0, {Event("a1", "sales", "team-a", Utc(2026, 1, 10), 1)});
  ASSERT_TRUE(WaitUntil([&] { return router_->stats().events_routed == 1; }));
  router_.reset();
  store_.reset();
  faulty_log_->ClearFaults();
  auto group = *log_->NewConsumer(kRollupRouteConsumerGroup);
  ASSERT_EQ(*group->Committed({kKpiEventsTopic, 0}), eventlog::kNoOffset);
  StartRouter();
  EXPECT_TRUE(WaitUntil([&] {
    return *group->Committed({kKpiEventsTopic, 0}) == 1;
  })) << *group->Committed({kKpiEventsTopic, 0});
  EXPECT_EQ(router_->stats().events_routed, 0);  // Not routed again.
}

}  // namespace
}  // namespace strata::rollup
