#include "libs/definitions/definitions.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/status/status_matchers.h"

namespace strata {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::KpiChange;
using ::strata::testing::StatusIs;
using ::strata::testing::TargetChange;
using ::strata::testing::UnitChange;
using ::testing::HasSubstr;

TEST(DefinitionsTest, BuildsPathsToRoot) {
  auto defs = Definitions().WithBatch(
      Batch({UnitChange("ent", ""), UnitChange("bu", "ent"),
             UnitChange("team", "bu")}));
  ASSERT_OK(defs);
  const UnitIndex team = *defs->FindUnit("team");
  ASSERT_EQ(defs->PathToRoot(team).size(), 3u);
  EXPECT_EQ(defs->unit(defs->PathToRoot(team)[2]).definition.unit_id(), "ent");
  EXPECT_TRUE(defs->InSubtree(team, *defs->FindUnit("bu")));
  EXPECT_FALSE(defs->InSubtree(*defs->FindUnit("bu"), team));
}

TEST(DefinitionsTest, RejectedBatchLeavesNothingApplied) {
  Definitions empty;
  auto defs =
      empty.WithBatch(Batch({UnitChange("ent", ""), UnitChange("bu", "nope")}));
  EXPECT_THAT(defs, StatusIs(absl::StatusCode::kNotFound,
                             HasSubstr("changes[1].org_unit.parent_id")));
  EXPECT_EQ(empty.unit_count(), 0u);
}

TEST(DefinitionsTest, NamesTheFieldOfMalformedInput) {
  EXPECT_THAT(Definitions().WithBatch(Batch({UnitChange("bad id", "")})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].org_unit.unit_id")));
  auto kpi = KpiChange("k");
  kpi.mutable_kpi()->mutable_thresholds()->set_amber_pct(120);
  EXPECT_THAT(Definitions().WithBatch(Batch({kpi})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].kpi.thresholds")));
  EXPECT_THAT(Definitions().WithBatch(
                  Batch({KpiChange("k", v1::TIME_AGGREGATION_AVG)})),
              StatusIs(absl::StatusCode::kUnimplemented,
                       HasSubstr("time_aggregation")));
}

TEST(DefinitionsTest, ReparentingIsRefusedUntilReorgsExist) {
  auto defs = Definitions().WithBatch(Batch(
      {UnitChange("ent", ""), UnitChange("a", "ent"), UnitChange("b", "ent")}));
  ASSERT_OK(defs);
  EXPECT_THAT(defs->WithBatch(Batch({UnitChange("b", "a")})),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_OK(
      defs->WithBatch(Batch({UnitChange("b", "ent")})));  // Same parent: ok.
}

TEST(DefinitionsTest, TargetsNeedKnownKpiUnitAndPeriod) {
  auto defs =
      Definitions().WithBatch(Batch({UnitChange("ent", ""), KpiChange("rev")}));
  ASSERT_OK(defs);
  EXPECT_THAT(
      defs->WithBatch(Batch({TargetChange("nope", "ent", "2026-11", 1)})),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("kpi_id")));
  EXPECT_THAT(
      defs->WithBatch(Batch({TargetChange("rev", "ent", "2026-13", 1)})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("period.label")));
  auto with_target =
      defs->WithBatch(Batch({TargetChange("rev", "ent", "2026-11", 500)}));
  ASSERT_OK(with_target);
  const Period nov = *ParsePeriod(PeriodKind::kMonth, "2026-11");
  EXPECT_EQ(with_target->Target(*with_target->FindKpi("rev"),
                                *with_target->FindUnit("ent"), nov),
            500);
}

TEST(DefinitionsTest, ToBatchReplaysToTheSameDefinitions) {
  auto defs = Definitions().WithBatch(
      Batch({UnitChange("ent", ""), UnitChange("bu", "ent"), KpiChange("rev"),
             TargetChange("rev", "bu", "2026-01", 7)}));
  ASSERT_OK(defs);
  auto replayed = Definitions().WithBatch(defs->ToBatch());
  ASSERT_OK(replayed);
  EXPECT_EQ(replayed->ToBatch().SerializeAsString(),
            defs->ToBatch().SerializeAsString());
}

TEST(DefinitionsTest, AUnitChainDeeperThanTheLimitIsRefused) {
  // A 20,000-deep chain took 2.5 GB before (every path copied its parent's).
  std::vector<v1::DefinitionChange> chain = {UnitChange("u0", "")};
  for (size_t i = 1; i < kMaxUnitDepth; ++i) {
    chain.push_back(UnitChange(absl::StrCat("u", i), absl::StrCat("u", i - 1)));
  }
  auto deepest = Definitions().WithBatch(Batch(chain));
  ASSERT_OK(deepest);
  EXPECT_EQ(deepest->PathToRoot(*deepest->FindUnit("u31")).size(),
            kMaxUnitDepth);
  chain.push_back(UnitChange("u32", "u31"));
  EXPECT_THAT(Definitions().WithBatch(Batch(chain)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[32].org_unit.parent_id: unit 'u32' "
                                 "would be 33 levels deep; the limit is 32")));
}

TEST(DefinitionsTest, CountsBeyondTheLimitsAreResourceExhausted) {
  v1::DefinitionBatch too_many;
  for (int i = 0; i <= kMaxChangesPerBatch; ++i) too_many.add_changes();
  EXPECT_THAT(Definitions().WithBatch(too_many),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("exceed the limit of 100000 per batch")));
  std::vector<v1::DefinitionChange> kpis;
  for (size_t i = 0; i <= kMaxKpis; ++i) {
    kpis.push_back(KpiChange(absl::StrCat("k", i)));
  }
  EXPECT_THAT(Definitions().WithBatch(Batch(kpis)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("changes[10000].kpi: a KPI beyond the limit")));
}

TEST(DefinitionsTest, TargetsAndEnumsAreValidatedWhole) {
  auto base =
      Definitions().WithBatch(Batch({UnitChange("u", ""), KpiChange("k")}));
  ASSERT_OK(base);
  // 1e308 was accepted before.
  EXPECT_THAT(base->WithBatch(Batch({TargetChange("k", "u", "2026-01", 1e308)})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].target.value: magnitude above "
                                 "1e18")));
  v1::DefinitionChange odd = KpiChange("k2");
  odd.mutable_kpi()->set_time_aggregation(
      static_cast<v1::TimeAggregation>(99));
  // Printed an empty name before.
  EXPECT_THAT(base->WithBatch(Batch({odd})),
              StatusIs(absl::StatusCode::kUnimplemented,
                       HasSubstr("time_aggregation: value 99 is not")));
  EXPECT_THAT(base->WithBatch(Batch({TargetChange("k", "u", "+202-01", 1)})),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace strata
