#include "services/rollup/rollup_reader.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "libs/ids/ids.h"
#include "libs/status/quote.h"
#include "libs/status/status_macros.h"
#include "libs/streams/period_proto.h"
#include "services/rollup/rollup_record.h"
#include "services/rollup/scorecard_builder.h"
#include "services/rollup/worst_child_status.h"

namespace strata::rollup {
namespace {

// The part of `whole` that `part` is, where that means something.
std::optional<double> Share(const v1::RollupRecord& part,
                            const v1::RollupRecord& whole) {
  if (!part.has_value() || !whole.has_value() || whole.value() == 0) {
    return std::nullopt;
  }
  return part.value() / whole.value();
}

// The cells of every KPI that keeps `period`'s kind, of `unit` in `period`.
std::vector<CellId> UnitCells(const Definitions& defs, UnitIndex unit,
                              const Period& period) {
  std::vector<CellId> ids;
  for (KpiIndex kpi = 0; kpi < defs.kpi_count(); ++kpi) {
    if (defs.kpi(kpi).periods.Contains(period.kind)) {
      ids.push_back({kpi, unit, period});
    }
  }
  return ids;
}

}  // namespace

absl::StatusOr<RollupReader::Cell> RollupReader::Resolve(
    const std::string& kpi_id, const std::string& unit_id,
    const v1::Period& period, const std::string& prefix) const {
  RETURN_IF_ERROR(ValidateId(prefix + "kpi_id", kpi_id));
  RETURN_IF_ERROR(ValidateId(prefix + "unit_id", unit_id));
  ASSIGN_OR_RETURN(Period resolved, PeriodFromProto(period, prefix + "period"));
  // Definitions just written may not have been read yet.
  std::shared_ptr<const Definitions> defs =
      definitions_.CurrentSatisfying([&](const Definitions& d) {
        return d.FindKpi(kpi_id) && d.FindUnit(unit_id);
      });
  std::optional<KpiIndex> kpi = defs->FindKpi(kpi_id);
  if (!kpi) {
    return absl::NotFoundError(
        absl::StrCat(prefix, "kpi_id: unknown KPI ", Quoted(kpi_id)));
  }
  std::optional<UnitIndex> unit = defs->FindUnit(unit_id);
  if (!unit) {
    return absl::NotFoundError(
        absl::StrCat(prefix, "unit_id: unknown unit ", Quoted(unit_id)));
  }
  if (!defs->kpi(*kpi).periods.Contains(resolved.kind)) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefix, "period.kind: KPI ", Quoted(kpi_id), " keeps no ",
        PeriodKindName(resolved.kind), " rollups"));
  }
  return Cell{std::move(defs), {*kpi, *unit, resolved}};
}

absl::StatusOr<v1::RollupRecord> RollupReader::OwnRecordOrEmpty(
    const Definitions& defs, const CellId& id, absl::Time judged_at) const {
  ASSIGN_OR_RETURN(std::optional<v1::RollupRecord> record,
                   cells_.ReadRecord(defs, id, judged_at));
  if (record) return *std::move(record);
  return MakeEmptyRecord(defs, id, judged_at);
}

absl::Status RollupReader::ApplyStatusRuleAt(const Definitions& defs,
                                             const CellId& id,
                                             absl::Time judged_at,
                                             v1::RollupRecord& record) const {
  return ApplyStatusRule(
      defs, id,
      [&](const CellId& below) {
        return OwnRecordOrEmpty(defs, below, judged_at);
      },
      record);
}

absl::StatusOr<v1::RollupRecord> RollupReader::RecordOrEmpty(
    const Definitions& defs, const CellId& id, absl::Time judged_at) const {
  ASSIGN_OR_RETURN(std::vector<v1::RollupRecord> records,
                   RecordsOrEmpty(defs, {id}, judged_at));
  return std::move(records[0]);
}

absl::StatusOr<std::vector<v1::RollupRecord>> RollupReader::RecordsOrEmpty(
    const Definitions& defs, const std::vector<CellId>& ids,
    absl::Time judged_at) const {
  ASSIGN_OR_RETURN(std::vector<std::optional<v1::RollupRecord>> read,
                   cells_.ReadRecords(defs, ids, judged_at));
  std::vector<v1::RollupRecord> records;
  records.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    v1::RollupRecord& record = records.emplace_back(
        read[i] ? *std::move(read[i])
                : MakeEmptyRecord(defs, ids[i], judged_at));
    RETURN_IF_ERROR(ApplyStatusRuleAt(defs, ids[i], judged_at, record));
  }
  return records;
}

absl::StatusOr<v1::RollupRecord> RollupReader::Get(
    const v1::RollupKey& key) const {
  RETURN_IF_ERROR(cells_.Health());
  ASSIGN_OR_RETURN(Cell cell, Resolve(key.kpi_id(), key.unit_id(),
                                      key.period(), "key."));
  const absl::Time judged_at = cells_.Now();
  ASSIGN_OR_RETURN(std::optional<v1::RollupRecord> record,
                   cells_.ReadRecord(*cell.defs, cell.id, judged_at));
  if (!record) {
    return absl::NotFoundError(absl::StrCat(
        "no events yet for ", CellKeyFor(*cell.defs, cell.id)));
  }
  RETURN_IF_ERROR(ApplyStatusRuleAt(*cell.defs, cell.id, judged_at, *record));
  return *std::move(record);
}

absl::StatusOr<v1::GetSeriesResponse> RollupReader::Series(
    const v1::GetSeriesRequest& request) const {
  RETURN_IF_ERROR(cells_.Health());
  ASSIGN_OR_RETURN(Cell first, Resolve(request.kpi_id(), request.unit_id(),
                                       request.first(), ""));
  ASSIGN_OR_RETURN(Period last, PeriodFromProto(request.last(), "last"));
  if (last.kind != first.id.period.kind) {
    return absl::InvalidArgumentError(
        "last.kind: must be the kind of first.kind");
  }
  if (last.index < first.id.period.index) {
    return absl::InvalidArgumentError(absl::StrCat(
        "last: ", PeriodLabel(last), " is before first, ",
        PeriodLabel(first.id.period)));
  }
  const int64_t count =
      static_cast<int64_t>(last.index) - first.id.period.index + 1;
  if (count > kMaxSeriesPeriods) {
    return absl::InvalidArgumentError(
        absl::StrCat("last: ", count, " periods exceed the limit of ",
                     kMaxSeriesPeriods, " a request"));
  }
  const absl::Time judged_at = cells_.Now();  // One instant for all.
  std::vector<CellId> ids;
  for (CellId id = first.id; id.period.index <= last.index; ++id.period.index) {
    ids.push_back(id);
  }
  ASSIGN_OR_RETURN(std::vector<v1::RollupRecord> records,
                   RecordsOrEmpty(*first.defs, ids, judged_at));
  v1::GetSeriesResponse response;
  for (v1::RollupRecord& record : records) {
    *response.add_records() = std::move(record);
  }
  return response;
}

absl::StatusOr<v1::GetChildrenResponse> RollupReader::Children(
    const v1::GetChildrenRequest& request) const {
  RETURN_IF_ERROR(cells_.Health());
  const v1::RollupKey& key = request.key();
  ASSIGN_OR_RETURN(Cell parent,
                   Resolve(key.kpi_id(), key.unit_id(), key.period(), "key."));
  const Definitions& defs = *parent.defs;
  const absl::Time judged_at = cells_.Now();  // One instant for all.
  std::vector<CellId> ids = {parent.id};  // The parent, then its children.
  for (UnitIndex child : defs.Children(parent.id.unit, parent.id.period)) {
    ids.push_back({parent.id.kpi, child, parent.id.period});
  }
  ASSIGN_OR_RETURN(std::vector<v1::RollupRecord> records,
                   RecordsOrEmpty(defs, ids, judged_at));
  v1::GetChildrenResponse response;
  *response.mutable_parent() = std::move(records[0]);
  const bool sums =
      defs.kpi(parent.id.kpi).hierarchy_aggregation == HierarchyAggregation::kSum;
  double children_total = 0;
  for (size_t i = 1; i < records.size(); ++i) {
    v1::ChildRollup* row = response.add_children();
    *row->mutable_record() = std::move(records[i]);
    if (!sums) continue;
    if (auto share = Share(row->record(), response.parent())) {
      row->set_share(*share);
    }
    children_total += row->record().value();
  }
  if (sums && response.parent().has_value() && response.parent().value() != 0) {
    response.set_own_share((response.parent().value() - children_total) /
                           response.parent().value());
  }
  return response;
}

absl::StatusOr<v1::GetUnitKpisResponse> RollupReader::UnitKpis(
    const v1::GetUnitKpisRequest& request) const {
  RETURN_IF_ERROR(cells_.Health());
  RETURN_IF_ERROR(ValidateId("unit_id", request.unit_id()));
  ASSIGN_OR_RETURN(Period period, PeriodFromProto(request.period(), "period"));
  std::shared_ptr<const Definitions> defs = definitions_.CurrentSatisfying(
      [&](const Definitions& d) { return d.FindUnit(request.unit_id()).has_value(); });
  std::optional<UnitIndex> unit = defs->FindUnit(request.unit_id());
  if (!unit) {
    return absl::NotFoundError(
        absl::StrCat("unit_id: unknown unit ", Quoted(request.unit_id())));
  }
  const absl::Time judged_at = cells_.Now();  // One instant for all.
  const std::vector<CellId> ids = UnitCells(*defs, *unit, period);
  ASSIGN_OR_RETURN(std::vector<v1::RollupRecord> records,
                   RecordsOrEmpty(*defs, ids, judged_at));
  v1::GetUnitKpisResponse response;
  for (v1::RollupRecord& record : records) {
    *response.add_records() = std::move(record);
  }
  return response;
}

absl::StatusOr<RollupReader::UnitPeriod> RollupReader::ResolveScorecard(
    const v1::GetScorecardRequest& request) const {
  RETURN_IF_ERROR(cells_.Health());
  RETURN_IF_ERROR(ValidateId("unit_id", request.unit_id()));
  ASSIGN_OR_RETURN(Period period, PeriodFromProto(request.period(), "period"));
  std::shared_ptr<const Definitions> defs =
      definitions_.CurrentSatisfying([&](const Definitions& d) {
        return d.FindUnit(request.unit_id()).has_value();
      });
  std::optional<UnitIndex> unit = defs->FindUnit(request.unit_id());
  if (!unit) {
    return absl::NotFoundError(
        absl::StrCat("unit_id: unknown unit ", Quoted(request.unit_id())));
  }
  return UnitPeriod{std::move(defs), *unit, period};
}

absl::Status RollupReader::CheckScorecard(
    const v1::GetScorecardRequest& request) const {
  return ResolveScorecard(request).status();
}

absl::StatusOr<v1::Scorecard> RollupReader::Scorecard(
    const v1::GetScorecardRequest& request,
    const absl::StatusOr<std::vector<v1::Alert>>& open_alerts) const {
  ASSIGN_OR_RETURN(UnitPeriod resolved, ResolveScorecard(request));
  // Every figure judged at one instant, so that their expected values agree.
  const absl::Time judged_at = cells_.Now();
  const Definitions& defs = *resolved.defs;
  // The unit's figures of the period in one read (one call, where another
  // instance merges them); the trend's earlier ones as asked.
  const std::vector<CellId> ids =
      UnitCells(defs, resolved.unit, resolved.period);
  ASSIGN_OR_RETURN(std::vector<v1::RollupRecord> records,
                   RecordsOrEmpty(defs, ids, judged_at));
  absl::flat_hash_map<KpiIndex, const v1::RollupRecord*> read;
  for (size_t i = 0; i < ids.size(); ++i) read[ids[i].kpi] = &records[i];
  return BuildScorecard(
      defs, resolved.unit, resolved.period, judged_at,
      [&](const CellId& id) -> absl::StatusOr<v1::RollupRecord> {
        if (id.unit == resolved.unit && id.period == resolved.period) {
          if (auto it = read.find(id.kpi); it != read.end()) return *it->second;
        }
        return RecordOrEmpty(defs, id, judged_at);
      },
      open_alerts);
}

}  // namespace strata::rollup
