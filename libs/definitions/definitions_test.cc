#include "libs/definitions/definitions.h"

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/status/status_matchers.h"

namespace strata {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::CascadedTargetChange;
using ::strata::testing::ComputedKpiChange;
using ::strata::testing::KpiChange;
using ::strata::testing::ObjectiveChange;
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
  // An average over time summed up the hierarchy is no exact figure.
  EXPECT_THAT(Definitions().WithBatch(
                  Batch({KpiChange("k", v1::TIME_AGGREGATION_AVG)})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].kpi.hierarchy_aggregation: a "
                                 "unit's average over time")));
  auto unknown_rule = KpiChange("k");
  unknown_rule.mutable_kpi()->set_status_rule(static_cast<v1::StatusRule>(7));
  EXPECT_THAT(Definitions().WithBatch(Batch({unknown_rule})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].kpi.status_rule: unknown rule 7")));
}

TEST(DefinitionsTest, AlertsEscalateAfterAMinuteAtLeast) {
  auto kpi = KpiChange("k");
  auto* after = kpi.mutable_kpi()->mutable_alert_policy()->mutable_escalate_after();
  after->set_seconds(59);
  EXPECT_THAT(Definitions().WithBatch(Batch({kpi})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].kpi.alert_policy.escalate_after: "
                                 "must be from one minute to 366 days")));
  after->set_seconds(3600);
  auto defs = Definitions().WithBatch(Batch({kpi}));
  ASSERT_OK(defs);
  EXPECT_EQ(defs->kpi(*defs->FindKpi("k")).alerts.escalate_after,
            absl::Hours(1));
  EXPECT_EQ(Definitions()
                .WithBatch(Batch({KpiChange("k")}))
                ->kpi(0)
                .alerts.escalate_after,
            absl::ZeroDuration());
}

// A feed schedule names a kept period kind and known units; its due
// times follow the calendar, for the units it names (by default the units
// without children), for periods ending after it was declared.
TEST(DefinitionsTest, AFeedScheduleSaysWhichCellsAreDueWhen) {
  auto kpi = KpiChange("k");
  kpi.mutable_kpi()->add_periods(v1::PERIOD_KIND_DAY);
  kpi.mutable_kpi()->add_periods(v1::PERIOD_KIND_MONTH);
  v1::FeedSchedule& feed = *kpi.mutable_kpi()->mutable_feed();
  feed.set_cadence(v1::PERIOD_KIND_ISO_WEEK);
  const auto units = {UnitChange("ent", ""), UnitChange("a", "ent"),
                      UnitChange("b", "ent")};
  auto with = [&](const v1::DefinitionChange& change) {
    std::vector<v1::DefinitionChange> changes(units);
    changes.push_back(change);
    return Definitions().WithBatch(Batch(changes));
  };
  EXPECT_THAT(with(kpi), StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("changes[3].kpi.feed.cadence: the "
                                            "KPI keeps no iso_week rollups")));
  feed.set_cadence(v1::PERIOD_KIND_YEAR_TO_DATE);
  EXPECT_THAT(with(kpi), StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("changes[3].kpi.feed.cadence: "
                                            "must be DAY")));
  feed.set_cadence(v1::PERIOD_KIND_DAY);
  feed.mutable_due_after()->set_seconds(-1);
  EXPECT_THAT(with(kpi), StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("changes[3].kpi.feed.due_after: "
                                            "must be from 0 to 366 days")));
  feed.mutable_due_after()->set_seconds(6 * 3600);
  feed.add_unit_ids("nowhere");
  EXPECT_THAT(with(kpi), StatusIs(absl::StatusCode::kNotFound,
                                  HasSubstr("changes[3].kpi.feed.unit_ids[0]: "
                                            "unknown unit 'nowhere'")));
  feed.clear_unit_ids();
  v1::DefinitionChange no_cadence = KpiChange("k");
  no_cadence.mutable_kpi()->mutable_feed()->add_unit_ids("a");
  EXPECT_THAT(with(no_cadence),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[3].kpi.feed.cadence: required")));

  const absl::TimeZone utc = absl::UTCTimeZone();
  feed.mutable_since()->set_seconds(
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilHour(2026, 3, 5, 12), utc)));
  absl::StatusOr<Definitions> defs = with(kpi);
  ASSERT_OK(defs);
  const KpiIndex k = *defs->FindKpi("k");
  const Period march_6 = *ParsePeriod(PeriodKind::kDay, "2026-03-06");
  const Period march_5 = *ParsePeriod(PeriodKind::kDay, "2026-03-05");
  // Due six hours after the day: for the leaves, not for their parent.
  EXPECT_EQ(defs->FeedDue(k, *defs->FindUnit("a"), march_6),
            absl::FromCivil(absl::CivilHour(2026, 3, 7, 6), utc));
  EXPECT_FALSE(defs->FeedDue(k, *defs->FindUnit("ent"), march_6).has_value());
  // Before the schedule or the day it was declared in (data may have come
  // before it), and for other kinds of period: nothing.
  EXPECT_FALSE(defs->FeedDue(k, *defs->FindUnit("a"), march_5).has_value());
  EXPECT_FALSE(defs->FeedDue(k, *defs->FindUnit("a"),
                             {PeriodKind::kMonth, 2026 * 12 + 2})
                   .has_value());
  // Named units only, parents included.
  feed.add_unit_ids("ent");
  defs = with(kpi);
  ASSERT_OK(defs);
  EXPECT_TRUE(defs->FeedDue(k, *defs->FindUnit("ent"), march_6).has_value());
  EXPECT_FALSE(defs->FeedDue(k, *defs->FindUnit("a"), march_6).has_value());
}

TEST(DefinitionsTest, AlertRulesAreCheckedFieldByField) {
  auto kpi = KpiChange("k");
  v1::AlertPolicy& policy = *kpi.mutable_kpi()->mutable_alert_policy();
  policy.set_worsening_score_drop(10.5);
  EXPECT_THAT(Definitions().WithBatch(Batch({kpi})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].kpi.alert_policy."
                                 "worsening_score_drop: must be from 0 (off) "
                                 "to 10 points")));
  policy.set_worsening_score_drop(2.5);
  policy.mutable_corrective_action_within()->set_seconds(-5);
  EXPECT_THAT(Definitions().WithBatch(Batch({kpi})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].kpi.alert_policy."
                                 "corrective_action_within: must be from one "
                                 "minute to 366 days")));
  policy.mutable_corrective_action_within()->set_seconds(86400);
  policy.mutable_projection_window()->set_seconds(30);
  EXPECT_THAT(Definitions().WithBatch(Batch({kpi})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].kpi.alert_policy."
                                 "projection_window: must be from one "
                                 "minute to 366 days")));
  policy.mutable_projection_window()->set_seconds(7 * 86400);
  policy.set_projected_miss_at(v1::KPI_STATUS_GREEN);
  EXPECT_THAT(Definitions().WithBatch(Batch({kpi})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].kpi.alert_policy."
                                 "projected_miss_at: must be KPI_STATUS_RED "
                                 "or KPI_STATUS_AMBER")));
  policy.clear_projected_miss_at();
  auto defs = Definitions().WithBatch(Batch({kpi}));
  ASSERT_OK(defs);
  EXPECT_EQ(defs->kpi(0).alerts.worsening_score_drop, 2.5);
  EXPECT_EQ(defs->kpi(0).alerts.corrective_action_within, absl::Hours(24));
  EXPECT_EQ(defs->kpi(0).alerts.projection_window, absl::Hours(24 * 7));
  EXPECT_EQ(defs->kpi(0).alerts.projected_miss_at, KpiStatus::kRed);
  policy.set_projected_miss_at(v1::KPI_STATUS_AMBER);
  defs = Definitions().WithBatch(Batch({kpi}));
  ASSERT_OK(defs);
  EXPECT_EQ(defs->kpi(0).alerts.projected_miss_at, KpiStatus::kAmber);
}

v1::DefinitionChange Move(const std::string& unit, const std::string& parent,
                          const std::string& from) {
  v1::DefinitionChange change = UnitChange(unit, parent);
  change.mutable_org_unit()->set_effective_from(from);
  return change;
}

TEST(DefinitionsTest, AReorgNeedsADateAndKeepsEarlierPeriodsInTheOldShape) {
  auto defs = Definitions().WithBatch(Batch(
      {UnitChange("ent", ""), UnitChange("a", "ent"), UnitChange("b", "ent")}));
  ASSERT_OK(defs);
  EXPECT_THAT(defs->WithBatch(Batch({UnitChange("b", "a")})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("changes[0].org_unit.effective_from")));
  EXPECT_OK(defs->WithBatch(Batch({UnitChange("b", "ent")})));  // No move.
  EXPECT_THAT(defs->WithBatch(Batch({Move("b", "a", "2026-02-30")})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("effective_from")));
  // a under b under a: refused whole.
  EXPECT_THAT(defs->WithBatch(Batch({Move("b", "a", "2026-03-01"),
                                     Move("a", "b", "2026-03-01")})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("its own ancestor")));
  auto moved = defs->WithBatch(Batch({Move("b", "a", "2026-03-01"),
                                      UnitChange("c", "b")}));
  ASSERT_OK(moved);
  const UnitIndex b = *moved->FindUnit("b"), c = *moved->FindUnit("c");
  const UnitIndex a = *moved->FindUnit("a"), ent = *moved->FindUnit("ent");
  auto path = [&](UnitIndex u, PeriodKind kind, const std::string& label) {
    auto span = moved->PathToRoot(u, *ParsePeriod(kind, label));
    return std::vector<UnitIndex>(span.begin(), span.end());
  };
  // Periods that begin on or after March 1 take the new shape.
  EXPECT_EQ(path(b, PeriodKind::kMonth, "2026-02"),
            (std::vector<UnitIndex>{b, ent}));
  EXPECT_EQ(path(b, PeriodKind::kMonth, "2026-03"),
            (std::vector<UnitIndex>{b, a, ent}));
  EXPECT_EQ(path(b, PeriodKind::kQuarter, "2026-Q1"),
            (std::vector<UnitIndex>{b, ent}));
  // A unit added after the reorg sits under its parent in both shapes.
  EXPECT_EQ(path(c, PeriodKind::kDay, "2026-01-15"),
            (std::vector<UnitIndex>{c, b, ent}));
  EXPECT_EQ(path(c, PeriodKind::kDay, "2026-03-15"),
            (std::vector<UnitIndex>{c, b, a, ent}));
  EXPECT_EQ(moved->Children(ent, *ParsePeriod(PeriodKind::kMonth, "2026-02"))
                .size(),
            2u);
  EXPECT_EQ(moved->reorg_count(), 1);
  // The history replays from ToBatch.
  auto replayed = Definitions().WithBatch(moved->ToBatch());
  ASSERT_OK(replayed);
  EXPECT_EQ(replayed->reorg_count(), 1);
  auto again = replayed->PathToRoot(b, *ParsePeriod(PeriodKind::kMonth, "2026-02"));
  EXPECT_EQ(std::vector<UnitIndex>(again.begin(), again.end()),
            (std::vector<UnitIndex>{b, ent}));
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
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("time_aggregation: unknown value 99")));
  EXPECT_THAT(base->WithBatch(Batch({TargetChange("k", "u", "+202-01", 1)})),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

v1::DefinitionChange Aggregated(const std::string& id, v1::TimeAggregation time,
                                v1::HierarchyAggregation hierarchy) {
  return ::strata::testing::AggregatedKpiChange(id, time, hierarchy);
}

TEST(DefinitionsTest, EveryAggregationIsAccepted) {
  auto defs = Definitions().WithBatch(Batch(
      {Aggregated("revenue", v1::TIME_AGGREGATION_SUM,
                  v1::HIERARCHY_AGGREGATION_SUM),
       Aggregated("profit", v1::TIME_AGGREGATION_SUM,
                  v1::HIERARCHY_AGGREGATION_SUM),
       Aggregated("customers", v1::TIME_AGGREGATION_LAST,
                  v1::HIERARCHY_AGGREGATION_SUM),
       Aggregated("wait", v1::TIME_AGGREGATION_AVG,
                  v1::HIERARCHY_AGGREGATION_AVG),
       Aggregated("worst", v1::TIME_AGGREGATION_MIN,
                  v1::HIERARCHY_AGGREGATION_MIN),
       Aggregated("peak", v1::TIME_AGGREGATION_MAX,
                  v1::HIERARCHY_AGGREGATION_MAX),
       ComputedKpiChange("margin", v1::HIERARCHY_AGGREGATION_RATIO,
                v1::Formula::OPERATOR_PERCENTAGE, "profit", "revenue"),
       ComputedKpiChange("cost", v1::HIERARCHY_AGGREGATION_DERIVED,
                v1::Formula::OPERATOR_DIFFERENCE, "revenue", "profit")}));
  ASSERT_OK(defs);
  auto satisfaction = Aggregated("satisfaction", v1::TIME_AGGREGATION_LAST,
                                 v1::HIERARCHY_AGGREGATION_WEIGHTED_AVG);
  satisfaction.mutable_kpi()->set_weight_kpi_id("customers");
  auto weighted = defs->WithBatch(Batch({satisfaction}));
  ASSERT_OK(weighted);
  const KpiInfo& customers = weighted->kpi(*weighted->FindKpi("customers"));
  EXPECT_TRUE(customers.keeps_own_state);
  ASSERT_EQ(customers.weighted.size(), 1u);
  EXPECT_EQ(weighted->kpi(customers.weighted[0]).definition.kpi_id(),
            "satisfaction");
  const KpiInfo& revenue = weighted->kpi(*weighted->FindKpi("revenue"));
  EXPECT_FALSE(revenue.keeps_own_state);
  EXPECT_EQ(revenue.derived.size(), 2u);
  EXPECT_TRUE(weighted->kpi(*weighted->FindKpi("margin")).formula.has_value());
  // What was defined comes back from ToBatch.
  auto replayed = Definitions().WithBatch(weighted->ToBatch());
  ASSERT_OK(replayed);
  EXPECT_EQ(replayed->kpi_count(), weighted->kpi_count());
}

TEST(DefinitionsTest, FormulasAndWeightsAreCheckedWhole) {
  auto base = Definitions().WithBatch(Batch(
      {Aggregated("revenue", v1::TIME_AGGREGATION_SUM,
                  v1::HIERARCHY_AGGREGATION_SUM),
       Aggregated("score", v1::TIME_AGGREGATION_LAST,
                  v1::HIERARCHY_AGGREGATION_AVG)}));
  ASSERT_OK(base);
  // A ratio of something that is not summed would average ratios.
  EXPECT_THAT(base->WithBatch(Batch({ComputedKpiChange(
                  "r", v1::HIERARCHY_AGGREGATION_RATIO,
                  v1::Formula::OPERATOR_RATIO, "score", "revenue")})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].kpi.formula.left_kpi_id: RATIO "
                                 "divides rolled-up sums")));
  EXPECT_THAT(base->WithBatch(Batch({ComputedKpiChange(
                  "r", v1::HIERARCHY_AGGREGATION_DERIVED,
                  v1::Formula::OPERATOR_RATIO, "revenue", "revenue")})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("formula.right_kpi_id: names the left KPI")));
  EXPECT_THAT(base->WithBatch(Batch({ComputedKpiChange(
                  "r", v1::HIERARCHY_AGGREGATION_DERIVED,
                  v1::Formula::OPERATOR_RATIO, "revenue", "nope")})),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("formula.right_kpi_id: unknown KPI 'nope'")));
  auto with_events = ComputedKpiChange("r", v1::HIERARCHY_AGGREGATION_DERIVED,
                              v1::Formula::OPERATOR_RATIO, "revenue", "score");
  with_events.mutable_kpi()->set_time_aggregation(v1::TIME_AGGREGATION_SUM);
  EXPECT_THAT(base->WithBatch(Batch({with_events})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("receives no events")));
  // A weight summed without per-unit values cannot weigh each unit.
  auto weighted = Aggregated("w", v1::TIME_AGGREGATION_LAST,
                             v1::HIERARCHY_AGGREGATION_WEIGHTED_AVG);
  EXPECT_THAT(base->WithBatch(Batch({weighted})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("weight_kpi_id: required")));
  weighted.mutable_kpi()->set_weight_kpi_id("revenue");
  EXPECT_THAT(base->WithBatch(Batch({weighted})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("without keeping each unit's own value")));
  weighted.mutable_kpi()->set_weight_kpi_id("score");
  ASSERT_OK(base->WithBatch(Batch({weighted})));
  // Only stocks carry forward.
  auto carried_sum = Aggregated("flow", v1::TIME_AGGREGATION_SUM,
                                v1::HIERARCHY_AGGREGATION_SUM);
  carried_sum.mutable_kpi()->set_carry_forward(true);
  EXPECT_THAT(base->WithBatch(Batch({carried_sum})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("carry_forward: only stocks")));
  auto stock = Aggregated("stock", v1::TIME_AGGREGATION_LAST,
                          v1::HIERARCHY_AGGREGATION_SUM);
  stock.mutable_kpi()->set_carry_forward(true);
  auto by_stock = Aggregated("by-stock", v1::TIME_AGGREGATION_LAST,
                             v1::HIERARCHY_AGGREGATION_WEIGHTED_AVG);
  by_stock.mutable_kpi()->set_weight_kpi_id("stock");
  EXPECT_THAT(base->WithBatch(Batch({stock, by_stock})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("carried forward")));
  // How a KPI aggregates is fixed once defined.
  auto changed = Aggregated("score", v1::TIME_AGGREGATION_MAX,
                            v1::HIERARCHY_AGGREGATION_AVG);
  EXPECT_THAT(base->WithBatch(Batch({changed})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("cannot change once defined")));
}

TEST(DefinitionsTest, FlowsAccrueTheirTargetsAndTheRestAreJudgedWhole) {
  auto defs = Definitions().WithBatch(Batch(
      {KpiChange("sales"), KpiChange("cost"),
       KpiChange("staff", v1::TIME_AGGREGATION_LAST),
       ComputedKpiChange("margin", v1::HIERARCHY_AGGREGATION_DERIVED,
                         v1::Formula::OPERATOR_DIFFERENCE, "sales", "cost"),
       ComputedKpiChange("per-head", v1::HIERARCHY_AGGREGATION_DERIVED,
                         v1::Formula::OPERATOR_DIFFERENCE, "sales", "staff"),
       ComputedKpiChange("cost-ratio", v1::HIERARCHY_AGGREGATION_RATIO,
                         v1::Formula::OPERATOR_RATIO, "cost", "sales")}));
  ASSERT_OK(defs);
  auto kind = [&](const char* kpi) {
    return defs->kpi(*defs->FindKpi(kpi)).target_profile.kind();
  };
  EXPECT_EQ(kind("sales"), TargetProfile::Kind::kLinear);
  EXPECT_EQ(kind("margin"), TargetProfile::Kind::kLinear);
  EXPECT_EQ(kind("staff"), TargetProfile::Kind::kWhole);
  EXPECT_EQ(kind("per-head"), TargetProfile::Kind::kWhole);
  EXPECT_EQ(kind("cost-ratio"), TargetProfile::Kind::kWhole);
  // Declared otherwise, as declared.
  v1::DefinitionChange seasonal = KpiChange("sales");
  v1::TargetProfile& profile = *seasonal.mutable_kpi()->mutable_target_profile();
  profile.set_kind(v1::TargetProfile::KIND_SEASONAL);
  for (int i = 0; i < 12; ++i) profile.add_month_weights(i == 11 ? 2 : 1);
  defs = defs->WithBatch(Batch({seasonal}));
  ASSERT_OK(defs);
  EXPECT_EQ(kind("sales"), TargetProfile::Kind::kSeasonal);
}

TEST(DefinitionsTest, TargetProfilesAreValidatedWhole) {
  auto refused = [](void (*edit)(v1::TargetProfile&)) {
    v1::DefinitionChange change = KpiChange("sales");
    edit(*change.mutable_kpi()->mutable_target_profile());
    return Definitions().WithBatch(Batch({change})).status();
  };
  EXPECT_THAT(refused([](v1::TargetProfile& p) {
                p.set_kind(v1::TargetProfile::KIND_WORKING_DAYS);
                p.add_holidays("2026-12-25");
                p.add_holidays("2026-13-01");
              }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].kpi.target_profile.holidays[1]: "
                                 "'2026-13-01' is not a date")));
  EXPECT_THAT(refused([](v1::TargetProfile& p) {
                p.set_kind(v1::TargetProfile::KIND_SEASONAL);
                for (int i = 0; i < 11; ++i) p.add_month_weights(1);
              }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("target_profile.month_weights: needs 12")));
  EXPECT_THAT(refused([](v1::TargetProfile& p) {
                p.set_kind(v1::TargetProfile::KIND_SEASONAL);
                for (int i = 0; i < 12; ++i) p.add_month_weights(i == 3 ? 0 : 1);
              }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("target_profile.month_weights[3]: must be a "
                                 "positive number")));
  EXPECT_THAT(refused([](v1::TargetProfile& p) {
                p.set_kind(v1::TargetProfile::KIND_LINEAR);
                p.add_holidays("2026-12-25");
              }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("target_profile.holidays: only for "
                                 "KIND_WORKING_DAYS")));
  EXPECT_THAT(refused([](v1::TargetProfile& p) {
                p.set_kind(static_cast<v1::TargetProfile::Kind>(9));
              }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("target_profile.kind")));
}

// ent -> bu -> {team-a, team-b -> crew}.
v1::DefinitionBatch CascadeOrganisation() {
  return Batch({UnitChange("ent", ""), UnitChange("bu", "ent"),
                UnitChange("team-a", "bu"), UnitChange("team-b", "bu"),
                UnitChange("crew", "team-b"), KpiChange("sales"),
                KpiChange("margin")});
}

TEST(DefinitionsTest, TargetsCascadeByCopyOrByShare) {
  const auto copy = v1::TargetCascade::RULE_COPY;
  const auto share = v1::TargetCascade::RULE_SHARE;
  auto defs = Definitions().WithBatch(CascadeOrganisation());
  ASSERT_OK(defs);
  defs = defs->WithBatch(Batch(
      {CascadedTargetChange("margin", "ent", "2026-03", 12.5, copy),
       TargetChange("margin", "team-b", "2026-03", 15),
       CascadedTargetChange("sales", "bu", "2026-03", 1000, share,
                            {{"team-a", 60}, {"team-b", 40}})}));
  ASSERT_OK(defs);
  const Period march = *ParsePeriod(PeriodKind::kMonth, "2026-03");
  auto target = [&](const char* kpi, const char* unit) {
    return defs->Target(*defs->FindKpi(kpi), *defs->FindUnit(unit), march);
  };
  EXPECT_EQ(target("margin", "ent"), 12.5);
  EXPECT_EQ(target("margin", "bu"), 12.5);
  EXPECT_EQ(target("margin", "team-a"), 12.5);
  EXPECT_EQ(target("margin", "team-b"), 15);  // Its own wins...
  EXPECT_EQ(target("margin", "crew"), std::nullopt);  // ...and decides below.
  EXPECT_EQ(target("sales", "bu"), 1000);
  EXPECT_EQ(target("sales", "team-a"), 600);
  EXPECT_EQ(target("sales", "team-b"), 400);
  EXPECT_EQ(target("sales", "crew"), std::nullopt);  // One level only.
  EXPECT_EQ(target("sales", "ent"), std::nullopt);
  EXPECT_EQ(defs->Target(*defs->FindKpi("sales"), *defs->FindUnit("team-a"),
                         *ParsePeriod(PeriodKind::kMonth, "2026-04")),
            std::nullopt);
  // What a change of those targets reaches.
  EXPECT_TRUE(defs->TargetReachesBelow(
      {*defs->FindKpi("sales"), *defs->FindUnit("bu"), march}));
  EXPECT_FALSE(defs->TargetReachesBelow(
      {*defs->FindKpi("margin"), *defs->FindUnit("team-b"), march}));
  // Replayed, the same.
  auto replayed = Definitions().WithBatch(defs->ToBatch());
  ASSERT_OK(replayed);
  EXPECT_EQ(replayed->Target(*defs->FindKpi("sales"),
                             *defs->FindUnit("team-b"), march),
            400);
}

TEST(DefinitionsTest, SharesMustMakeUpTheWholeTargetAmongChildren) {
  const auto share = v1::TargetCascade::RULE_SHARE;
  auto defs = Definitions().WithBatch(CascadeOrganisation());
  ASSERT_OK(defs);
  auto refused = [&](v1::DefinitionChange change) {
    return defs->WithBatch(Batch({change})).status();
  };
  EXPECT_THAT(refused(CascadedTargetChange("sales", "bu", "2026-03", 1000, share,
                                           {{"team-a", 60}, {"team-b", 30}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].target.cascade.shares: the "
                                 "percents sum to 90, not 100")));
  EXPECT_THAT(refused(CascadedTargetChange("sales", "bu", "2026-03", 1000, share,
                                           {{"team-a", 60}, {"crew", 40}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].target.cascade.shares[1].unit_id: "
                                 "'crew' is not a child of 'bu' in 2026-03")));
  EXPECT_THAT(refused(CascadedTargetChange("sales", "bu", "2026-03", 1000, share,
                                           {{"team-a", 50}, {"team-a", 50}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("shares[1].unit_id: 'team-a' is listed twice")));
  EXPECT_THAT(refused(CascadedTargetChange("sales", "bu", "2026-03", 1000, share,
                                           {{"team-a", 100}, {"nope", 0}})),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("shares[1].unit_id: unknown unit 'nope'")));
  EXPECT_THAT(refused(CascadedTargetChange("sales", "bu", "2026-03", 1000, share,
                                           {{"team-a", 100}, {"team-b", -0.0}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("shares[1].percent: must be a positive")));
  EXPECT_THAT(refused(CascadedTargetChange("sales", "bu", "2026-03", 1000,
                                           v1::TargetCascade::RULE_COPY,
                                           {{"team-a", 100}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cascade.shares: only for RULE_SHARE")));
  EXPECT_THAT(refused(CascadedTargetChange("sales", "bu", "2026-03", 1000, share)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("RULE_SHARE needs the children's shares")));
}

TEST(DefinitionsTest, AMoveMayNotTakeASharedChildFromUnderItsTarget) {
  const auto share = v1::TargetCascade::RULE_SHARE;
  auto defs = Definitions().WithBatch(CascadeOrganisation());
  ASSERT_OK(defs);
  defs = defs->WithBatch(
      Batch({UnitChange("bu2", "ent"),
             CascadedTargetChange("sales", "bu", "2026-03", 1000, share,
                                  {{"team-a", 60}, {"team-b", 40}})}));
  ASSERT_OK(defs);
  v1::DefinitionChange move = UnitChange("team-b", "bu2");
  move.mutable_org_unit()->set_effective_from("2026-01-01");
  EXPECT_THAT(defs->WithBatch(Batch({move})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("changes[0].org_unit: the move breaks the "
                                 "target of KPI 'sales' for unit 'bu' in "
                                 "2026-03")));
  // With the target split anew in the same batch, it goes through.
  auto moved = defs->WithBatch(
      Batch({move, CascadedTargetChange("sales", "bu", "2026-03", 1000, share,
                                        {{"team-a", 100}})}));
  ASSERT_OK(moved);
  EXPECT_EQ(moved->Target(*moved->FindKpi("sales"), *moved->FindUnit("team-a"),
                          *ParsePeriod(PeriodKind::kMonth, "2026-03")),
            1000);
}

TEST(DefinitionsTest, ObjectivesFormAStrategyMapWithoutCycles) {
  auto defs = Definitions().WithBatch(
      Batch({KpiChange("revenue"), KpiChange("nps"), KpiChange("training"),
             ObjectiveChange("grow", v1::PERSPECTIVE_FINANCIAL,
                             {{"revenue", 1}}),
             ObjectiveChange("delight", v1::PERSPECTIVE_CUSTOMER, {{"nps", 2}},
                             {"grow"}),
             ObjectiveChange("skills", v1::PERSPECTIVE_LEARNING_GROWTH,
                             {{"training", 1}}, {"delight"})}));
  ASSERT_OK(defs);
  ASSERT_EQ(defs->objectives().size(), 3u);
  EXPECT_EQ(defs->FindObjective("delight")->measures(0).weight(), 2);
  // Closing the loop is refused, naming the arrow.
  EXPECT_THAT(defs->WithBatch(Batch({ObjectiveChange(
                  "grow", v1::PERSPECTIVE_FINANCIAL, {{"revenue", 1}},
                  {"skills"})})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].objective.drives[0]: 'skills' "
                                 "already drives 'grow'")));
  // An earlier objective redefined to drive a later one replays.
  auto redefined = defs->WithBatch(
      Batch({ObjectiveChange("grow2", v1::PERSPECTIVE_FINANCIAL, {}),
             ObjectiveChange("grow", v1::PERSPECTIVE_FINANCIAL,
                             {{"revenue", 1}}, {"grow2"})}));
  ASSERT_OK(redefined);
  auto replayed = Definitions().WithBatch(redefined->ToBatch());
  ASSERT_OK(replayed);
  EXPECT_EQ(replayed->FindObjective("grow")->drives(0), "grow2");
  EXPECT_EQ(replayed->objectives().size(), 4u);
}

TEST(DefinitionsTest, ObjectivesAreValidatedWhole) {
  auto defs = Definitions().WithBatch(Batch({KpiChange("revenue")}));
  ASSERT_OK(defs);
  auto refused = [&](v1::DefinitionChange change) {
    return defs->WithBatch(Batch({change})).status();
  };
  EXPECT_THAT(refused(ObjectiveChange("o", v1::PERSPECTIVE_UNSPECIFIED, {})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].objective.perspective")));
  EXPECT_THAT(refused(ObjectiveChange("o", v1::PERSPECTIVE_FINANCIAL,
                                      {{"nope", 1}})),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("measures[0].kpi_id: unknown KPI 'nope'")));
  EXPECT_THAT(refused(ObjectiveChange("o", v1::PERSPECTIVE_FINANCIAL,
                                      {{"revenue", 1}, {"revenue", 2}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("measures[1].kpi_id: 'revenue' is listed")));
  EXPECT_THAT(refused(ObjectiveChange("o", v1::PERSPECTIVE_FINANCIAL,
                                      {{"revenue", 0}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("measures[0].weight: must be a positive")));
  EXPECT_THAT(refused(ObjectiveChange("o", v1::PERSPECTIVE_FINANCIAL, {}, {"o"})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("drives[0]: an objective cannot drive itself")));
  EXPECT_THAT(refused(ObjectiveChange("o", v1::PERSPECTIVE_FINANCIAL, {}, {"x"})),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("drives[0]: unknown objective 'x'")));
  v1::DefinitionChange weightless = ObjectiveChange("o", v1::PERSPECTIVE_FINANCIAL, {});
  weightless.mutable_objective()->set_weight(0);
  EXPECT_THAT(refused(weightless),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].objective.weight")));
}

TEST(DefinitionsTest, PeriodsAndTheCalendarAreDeclared) {
  v1::DefinitionChange organisation;
  organisation.mutable_organisation()->set_time_zone("America/New_York");
  organisation.mutable_organisation()->set_fiscal_year_start_month(10);
  auto daily = KpiChange("daily");
  daily.mutable_kpi()->add_periods(v1::PERIOD_KIND_DAY);
  daily.mutable_kpi()->add_periods(v1::PERIOD_KIND_YEAR_TO_DATE);
  auto defs = Definitions().WithBatch(
      Batch({organisation, UnitChange("u", ""), KpiChange("monthly"), daily}));
  ASSERT_OK(defs);
  EXPECT_EQ(defs->calendar().time_zone_name(), "America/New_York");
  // A fiscal year not starting in January is kept by default.
  EXPECT_TRUE(defs->kpi(*defs->FindKpi("monthly"))
                  .periods.Contains(PeriodKind::kFiscalYear));
  EXPECT_FALSE(
      defs->kpi(*defs->FindKpi("daily")).periods.Contains(PeriodKind::kMonth));
  // Targets only for periods the KPI keeps.
  auto week_target = TargetChange("monthly", "u", "2026-W48", 5);
  week_target.mutable_target()->mutable_period()->set_kind(
      v1::PERIOD_KIND_ISO_WEEK);
  EXPECT_THAT(defs->WithBatch(Batch({week_target})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("keeps no iso_week rollups")));
  auto ytd_target = TargetChange("daily", "u", "YTD2026-11", 5);
  ytd_target.mutable_target()->mutable_period()->set_kind(
      v1::PERIOD_KIND_YEAR_TO_DATE);
  EXPECT_OK(defs->WithBatch(Batch({ytd_target})));
  // The calendar is fixed once KPIs exist: every stored period depends on it.
  organisation.mutable_organisation()->set_time_zone("Europe/London");
  EXPECT_THAT(defs->WithBatch(Batch({organisation})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("fixed once a KPI is defined")));
  organisation.mutable_organisation()->set_time_zone("Mars/Olympus");
  EXPECT_THAT(Definitions().WithBatch(Batch({organisation})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("changes[0].organisation")));
  auto replayed = Definitions().WithBatch(defs->ToBatch());
  ASSERT_OK(replayed);
  EXPECT_EQ(replayed->calendar().fiscal_year_start_month(), 10);
}

}  // namespace
}  // namespace strata
