#pragma once

// Folds the change of an accepted event into its unit's own state and the
// cells of the unit and every ancestor, for every period the event falls
// in: stage B ("fold") of services/rollup/SCALE_OUT.md. What the folder
// holds is read through from the store and cached; TakeChanges() hands
// what changed since the last call to the flush.
//
//   CellFolder folder(store, FoldScope{}, wait_durable);
//   RETURN_IF_ERROR(folder.Fold(defs, {kpi, unit, time, id, before, after}));
//   CellFolder::Changes changes = folder.TakeChanges();
//
// Accepting events (ids, corrections, closed periods) is the caller's part.
// Not thread-safe: the caller serialises Read() with everything else (the
// engine holds one lock over all its folders, so that a query merges their
// parts as of one moment).
//
// A folder folds every unit, or only the units of one fold partition; then
// its cells are partial, over those units only, and the whole cell is the
// merge of every partition's part (MergePartialCells). Every partition's
// folder must then reach every frontier an event reaches (ReachFrontiers),
// whichever partition folds the event, so that stocks are carried as far
// in each.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/aggregation/cell.h"
#include "libs/aggregation/own_state.h"
#include "libs/definitions/cell_id.h"
#include "libs/definitions/definitions.h"
#include "libs/period/period.h"
#include "services/rollup/dirty_cache.h"
#include "services/rollup/event_change.h"
#include "services/rollup/rollup_store.h"

namespace strata::rollup {

// The units a folder folds: all, or those of one of `partitions` fold
// partitions (by unit id, placed like records keyed by it on the log).
struct FoldScope {
  int32_t partition = 0;
  int32_t partitions = 1;

  bool whole() const { return partitions == 1; }
  bool Owns(const Definitions& defs, UnitIndex unit) const {
    return whole() || PartOf(defs, unit, partitions) == partition;
  }
  // The fold partition of `unit`.
  static int32_t PartOf(const Definitions& defs, UnitIndex unit,
                        int32_t partitions);
};

// Where a fold partition's part of a cell is stored.
std::string PartialCellKey(int32_t partition, absl::string_view cell_key);

class CellFolder {
 public:
  // Told of every cell about to change, with its state before.
  using CellObserver =
      std::function<absl::Status(const CellId& id, const RollupCell& before)>;

  // `wait_durable` returns once every change handed off so far is in the
  // store (UNAVAILABLE when it gives up): an own state rebuilt from the
  // own-events index reads them there.
  CellFolder(RollupStore& store, FoldScope scope,
             std::function<absl::Status()> wait_durable)
      : store_(store), scope_(scope), wait_durable_(std::move(wait_durable)) {}

  // Versions of a whole cell first reached from now on start at `epoch` <<
  // kReorgVersionShift, above those of every earlier shape of the state.
  // (A part's count from 0: the merge places them.)
  void SetVersionEpoch(int64_t epoch) { epoch_ = epoch; }

  // Folds `change`, of a unit the scope owns. `observer`, when set, hears
  // of every cell it changes first (to keep a closed period's figure as
  // reported before an approved late event). A failure may leave the
  // folder half updated: Clear() it.
  absl::Status Fold(const Definitions& defs, const EventChange& change,
                    const CellObserver* observer = nullptr);

  // Carries the owned units' stocks of `kpi` at least to `period` (an
  // event of another partition reached it); `observer` as for Fold.
  absl::Status ReachFrontier(const Definitions& defs, KpiIndex kpi,
                             const Period& period,
                             const CellObserver* observer = nullptr);
  // Carries the owned units' stocks as far as `change` takes the frontiers
  // of its KPI, when it carries stocks forward; `observer` as for Fold.
  absl::Status ReachFrontiers(const Definitions& defs,
                              const EventChange& change,
                              const CellObserver* observer = nullptr);

  // The latest folded state of a cell (its part, in a fold partition),
  // cached or stored; nullopt when no event has reached it.
  absl::StatusOr<std::optional<RollupCell>> Read(const Definitions& defs,
                                                 const CellId& id) const;

  // Has the cell handed off again (its target changed).
  absl::Status MarkChanged(const Definitions& defs, const CellId& id);

  // What changed since the last call. Cells marked but reached by no event
  // yet have version 0.
  struct Changes {
    std::vector<std::pair<CellId, RollupCell>> cells;
    std::vector<std::pair<CellId, OwnState>> own;
    // Own-events index entries (OwnEventKey): a value, or none to delete.
    std::map<std::string, std::optional<int64_t>> own_events;
    // Carried-forward KPIs' frontiers (FrontierKey).
    std::vector<std::pair<std::string, int64_t>> frontiers;
  };
  Changes TakeChanges();

  // Once more than `max_cached` cells or own states are cached, forgets
  // all but those `handed_off` holds (the store holds the rest exactly,
  // once the hand-off before is durable).
  void Bound(size_t max_cached, const Changes& handed_off);

  // Forgets everything not in the store.
  void Clear();

 private:
  absl::Status FoldChange(const Definitions& defs, const EventChange& change);
  // The stored state of a cell (its part).
  absl::StatusOr<std::optional<RollupCell>> LoadCell(const Definitions& defs,
                                                     const CellId& id) const;
  // The periods `change` falls in, into periods_.
  void PeriodsOf(const Definitions& defs, const EventChange& change);
  // FoldChange for a KPI that carries stocks forward: the event's periods,
  // then every later one up to the frontier (the unit's value or history
  // as of their ends changed).
  absl::Status CarryForward(const Definitions& defs, const EventChange& change);
  // ReachFrontiers for the periods a change of `kpi` falls in.
  absl::Status ReachFrontiersOf(const Definitions& defs, KpiIndex kpi,
                                const std::vector<Period>& periods);
  // Carries every unit's value at period `from` into `from`+1 .. `to`.
  absl::Status AdvanceFrontier(const Definitions& defs, KpiIndex kpi,
                               PeriodKind kind, int32_t from, int32_t to);
  // The latest period index of `kind` any event of `kpi` reached.
  absl::StatusOr<std::optional<int32_t>> FrontierOf(const Definitions& defs,
                                                    KpiIndex kpi,
                                                    PeriodKind kind);
  void SetFrontier(const Definitions& defs, KpiIndex kpi, PeriodKind kind,
                   int32_t index);
  // Per fold partition, when there are several: they reach frontiers at
  // their own pace when apart.
  std::string FrontierKey(const Definitions& defs, KpiIndex kpi,
                          PeriodKind kind) const;
  // Replaces a unit's contribution `before` by `after` in its own cell and
  // every ancestor's, counting `standing_delta` events.
  absl::Status Propagate(const Definitions& defs, KpiIndex kpi, UnitIndex unit,
                         const Period& period, const Contribution& before,
                         const Contribution& after, int64_t standing_delta,
                         const EventTime& time, int64_t versions = 1);
  // The weight of `unit` changed from `weight_before` to `weight_after`:
  // updates the cells of a KPI weighted by it.
  absl::Status Reweigh(const Definitions& defs, KpiIndex weighted,
                       UnitIndex unit, const Period& period,
                       const Contribution& weight_before,
                       const Contribution& weight_after, const EventTime& time);
  // What `unit`'s own events add to its cells, weight included.
  absl::StatusOr<Contribution> OwnContributionOf(const Definitions& defs,
                                                 KpiIndex kpi, UnitIndex unit,
                                                 const Period& period);
  // Recomputes an own state from the own-events index, when taking an
  // event out left it unknown (the latest or the extreme went).
  absl::Status RebuildOwn(const Definitions& defs, const CellId& cell);
  // Whether a KPI's own events are indexed for RebuildOwn.
  static bool IsIndexed(const KpiInfo& kpi);
  static std::string OwnPrefix(const Definitions& defs, KpiIndex kpi,
                               UnitIndex unit);

  RollupStore& store_;
  const FoldScope scope_;
  const std::function<absl::Status()> wait_durable_;
  int64_t epoch_ = 0;
  const CellObserver* observer_ = nullptr;  // During a change only.

  DirtyCache<CellId, RollupCell> cells_;
  DirtyCache<CellId, OwnState> own_;  // For KPIs that keep own state.
  std::vector<Period> periods_;        // Of the change being folded.
  // Own-events index changes since the last TakeChanges.
  std::map<std::string, std::optional<int64_t>> pending_own_events_;
  // Carried-forward KPIs' frontiers by FrontierKey (none: never reached),
  // and those changed since the last TakeChanges.
  absl::flat_hash_map<std::string, std::optional<int32_t>> frontiers_;
  std::map<std::string, int64_t> pending_frontiers_;
};

}  // namespace strata::rollup
