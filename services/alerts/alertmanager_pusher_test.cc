#include "services/alerts/alertmanager_pusher.h"

#include <filesystem>
#include <atomic>
#include <functional>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/timestamps.h"
#include "services/alerts/alertmanager_alert.h"
#include "tests/harness/alertmanager_process.h"

namespace strata::alerts {
namespace {

using ::strata::testing::AlertmanagerProcess;
using ::strata::testing::Batch;
using ::strata::testing::KpiChange;
using ::strata::testing::UnitChange;
using Firing = std::vector<alertmanager::GettableAlert>;

// The pusher between an alert store, committed to here as the engine
// would, and a real Alertmanager on loopback.
class AlertmanagerPusherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_am_", getpid(), "_", counter_++);
    std::filesystem::remove_all(dir_);
    alertmanager_ =
        std::make_unique<AlertmanagerProcess>((dir_ / "alertmanager").string());
    ASSERT_OK(alertmanager_->Start());
    store_ = *AlertStore::Open((dir_ / "alerts").string());
    v1::DefinitionChange team = UnitChange("team", "ent");
    team.mutable_org_unit()->set_owner("lee");
    definitions_ = std::make_shared<const Definitions>(
        *Definitions().WithBatch(Batch({UnitChange("ent", ""), team,
                                        KpiChange("sales")})));
    StartPusher();
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << alertmanager_->Log();
    pusher_.reset();
    store_.reset();
    alertmanager_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartPusher(absl::Duration resend_interval = absl::Minutes(1),
                   const std::string& path = "") {
    AlertmanagerOptions options;
    options.url = alertmanager_->url() + path;
    options.resend_interval = resend_interval;
    pusher_ = std::make_unique<AlertmanagerPusher>(
        options, *store_, hub_, [this] { return definitions_; },
        [this] { return ready_.load(); },
        (dir_ / "alertmanager-cursor").string());
    ASSERT_OK(pusher_->Start());
  }

  // Polls (bounded) until the pusher's figures satisfy `done`.
  AlertmanagerStats WaitForStats(
      const std::function<bool(const AlertmanagerStats&)>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    AlertmanagerStats stats = pusher_->stats();
    while (!done(stats) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
      stats = pusher_->stats();
    }
    EXPECT_TRUE(done(stats)) << "the pusher never got there";
    return stats;
  }

  // Commits the alert's change as the engine does, and publishes it.
  void Change(const v1::Alert& alert) {
    AlertChanges changes;
    changes.alerts.push_back(alert);
    ASSERT_OK(store_->Commit(changes));
    hub_.Publish(changes.alerts, *definitions_);
  }

  static v1::Alert RedAlert(const std::string& period) {
    v1::Alert alert;
    alert.set_alert_id(absl::StrCat("sales/team/", period, "#1"));
    alert.set_rule(v1::ALERT_RULE_STATUS_CHANGE);
    alert.mutable_key()->set_kpi_id("sales");
    alert.mutable_key()->set_unit_id("team");
    alert.mutable_key()->mutable_period()->set_kind(v1::PERIOD_KIND_MONTH);
    alert.mutable_key()->mutable_period()->set_label(period);
    alert.set_status(v1::KPI_STATUS_RED);
    alert.set_actual(60);
    alert.set_target(100);
    alert.set_state(v1::ALERT_STATE_OPEN);
    alert.set_version(1);
    *alert.mutable_raised_time() = ToTimestamp(absl::Now() - absl::Hours(1));
    *alert.mutable_updated_time() = *alert.mutable_raised_time();
    return alert;
  }

  static v1::Alert Resolved(v1::Alert alert) {
    alert.set_state(v1::ALERT_STATE_RESOLVED);
    alert.set_corrective_action("Two reps moved");
    alert.set_version(alert.version() + 1);
    *alert.mutable_updated_time() = ToTimestamp(absl::Now());
    return alert;
  }

  // Polls (bounded) until what the Alertmanager holds satisfies `done`.
  Firing WaitUntil(const std::function<bool(const Firing&)>& done) {
    Firing firing;
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      absl::StatusOr<Firing> listed = alertmanager_->ActiveAlerts();
      if (listed.ok()) {
        firing = *listed;
        if (done(firing)) return firing;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << "the Alertmanager never got there";
    return firing;
  }

  static const alertmanager::GettableAlert* Find(const Firing& firing,
                                                 const std::string& id) {
    for (const auto& a : firing) {
      auto it = a.labels().find("alert_id");
      if (it != a.labels().end() && it->second == id) return &a;
    }
    return nullptr;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<AlertmanagerProcess> alertmanager_;
  std::unique_ptr<AlertStore> store_;
  AlertHub hub_;
  std::shared_ptr<const Definitions> definitions_;
  std::atomic<bool> ready_{true};
  std::unique_ptr<AlertmanagerPusher> pusher_;
};

TEST_F(AlertmanagerPusherTest, PushesOpenAlertsAndResolvesThemThere) {
  v1::Alert silenced = RedAlert("2026-02");
  silenced.set_silence_id("s-1");
  Change(silenced);
  const v1::Alert march = RedAlert("2026-03");
  Change(march);
  Firing firing = WaitUntil(
      [&](const Firing& f) { return Find(f, march.alert_id()) != nullptr; });
  const alertmanager::GettableAlert* pushed = Find(firing, march.alert_id());
  ASSERT_NE(pushed, nullptr);
  EXPECT_EQ(pushed->status().state(), "active");
  EXPECT_EQ(pushed->labels().at("alertname"), "StrataStatusChange");
  EXPECT_EQ(pushed->labels().at("owner"), "lee");
  EXPECT_EQ(pushed->labels().at("severity"), "critical");
  EXPECT_EQ(pushed->annotations().at("actual"), "60");
  // It fires for minutes unless sent again: gone sooner, it was resolved.
  EXPECT_GT(pushed->ends_at(), Rfc3339(absl::Now() + absl::Minutes(3)));
  // Raised within a silence: kept here, not paged there.
  EXPECT_EQ(Find(firing, silenced.alert_id()), nullptr);

  v1::Alert acknowledged = march;
  acknowledged.set_state(v1::ALERT_STATE_ACKNOWLEDGED);
  acknowledged.set_acknowledged_by("lee");
  acknowledged.set_version(2);
  Change(acknowledged);
  WaitUntil([&](const Firing& f) {
    const auto* a = Find(f, march.alert_id());
    return a != nullptr && a->annotations().at("state") == "acknowledged";
  });

  Change(Resolved(acknowledged));
  WaitUntil(
      [&](const Firing& f) { return Find(f, march.alert_id()) == nullptr; });
  WaitForStats([](const AlertmanagerStats& s) {
    return s.firing == 0 && s.unsent == 0;
  });
}

// Amber, then red: the severity label changes, which is another alert to
// Alertmanager; the amber one is resolved there, so one pages, not two.
TEST_F(AlertmanagerPusherTest, AnAlertWhoseLabelsChangeLeavesNoneBehind) {
  v1::Alert march = RedAlert("2026-03");
  march.set_status(v1::KPI_STATUS_AMBER);
  Change(march);
  WaitUntil([&](const Firing& f) {
    const auto* a = Find(f, march.alert_id());
    return a != nullptr && a->labels().at("severity") == "warning";
  });
  march.set_status(v1::KPI_STATUS_RED);
  march.set_version(2);
  Change(march);
  Firing firing = WaitUntil([&](const Firing& f) {
    const auto* a = Find(f, march.alert_id());
    return a != nullptr && a->labels().at("severity") == "critical";
  });
  int listed = 0;
  for (const auto& a : firing) listed += a.labels().at("alert_id") == march.alert_id();
  EXPECT_EQ(listed, 1);
}

// Open alerts are sent again every interval, each time firing further
// ahead; between, the pusher sleeps (it read the feed a bounded number of
// times while idle).
TEST_F(AlertmanagerPusherTest, OpenAlertsAreSentAgainEveryInterval) {
  pusher_.reset();
  StartPusher(absl::Milliseconds(300));
  const v1::Alert march = RedAlert("2026-03");
  Change(march);
  std::string first_end;
  WaitUntil([&](const Firing& f) {
    const auto* a = Find(f, march.alert_id());
    if (a != nullptr) first_end = a->ends_at();
    return a != nullptr;
  });
  WaitUntil([&](const Firing& f) {
    const auto* a = Find(f, march.alert_id());
    return a != nullptr && a->ends_at() > first_end;
  });
  const AlertmanagerStats before = pusher_->stats();
  absl::SleepFor(absl::Seconds(2));  // Idle, but for the resends.
  const AlertmanagerStats after = pusher_->stats();
  // About one push per 300 ms (a loaded machine may manage fewer), and a
  // few reads of the feed each: not the thousands of a busy loop.
  EXPECT_GE(after.pushes - before.pushes, 2);
  EXPECT_LE(after.pushes - before.pushes, 10);
  EXPECT_LE(after.rounds - before.rounds, 50);
}

// While the engine is not ready (catching up with the log, or a store
// being rebuilt), nothing is pushed: a replay is history, not news.
TEST_F(AlertmanagerPusherTest, NothingIsPushedUntilTheEngineIsReady) {
  ready_ = false;
  pusher_.reset();
  StartPusher();
  const v1::Alert replayed = RedAlert("2026-01");
  Change(replayed);
  Change(Resolved(replayed));
  const v1::Alert open = RedAlert("2026-03");
  Change(open);
  absl::SleepFor(absl::Milliseconds(1500));  // A poll, and wake-ups.
  EXPECT_EQ(pusher_->stats().rounds, 0);
  EXPECT_EQ(pusher_->stats().pushes, 0);
  ready_ = true;
  WaitUntil([&](const Firing& f) { return Find(f, open.alert_id()) != nullptr; });
  // One push, of what is open now.
  const AlertmanagerStats stats =
      WaitForStats([](const AlertmanagerStats& s) { return s.pushes >= 1; });
  EXPECT_EQ(stats.pushes, 1);
  EXPECT_EQ(stats.firing, 1);
}

// A request Alertmanager refuses as bad would be refused again: dropped,
// logged and counted, and it holds nothing up.
TEST_F(AlertmanagerPusherTest, ARefusedRequestIsDroppedAndCounted) {
  pusher_.reset();
  StartPusher(absl::Minutes(1), "/no/such/path");
  Change(RedAlert("2026-03"));
  const AlertmanagerStats stats = WaitForStats(
      [](const AlertmanagerStats& s) { return s.rejected == 1; });
  EXPECT_EQ(stats.unsent, 0);
  EXPECT_EQ(stats.failures, 0);
}

TEST_F(AlertmanagerPusherTest, WhatChangedWhileItWasStoppedIsPushedOnRestart) {
  const v1::Alert march = RedAlert("2026-03");
  Change(march);
  WaitUntil(
      [&](const Firing& f) { return Find(f, march.alert_id()) != nullptr; });
  pusher_.reset();
  Change(Resolved(march));
  const v1::Alert april = RedAlert("2026-04");
  Change(april);
  StartPusher();
  WaitUntil([&](const Firing& f) {
    return Find(f, march.alert_id()) == nullptr &&
           Find(f, april.alert_id()) != nullptr;
  });
}

TEST_F(AlertmanagerPusherTest, AlertsWaitForAnAlertmanagerThatIsDown) {
  alertmanager_->Stop();
  const v1::Alert march = RedAlert("2026-03");
  Change(march);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline && pusher_->stats().failures == 0) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GT(pusher_->stats().failures, 0);
  WaitForStats([](const AlertmanagerStats& s) { return s.unsent == 1; });
  ASSERT_OK(alertmanager_->Start());
  WaitUntil(
      [&](const Firing& f) { return Find(f, march.alert_id()) != nullptr; });
}

TEST(AlertmanagerPusherOptionsTest, RefusesWhatIsNotAnHttpUrl) {
  AlertmanagerOptions options;
  options.url = "alertmanager:9093";
  EXPECT_EQ(AlertmanagerPusher::Validate(options).code(),
            absl::StatusCode::kInvalidArgument);
  // Found in a trial: these were taken, and pushed to "http://api/v2/...".
  for (const char* url : {"http://", "http:///api", "https://:9093",
                          "http://127.0.0.1:9093/ bad"}) {
    options.url = url;
    EXPECT_EQ(AlertmanagerPusher::Validate(options).code(),
              absl::StatusCode::kInvalidArgument)
        << url;
  }
  options.url = "http://alertmanager:9093";
  EXPECT_TRUE(AlertmanagerPusher::Validate(options).ok());
  options.url = "https://am.example.org/prefix/";
  EXPECT_TRUE(AlertmanagerPusher::Validate(options).ok());
  options.resend_interval = absl::ZeroDuration();
  EXPECT_EQ(AlertmanagerPusher::Validate(options).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace strata::alerts
