#include "services/rollup/cell_folder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "libs/eventlog/event_log.h"
#include "libs/status/status_macros.h"
#include "libs/streams/cell_key.h"
#include "services/rollup/applied_event.h"
#include "services/rollup/rollup_record.h"

namespace strata::rollup {
namespace {

// The first and last index of the periods of `kind` among `periods` (one,
// or consecutive to-date periods); nullopt when none is of that kind.
std::optional<std::pair<int32_t, int32_t>> SpanOfKind(
    const std::vector<Period>& periods, PeriodKind kind) {
  std::optional<std::pair<int32_t, int32_t>> span;
  for (const Period& p : periods) {
    if (p.kind != kind) continue;
    if (!span) {
      span.emplace(p.index, p.index);
    } else {
      span->first = std::min(span->first, p.index);
      span->second = std::max(span->second, p.index);
    }
  }
  return span;
}

}  // namespace

int32_t FoldScope::PartOf(const Definitions& defs, UnitIndex unit,
                          int32_t partitions) {
  if (partitions == 1) return 0;
  // Placed as records keyed by the unit id are on the log.
  return eventlog::PartitionForKey(defs.unit(unit).definition.unit_id(),
                                   partitions);
}

std::string PartialCellKey(int32_t partition, absl::string_view cell_key) {
  return absl::StrCat(partition, "/", cell_key);
}

absl::Status CellFolder::Fold(const Definitions& defs,
                              const EventChange& change,
                              const CellObserver* observer) {
  observer_ = observer;
  absl::Status folded = FoldChange(defs, change);
  observer_ = nullptr;
  return folded;
}

absl::StatusOr<std::optional<RollupCell>> CellFolder::Read(
    const Definitions& defs, const CellId& id) const {
  {
    if (const RollupCell* cell = cells_.Find(id)) {
      // A cell marked for its target before any event reached it.
      if (cell->version == 0) return std::nullopt;
      return *cell;
    }
  }
  return LoadCell(defs, id);
}

absl::StatusOr<std::optional<RollupCell>> CellFolder::LoadCell(
    const Definitions& defs, const CellId& id) const {
  if (scope_.whole()) return store_.GetCell(CellKeyFor(defs, id));
  return store_.GetPartial(PartialCellKey(scope_.partition, CellKeyFor(defs, id)));
}

absl::Status CellFolder::MarkChanged(const Definitions& defs,
                                     const CellId& id) {
  return cells_.Mutable(id, [&] { return LoadCell(defs, id); }).status();
}

CellFolder::Changes CellFolder::TakeChanges() {
  Changes changes;
  {
      changes.cells.reserve(cells_.dirty().size());
    for (const CellId& id : cells_.dirty()) {
      changes.cells.emplace_back(id, cells_.at(id));
    }
    cells_.ClearDirty();
  }
  changes.own.reserve(own_.dirty().size());
  for (const CellId& id : own_.dirty()) changes.own.emplace_back(id, own_.at(id));
  own_.ClearDirty();
  changes.own_events = std::move(pending_own_events_);
  pending_own_events_.clear();  // Valid but unspecified after the move.
  changes.frontiers.assign(pending_frontiers_.begin(),
                           pending_frontiers_.end());
  pending_frontiers_.clear();
  return changes;
}

void CellFolder::Bound(size_t max_cached, const Changes& handed_off) {
  {
      if (cells_.size() > max_cached) {
      std::vector<CellId> keep;
      keep.reserve(handed_off.cells.size());
      for (const auto& [id, cell] : handed_off.cells) keep.push_back(id);
      cells_.RetainOnly(keep);
    }
  }
  if (own_.size() > max_cached) {
    std::vector<CellId> keep;
    keep.reserve(handed_off.own.size());
    for (const auto& [id, state] : handed_off.own) keep.push_back(id);
    own_.RetainOnly(keep);
  }
}

void CellFolder::Clear() {
  {
      cells_.Clear();
  }
  own_.Clear();
  pending_own_events_.clear();
  frontiers_.clear();
  pending_frontiers_.clear();
}

absl::StatusOr<Contribution> CellFolder::OwnContributionOf(
    const Definitions& defs, KpiIndex kpi, UnitIndex unit,
    const Period& period) {
  // Another partition's unit: its own state is in the store too (own
  // states are keyed by unit), but counts in that partition's part only.
  if (!scope_.Owns(defs, unit)) return Contribution{};
  const CellId id{kpi, unit, period};
  ASSIGN_OR_RETURN(const OwnState* own, own_.Get(id, [&] {
    return store_.GetOwn(CellKeyFor(defs, id));
  }));
  const KpiInfo& info = defs.kpi(kpi);
  Contribution c = OwnContribution(info.time_aggregation, *own);
  if (!info.weight || !c.present) return c;
  ASSIGN_OR_RETURN(const Contribution w,
                   OwnContributionOf(defs, *info.weight, unit, period));
  c.present = w.present;
  c.weight = w.value;
  return c;
}

absl::Status CellFolder::Propagate(const Definitions& defs, KpiIndex kpi,
                                     UnitIndex unit, const Period& period,
                                     const Contribution& before,
                                     const Contribution& after,
                                     int64_t standing_delta,
                                     const EventTime& time, int64_t versions) {
  const HierarchyAggregation aggregation =
      defs.kpi(kpi).hierarchy_aggregation;
  auto load = [&](const CellId& id) {
    return [this, &defs, id] { return LoadCell(defs, id); };
  };
  for (UnitIndex ancestor : defs.PathToRoot(unit, period)) {
    const CellId id{kpi, ancestor, period};
    ASSIGN_OR_RETURN(RollupCell * cell, cells_.Mutable(id, load(id)));
    if (observer_ != nullptr) RETURN_IF_ERROR((*observer_)(id, *cell));
    switch (ApplyContribution(aggregation, before, after, *cell)) {
      case CellUpdate::kApplied:
        break;
      case CellUpdate::kOverflow:
        return absl::OutOfRangeError(
            absl::StrCat("a change at ", CellKeyFor(defs, {kpi, unit, period}),
                         " takes ", CellKeyFor(defs, id),
                         " beyond the 128-bit range"));
      case CellUpdate::kRecompute: {
        // The children's cells are already up to date: this runs bottom-up.
        Contribution own = after;
        if (ancestor != unit) {
          ASSIGN_OR_RETURN(own, OwnContributionOf(defs, kpi, ancestor, period));
        }
        std::vector<RollupCell> children;
        for (UnitIndex child : defs.Children(ancestor, period)) {
          const CellId child_id{kpi, child, period};
          ASSIGN_OR_RETURN(const RollupCell* c,
                           cells_.Get(child_id, load(child_id)));
          if (c->contributors > 0) children.push_back(*c);
        }
        std::vector<const RollupCell*> pointers;
        for (const RollupCell& c : children) pointers.push_back(&c);
        // Loading the children may have moved the cell.
        ASSIGN_OR_RETURN(cell, cells_.Mutable(id, load(id)));
        RecomputeExtreme(aggregation, own, pointers, *cell);
        break;
      }
    }
    // Versions of each shape lie above those of the shapes before it.
    if (cell->version == 0 && scope_.whole()) {
      cell->version = epoch_ << kReorgVersionShift;
    }
    NoteEvent(standing_delta, time, *cell);
    cell->version += versions - 1;
  }
  return absl::OkStatus();
}

void CellFolder::PeriodsOf(const Definitions& defs, const EventChange& change) {
  periods_.clear();
  defs.calendar().PeriodsContaining(absl::FromUnixSeconds(change.time.seconds) +
                                        absl::Nanoseconds(change.time.nanos),
                                    defs.kpi(change.kpi).periods, periods_);
}

absl::Status CellFolder::FoldChange(const Definitions& defs,
                                    const EventChange& change) {
  const KpiInfo& info = defs.kpi(change.kpi);
  const EventTime& time = change.time;
  const std::optional<int64_t>& before = change.before;
  const std::optional<int64_t>& after = change.after;
  if (IsIndexed(info)) {
    pending_own_events_[OwnEventKey(OwnPrefix(defs, change.kpi, change.unit),
                                    time, change.event_id)] = after;
  }
  PeriodsOf(defs, change);
  if (info.carry_forward) return CarryForward(defs, change);
  for (const Period& period : periods_) {
    Contribution was, is;
    if (info.keeps_own_state) {
      ASSIGN_OR_RETURN(was, OwnContributionOf(defs, change.kpi, change.unit,
                                              period));
      const CellId cell{change.kpi, change.unit, period};
      ASSIGN_OR_RETURN(OwnState * own, own_.Mutable(cell, [&] {
        return store_.GetOwn(CellKeyFor(defs, cell));
      }));
      const absl::string_view id = change.event_id;
      bool exact = true;
      if (before) exact = RemoveFromOwn(info.time_aggregation, {time, id, *before}, *own);
      if (exact && after) AddToOwn(info.time_aggregation, {time, id, *after}, *own);
      if (!exact) RETURN_IF_ERROR(RebuildOwn(defs, cell));
      ASSIGN_OR_RETURN(is, OwnContributionOf(defs, change.kpi, change.unit,
                                             period));
    } else {
      // Sums of sums and pooled means: the event's value is the change.
      if (before) was = {false, *before, 1, 0};
      if (after) is = {false, *after, 1, 0};
    }
    RETURN_IF_ERROR(Propagate(defs, change.kpi, change.unit, period, was, is,
                              int64_t{after.has_value()} - before.has_value(),
                              time));
    for (KpiIndex weighted : info.weighted) {
      RETURN_IF_ERROR(
          Reweigh(defs, weighted, change.unit, period, was, is, time));
    }
  }
  return absl::OkStatus();
}

absl::Status CellFolder::ReachFrontiers(const Definitions& defs,
                                        const EventChange& change,
                                        const CellObserver* observer) {
  if (!defs.kpi(change.kpi).carry_forward) return absl::OkStatus();
  observer_ = observer;
  PeriodsOf(defs, change);
  absl::Status reached = ReachFrontiersOf(defs, change.kpi, periods_);
  observer_ = nullptr;
  return reached;
}

absl::Status CellFolder::ReachFrontier(const Definitions& defs, KpiIndex kpi,
                                       const Period& period,
                                       const CellObserver* observer) {
  if (!defs.kpi(kpi).carry_forward) return absl::OkStatus();
  observer_ = observer;
  absl::Status reached = ReachFrontiersOf(defs, kpi, {period});
  observer_ = nullptr;
  return reached;
}

absl::Status CellFolder::ReachFrontiersOf(const Definitions& defs,
                                          KpiIndex kpi,
                                          const std::vector<Period>& periods) {
  for (PeriodKind kind : defs.kpi(kpi).periods) {
    const std::optional<std::pair<int32_t, int32_t>> span =
        SpanOfKind(periods, kind);
    if (!span) continue;
    const int32_t last = span->second;
    ASSIGN_OR_RETURN(std::optional<int32_t> frontier,
                     FrontierOf(defs, kpi, kind));
    if (frontier && last > *frontier) {
      RETURN_IF_ERROR(AdvanceFrontier(defs, kpi, kind, *frontier, last));
    }
    SetFrontier(defs, kpi, kind, frontier ? std::max(*frontier, last) : last);
  }
  return absl::OkStatus();
}

absl::Status CellFolder::CarryForward(const Definitions& defs,
                                      const EventChange& change) {
  const KpiIndex kpi = change.kpi;
  const UnitIndex unit = change.unit;
  const EventTime& time = change.time;
  const absl::string_view id = change.event_id;
  const std::optional<int64_t>& before = change.before;
  const std::optional<int64_t>& after = change.after;
  const KpiInfo& info = defs.kpi(kpi);
  RETURN_IF_ERROR(ReachFrontiersOf(defs, kpi, periods_));
  for (PeriodKind kind : info.periods) {
    const std::optional<std::pair<int32_t, int32_t>> span =
        SpanOfKind(periods_, kind);
    if (!span) continue;
    const auto [first, last] = *span;
    ASSIGN_OR_RETURN(std::optional<int32_t> frontier,
                     FrontierOf(defs, kpi, kind));
    const int32_t end = frontier.value_or(last);  // Reached: at least last.
    for (int32_t i = first; i <= end; ++i) {
      const Period period{kind, i};
      const CellId cell{kpi, unit, period};
      ASSIGN_OR_RETURN(const Contribution was,
                       OwnContributionOf(defs, kpi, unit, period));
      // What the period before passes on, as this change left it: to-date
      // periods overlap, so a period holding the event may carry in a value
      // the event made too.
      std::optional<int64_t> carried_in;
      if (i > first) {
        ASSIGN_OR_RETURN(const OwnState* previous,
                         own_.Get({kpi, unit, {kind, i - 1}}, [&] {
                           return store_.GetOwn(
                               CellKeyFor(defs, {kpi, unit, {kind, i - 1}}));
                         }));
        carried_in = LatestValue(*previous);
      }
      ASSIGN_OR_RETURN(OwnState * own, own_.Mutable(cell, [&] {
        return store_.GetOwn(CellKeyFor(defs, cell));
      }));
      // Every event up to a period's end counts in its versions.
      ++own->history;
      if (own->latest_time < time || own->history == 1) own->latest_time = time;
      if (i > first) {
        own->carried = carried_in.has_value();
        own->carried_value = carried_in.value_or(0);
      }
      bool exact = true;
      if (i <= last) {
        if (before) exact = RemoveFromOwn(info.time_aggregation, {time, id, *before}, *own);
        if (exact && after) AddToOwn(info.time_aggregation, {time, id, *after}, *own);
      }
      if (!exact) RETURN_IF_ERROR(RebuildOwn(defs, cell));
      ASSIGN_OR_RETURN(const Contribution is,
                       OwnContributionOf(defs, kpi, unit, period));
      const int64_t standing =
          i <= last ? int64_t{after.has_value()} - before.has_value() : 0;
      RETURN_IF_ERROR(
          Propagate(defs, kpi, unit, period, was, is, standing, time));
    }
  }
  return absl::OkStatus();
}

absl::Status CellFolder::AdvanceFrontier(const Definitions& defs,
                                           KpiIndex kpi, PeriodKind kind,
                                           int32_t from, int32_t to) {
  // Every unit with a value by `from`'s end carries it into the new periods.
  for (UnitIndex unit = 0; unit < defs.unit_count(); ++unit) {
    if (!scope_.Owns(defs, unit)) continue;
    const CellId source{kpi, unit, {kind, from}};
    ASSIGN_OR_RETURN(const OwnState* at_frontier, own_.Get(source, [&] {
      return store_.GetOwn(CellKeyFor(defs, source));
    }));
    if (at_frontier->history == 0) continue;
    const std::optional<int64_t> value = LatestValue(*at_frontier);
    const int64_t history = at_frontier->history;
    const EventTime latest = at_frontier->latest_time;
    for (int32_t i = from + 1; i <= to; ++i) {
      const CellId cell{kpi, unit, {kind, i}};
      ASSIGN_OR_RETURN(const Contribution was,
                       OwnContributionOf(defs, kpi, unit, cell.period));
      ASSIGN_OR_RETURN(OwnState * own, own_.Mutable(cell, [&] {
        return store_.GetOwn(CellKeyFor(defs, cell));
      }));
      own->history = history;
      own->latest_time = latest;
      own->carried = value.has_value();
      own->carried_value = value.value_or(0);
      ASSIGN_OR_RETURN(const Contribution is,
                       OwnContributionOf(defs, kpi, unit, cell.period));
      RETURN_IF_ERROR(Propagate(defs, kpi, unit, cell.period, was, is,
                                /*standing_delta=*/0, latest, history));
    }
  }
  return absl::OkStatus();
}

std::string CellFolder::FrontierKey(const Definitions& defs, KpiIndex kpi,
                                    PeriodKind kind) const {
  const std::string key = absl::StrCat(
      "frontier/", defs.kpi(kpi).definition.kpi_id(), "/",
      static_cast<int>(kind));
  if (scope_.partitions == 1) return key;
  return PartialCellKey(scope_.partition, key);
}

absl::StatusOr<std::optional<int32_t>> CellFolder::FrontierOf(
    const Definitions& defs, KpiIndex kpi, PeriodKind kind) {
  const std::string key = FrontierKey(defs, kpi, kind);
  if (auto it = frontiers_.find(key); it != frontiers_.end()) {
    return it->second;
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> stored, store_.Frontier(key));
  std::optional<int32_t> frontier;
  if (stored) frontier = static_cast<int32_t>(*stored);
  frontiers_[key] = frontier;
  return frontier;
}

void CellFolder::SetFrontier(const Definitions& defs, KpiIndex kpi,
                               PeriodKind kind, int32_t index) {
  const std::string key = FrontierKey(defs, kpi, kind);
  auto it = frontiers_.find(key);
  if (it != frontiers_.end() && it->second == index) return;
  frontiers_[key] = index;
  pending_frontiers_[key] = index;
}

bool CellFolder::IsIndexed(const KpiInfo& kpi) {
  return kpi.time_aggregation == TimeAggregation::kLast ||
         kpi.time_aggregation == TimeAggregation::kMin ||
         kpi.time_aggregation == TimeAggregation::kMax;
}

std::string CellFolder::OwnPrefix(const Definitions& defs, KpiIndex kpi,
                                    UnitIndex unit) {
  return absl::StrCat(defs.kpi(kpi).definition.kpi_id(), "/",
                      defs.unit(unit).definition.unit_id(), "/");
}

absl::Status CellFolder::RebuildOwn(const Definitions& defs,
                                      const CellId& cell) {
  // The store must hold every event but this hand-off's: the batch in
  // flight first becomes durable.
  RETURN_IF_ERROR(wait_durable_());
  const std::string prefix = OwnPrefix(defs, cell.kpi, cell.unit);
  const Calendar& calendar = defs.calendar();
  auto bound = [&](absl::Time t) {
    const timespec ts = absl::ToTimespec(t);
    return OwnEventBound(prefix, {ts.tv_sec, static_cast<int32_t>(ts.tv_nsec)});
  };
  const std::string begin = bound(calendar.Start(cell.period));
  const std::string end = bound(calendar.End(cell.period));
  ASSIGN_OR_RETURN(auto stored, store_.OwnEvents(begin, end));
  std::map<std::string, std::optional<int64_t>> events(stored.begin(),
                                                       stored.end());
  for (auto it = pending_own_events_.lower_bound(begin);
       it != pending_own_events_.end() && it->first < end; ++it) {
    events[it->first] = it->second;
  }
  OwnState rebuilt;
  const TimeAggregation aggregation = defs.kpi(cell.kpi).time_aggregation;
  for (const auto& [key, value] : events) {
    if (!value) continue;  // Voided.
    EventTime time;
    std::string id;
    if (!ParseOwnEventKey(key, prefix.size(), time, id)) {
      return absl::DataLossError(
          absl::StrCat("rollup: malformed own-event key under ", prefix));
    }
    AddToOwn(aggregation, {time, id, *value}, rebuilt);
  }
  ASSIGN_OR_RETURN(OwnState * own, own_.Mutable(cell, [&] {
    return store_.GetOwn(CellKeyFor(defs, cell));
  }));
  // What is carried in and the history up to the period's end stay.
  rebuilt.carried = own->carried;
  rebuilt.carried_value = own->carried_value;
  rebuilt.history = own->history;
  rebuilt.latest_time = own->latest_time;
  *own = std::move(rebuilt);
  return absl::OkStatus();
}

absl::Status CellFolder::Reweigh(const Definitions& defs, KpiIndex weighted,
                                   UnitIndex unit, const Period& period,
                                   const Contribution& weight_before,
                                   const Contribution& weight_after,
                                   const EventTime& time) {
  if (!defs.kpi(weighted).periods.Contains(period.kind)) return absl::OkStatus();
  // The weight is already folded in: `after` pairs the unit's value (if it
  // has one) with its new weight.
  ASSIGN_OR_RETURN(Contribution after,
                   OwnContributionOf(defs, weighted, unit, period));
  Contribution before = after;
  before.present = after.count > 0 && weight_before.present;
  before.weight = weight_before.value;
  // Every weight change counts in the weighted cells' versions, even where
  // no value is weighed yet, so that versions do not depend on the order
  // the log's partitions are read in.
  return Propagate(defs, weighted, unit, period, before, after,
                   /*standing_delta=*/0, time);
}

}  // namespace strata::rollup
