// BuildScorecard over figures a test hands it: how scores weigh up into
// objectives and perspectives, trends, open alerts, and what is missing.

#include "services/rollup/scorecard_builder.h"

#include <map>
#include <tuple>

#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/period_proto.h"

namespace strata::rollup {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::KpiChange;
using ::strata::testing::ObjectiveChange;
using ::strata::testing::UnitChange;

const absl::Time kMarch11 =
    absl::FromCivil(absl::CivilDay(2026, 3, 11), absl::UTCTimeZone());

class ScorecardBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // "revenue" and "cost" measure "grow" (2:1); "nps" measures
    // "delight"; "training" measures nothing; "audits" keeps months only.
    v1::DefinitionChange audits = KpiChange("audits");
    audits.mutable_kpi()->add_periods(v1::PERIOD_KIND_MONTH);
    auto defs = Definitions().WithBatch(Batch(
        {UnitChange("ent", ""), UnitChange("team", "ent"),
         KpiChange("revenue"),
         KpiChange("cost", v1::TIME_AGGREGATION_SUM,
                   v1::POLARITY_LOWER_IS_BETTER, 110),
         KpiChange("nps", v1::TIME_AGGREGATION_LAST), KpiChange("training"),
         audits,
         ObjectiveChange("delight", v1::PERSPECTIVE_CUSTOMER, {{"nps", 1}}),
         ObjectiveChange("grow", v1::PERSPECTIVE_FINANCIAL,
                         {{"revenue", 2}, {"cost", 1}}, {"delight"}),
         ObjectiveChange("comply", v1::PERSPECTIVE_INTERNAL_PROCESS,
                         {{"audits", 1}})}));
    ASSERT_OK(defs);
    defs_ = *std::move(defs);
  }

  // The figure of (kpi, period label) at "team": a value and a score.
  void SetFigure(const std::string& kpi, const std::string& label,
                 double value, std::optional<double> score) {
    v1::RollupRecord record;
    record.set_value(value);
    if (score) record.set_score(*score);
    figures_[{kpi, label}] = record;
  }

  absl::StatusOr<v1::Scorecard> Build(
      const std::string& label,
      const absl::StatusOr<std::vector<v1::Alert>>& alerts =
          std::vector<v1::Alert>{}) {
    const Period period = *ParsePeriod(*KindOfLabel(label), label);
    FigureReader read = [&](const CellId& id) -> absl::StatusOr<v1::RollupRecord> {
      const std::string kpi = defs_.kpi(id.kpi).definition.kpi_id();
      v1::RollupRecord record;
      if (auto it = figures_.find({kpi, PeriodLabel(id.period)});
          it != figures_.end()) {
        record = it->second;
      } else {
        record.set_no_value_reason("no events");
      }
      record.mutable_key()->set_kpi_id(kpi);
      record.mutable_key()->set_unit_id(defs_.unit(id.unit).definition.unit_id());
      *record.mutable_key()->mutable_period() = PeriodToProto(id.period);
      return record;
    };
    return BuildScorecard(defs_, *defs_.FindUnit("team"), period, kMarch11,
                          read, alerts);
  }

  static v1::Alert OpenAlert(const std::string& kpi, const std::string& unit,
                             const std::string& label) {
    v1::Alert alert;
    alert.set_alert_id(kpi + "/" + unit + "/" + label + "#1");
    alert.mutable_key()->set_kpi_id(kpi);
    alert.mutable_key()->set_unit_id(unit);
    *alert.mutable_key()->mutable_period() =
        PeriodToProto(*ParsePeriod(*KindOfLabel(label), label));
    alert.set_state(v1::ALERT_STATE_OPEN);
    return alert;
  }

  Definitions defs_;
  std::map<std::pair<std::string, std::string>, v1::RollupRecord> figures_;
};

TEST_F(ScorecardBuilderTest, ScoresWeighUpIntoObjectivesAndPerspectives) {
  SetFigure("revenue", "2026-03", 80, 8.0);
  SetFigure("cost", "2026-03", 60, 2.0);
  SetFigure("nps", "2026-03", 40, 5.0);
  SetFigure("audits", "2026-03", 3, 10.0);
  auto card = Build("2026-03");
  ASSERT_OK(card);
  EXPECT_EQ(card->unit_id(), "team");
  EXPECT_EQ(card->period().label(), "2026-03");
  EXPECT_EQ(card->judged_at().seconds(), absl::ToUnixSeconds(kMarch11));
  ASSERT_EQ(card->perspectives_size(), 3);
  // In the enum's order, whatever order the objectives came in.
  const v1::ScorecardPerspective& financial = card->perspectives(0);
  EXPECT_EQ(financial.perspective(), v1::PERSPECTIVE_FINANCIAL);
  EXPECT_EQ(card->perspectives(1).perspective(), v1::PERSPECTIVE_CUSTOMER);
  EXPECT_EQ(card->perspectives(2).perspective(),
            v1::PERSPECTIVE_INTERNAL_PROCESS);

  const v1::ScorecardObjective& grow = financial.objectives(0);
  EXPECT_EQ(grow.objective_id(), "grow");
  EXPECT_EQ(grow.owner(), "cfo");
  EXPECT_EQ(grow.drives(0), "delight");
  ASSERT_EQ(grow.measures_size(), 2);
  EXPECT_EQ(grow.measures(0).kpi_id(), "revenue");
  EXPECT_EQ(grow.measures(0).weight(), 2);
  EXPECT_EQ(grow.measures(0).figure().value(), 80);
  // (2 x 8 + 1 x 2) / 3 = 6: amber, short of the goal line (6.67).
  EXPECT_DOUBLE_EQ(grow.summary().score(), 6.0);
  EXPECT_EQ(grow.summary().status(), v1::KPI_STATUS_AMBER);
  EXPECT_EQ(grow.summary().parts_scored(), 2);
  EXPECT_DOUBLE_EQ(financial.summary().score(), 6.0);
  EXPECT_DOUBLE_EQ(card->perspectives(1).summary().score(), 5.0);
  // The perspectives weigh alike: (6 + 5 + 10) / 3 = 7, green.
  EXPECT_DOUBLE_EQ(card->summary().score(), 7.0);
  EXPECT_EQ(card->summary().status(), v1::KPI_STATUS_GREEN);
  EXPECT_EQ(card->summary().parts(), 3);

  // "training" measures no objective: shown, not scored.
  ASSERT_EQ(card->unlinked_size(), 1);
  EXPECT_EQ(card->unlinked(0).kpi_id(), "training");
  EXPECT_EQ(card->unlinked(0).weight(), 0);
}

TEST_F(ScorecardBuilderTest, MissingDataIsCountedNotScoredAsGreen) {
  SetFigure("revenue", "2026-03", 80, 8.0);
  // "cost" has a value but no target: no score. "nps" has no figure.
  SetFigure("cost", "2026-03", 60, std::nullopt);
  auto card = Build("2026-03");
  ASSERT_OK(card);
  const v1::ScorecardObjective& grow = card->perspectives(0).objectives(0);
  EXPECT_DOUBLE_EQ(grow.summary().score(), 8.0);
  EXPECT_EQ(grow.summary().parts(), 2);
  EXPECT_EQ(grow.summary().parts_scored(), 1);
  const v1::ScorecardPerspective& customer = card->perspectives(1);
  EXPECT_FALSE(customer.summary().has_score());
  EXPECT_EQ(customer.summary().status(), v1::KPI_STATUS_NO_DATA);
  EXPECT_EQ(customer.objectives(0).measures(0).figure().no_value_reason(),
            "no events");
  // The unit's score leaves the unscored perspectives out.
  EXPECT_DOUBLE_EQ(card->summary().score(), 8.0);
  EXPECT_EQ(card->summary().parts_scored(), 1);
}

TEST_F(ScorecardBuilderTest, TrendComparesScoresWithThePreviousPeriod) {
  SetFigure("revenue", "2026-02", 100, 6.0);
  SetFigure("revenue", "2026-03", 40, 7.0);  // Less so far, but on track.
  SetFigure("cost", "2026-02", 50, 7.0);
  SetFigure("cost", "2026-03", 30, 4.0);
  SetFigure("nps", "2026-02", 40, 5.0);
  SetFigure("nps", "2026-03", 40, 5.001);
  auto card = Build("2026-03");
  ASSERT_OK(card);
  const v1::ScorecardObjective& grow = card->perspectives(0).objectives(0);
  const v1::Trend& revenue = grow.measures(0).trend();
  EXPECT_EQ(revenue.previous().label(), "2026-02");
  EXPECT_EQ(revenue.previous_value(), 100);
  EXPECT_EQ(revenue.previous_score(), 6.0);
  EXPECT_EQ(revenue.direction(), v1::Trend::DIRECTION_IMPROVING);
  EXPECT_EQ(grow.measures(1).trend().direction(),
            v1::Trend::DIRECTION_WORSENING);
  EXPECT_EQ(card->perspectives(1).objectives(0).measures(0).trend().direction(),
            v1::Trend::DIRECTION_STEADY);
  // No score in February: no direction.
  EXPECT_EQ(card->perspectives(2).objectives(0).measures(0).trend().direction(),
            v1::Trend::DIRECTION_UNSPECIFIED);
}

TEST_F(ScorecardBuilderTest, OpenAlertsGoWithTheirOwnCellOnly) {
  std::vector<v1::Alert> alerts = {
      OpenAlert("revenue", "team", "2026-03"),
      OpenAlert("revenue", "ent", "2026-03"),   // Another unit.
      OpenAlert("revenue", "team", "2026-02"),  // Another period.
      OpenAlert("nps", "team", "2026-03")};
  v1::Alert resolved = OpenAlert("cost", "team", "2026-03");
  resolved.set_state(v1::ALERT_STATE_RESOLVED);
  alerts.push_back(resolved);
  auto card = Build("2026-03", alerts);
  ASSERT_OK(card);
  EXPECT_EQ(card->alerts_unavailable(), "");
  const v1::ScorecardObjective& grow = card->perspectives(0).objectives(0);
  ASSERT_EQ(grow.measures(0).open_alerts_size(), 1);
  EXPECT_EQ(grow.measures(0).open_alerts(0).alert_id(),
            "revenue/team/2026-03#1");
  EXPECT_EQ(grow.measures(1).open_alerts_size(), 0);
  EXPECT_EQ(card->perspectives(1).objectives(0).measures(0).open_alerts_size(),
            1);
}

TEST_F(ScorecardBuilderTest, AlertsThatCouldNotBeReadAreSaidToBeUnknown) {
  auto card = Build("2026-03", absl::UnavailableError(
                                   "alerts service: catching up with the log"));
  ASSERT_OK(card);
  EXPECT_EQ(card->alerts_unavailable(),
            "alerts service: catching up with the log");
}

TEST_F(ScorecardBuilderTest, AKpiThatKeepsNoSuchPeriodsSaysSo) {
  auto card = Build("2026-Q1");
  ASSERT_OK(card);
  const v1::ScorecardMeasure& audits =
      card->perspectives(2).objectives(0).measures(0);
  EXPECT_EQ(audits.kpi_id(), "audits");
  EXPECT_FALSE(audits.figure().has_value());
  EXPECT_EQ(audits.figure().no_value_reason(),
            "the KPI keeps no quarter rollups");
  // Unlinked KPIs that keep no quarters are left out.
  for (const v1::ScorecardMeasure& m : card->unlinked()) {
    EXPECT_NE(m.kpi_id(), "audits");
  }
}

TEST_F(ScorecardBuilderTest, AFailedReadFailsTheScorecard) {
  FigureReader failing = [](const CellId&) -> absl::StatusOr<v1::RollupRecord> {
    return absl::DataLossError("rocksdb: corruption");
  };
  auto card =
      BuildScorecard(defs_, *defs_.FindUnit("team"),
                     *ParsePeriod(PeriodKind::kMonth, "2026-03"), kMarch11,
                     failing, std::vector<v1::Alert>{});
  EXPECT_EQ(card.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace strata::rollup
