#pragma once

// Definition changes for tests, with the defaults most tests want.
//
//   v1::DefinitionBatch batch = Batch({UnitChange("ent", ""),
//                                      UnitChange("team", "ent"),
//                                      KpiChange("sales")});

#include <string>
#include <utility>
#include <vector>

#include "strata/v1/definitions.pb.h"

namespace strata::testing {

inline v1::DefinitionChange UnitChange(const std::string& id,
                                       const std::string& parent) {
  v1::DefinitionChange change;
  v1::OrgUnit* unit = change.mutable_org_unit();
  unit->set_unit_id(id);
  unit->set_name(id);
  unit->set_parent_id(parent);
  return change;
}

// Hierarchy sum; green at 100 % of target.
inline v1::DefinitionChange KpiChange(
    const std::string& id, v1::TimeAggregation time = v1::TIME_AGGREGATION_SUM,
    v1::Polarity polarity = v1::POLARITY_HIGHER_IS_BETTER,
    double amber_pct = 90) {
  v1::DefinitionChange change;
  v1::Kpi* kpi = change.mutable_kpi();
  kpi->set_kpi_id(id);
  kpi->set_name(id);
  kpi->set_polarity(polarity);
  kpi->set_time_aggregation(time);
  kpi->set_hierarchy_aggregation(v1::HIERARCHY_AGGREGATION_SUM);
  kpi->mutable_thresholds()->set_green_pct(100);
  kpi->mutable_thresholds()->set_amber_pct(amber_pct);
  return change;
}

// A KPI with both aggregations chosen (and a weight for WEIGHTED_AVG).
inline v1::DefinitionChange AggregatedKpiChange(
    const std::string& id, v1::TimeAggregation time,
    v1::HierarchyAggregation hierarchy, const std::string& weight = "") {
  v1::DefinitionChange change = KpiChange(id, time);
  change.mutable_kpi()->set_hierarchy_aggregation(hierarchy);
  change.mutable_kpi()->set_weight_kpi_id(weight);
  return change;
}

// A KPI computed by a formula over two others.
inline v1::DefinitionChange ComputedKpiChange(
    const std::string& id, v1::HierarchyAggregation hierarchy,
    v1::Formula::Operator op, const std::string& left,
    const std::string& right) {
  v1::DefinitionChange change =
      AggregatedKpiChange(id, v1::TIME_AGGREGATION_UNSPECIFIED, hierarchy);
  v1::Formula* formula = change.mutable_kpi()->mutable_formula();
  formula->set_op(op);
  formula->set_left_kpi_id(left);
  formula->set_right_kpi_id(right);
  return change;
}

inline v1::DefinitionChange TargetChange(const std::string& kpi,
                                         const std::string& unit,
                                         const std::string& month,
                                         double value) {
  v1::DefinitionChange change;
  v1::Target* target = change.mutable_target();
  target->set_kpi_id(kpi);
  target->set_unit_id(unit);
  target->mutable_period()->set_kind(v1::PERIOD_KIND_MONTH);
  target->mutable_period()->set_label(month);
  target->set_value(value);
  return change;
}

// A month's target that cascades: COPY with no shares, SHARE among the
// (child, percent) pairs.
inline v1::DefinitionChange CascadedTargetChange(
    const std::string& kpi, const std::string& unit, const std::string& month,
    double value, v1::TargetCascade::Rule rule,
    const std::vector<std::pair<std::string, double>>& shares = {}) {
  v1::DefinitionChange change = TargetChange(kpi, unit, month, value);
  v1::TargetCascade* cascade = change.mutable_target()->mutable_cascade();
  cascade->set_rule(rule);
  for (const auto& [child, percent] : shares) {
    v1::TargetCascade::Share* share = cascade->add_shares();
    share->set_unit_id(child);
    share->set_percent(percent);
  }
  return change;
}

// An objective owned by "cfo", of weight 1, measured by (kpi, weight)
// pairs, driving `drives`.
inline v1::DefinitionChange ObjectiveChange(
    const std::string& id, v1::Perspective perspective,
    const std::vector<std::pair<std::string, double>>& measures,
    const std::vector<std::string>& drives = {}) {
  v1::DefinitionChange change;
  v1::Objective& objective = *change.mutable_objective();
  objective.set_objective_id(id);
  objective.set_name(id);
  objective.set_perspective(perspective);
  objective.set_owner("cfo");
  objective.set_weight(1);
  for (const auto& [kpi, weight] : measures) {
    v1::Objective::Measure& measure = *objective.add_measures();
    measure.set_kpi_id(kpi);
    measure.set_weight(weight);
  }
  for (const std::string& effect : drives) objective.add_drives(effect);
  return change;
}

inline v1::DefinitionBatch Batch(std::vector<v1::DefinitionChange> changes) {
  v1::DefinitionBatch batch;
  for (auto& change : changes) *batch.add_changes() = std::move(change);
  return batch;
}

}  // namespace strata::testing
