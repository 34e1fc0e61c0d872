#include "libs/definitions/definitions.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "libs/ids/ids.h"
#include "libs/status/status_macros.h"
#include "libs/status/quote.h"

namespace strata {
namespace {

// Targets beyond this are surely mistakes (1e308 was accepted); sums
// themselves reach about 1.7e34 (see fixed_point.h).
constexpr double kMaxTargetMagnitude = 1e18;

absl::Status Invalid(const std::string& field, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", reason));
}


}  // namespace

absl::StatusOr<Definitions> Definitions::WithBatch(
    const v1::DefinitionBatch& batch) const {
  if (batch.changes_size() > kMaxChangesPerBatch) {
    return absl::ResourceExhaustedError(
        absl::StrCat("changes: ", batch.changes_size(),
                     " changes exceed the limit of ", kMaxChangesPerBatch,
                     " per batch"));
  }
  Definitions next = *this;
  // Shares must name children, in the shape the batch leaves: checked at
  // its end, so that one batch can move units and split targets anew.
  std::vector<std::pair<CellId, std::string>> shares_declared;
  std::string last_move;
  for (int i = 0; i < batch.changes_size(); ++i) {
    const v1::DefinitionChange& change = batch.changes(i);
    const std::string field = absl::StrCat("changes[", i, "]");
    switch (change.change_case()) {
      case v1::DefinitionChange::kOrgUnit: {
        const int64_t reorgs = next.reorg_count();
        RETURN_IF_ERROR(next.ApplyUnit(change.org_unit(),
                                       absl::StrCat(field, ".org_unit")));
        if (next.reorg_count() != reorgs) last_move = field + ".org_unit";
        break;
      }
      case v1::DefinitionChange::kKpi:
        RETURN_IF_ERROR(
            next.ApplyKpi(change.kpi(), absl::StrCat(field, ".kpi")));
        break;
      case v1::DefinitionChange::kOrganisation:
        RETURN_IF_ERROR(next.ApplyOrganisation(
            change.organisation(), absl::StrCat(field, ".organisation")));
        break;
      case v1::DefinitionChange::kTarget: {
        RETURN_IF_ERROR(
            next.ApplyTarget(change.target(), absl::StrCat(field, ".target")));
        if (change.target().cascade().rule() ==
            v1::TargetCascade::RULE_SHARE) {
          shares_declared.emplace_back(next.TargetCellOf(change.target()),
                                       field + ".target.cascade");
        }
        break;
      }
      case v1::DefinitionChange::kObjective:
        RETURN_IF_ERROR(next.ApplyObjective(
            change.objective(), absl::StrCat(field, ".objective")));
        break;
      case v1::DefinitionChange::CHANGE_NOT_SET:
        return Invalid(field, "no change set");
    }
  }
  for (const auto& [cell, field] : shares_declared) {
    RETURN_IF_ERROR(next.CheckSharesAreChildren(cell, field));
  }
  if (!last_move.empty()) {
    for (const auto& [cell, declared] : next.targets_) {
      if (declared.cascade.rule() != v1::TargetCascade::RULE_SHARE) continue;
      if (absl::Status still = next.CheckSharesAreChildren(cell, "cascade");
          !still.ok()) {
        return absl::FailedPreconditionError(absl::StrCat(
            last_move, ": the move breaks the target of KPI ",
            Quoted(next.kpis_[cell.kpi].definition.kpi_id()), " for unit ",
            Quoted(next.units_[cell.unit].definition.unit_id()), " in ",
            PeriodLabel(cell.period), " (", still.message(),
            "); declare its shares anew in the same batch"));
      }
    }
  }
  return next;
}

absl::Status Definitions::ApplyObjective(const v1::Objective& objective,
                                         const std::string& field) {
  RETURN_IF_ERROR(ValidateId(field + ".objective_id", objective.objective_id()));
  if (objective.name().empty()) return Invalid(field + ".name", "required");
  if (objective.perspective() < v1::PERSPECTIVE_FINANCIAL ||
      objective.perspective() > v1::PERSPECTIVE_LEARNING_GROWTH) {
    return Invalid(field + ".perspective", "required: one of the four");
  }
  auto positive = [](double weight) {
    return std::isfinite(weight) && weight > 0;
  };
  if (!positive(objective.weight())) {
    return Invalid(field + ".weight", "must be a positive number");
  }
  absl::flat_hash_set<std::string> measured;
  for (int i = 0; i < objective.measures_size(); ++i) {
    const v1::Objective::Measure& measure = objective.measures(i);
    const std::string at = absl::StrCat(field, ".measures[", i, "]");
    if (!FindKpi(measure.kpi_id())) {
      return absl::NotFoundError(
          absl::StrCat(at, ".kpi_id: unknown KPI ", Quoted(measure.kpi_id())));
    }
    if (!measured.insert(measure.kpi_id()).second) {
      return Invalid(at + ".kpi_id",
                     absl::StrCat(Quoted(measure.kpi_id()), " is listed twice"));
    }
    if (!positive(measure.weight())) {
      return Invalid(at + ".weight", "must be a positive number");
    }
  }
  const std::string& id = objective.objective_id();
  absl::flat_hash_set<std::string> driven;
  for (int i = 0; i < objective.drives_size(); ++i) {
    const std::string& effect = objective.drives(i);
    const std::string at = absl::StrCat(field, ".drives[", i, "]");
    if (effect == id) return Invalid(at, "an objective cannot drive itself");
    if (!FindObjective(effect)) {
      return absl::NotFoundError(
          absl::StrCat(at, ": unknown objective ", Quoted(effect)));
    }
    if (!driven.insert(effect).second) {
      return Invalid(at, absl::StrCat(Quoted(effect), " is listed twice"));
    }
    if (Drives(effect, id)) {
      return Invalid(at, absl::StrCat(Quoted(effect), " already drives ",
                                      Quoted(id),
                                      ": the strategy map would have a cycle"));
    }
  }
  if (auto it = objective_index_.find(id); it != objective_index_.end()) {
    objectives_[it->second] = objective;
    return absl::OkStatus();
  }
  if (objectives_.size() >= kMaxObjectives) {
    return absl::ResourceExhaustedError(absl::StrCat(
        field, ": an objective beyond the limit of ", kMaxObjectives));
  }
  objective_index_[id] = objectives_.size();
  objectives_.push_back(objective);
  return absl::OkStatus();
}

const v1::Objective* Definitions::FindObjective(
    absl::string_view objective_id) const {
  auto it = objective_index_.find(objective_id);
  return it == objective_index_.end() ? nullptr : &objectives_[it->second];
}

bool Definitions::Drives(const std::string& from, const std::string& to) const {
  std::vector<std::string> frontier = {from};
  absl::flat_hash_set<std::string> seen = {from};
  while (!frontier.empty()) {
    const v1::Objective* at = FindObjective(frontier.back());
    frontier.pop_back();
    if (at == nullptr) continue;
    for (const std::string& effect : at->drives()) {
      if (effect == to) return true;
      if (seen.insert(effect).second) frontier.push_back(effect);
    }
  }
  return false;
}

CellId Definitions::TargetCellOf(const v1::Target& target) const {
  return {*FindKpi(target.kpi_id()), *FindUnit(target.unit_id()),
          *ParsePeriod(static_cast<PeriodKind>(target.period().kind()),
                       target.period().label())};
}

absl::Status Definitions::CheckSharesAreChildren(const CellId& cell,
                                                 const std::string& field) const {
  const v1::TargetCascade& cascade = targets_.at(cell).cascade;
  const absl::Span<const UnitIndex> children = Children(cell.unit, cell.period);
  for (int i = 0; i < cascade.shares_size(); ++i) {
    const std::string& id = cascade.shares(i).unit_id();
    if (std::find(children.begin(), children.end(), *FindUnit(id)) ==
        children.end()) {
      return Invalid(absl::StrCat(field, ".shares[", i, "].unit_id"),
                     absl::StrCat(Quoted(id), " is not a child of ",
                                  Quoted(units_[cell.unit].definition.unit_id()),
                                  " in ", PeriodLabel(cell.period)));
    }
  }
  return absl::OkStatus();
}

absl::Status Definitions::ApplyUnit(const v1::OrgUnit& unit,
                                    const std::string& field) {
  RETURN_IF_ERROR(ValidateId(field + ".unit_id", unit.unit_id()));
  if (unit.name().empty()) return Invalid(field + ".name", "required");
  std::optional<UnitIndex> parent;
  if (!unit.parent_id().empty()) {
    parent = FindUnit(unit.parent_id());
    if (!parent) {
      return absl::NotFoundError(absl::StrCat(
          field, ".parent_id: unknown unit ", Quoted(unit.parent_id())));
    }
  }
  if (std::optional<UnitIndex> existing = FindUnit(unit.unit_id())) {
    if (units_[*existing].definition.parent_id() != unit.parent_id()) {
      return Reparent(*existing, unit, field);
    }
    v1::OrgUnit updated = unit;
    updated.clear_effective_from();
    units_[*existing].definition = std::move(updated);
    return absl::OkStatus();
  }
  if (units_.size() >= kMaxUnits) {
    return absl::ResourceExhaustedError(
        absl::StrCat(field, ": a unit beyond the limit of ", kMaxUnits));
  }
  if (parent && units_[*parent].path_to_root.size() >= kMaxUnitDepth) {
    return Invalid(field + ".parent_id",
                   absl::StrCat("unit ", Quoted(unit.unit_id()),
                                " would be ", kMaxUnitDepth + 1,
                                " levels deep; the limit is ", kMaxUnitDepth));
  }
  const UnitIndex index = static_cast<UnitIndex>(units_.size());
  UnitInfo info;
  info.definition = unit;
  info.definition.clear_effective_from();
  info.parents.push_back({Period{}, parent});
  info.path_to_root.push_back(index);
  if (parent) {
    const auto& up = units_[*parent].path_to_root;
    info.path_to_root.insert(info.path_to_root.end(), up.begin(), up.end());
  }
  units_.push_back(std::move(info));
  if (parent) units_[*parent].children.push_back(index);
  unit_index_[unit.unit_id()] = index;
  // The new unit sits under its parent in every earlier shape too.
  for (Shape& shape : past_shapes_) {
    std::vector<UnitIndex> path = {index};
    if (parent) {
      const auto& up = shape.path_to_root[*parent];
      path.insert(path.end(), up.begin(), up.end());
      shape.children[*parent].push_back(index);
    }
    shape.path_to_root.push_back(std::move(path));
    shape.children.emplace_back();
  }
  return absl::OkStatus();
}

absl::Status Definitions::Reparent(UnitIndex unit, const v1::OrgUnit& change,
                                   const std::string& field) {
  if (change.effective_from().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        field, ".effective_from: moving unit ", Quoted(change.unit_id()),
        " to another parent needs the date the new parent applies from "
        "(YYYY-MM-DD); periods before it keep the old shape"));
  }
  auto day = ParsePeriod(PeriodKind::kDay, change.effective_from());
  if (!day.ok()) {
    return Invalid(field + ".effective_from", day.status().message());
  }
  if (change.parent_id().empty()) {
    return Invalid(field + ".parent_id",
                   "a unit with history cannot become a root; move it under "
                   "another unit");
  }
  auto& parents = units_[unit].parents;
  // One parent a day: a later change of the same day replaces it.
  auto at = std::find_if(parents.begin() + 1, parents.end(), [&](const auto& p) {
    return p.first.index >= day->index;
  });
  if (at != parents.end() && at->first.index == day->index) {
    at->second = FindUnit(change.parent_id());
  } else {
    parents.insert(at, {*day, FindUnit(change.parent_id())});
  }
  RETURN_IF_ERROR(ComputeShapes(field));
  v1::OrgUnit updated = change;
  updated.clear_effective_from();
  units_[unit].definition = std::move(updated);
  reorgs_.push_back(change);
  return absl::OkStatus();
}

absl::Status Definitions::ComputeShapes(const std::string& field) {
  // Every day a parent changes starts a shape.
  std::vector<int32_t> days;
  for (const UnitInfo& unit : units_) {
    for (size_t i = 1; i < unit.parents.size(); ++i) {
      days.push_back(unit.parents[i].first.index);
    }
  }
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  std::vector<Shape> shapes;
  for (size_t s = 0; s <= days.size(); ++s) {
    Shape shape;
    shape.from = s == 0 ? absl::InfinitePast()
                        : calendar_.Start({PeriodKind::kDay, days[s - 1]});
    auto parent_of = [&](UnitIndex u) {
      std::optional<UnitIndex> parent = units_[u].parents[0].second;
      for (size_t i = 1; i < units_[u].parents.size(); ++i) {
        if (s > 0 && units_[u].parents[i].first.index <= days[s - 1]) {
          parent = units_[u].parents[i].second;
        }
      }
      return parent;
    };
    shape.path_to_root.resize(units_.size());
    shape.children.resize(units_.size());
    for (UnitIndex u = 0; u < units_.size(); ++u) {
      std::vector<UnitIndex>& path = shape.path_to_root[u];
      for (std::optional<UnitIndex> at = u; at; at = parent_of(*at)) {
        if (path.size() >= kMaxUnitDepth ||
            std::find(path.begin(), path.end(), *at) != path.end()) {
          return Invalid(
              field + ".parent_id",
              absl::StrCat("the move would make ",
                           path.size() >= kMaxUnitDepth
                               ? absl::StrCat("a unit deeper than ",
                                              kMaxUnitDepth, " levels")
                               : absl::StrCat("unit ",
                                              Quoted(units_[*at].definition
                                                         .unit_id()),
                                              " its own ancestor")));
        }
        path.push_back(*at);
      }
      if (path.size() > 1) shape.children[path[1]].push_back(u);
    }
    shapes.push_back(std::move(shape));
  }
  for (UnitIndex u = 0; u < units_.size(); ++u) {
    units_[u].path_to_root = shapes.back().path_to_root[u];
    units_[u].children = shapes.back().children[u];
  }
  latest_from_ = shapes.back().from;
  shapes.pop_back();
  past_shapes_ = std::move(shapes);
  return absl::OkStatus();
}

const Definitions::Shape* Definitions::ShapeAt(const Period& period) const {
  if (past_shapes_.empty()) return nullptr;
  const absl::Time start = calendar_.Start(period);
  if (start >= latest_from_) return nullptr;
  // The last past shape starting at or before `start`; the first starts
  // in the infinite past.
  auto next = std::upper_bound(
      past_shapes_.begin(), past_shapes_.end(), start,
      [](absl::Time t, const Shape& shape) { return t < shape.from; });
  return &*(next - 1);
}

absl::Span<const UnitIndex> Definitions::PathToRoot(UnitIndex unit,
                                                    const Period& period) const {
  const Shape* shape = ShapeAt(period);
  return shape == nullptr ? units_[unit].path_to_root
                          : shape->path_to_root[unit];
}

absl::Span<const UnitIndex> Definitions::Children(UnitIndex unit,
                                                  const Period& period) const {
  const Shape* shape = ShapeAt(period);
  return shape == nullptr ? units_[unit].children : shape->children[unit];
}

absl::Status Definitions::ApplyOrganisation(
    const v1::Organisation& organisation, const std::string& field) {
  const int start_month = organisation.fiscal_year_start_month() == 0
                              ? 1
                              : organisation.fiscal_year_start_month();
  auto calendar = Calendar::Create(organisation.time_zone(), start_month);
  if (!calendar.ok()) return Invalid(field, calendar.status().message());
  if (!kpis_.empty() &&
      (calendar->time_zone_name() != calendar_.time_zone_name() ||
       calendar->fiscal_year_start_month() !=
           calendar_.fiscal_year_start_month())) {
    return absl::FailedPreconditionError(absl::StrCat(
        field,
        ": the time zone and fiscal year are fixed once a KPI is defined "
        "(every stored period depends on them); they are ",
        Quoted(calendar_.time_zone_name()), " from month ",
        calendar_.fiscal_year_start_month()));
  }
  organisation_ = organisation;
  calendar_ = *calendar;
  // Shapes start at local midnight of their days: in the new zone now.
  if (!reorgs_.empty()) RETURN_IF_ERROR(ComputeShapes(field));
  return absl::OkStatus();
}

absl::StatusOr<KpiInfo> Definitions::ResolveAggregation(
    const v1::Kpi& kpi, const std::string& field) const {
  KpiInfo info;
  info.definition = kpi;
  const v1::HierarchyAggregation h = kpi.hierarchy_aggregation();
  if (h == v1::HIERARCHY_AGGREGATION_UNSPECIFIED) {
    return Invalid(field + ".hierarchy_aggregation", "required");
  }
  if (!v1::HierarchyAggregation_IsValid(h)) {
    return Invalid(field + ".hierarchy_aggregation",
                   absl::StrCat("unknown value ", h));
  }
  info.hierarchy_aggregation = static_cast<HierarchyAggregation>(h);
  if (IsDerived(info.hierarchy_aggregation)) {
    if (kpi.time_aggregation() != v1::TIME_AGGREGATION_UNSPECIFIED) {
      return Invalid(field + ".time_aggregation",
                     "a KPI computed by a formula receives no events; leave "
                     "it unset");
    }
    if (!kpi.weight_kpi_id().empty()) {
      return Invalid(field + ".weight_kpi_id", "only for WEIGHTED_AVG");
    }
    RETURN_IF_ERROR(ResolveFormula(kpi, field, info));
    return info;
  }
  if (kpi.has_formula()) {
    return Invalid(field + ".formula",
                   "only for hierarchy aggregation RATIO or DERIVED");
  }
  const v1::TimeAggregation t = kpi.time_aggregation();
  if (t == v1::TIME_AGGREGATION_UNSPECIFIED) {
    return Invalid(field + ".time_aggregation", "required");
  }
  if (!v1::TimeAggregation_IsValid(t)) {
    return Invalid(field + ".time_aggregation",
                   absl::StrCat("unknown value ", t));
  }
  info.time_aggregation = static_cast<TimeAggregation>(t);
  if (info.time_aggregation == TimeAggregation::kAvg &&
      info.hierarchy_aggregation != HierarchyAggregation::kAvg) {
    return Invalid(field + ".hierarchy_aggregation",
                   "a unit's average over time is a fraction, which only "
                   "AVG rolls up exactly (the mean of every event in the "
                   "subtree); use LAST, MIN or MAX over time for the others");
  }
  if (info.hierarchy_aggregation == HierarchyAggregation::kWeightedAvg) {
    const std::string weight_field = field + ".weight_kpi_id";
    if (kpi.weight_kpi_id().empty()) {
      return Invalid(weight_field, "required for WEIGHTED_AVG");
    }
    std::optional<KpiIndex> weight = FindKpi(kpi.weight_kpi_id());
    if (!weight) {
      return absl::NotFoundError(absl::StrCat(
          weight_field, ": unknown KPI ", Quoted(kpi.weight_kpi_id())));
    }
    const KpiInfo& w = kpis_[*weight];
    if (IsDerived(w.hierarchy_aggregation) || w.weight || w.carry_forward ||
        w.time_aggregation == TimeAggregation::kAvg) {
      return Invalid(weight_field,
                     absl::StrCat("KPI ", Quoted(kpi.weight_kpi_id()),
                                  " is computed, weighted, carried forward or "
                                  "averaged over time; a weight must be a "
                                  "plain value per unit"));
    }
    if (!w.keeps_own_state) {
      return absl::FailedPreconditionError(absl::StrCat(
          weight_field, ": KPI ", Quoted(kpi.weight_kpi_id()),
          " sums up the hierarchy without keeping each unit's own value, "
          "which a weight needs; weigh by a KPI aggregated otherwise (e.g. "
          "LAST over time) or define it with a KPI that weighs by it from "
          "the start"));
    }
    info.weight = *weight;
  } else if (!kpi.weight_kpi_id().empty()) {
    return Invalid(field + ".weight_kpi_id", "only for WEIGHTED_AVG");
  }
  info.keeps_own_state = !FoldsWithoutOwnState(info.time_aggregation,
                                               info.hierarchy_aggregation);
  if (kpi.carry_forward()) {
    if (info.time_aggregation != TimeAggregation::kLast) {
      return Invalid(field + ".carry_forward",
                     "only stocks (time aggregation LAST) carry forward");
    }
    if (info.weight) {
      return Invalid(field + ".carry_forward",
                     "not for a weighted KPI (yet)");
    }
    info.carry_forward = true;
  }
  return info;
}

absl::Status Definitions::ResolveFormula(const v1::Kpi& kpi,
                                         const std::string& field,
                                         KpiInfo& info) const {
  const std::string formula_field = field + ".formula";
  if (!kpi.has_formula()) return Invalid(formula_field, "required");
  const v1::Formula& formula = kpi.formula();
  if (formula.op() == v1::Formula::OPERATOR_UNSPECIFIED ||
      !v1::Formula::Operator_IsValid(formula.op())) {
    return Invalid(formula_field + ".op", "RATIO, DIFFERENCE or PERCENTAGE");
  }
  FormulaInfo resolved;
  resolved.op = static_cast<FormulaOperator>(formula.op());
  if (!std::isfinite(formula.scale()) || formula.scale() < 0 ||
      (formula.scale() != 0 && resolved.op != FormulaOperator::kRatio)) {
    return Invalid(formula_field + ".scale",
                   "a positive finite multiplier, for RATIO only");
  }
  resolved.scale = formula.scale() == 0 ? 1 : formula.scale();
  const bool summed_ratio =
      info.hierarchy_aggregation == HierarchyAggregation::kRatio;
  if (summed_ratio && resolved.op == FormulaOperator::kDifference) {
    return Invalid(formula_field + ".op",
                   "RATIO rolls up a ratio or percentage; use DERIVED for a "
                   "difference");
  }
  for (bool left : {true, false}) {
    const std::string& id = left ? formula.left_kpi_id() : formula.right_kpi_id();
    const std::string input_field =
        absl::StrCat(formula_field, left ? ".left_kpi_id" : ".right_kpi_id");
    std::optional<KpiIndex> input = FindKpi(id);
    if (!input) {
      return absl::NotFoundError(
          absl::StrCat(input_field, ": unknown KPI ", Quoted(id)));
    }
    if (*input == FindKpi(kpi.kpi_id())) {
      return Invalid(input_field, "a KPI cannot be computed from itself");
    }
    const KpiInfo& in = kpis_[*input];
    if (IsDerived(in.hierarchy_aggregation)) {
      return Invalid(input_field,
                     absl::StrCat("KPI ", Quoted(id),
                                  " is computed itself; a formula takes KPIs "
                                  "that receive events"));
    }
    if (summed_ratio &&
        in.hierarchy_aggregation != HierarchyAggregation::kSum) {
      return Invalid(input_field,
                     absl::StrCat("RATIO divides rolled-up sums, and KPI ",
                                  Quoted(id),
                                  " does not sum up the hierarchy; use "
                                  "DERIVED to divide other rollups"));
    }
    (left ? resolved.left : resolved.right) = *input;
  }
  if (resolved.left == resolved.right) {
    return Invalid(formula_field + ".right_kpi_id",
                   "names the left KPI too; a formula combines two KPIs");
  }
  info.formula = resolved;
  return absl::OkStatus();
}

absl::Status Definitions::ResolvePeriods(const v1::Kpi& kpi,
                                         const std::string& field,
                                         KpiInfo& info) const {
  PeriodKindSet periods;
  for (int i = 0; i < kpi.periods_size(); ++i) {
    if (!IsPeriodKind(kpi.periods(i))) {
      return Invalid(absl::StrCat(field, ".periods[", i, "]"),
                     absl::StrCat("unknown period kind ", kpi.periods(i)));
    }
    periods.Add(static_cast<PeriodKind>(kpi.periods(i)));
  }
  PeriodKindSet available = PeriodKindSet::All();
  if (info.formula) {
    available = {};
    for (PeriodKind kind : kpis_[info.formula->left].periods) {
      if (kpis_[info.formula->right].periods.Contains(kind)) available.Add(kind);
    }
  }
  if (kpi.periods_size() == 0) {
    periods = {PeriodKind::kMonth, PeriodKind::kQuarter, PeriodKind::kYear};
    if (calendar_.fiscal_year_start_month() != 1) {
      periods.Add(PeriodKind::kFiscalYear);
    }
    if (info.formula) periods = available;
  }
  if (info.weight) available = kpis_[*info.weight].periods;
  for (PeriodKind kind : periods) {
    if (!available.Contains(kind)) {
      return Invalid(field + ".periods",
                     absl::StrCat("its inputs keep no ", PeriodKindName(kind),
                                  " rollups"));
    }
  }
  info.periods = periods;
  return absl::OkStatus();
}

absl::Status Definitions::ResolveTargetProfile(const v1::Kpi& kpi,
                                               const std::string& field,
                                               KpiInfo& info) {
  const v1::TargetProfile& profile = kpi.target_profile();
  const std::string at = field + ".target_profile";
  if (profile.kind() != v1::TargetProfile::KIND_WORKING_DAYS &&
      profile.holidays_size() > 0) {
    return Invalid(at + ".holidays", "only for KIND_WORKING_DAYS");
  }
  if (profile.kind() != v1::TargetProfile::KIND_SEASONAL &&
      profile.month_weights_size() > 0) {
    return Invalid(at + ".month_weights", "only for KIND_SEASONAL");
  }
  switch (profile.kind()) {
    case v1::TargetProfile::KIND_UNSPECIFIED: {
      // Flows accrue; a difference of two flows too; the rest is judged
      // against the whole target throughout.
      bool flow = info.time_aggregation == TimeAggregation::kSum;
      if (info.formula) {
        const auto accrues = [&](KpiIndex input) {
          return kpis_[input].target_profile.kind() !=
                 TargetProfile::Kind::kWhole;
        };
        flow = info.hierarchy_aggregation == HierarchyAggregation::kDerived &&
               info.formula->op == FormulaOperator::kDifference &&
               accrues(info.formula->left) && accrues(info.formula->right);
      }
      info.target_profile = flow ? TargetProfile::Linear() : TargetProfile();
      return absl::OkStatus();
    }
    case v1::TargetProfile::KIND_WHOLE:
      info.target_profile = TargetProfile::Whole();
      return absl::OkStatus();
    case v1::TargetProfile::KIND_LINEAR:
      info.target_profile = TargetProfile::Linear();
      return absl::OkStatus();
    case v1::TargetProfile::KIND_WORKING_DAYS: {
      std::vector<absl::CivilDay> holidays;
      for (int i = 0; i < profile.holidays_size(); ++i) {
        absl::CivilDay day;
        if (!absl::ParseCivilTime(profile.holidays(i), &day) ||
            absl::FormatCivilTime(day) != profile.holidays(i)) {
          return Invalid(absl::StrCat(at, ".holidays[", i, "]"),
                         absl::StrCat(Quoted(profile.holidays(i)),
                                      " is not a date YYYY-MM-DD"));
        }
        holidays.push_back(day);
      }
      info.target_profile = TargetProfile::WorkingDays(std::move(holidays));
      return absl::OkStatus();
    }
    case v1::TargetProfile::KIND_SEASONAL: {
      if (profile.month_weights_size() != 12) {
        return Invalid(at + ".month_weights",
                       absl::StrCat("needs 12 weights, January's first; got ",
                                    profile.month_weights_size()));
      }
      std::array<double, 12> weights;
      for (int i = 0; i < 12; ++i) {
        weights[i] = profile.month_weights(i);
        if (!std::isfinite(weights[i]) || weights[i] <= 0) {
          return Invalid(absl::StrCat(at, ".month_weights[", i, "]"),
                         "must be a positive number");
        }
      }
      info.target_profile = TargetProfile::Seasonal(weights);
      return absl::OkStatus();
    }
    default:
      return Invalid(at + ".kind", "unknown kind");
  }
}

namespace {

// A policy duration: unset is zero (off); else one minute to 366 days.
absl::StatusOr<absl::Duration> PolicyDuration(
    const google::protobuf::Duration& d, bool present,
    const std::string& field) {
  if (!present) return absl::ZeroDuration();
  if (d.nanos() < 0 || d.nanos() > 999'999'999 || d.seconds() < 60 ||
      d.seconds() > 366LL * 86400) {
    return Invalid(field, "must be from one minute to 366 days");
  }
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::Status ResolveAlertPolicy(const v1::AlertPolicy& policy,
                                const std::string& field, KpiInfo& info) {
  ASSIGN_OR_RETURN(info.alerts.escalate_after,
                   PolicyDuration(policy.escalate_after(),
                                  policy.has_escalate_after(),
                                  field + ".escalate_after"));
  ASSIGN_OR_RETURN(info.alerts.corrective_action_within,
                   PolicyDuration(policy.corrective_action_within(),
                                  policy.has_corrective_action_within(),
                                  field + ".corrective_action_within"));
  const double drop = policy.worsening_score_drop();
  if (!(drop >= 0 && drop <= 10)) {
    return Invalid(field + ".worsening_score_drop",
                   "must be from 0 (off) to 10 points");
  }
  info.alerts.worsening_score_drop = drop;
  ASSIGN_OR_RETURN(info.alerts.projection_window,
                   PolicyDuration(policy.projection_window(),
                                  policy.has_projection_window(),
                                  field + ".projection_window"));
  switch (policy.projected_miss_at()) {
    case v1::KPI_STATUS_UNSPECIFIED:
    case v1::KPI_STATUS_RED:
      info.alerts.projected_miss_at = KpiStatus::kRed;
      break;
    case v1::KPI_STATUS_AMBER:
      info.alerts.projected_miss_at = KpiStatus::kAmber;
      break;
    default:
      return Invalid(field + ".projected_miss_at",
                     "must be KPI_STATUS_RED or KPI_STATUS_AMBER");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Definitions::ApplyKpi(const v1::Kpi& kpi,
                                   const std::string& field) {
  RETURN_IF_ERROR(ValidateId(field + ".kpi_id", kpi.kpi_id()));
  if (kpi.name().empty()) return Invalid(field + ".name", "required");
  ASSIGN_OR_RETURN(KpiInfo info, ResolveAggregation(kpi, field));
  RETURN_IF_ERROR(ResolvePeriods(kpi, field, info));
  switch (kpi.polarity()) {
    case v1::POLARITY_HIGHER_IS_BETTER:
      info.polarity = Polarity::kHigherIsBetter;
      break;
    case v1::POLARITY_LOWER_IS_BETTER:
      info.polarity = Polarity::kLowerIsBetter;
      break;
    case v1::POLARITY_WITHIN_BAND:
      info.polarity = Polarity::kWithinBand;
      break;
    default:
      return Invalid(field + ".polarity", "required");
  }
  info.bands = {kpi.thresholds().green_pct(), kpi.thresholds().amber_pct()};
  if (!BandsAreValid(info.polarity, info.bands)) {
    return Invalid(field + ".thresholds",
                   info.polarity == Polarity::kHigherIsBetter
                       ? "need 0 < amber_pct <= green_pct"
                       : "need 0 < green_pct <= amber_pct");
  }
  if (!v1::StatusRule_IsValid(kpi.status_rule())) {
    return Invalid(field + ".status_rule",
                   absl::StrCat("unknown rule ", kpi.status_rule()));
  }
  RETURN_IF_ERROR(ResolveTargetProfile(kpi, field, info));
  RETURN_IF_ERROR(ResolveAlertPolicy(kpi.alert_policy(),
                                     field + ".alert_policy", info));
  RETURN_IF_ERROR(ResolveFeedSchedule(kpi, field + ".feed", info));
  if (std::optional<KpiIndex> existing = FindKpi(kpi.kpi_id())) {
    KpiInfo& old = kpis_[*existing];
    // A schedule declared again is checked from when it first was.
    if (info.feed && old.feed && !kpi.feed().has_since()) {
      info.feed->since = old.feed->since;
      *info.definition.mutable_feed()->mutable_since() =
          old.definition.feed().since();
    }
    if (old.time_aggregation != info.time_aggregation ||
        old.hierarchy_aggregation != info.hierarchy_aggregation ||
        old.weight != info.weight || old.periods != info.periods ||
        old.carry_forward != info.carry_forward ||
        old.definition.formula().SerializeAsString() !=
            kpi.formula().SerializeAsString()) {
      return absl::FailedPreconditionError(absl::StrCat(
          field, ": how KPI ", Quoted(kpi.kpi_id()),
          " aggregates (time, hierarchy, weight, formula, periods) cannot "
          "change once defined; define a new KPI"));
    }
    info.keeps_own_state = old.keeps_own_state;
    info.weighted = std::move(old.weighted);
    info.derived = std::move(old.derived);
    old = std::move(info);
    return absl::OkStatus();
  }
  if (kpis_.size() >= kMaxKpis) {
    return absl::ResourceExhaustedError(
        absl::StrCat(field, ": a KPI beyond the limit of ", kMaxKpis));
  }
  const KpiIndex index = static_cast<KpiIndex>(kpis_.size());
  if (info.weight) kpis_[*info.weight].weighted.push_back(index);
  if (info.formula) {
    kpis_[info.formula->left].derived.push_back(index);
    if (info.formula->right != info.formula->left) {
      kpis_[info.formula->right].derived.push_back(index);
    }
  }
  kpi_index_[kpi.kpi_id()] = index;
  kpis_.push_back(std::move(info));
  return absl::OkStatus();
}

absl::Status Definitions::ResolveFeedSchedule(const v1::Kpi& kpi,
                                              const std::string& field,
                                              KpiInfo& info) const {
  const v1::FeedSchedule& feed = kpi.feed();
  if (feed.cadence() == v1::PERIOD_KIND_UNSPECIFIED) {
    if (feed.unit_ids_size() > 0 || feed.has_due_after() || feed.has_since()) {
      return Invalid(field + ".cadence", "required for a feed schedule");
    }
    return absl::OkStatus();
  }
  if (!IsPeriodKind(feed.cadence()) ||
      feed.cadence() == v1::PERIOD_KIND_YEAR_TO_DATE ||
      feed.cadence() == v1::PERIOD_KIND_QUARTER_TO_DATE) {
    return Invalid(field + ".cadence",
                   "must be DAY, ISO_WEEK, MONTH, QUARTER, YEAR or "
                   "FISCAL_YEAR");
  }
  FeedSchedule schedule;
  schedule.cadence = static_cast<PeriodKind>(feed.cadence());
  if (!info.periods.Contains(schedule.cadence)) {
    return Invalid(field + ".cadence",
                   absl::StrCat("the KPI keeps no ",
                                PeriodKindName(schedule.cadence),
                                " rollups; add it to periods"));
  }
  const google::protobuf::Duration& grace = feed.due_after();
  if (grace.seconds() < 0 || grace.nanos() < 0 || grace.nanos() > 999'999'999 ||
      grace.seconds() > 366LL * 86400) {
    return Invalid(field + ".due_after", "must be from 0 to 366 days");
  }
  schedule.due_after =
      absl::Seconds(grace.seconds()) + absl::Nanoseconds(grace.nanos());
  for (int i = 0; i < feed.unit_ids_size(); ++i) {
    std::optional<UnitIndex> unit = FindUnit(feed.unit_ids(i));
    if (!unit) {
      return absl::NotFoundError(absl::StrCat(field, ".unit_ids[", i,
                                              "]: unknown unit ",
                                              Quoted(feed.unit_ids(i))));
    }
    schedule.units.push_back(*unit);
  }
  if (feed.has_since()) {
    const google::protobuf::Timestamp& since = feed.since();
    // Due times are kept in nanoseconds since 1970.
    if (since.seconds() < 0 || since.seconds() >= 7'258'118'400 ||
        since.nanos() < 0 || since.nanos() > 999'999'999) {
      return Invalid(field + ".since", "must be from 1970 to 2199");
    }
    schedule.since = absl::FromUnixSeconds(since.seconds()) +
                     absl::Nanoseconds(since.nanos());
  }
  info.feed = std::move(schedule);
  return absl::OkStatus();
}

std::optional<absl::Time> Definitions::FeedDue(KpiIndex kpi, UnitIndex unit,
                                               const Period& period) const {
  const std::optional<FeedSchedule>& feed = kpis_[kpi].feed;
  if (!feed || feed->cadence != period.kind) return std::nullopt;
  if (feed->units.empty()) {
    if (!units_[unit].children.empty()) return std::nullopt;
  } else if (std::find(feed->units.begin(), feed->units.end(), unit) ==
             feed->units.end()) {
    return std::nullopt;
  }
  // Only periods wholly after the schedule: data of a period it began
  // in may have come before anyone followed it.
  if (calendar_.Start(period) < feed->since) return std::nullopt;
  return calendar_.End(period) + feed->due_after;
}

absl::Status Definitions::ApplyTarget(const v1::Target& target,
                                      const std::string& field) {
  std::optional<KpiIndex> kpi = FindKpi(target.kpi_id());
  if (!kpi) {
    return absl::NotFoundError(
        absl::StrCat(field, ".kpi_id: unknown KPI ", Quoted(target.kpi_id())));
  }
  std::optional<UnitIndex> unit = FindUnit(target.unit_id());
  if (!unit) {
    return absl::NotFoundError(
        absl::StrCat(field, ".unit_id: unknown unit ", Quoted(target.unit_id())));
  }
  if (!IsPeriodKind(target.period().kind())) {
    return Invalid(field + ".period.kind", "required");
  }
  const auto kind = static_cast<PeriodKind>(target.period().kind());
  if (!kpis_[*kpi].periods.Contains(kind)) {
    return Invalid(field + ".period.kind",
                   absl::StrCat("KPI ", Quoted(target.kpi_id()), " keeps no ",
                                PeriodKindName(kind), " rollups"));
  }
  auto period = ParsePeriod(kind, target.period().label());
  if (!period.ok())
    return Invalid(field + ".period.label", period.status().message());
  if (!std::isfinite(target.value()))
    return Invalid(field + ".value", "must be finite");
  if (std::fabs(target.value()) > kMaxTargetMagnitude) {
    return Invalid(field + ".value", "magnitude above 1e18");
  }
  const CellId cell{*kpi, *unit, *period};
  if (targets_.size() >= kMaxTargets && !targets_.contains(cell)) {
    return absl::ResourceExhaustedError(
        absl::StrCat(field, ": a target beyond the limit of ", kMaxTargets));
  }
  RETURN_IF_ERROR(ValidateCascade(target.cascade(), cell, field + ".cascade"));
  DeclaredTarget& declared = targets_[cell];
  declared.value = target.value();
  declared.cascade = target.cascade();
  declared.ever_cascaded |=
      target.cascade().rule() != v1::TargetCascade::RULE_UNSPECIFIED;
  return absl::OkStatus();
}

absl::Status Definitions::ValidateCascade(const v1::TargetCascade& cascade,
                                          const CellId& cell,
                                          const std::string& field) const {
  switch (cascade.rule()) {
    case v1::TargetCascade::RULE_UNSPECIFIED:
    case v1::TargetCascade::RULE_COPY:
      if (cascade.shares_size() > 0) {
        return Invalid(field + ".shares", "only for RULE_SHARE");
      }
      return absl::OkStatus();
    case v1::TargetCascade::RULE_SHARE:
      break;
    default:
      return Invalid(field + ".rule", "unknown rule");
  }
  if (cascade.shares_size() == 0) {
    return Invalid(field + ".shares", "RULE_SHARE needs the children's shares");
  }
  absl::flat_hash_set<UnitIndex> seen;
  double total = 0;
  for (int i = 0; i < cascade.shares_size(); ++i) {
    const v1::TargetCascade::Share& share = cascade.shares(i);
    const std::string at = absl::StrCat(field, ".shares[", i, "]");
    std::optional<UnitIndex> child = FindUnit(share.unit_id());
    if (!child) {
      return absl::NotFoundError(absl::StrCat(
          at, ".unit_id: unknown unit ", Quoted(share.unit_id())));
    }
    if (!seen.insert(*child).second) {
      return Invalid(at + ".unit_id",
                     absl::StrCat(Quoted(share.unit_id()), " is listed twice"));
    }
    if (!std::isfinite(share.percent()) || share.percent() <= 0) {
      return Invalid(at + ".percent", "must be a positive number");
    }
    total += share.percent();
  }
  if (std::fabs(total - 100) > 1e-9) {
    return Invalid(field + ".shares",
                   absl::StrCat("the percents sum to ", total,
                                ", not 100: the shares must make up the "
                                "whole target"));
  }
  return absl::OkStatus();
}

std::optional<UnitIndex> Definitions::FindUnit(
    absl::string_view unit_id) const {
  auto it = unit_index_.find(unit_id);
  if (it == unit_index_.end()) return std::nullopt;
  return it->second;
}

std::optional<KpiIndex> Definitions::FindKpi(absl::string_view kpi_id) const {
  auto it = kpi_index_.find(kpi_id);
  if (it == kpi_index_.end()) return std::nullopt;
  return it->second;
}

bool Definitions::InSubtree(UnitIndex unit, UnitIndex root) const {
  for (UnitIndex u : units_[unit].path_to_root) {
    if (u == root) return true;
  }
  return false;
}

std::optional<double> Definitions::Target(KpiIndex kpi, UnitIndex unit,
                                          const Period& period) const {
  if (targets_.empty()) return std::nullopt;
  const absl::Span<const UnitIndex> path = PathToRoot(unit, period);
  for (size_t up = 0; up < path.size(); ++up) {
    auto it = targets_.find(CellId{kpi, path[up], period});
    if (it == targets_.end()) continue;
    const DeclaredTarget& declared = it->second;
    if (up == 0) return declared.value;
    switch (declared.cascade.rule()) {
      case v1::TargetCascade::RULE_COPY:
        return declared.value;
      case v1::TargetCascade::RULE_SHARE:
        if (up != 1) return std::nullopt;
        for (const v1::TargetCascade::Share& share : declared.cascade.shares()) {
          if (share.unit_id() == units_[unit].definition.unit_id()) {
            return declared.value * share.percent() / 100;
          }
        }
        return std::nullopt;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

bool Definitions::TargetReachesBelow(const CellId& cell) const {
  auto it = targets_.find(cell);
  return it != targets_.end() && it->second.ever_cascaded;
}

v1::DefinitionBatch Definitions::ToBatch() const {
  v1::DefinitionBatch batch;
  if (organisation_.ByteSizeLong() > 0) {
    *batch.add_changes()->mutable_organisation() = organisation_;
  }
  // Units and KPIs were numbered as defined, so parents precede their
  // children and a formula's inputs precede it. Units come with their
  // first parent, then the reorgs in the order they were applied.
  for (const UnitInfo& unit : units_) {
    v1::OrgUnit* first = batch.add_changes()->mutable_org_unit();
    *first = unit.definition;
    first->set_parent_id(unit.parents[0].second
                             ? units_[*unit.parents[0].second].definition.unit_id()
                             : "");
  }
  for (const v1::OrgUnit& reorg : reorgs_) {
    v1::OrgUnit* move = batch.add_changes()->mutable_org_unit();
    *move = reorg;
    // Names and owners as they are now.
    const v1::OrgUnit& now = units_[*FindUnit(reorg.unit_id())].definition;
    move->set_name(now.name());
    move->set_owner(now.owner());
  }
  for (const KpiInfo& kpi : kpis_) {
    *batch.add_changes()->mutable_kpi() = kpi.definition;
  }
  for (const auto& [key, declared] : targets_) {
    v1::Target* target = batch.add_changes()->mutable_target();
    target->set_kpi_id(kpis_[key.kpi].definition.kpi_id());
    target->set_unit_id(units_[key.unit].definition.unit_id());
    target->mutable_period()->set_kind(
        static_cast<v1::PeriodKind>(key.period.kind));
    target->mutable_period()->set_label(PeriodLabel(key.period));
    target->set_value(declared.value);
    *target->mutable_cascade() = declared.cascade;
  }
  // Objectives first without their arrows, which may point at any of them.
  for (const v1::Objective& objective : objectives_) {
    v1::Objective& bare = *batch.add_changes()->mutable_objective();
    bare = objective;
    bare.clear_drives();
  }
  for (const v1::Objective& objective : objectives_) {
    if (objective.drives_size() > 0) {
      *batch.add_changes()->mutable_objective() = objective;
    }
  }
  return batch;
}

}  // namespace strata
