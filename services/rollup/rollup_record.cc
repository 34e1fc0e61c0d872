#include "services/rollup/rollup_record.h"

#include "libs/status/status_macros.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "libs/aggregation/figure.h"
#include "libs/scorecard/judgement.h"
#include "libs/streams/cell_key.h"
#include "libs/streams/timestamps.h"

namespace strata::rollup {
namespace {

v1::RollupRecord RecordOf(const Definitions& defs, const CellId& id,
                          const Figure& figure, absl::Time judged_at) {
  v1::RollupRecord record;
  v1::RollupKey* key = record.mutable_key();
  const KpiInfo& kpi = defs.kpi(id.kpi);
  key->set_kpi_id(kpi.definition.kpi_id());
  key->set_unit_id(defs.unit(id.unit).definition.unit_id());
  key->mutable_period()->set_kind(static_cast<v1::PeriodKind>(id.period.kind));
  key->mutable_period()->set_label(PeriodLabel(id.period));
  if (figure.value) record.set_value(*figure.value);
  record.set_exact_value(figure.exact);
  record.set_numerator(figure.numerator);
  record.set_denominator(figure.denominator);
  record.set_no_value_reason(figure.no_value_reason);
  const std::optional<double> target = defs.Target(id.kpi, id.unit, id.period);
  if (!target) return record;
  record.set_target(*target);
  const double share =
      kpi.target_profile.ExpectedShare(defs.calendar(), id.period, judged_at);
  const Judgement judgement =
      Judge(kpi.polarity, kpi.bands, figure.value.value_or(0), *target, share);
  record.set_expected(judgement.expected);
  *record.mutable_judged_at() = ToTimestamp(judged_at);
  if (!figure.value) {
    record.set_status(v1::KPI_STATUS_NO_DATA);
    return record;
  }
  record.set_variance(judgement.variance);
  if (judgement.variance_pct) record.set_variance_pct(*judgement.variance_pct);
  record.set_status(static_cast<v1::KpiStatus>(judgement.status));
  record.set_score(judgement.score);
  return record;
}

void SetCounts(const RollupCell& cell, v1::RollupRecord& record) {
  record.set_event_count(cell.event_count);
  record.mutable_last_event_time()->set_seconds(cell.last_event_time.seconds);
  record.mutable_last_event_time()->set_nanos(cell.last_event_time.nanos);
  record.set_version(cell.version);
}

}  // namespace

std::string CellKeyFor(const Definitions& defs, const CellId& id) {
  return CellKey(defs.kpi(id.kpi).definition.kpi_id(),
                 defs.unit(id.unit).definition.unit_id(), id.period);
}

v1::RollupRecord MakeRollupRecord(const Definitions& defs, const CellId& id,
                                  const RollupCell& cell, absl::Time judged_at) {
  const KpiInfo& kpi = defs.kpi(id.kpi);
  v1::RollupRecord record = RecordOf(
      defs, id,
      CellFigure(kpi.time_aggregation, kpi.hierarchy_aggregation, cell),
      judged_at);
  SetCounts(cell, record);
  if (kpi.keeps_own_state) record.set_contributors(cell.contributors);
  return record;
}

v1::RollupRecord MakeDerivedRecord(const Definitions& defs, const CellId& id,
                                   const RollupCell& left,
                                   const RollupCell& right,
                                   absl::Time judged_at) {
  const FormulaInfo& formula = *defs.kpi(id.kpi).formula;
  const KpiInfo& l = defs.kpi(formula.left);
  const KpiInfo& r = defs.kpi(formula.right);
  auto input = [](const KpiInfo& kpi, const RollupCell& cell) {
    if (cell.version == 0) {
      Figure none;
      none.no_value_reason = "no events yet";
      return none;
    }
    return CellFigure(kpi.time_aggregation, kpi.hierarchy_aggregation, cell);
  };
  v1::RollupRecord record = RecordOf(
      defs, id,
      FormulaFigure(formula.op, formula.scale, input(l, left),
                    input(r, right)),
      judged_at);
  RollupCell counts;
  counts.event_count = left.event_count + right.event_count;
  counts.last_event_time = std::max(left.last_event_time, right.last_event_time);
  // Both inputs are of one shape (a reshape starts every cell again), or
  // have no events (version 0).
  constexpr int64_t kInShape = (int64_t{1} << kReorgVersionShift) - 1;
  const int64_t shape =
      std::max(left.version, right.version) & ~kInShape;
  counts.version =
      shape + (left.version & kInShape) + (right.version & kInShape);
  SetCounts(counts, record);
  return record;
}

v1::RollupRecord MakeEmptyRecord(const Definitions& defs, const CellId& id,
                                 absl::Time judged_at) {
  Figure none;
  none.no_value_reason = "no events";
  return RecordOf(defs, id, none, judged_at);
}

absl::StatusOr<std::optional<v1::RollupRecord>> ReadPublicRecord(
    const Definitions& defs, const CellId& id, absl::Time judged_at,
    const CellReader& current, const CellReader& reported) {
  const KpiInfo& kpi = defs.kpi(id.kpi);
  // The figure as reported at a close, where approved events changed it.
  auto note_reported = [](const v1::RollupRecord& at_close,
                          v1::RollupRecord& record) {
    if (at_close.value() == record.value() &&
        at_close.exact_value() == record.exact_value()) {
      return;
    }
    if (at_close.has_value()) record.set_reported_value(at_close.value());
    record.set_reported_exact_value(at_close.exact_value());
  };
  if (!kpi.formula) {
    ASSIGN_OR_RETURN(std::optional<RollupCell> cell, current(id));
    if (!cell) return std::nullopt;
    v1::RollupRecord record = MakeRollupRecord(defs, id, *cell, judged_at);
    ASSIGN_OR_RETURN(std::optional<RollupCell> at_close, reported(id));
    if (at_close) {
      note_reported(MakeRollupRecord(defs, id, *at_close, judged_at), record);
    }
    return record;
  }
  const CellId left_id{kpi.formula->left, id.unit, id.period};
  const CellId right_id{kpi.formula->right, id.unit, id.period};
  ASSIGN_OR_RETURN(std::optional<RollupCell> left, current(left_id));
  ASSIGN_OR_RETURN(std::optional<RollupCell> right, current(right_id));
  if (!left && !right) return std::nullopt;
  v1::RollupRecord record =
      MakeDerivedRecord(defs, id, left.value_or(RollupCell{}),
                        right.value_or(RollupCell{}), judged_at);
  ASSIGN_OR_RETURN(std::optional<RollupCell> left_at_close, reported(left_id));
  ASSIGN_OR_RETURN(std::optional<RollupCell> right_at_close,
                   reported(right_id));
  if (left_at_close || right_at_close) {
    note_reported(
        MakeDerivedRecord(defs, id,
                          left_at_close.value_or(left.value_or(RollupCell{})),
                          right_at_close.value_or(right.value_or(RollupCell{})),
                          judged_at),
        record);
  }
  return record;
}

std::vector<CellId> RetargetedCells(const Definitions& defs,
                                    const v1::DefinitionBatch& batch) {
  std::vector<CellId> cells;
  for (const v1::DefinitionChange& change : batch.changes()) {
    if (!change.has_target()) continue;
    // The batch applied, so its ids and period are valid.
    const CellId cell = defs.TargetCellOf(change.target());
    cells.push_back(cell);
    if (!defs.TargetReachesBelow(cell)) continue;
    // Cascaded: every unit below may have a new target too.
    const absl::Span<const UnitIndex> children =
        defs.Children(cell.unit, cell.period);
    std::vector<UnitIndex> below(children.begin(), children.end());
    while (!below.empty()) {
      const UnitIndex unit = below.back();
      below.pop_back();
      cells.push_back({cell.kpi, unit, cell.period});
      for (UnitIndex child : defs.Children(unit, cell.period)) {
        below.push_back(child);
      }
    }
  }
  return cells;
}

}  // namespace strata::rollup
