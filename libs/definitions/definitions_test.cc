#include "libs/definitions/definitions.h"

#include "gtest/gtest.h"
#include "libs/status/status_matchers.h"

namespace strata {
namespace {

using ::strata::testing::StatusIs;
using ::testing::HasSubstr;

v1::DefinitionChange Unit(const std::string& id, const std::string& parent) {
  v1::DefinitionChange change;
  change.mutable_org_unit()->set_unit_id(id);
  change.mutable_org_unit()->set_name(id);
  change.mutable_org_unit()->set_parent_id(parent);
  return change;
}

v1::DefinitionChange Kpi(const std::string& id,
                         v1::TimeAggregation time = v1::TIME_AGGREGATION_SUM) {
  v1::DefinitionChange change;
  v1::Kpi* kpi = change.mutable_kpi();
  kpi->set_kpi_id(id);
  kpi->set_name(id);
  kpi->set_polarity(v1::POLARITY_HIGHER_IS_BETTER);
  kpi->set_time_aggregation(time);
  kpi->set_hierarchy_aggregation(v1::HIERARCHY_AGGREGATION_SUM);
  kpi->mutable_thresholds()->set_green_pct(100);
  kpi->mutable_thresholds()->set_amber_pct(90);
  return change;
}

v1::DefinitionChange Target(const std::string& kpi, const std::string& unit,
                            const std::string& month, double value) {
  v1::DefinitionChange change;
  v1::Target* target = change.mutable_target();
  target->set_kpi_id(kpi);
  target->set_unit_id(unit);
  target->mutable_period()->set_kind(v1::PERIOD_KIND_MONTH);
  target->mutable_period()->set_label(month);
  target->set_value(value);
  return change;
}

v1::DefinitionBatch Batch(std::vector<v1::DefinitionChange> changes) {
  v1::DefinitionBatch batch;
  for (auto& c : changes) *batch.add_changes() = std::move(c);
  return batch;
}

TEST(DefinitionsTest, BuildsPathsToRoot) {
  auto defs = Definitions().WithBatch(
      Batch({Unit("ent", ""), Unit("bu", "ent"), Unit("team", "bu")}));
  ASSERT_OK(defs);
  const UnitIndex team = *defs->FindUnit("team");
  ASSERT_EQ(defs->PathToRoot(team).size(), 3u);
  EXPECT_EQ(defs->unit(defs->PathToRoot(team)[2]).definition.unit_id(), "ent");
  EXPECT_TRUE(defs->InSubtree(team, *defs->FindUnit("bu")));
  EXPECT_FALSE(defs->InSubtree(*defs->FindUnit("bu"), team));
}

TEST(DefinitionsTest, RejectedBatchLeavesNothingApplied) {
  Definitions empty;
  auto defs = empty.WithBatch(Batch({Unit("ent", ""), Unit("bu", "nope")}));
  EXPECT_THAT(defs, StatusIs(absl::StatusCode::kNotFound,
                             HasSubstr("changes[1].org_unit.parent_id")));
  EXPECT_EQ(empty.unit_count(), 0u);
}

TEST(DefinitionsTest, NamesTheFieldOfMalformedInput) {
  EXPECT_THAT(Definitions().WithBatch(Batch({Unit("bad id", "")})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].org_unit.unit_id")));
  auto kpi = Kpi("k");
  kpi.mutable_kpi()->mutable_thresholds()->set_amber_pct(120);
  EXPECT_THAT(Definitions().WithBatch(Batch({kpi})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].kpi.thresholds")));
  EXPECT_THAT(
      Definitions().WithBatch(Batch({Kpi("k", v1::TIME_AGGREGATION_AVG)})),
      StatusIs(absl::StatusCode::kUnimplemented,
               HasSubstr("time_aggregation")));
}

TEST(DefinitionsTest, ReparentingIsRefusedUntilReorgsExist) {
  auto defs = Definitions().WithBatch(
      Batch({Unit("ent", ""), Unit("a", "ent"), Unit("b", "ent")}));
  ASSERT_OK(defs);
  EXPECT_THAT(defs->WithBatch(Batch({Unit("b", "a")})),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_OK(defs->WithBatch(Batch({Unit("b", "ent")})));  // Same parent: ok.
}

TEST(DefinitionsTest, TargetsNeedKnownKpiUnitAndPeriod) {
  auto defs = Definitions().WithBatch(Batch({Unit("ent", ""), Kpi("rev")}));
  ASSERT_OK(defs);
  EXPECT_THAT(defs->WithBatch(Batch({Target("nope", "ent", "2026-11", 1)})),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("kpi_id")));
  EXPECT_THAT(
      defs->WithBatch(Batch({Target("rev", "ent", "2026-13", 1)})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("period.label")));
  auto with_target =
      defs->WithBatch(Batch({Target("rev", "ent", "2026-11", 500)}));
  ASSERT_OK(with_target);
  const Period nov = *ParsePeriod(PeriodKind::kMonth, "2026-11");
  EXPECT_EQ(with_target->Target(*with_target->FindKpi("rev"),
                                *with_target->FindUnit("ent"), nov),
            500);
}

TEST(DefinitionsTest, ToBatchReplaysToTheSameDefinitions) {
  auto defs = Definitions().WithBatch(
      Batch({Unit("ent", ""), Unit("bu", "ent"), Kpi("rev"),
             Target("rev", "bu", "2026-01", 7)}));
  ASSERT_OK(defs);
  auto replayed = Definitions().WithBatch(defs->ToBatch());
  ASSERT_OK(replayed);
  EXPECT_EQ(replayed->ToBatch().SerializeAsString(),
            defs->ToBatch().SerializeAsString());
}

}  // namespace
}  // namespace strata
