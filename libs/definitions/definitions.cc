#include "libs/definitions/definitions.h"

#include <cmath>

#include "absl/strings/str_cat.h"
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

// An enum value's name, or its number when this build does not know it.
std::string EnumName(const std::string& name, int value) {
  return name.empty() ? absl::StrCat("value ", value) : name;
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
  for (int i = 0; i < batch.changes_size(); ++i) {
    const v1::DefinitionChange& change = batch.changes(i);
    const std::string field = absl::StrCat("changes[", i, "]");
    switch (change.change_case()) {
      case v1::DefinitionChange::kOrgUnit:
        RETURN_IF_ERROR(next.ApplyUnit(change.org_unit(),
                                       absl::StrCat(field, ".org_unit")));
        break;
      case v1::DefinitionChange::kKpi:
        RETURN_IF_ERROR(
            next.ApplyKpi(change.kpi(), absl::StrCat(field, ".kpi")));
        break;
      case v1::DefinitionChange::kTarget:
        RETURN_IF_ERROR(
            next.ApplyTarget(change.target(), absl::StrCat(field, ".target")));
        break;
      case v1::DefinitionChange::CHANGE_NOT_SET:
        return Invalid(field, "no change set");
    }
  }
  return next;
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
      return absl::FailedPreconditionError(
          absl::StrCat(field, ".parent_id: moving unit ", Quoted(unit.unit_id()), " needs a reorg with an effective date, which is not "
                       "supported yet"));
    }
    units_[*existing].definition = unit;
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
  info.path_to_root.push_back(index);
  if (parent) {
    const auto& up = units_[*parent].path_to_root;
    info.path_to_root.insert(info.path_to_root.end(), up.begin(), up.end());
  }
  units_.push_back(std::move(info));
  unit_index_[unit.unit_id()] = index;
  return absl::OkStatus();
}

absl::Status Definitions::ApplyKpi(const v1::Kpi& kpi,
                                   const std::string& field) {
  RETURN_IF_ERROR(ValidateId(field + ".kpi_id", kpi.kpi_id()));
  if (kpi.name().empty()) return Invalid(field + ".name", "required");
  KpiInfo info;
  info.definition = kpi;
  switch (kpi.time_aggregation()) {
    case v1::TIME_AGGREGATION_SUM:
      info.time_aggregation = TimeAggregation::kSum;
      break;
    case v1::TIME_AGGREGATION_LAST:
      info.time_aggregation = TimeAggregation::kLast;
      break;
    case v1::TIME_AGGREGATION_UNSPECIFIED:
      return Invalid(field + ".time_aggregation", "required");
    default:
      return absl::UnimplementedError(
          absl::StrCat(field, ".time_aggregation: ",
                       EnumName(v1::TimeAggregation_Name(kpi.time_aggregation()),
                                kpi.time_aggregation()),
                       " is not supported yet (SUM, LAST are)"));
  }
  switch (kpi.hierarchy_aggregation()) {
    case v1::HIERARCHY_AGGREGATION_SUM:
      break;
    case v1::HIERARCHY_AGGREGATION_UNSPECIFIED:
      return Invalid(field + ".hierarchy_aggregation", "required");
    default:
      return absl::UnimplementedError(absl::StrCat(
          field, ".hierarchy_aggregation: ",
          EnumName(v1::HierarchyAggregation_Name(kpi.hierarchy_aggregation()),
                   kpi.hierarchy_aggregation()),
          " is not supported yet (SUM is)"));
  }
  switch (kpi.polarity()) {
    case v1::POLARITY_HIGHER_IS_BETTER:
      info.polarity = Polarity::kHigherIsBetter;
      break;
    case v1::POLARITY_LOWER_IS_BETTER:
      info.polarity = Polarity::kLowerIsBetter;
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
  if (std::optional<KpiIndex> existing = FindKpi(kpi.kpi_id())) {
    const v1::Kpi& old = kpis_[*existing].definition;
    if (old.time_aggregation() != kpi.time_aggregation() ||
        old.hierarchy_aggregation() != kpi.hierarchy_aggregation()) {
      return absl::FailedPreconditionError(
          absl::StrCat(field, ": the aggregation of KPI ", Quoted(kpi.kpi_id()), " cannot change once defined; define a new KPI"));
    }
    kpis_[*existing] = std::move(info);
    return absl::OkStatus();
  }
  if (kpis_.size() >= kMaxKpis) {
    return absl::ResourceExhaustedError(
        absl::StrCat(field, ": a KPI beyond the limit of ", kMaxKpis));
  }
  kpi_index_[kpi.kpi_id()] = static_cast<KpiIndex>(kpis_.size());
  kpis_.push_back(std::move(info));
  return absl::OkStatus();
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
  if (!IsSupportedPeriodKind(target.period().kind())) {
    return Invalid(field + ".period.kind", "must be MONTH, QUARTER or YEAR");
  }
  auto period = ParsePeriod(static_cast<PeriodKind>(target.period().kind()),
                            target.period().label());
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
  targets_[cell] = target.value();
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
  auto it = targets_.find(CellId{kpi, unit, period});
  if (it == targets_.end()) return std::nullopt;
  return it->second;
}

v1::DefinitionBatch Definitions::ToBatch() const {
  v1::DefinitionBatch batch;
  // Units were numbered as defined, so parents precede their children.
  for (const UnitInfo& unit : units_) {
    *batch.add_changes()->mutable_org_unit() = unit.definition;
  }
  for (const KpiInfo& kpi : kpis_) {
    *batch.add_changes()->mutable_kpi() = kpi.definition;
  }
  for (const auto& [key, value] : targets_) {
    v1::Target* target = batch.add_changes()->mutable_target();
    target->set_kpi_id(kpis_[key.kpi].definition.kpi_id());
    target->set_unit_id(units_[key.unit].definition.unit_id());
    target->mutable_period()->set_kind(
        static_cast<v1::PeriodKind>(key.period.kind));
    target->mutable_period()->set_label(PeriodLabel(key.period));
    target->set_value(value);
  }
  return batch;
}

}  // namespace strata
