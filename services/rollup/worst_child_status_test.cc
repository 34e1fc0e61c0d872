#include "services/rollup/worst_child_status.h"

#include <map>
#include <string>

#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/status/status_matchers.h"

namespace strata::rollup {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::KpiChange;
using ::strata::testing::StatusIs;
using ::strata::testing::UnitChange;

// ent -> {east -> {e1, e2}, west -> {w1}}; "worst" takes its status from
// its worst child, "own" from its figure.
class WorstChildStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1::DefinitionChange worst = KpiChange("worst");
    worst.mutable_kpi()->set_status_rule(v1::STATUS_RULE_WORST_CHILD);
    defs_ = *Definitions().WithBatch(
        Batch({UnitChange("ent", ""), UnitChange("east", "ent"),
               UnitChange("e1", "east"), UnitChange("e2", "east"),
               UnitChange("west", "ent"), UnitChange("w1", "west"), worst,
               KpiChange("own")}));
    march_ = *ParsePeriod(PeriodKind::kMonth, "2026-03");
  }

  // Every cell of `kpi` judged green with score 8 unless set here.
  void Set(const std::string& unit, v1::KpiStatus status,
           std::optional<double> score) {
    v1::RollupRecord& r = records_[unit];
    r.set_status(status);
    if (score) r.set_score(*score);
  }

  CellId Cell(const std::string& kpi, const std::string& unit) {
    return {*defs_.FindKpi(kpi), *defs_.FindUnit(unit), march_};
  }

  v1::RollupRecord Apply(const std::string& kpi, const std::string& unit) {
    v1::RollupRecord record = Read(Cell(kpi, unit)).value();
    EXPECT_OK(ApplyStatusRule(defs_, Cell(kpi, unit),
                              [this](const CellId& id) { return Read(id); },
                              record));
    return record;
  }

  absl::StatusOr<v1::RollupRecord> Read(const CellId& id) {
    ++reads_;
    const std::string& unit = defs_.unit(id.unit).definition.unit_id();
    if (unit == failing_) return absl::DataLossError("damaged: " + unit);
    auto it = records_.find(unit);
    if (it != records_.end()) return it->second;
    v1::RollupRecord green;
    green.set_status(v1::KPI_STATUS_GREEN);
    green.set_score(8);
    return green;
  }

  Definitions defs_;
  Period march_;
  std::map<std::string, v1::RollupRecord> records_;
  std::string failing_;
  int reads_ = 0;
};

TEST_F(WorstChildStatusTest, AParentShowsItsWorstLeafRedBeforeAmber) {
  Set("ent", v1::KPI_STATUS_GREEN, 9);  // Its own figure is fine.
  Set("e2", v1::KPI_STATUS_RED, 2);
  Set("w1", v1::KPI_STATUS_AMBER, 4);
  v1::RollupRecord ent = Apply("worst", "ent");
  EXPECT_EQ(ent.status(), v1::KPI_STATUS_RED);
  EXPECT_EQ(ent.score(), 2);
  EXPECT_EQ(ent.status_unit_id(), "e2");
  v1::RollupRecord west = Apply("worst", "west");
  EXPECT_EQ(west.status(), v1::KPI_STATUS_AMBER);
  EXPECT_EQ(west.status_unit_id(), "w1");
}

// Missing data is a status of its own: worse than green, not than amber.
TEST_F(WorstChildStatusTest, ATeamWithoutDataKeepsItsParentFromGreen) {
  Set("e2", v1::KPI_STATUS_NO_DATA, std::nullopt);
  v1::RollupRecord east = Apply("worst", "east");
  EXPECT_EQ(east.status(), v1::KPI_STATUS_NO_DATA);
  EXPECT_FALSE(east.has_score());
  EXPECT_EQ(east.status_unit_id(), "e2");
  Set("w1", v1::KPI_STATUS_AMBER, 5);
  EXPECT_EQ(Apply("worst", "ent").status_unit_id(), "w1");
}

TEST_F(WorstChildStatusTest, AmongEqualStatusesTheLowestScoreCounts) {
  Set("e1", v1::KPI_STATUS_AMBER, 5);
  Set("e2", v1::KPI_STATUS_AMBER, 4);
  v1::RollupRecord east = Apply("worst", "east");
  EXPECT_EQ(east.score(), 4);
  EXPECT_EQ(east.status_unit_id(), "e2");
}

// Leaves without a target are passed over; with none judged below, the
// unit's own standing is all there is.
TEST_F(WorstChildStatusTest, ChildrenWithoutATargetArePassedOver) {
  Set("w1", v1::KPI_STATUS_UNSPECIFIED, std::nullopt);
  Set("west", v1::KPI_STATUS_AMBER, 5);
  v1::RollupRecord west = Apply("worst", "west");
  EXPECT_EQ(west.status(), v1::KPI_STATUS_AMBER);
  EXPECT_EQ(west.status_unit_id(), "west");
  Set("e1", v1::KPI_STATUS_UNSPECIFIED, std::nullopt);
  EXPECT_EQ(Apply("worst", "east").status_unit_id(), "e2");
}

TEST_F(WorstChildStatusTest, ALeafAndAKpiJudgedOnItsOwnFigureKeepTheirOwn) {
  Set("e1", v1::KPI_STATUS_AMBER, 5);
  EXPECT_EQ(Apply("worst", "e1").status_unit_id(), "e1");
  EXPECT_EQ(Apply("worst", "e1").status(), v1::KPI_STATUS_AMBER);
  Set("ent", v1::KPI_STATUS_GREEN, 9);
  reads_ = 0;
  v1::RollupRecord ent = Apply("own", "ent");
  EXPECT_EQ(ent.status(), v1::KPI_STATUS_GREEN);
  EXPECT_EQ(ent.status_unit_id(), "");
  EXPECT_EQ(reads_, 1);  // Nothing below was read.
}

TEST_F(WorstChildStatusTest, AFailedReadBelowFailsTheCell) {
  failing_ = "w1";
  v1::RollupRecord record = Read(Cell("worst", "ent")).value();
  EXPECT_THAT(ApplyStatusRule(defs_, Cell("worst", "ent"),
                              [this](const CellId& id) { return Read(id); },
                              record),
              StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace strata::rollup
