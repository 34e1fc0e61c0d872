#include "services/alerts/alertmanager_alert.h"

#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/streams/timestamps.h"

namespace strata::alerts {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::KpiChange;
using ::strata::testing::UnitChange;

const absl::Time kNow = absl::FromUnixSeconds(1796601600);  // 2026-12-07

// "east-1" owned by "lee" under "east"; "sales" owned by "sam"; "calls"
// by nobody.
Definitions Organisation() {
  v1::DefinitionChange east1 = UnitChange("east-1", "east");
  east1.mutable_org_unit()->set_name("East One");
  east1.mutable_org_unit()->set_owner("lee");
  v1::DefinitionChange sales = KpiChange("sales");
  sales.mutable_kpi()->set_name("Sales");
  sales.mutable_kpi()->set_owner("sam");
  absl::StatusOr<Definitions> d =
      Definitions().WithBatch(Batch({UnitChange("east", ""), east1,
                                     UnitChange("east-2", "east"), sales,
                                     KpiChange("calls")}));
  EXPECT_TRUE(d.ok()) << d.status();
  return *d;
}

v1::Alert RedSales() {
  v1::Alert alert;
  alert.set_alert_id("sales/east-1/2026-03#1");
  alert.set_rule(v1::ALERT_RULE_STATUS_CHANGE);
  alert.mutable_key()->set_kpi_id("sales");
  alert.mutable_key()->set_unit_id("east-1");
  alert.mutable_key()->mutable_period()->set_kind(v1::PERIOD_KIND_MONTH);
  alert.mutable_key()->mutable_period()->set_label("2026-03");
  alert.set_status(v1::KPI_STATUS_RED);
  alert.set_actual(60);
  alert.set_target(100);
  alert.set_expected(80);
  alert.set_state(v1::ALERT_STATE_OPEN);
  *alert.mutable_raised_time() = ToTimestamp(kNow - absl::Hours(2));
  *alert.mutable_updated_time() = ToTimestamp(kNow - absl::Hours(1));
  return alert;
}

TEST(AlertmanagerAlertTest, LabelsIdentifyAndRouteAndAnnotationsCarryTheFigures) {
  const alertmanager::PostableAlert out =
      ToPostableAlert(RedSales(), Organisation(), kNow, absl::Minutes(4));
  const auto& labels = out.labels();
  EXPECT_EQ(labels.at("alertname"), "StrataStatusChange");
  EXPECT_EQ(labels.at("rule"), "status_change");
  EXPECT_EQ(labels.at("kpi"), "sales");
  EXPECT_EQ(labels.at("unit"), "east-1");
  EXPECT_EQ(labels.at("period"), "2026-03");
  EXPECT_EQ(labels.at("alert_id"), "sales/east-1/2026-03#1");
  EXPECT_EQ(labels.at("severity"), "critical");
  EXPECT_EQ(labels.at("owner"), "lee");  // The unit's, before the KPI's.
  EXPECT_EQ(labels.size(), 8u);

  const auto& notes = out.annotations();
  EXPECT_EQ(notes.at("summary"),
            "Sales at East One, 2026-03: red, 60 against 80 expected by then "
            "(target 100)");
  EXPECT_EQ(notes.at("actual"), "60");
  EXPECT_EQ(notes.at("target"), "100");
  EXPECT_EQ(notes.at("expected"), "80");
  // Against what was expected by then, as the status was judged.
  EXPECT_EQ(notes.at("variance"), "-20");
  EXPECT_EQ(notes.at("variance_pct"), "-25.0%");
  EXPECT_EQ(notes.at("state"), "open");
  EXPECT_EQ(notes.count("corrective_action"), 0u);

  EXPECT_EQ(out.starts_at(), "2026-12-06T22:00:00.000Z");
  EXPECT_EQ(out.ends_at(), "2026-12-07T00:04:00.000Z");  // Firing for 4 min.
}

TEST(AlertmanagerAlertTest, AResolvedAlertEndsWhenItWasResolvedWithItsAction) {
  v1::Alert alert = RedSales();
  alert.set_state(v1::ALERT_STATE_RESOLVED);
  alert.set_status(v1::KPI_STATUS_AMBER);
  alert.set_resolved_by("lee");
  alert.set_corrective_action("Two reps moved to east-1");
  alert.set_corrective_action_owner("kim");
  *alert.mutable_corrective_action_due() =
      ToTimestamp(absl::FromUnixSeconds(1798675200));
  const alertmanager::PostableAlert out =
      ToPostableAlert(alert, Organisation(), kNow, absl::Minutes(4));
  EXPECT_EQ(out.ends_at(), "2026-12-06T23:00:00.000Z");
  EXPECT_EQ(out.labels().at("severity"), "warning");
  EXPECT_EQ(out.annotations().at("state"), "resolved");
  EXPECT_EQ(out.annotations().at("corrective_action"),
            "Two reps moved to east-1");
  EXPECT_EQ(out.annotations().at("corrective_action_owner"), "kim");
  EXPECT_EQ(out.annotations().at("corrective_action_due"),
            "2026-12-31T00:00:00.000Z");
}

// The alerts service's clock may be ahead of the wall clock: Alertmanager
// refuses an alert that ends before it starts.
TEST(AlertmanagerAlertTest, TimesAheadOfTheWallClockAreBroughtBackToNow) {
  v1::Alert alert = RedSales();
  *alert.mutable_raised_time() = ToTimestamp(kNow + absl::Hours(24));
  *alert.mutable_updated_time() = ToTimestamp(kNow + absl::Hours(25));
  alert.set_state(v1::ALERT_STATE_RESOLVED);
  const alertmanager::PostableAlert out =
      ToPostableAlert(alert, Organisation(), kNow, absl::Minutes(4));
  EXPECT_EQ(out.starts_at(), "2026-12-07T00:00:00.000Z");
  EXPECT_EQ(out.ends_at(), "2026-12-07T00:00:00.000Z");
}

TEST(AlertmanagerAlertTest, AStaleFeedWithoutDataShowsNoFiguresAndTheKpiOwner) {
  v1::Alert alert = RedSales();
  alert.set_alert_id("calls/east-2/2026-03#stale-1");
  alert.set_rule(v1::ALERT_RULE_STALE_FEED);
  alert.mutable_key()->set_kpi_id("calls");
  alert.mutable_key()->set_unit_id("east-2");
  alert.set_status(v1::KPI_STATUS_NO_DATA);
  alert.set_actual(0);
  alert.clear_expected();
  *alert.mutable_data_due() = ToTimestamp(absl::FromUnixSeconds(1775001600));
  const alertmanager::PostableAlert out =
      ToPostableAlert(alert, Organisation(), kNow, absl::Minutes(4));
  EXPECT_EQ(out.labels().at("alertname"), "StrataStaleFeed");
  EXPECT_EQ(out.labels().at("rule"), "stale_feed");
  EXPECT_EQ(out.labels().count("owner"), 0u);  // Neither has one.
  EXPECT_EQ(out.annotations().at("summary"),
            "calls at east-2, 2026-03: no data by 2026-04-01T00:00:00.000Z");
  EXPECT_EQ(out.annotations().count("actual"), 0u);
  EXPECT_EQ(out.annotations().count("variance"), 0u);
}

}  // namespace
}  // namespace strata::alerts
