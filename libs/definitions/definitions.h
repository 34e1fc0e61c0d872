#pragma once

// An immutable snapshot of the definitions: org tree, KPIs and targets.
// Applying a batch yields a new snapshot, so readers never see half of one.
//
//   ASSIGN_OR_RETURN(Definitions next, current.WithBatch(batch));
//   std::optional<UnitIndex> team = next.FindUnit("team-7");
//   for (UnitIndex u : next.PathToRoot(*team)) { ... }  // team, ..., root

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "libs/aggregation/aggregation.h"
#include "libs/definitions/cell_id.h"
#include "libs/period/calendar.h"
#include "libs/period/period.h"
#include "libs/scorecard/status.h"
#include "libs/scorecard/target_profile.h"
#include "strata/v1/definitions.pb.h"

namespace strata {

// What one set of definitions may hold. Memory is linear in each, and a
// request beyond one is refused whole: RESOURCE_EXHAUSTED for a count,
// INVALID_ARGUMENT for a unit deeper than kMaxUnitDepth.
inline constexpr size_t kMaxUnits = 100'000;
inline constexpr size_t kMaxKpis = 10'000;
inline constexpr size_t kMaxObjectives = 10'000;
inline constexpr size_t kMaxTargets = 1'000'000;
inline constexpr size_t kMaxUnitDepth = 32;  // Levels, the root being 1.
inline constexpr int kMaxChangesPerBatch = 100'000;

struct UnitInfo {
  v1::OrgUnit definition;
  // In the latest shape of the organisation (see Definitions::PathToRoot).
  std::vector<UnitIndex> path_to_root;  // Self first, root last.
  std::vector<UnitIndex> children;
  // The parent from each effective day on, ascending; the first entry's
  // day is ignored (it holds from the start).
  std::vector<std::pair<Period, std::optional<UnitIndex>>> parents;
};

struct FormulaInfo {
  FormulaOperator op = FormulaOperator::kRatio;
  KpiIndex left = 0;
  KpiIndex right = 0;
  double scale = 1;
};

// Kpi.alert_policy, resolved: zero or 0 switches a rule off.
struct AlertPolicy {
  absl::Duration escalate_after = absl::ZeroDuration();
  double worsening_score_drop = 0;
  absl::Duration corrective_action_within = absl::ZeroDuration();
  absl::Duration projection_window = absl::ZeroDuration();
  KpiStatus projected_miss_at = KpiStatus::kRed;  // kAmber or kRed.
};

// Kpi.feed, resolved: when a feed's data is due.
struct FeedSchedule {
  PeriodKind cadence = PeriodKind::kDay;
  absl::Duration due_after = absl::ZeroDuration();
  std::vector<UnitIndex> units;  // Empty: every unit without children.
  // Periods starting at it or later are checked; InfiniteFuture until a
  // reader of the log filled it in (see DefinitionsFollower).
  absl::Time since = absl::InfiniteFuture();
};

struct KpiInfo {
  v1::Kpi definition;
  TimeAggregation time_aggregation = TimeAggregation::kSum;
  HierarchyAggregation hierarchy_aggregation = HierarchyAggregation::kSum;
  std::optional<KpiIndex> weight;     // kWeightedAvg.
  std::optional<FormulaInfo> formula;  // kRatio, kDerived.
  PeriodKindSet periods;               // Kept for this KPI.
  bool carry_forward = false;          // Stocks carried into empty periods.
  // Whether each unit's own events are kept per period (see
  // FoldsWithoutOwnState); weights always keep them.
  bool keeps_own_state = false;
  std::vector<KpiIndex> weighted;  // KPIs this one is the weight of.
  std::vector<KpiIndex> derived;   // KPIs computed from this one.
  Polarity polarity = Polarity::kHigherIsBetter;
  ThresholdBands bands;
  // How its targets accrue through a period; the proto's default resolved.
  TargetProfile target_profile;
  AlertPolicy alerts;
  std::optional<FeedSchedule> feed;
};

class Definitions {
 public:
  // The snapshot with `batch` applied in order, or the first problem:
  // INVALID_ARGUMENT for a malformed field, NOT_FOUND for a reference to an
  // unknown unit or KPI, FAILED_PRECONDITION for a change the current state
  // forbids, RESOURCE_EXHAUSTED beyond a limit above. The message names the field,
  // e.g. "changes[2].org_unit.parent_id: ...".
  absl::StatusOr<Definitions> WithBatch(const v1::DefinitionBatch& batch) const;

  std::optional<UnitIndex> FindUnit(absl::string_view unit_id) const;
  // When `unit`'s data of `kpi` for `period` is due by the KPI's feed
  // schedule; nullopt when the schedule does not ask for it.
  std::optional<absl::Time> FeedDue(KpiIndex kpi, UnitIndex unit,
                                    const Period& period) const;
  std::optional<KpiIndex> FindKpi(absl::string_view kpi_id) const;
  const UnitInfo& unit(UnitIndex index) const { return units_[index]; }
  const KpiInfo& kpi(KpiIndex index) const { return kpis_[index]; }
  size_t unit_count() const { return units_.size(); }
  size_t kpi_count() const { return kpis_.size(); }

  // In the latest shape of the organisation.
  absl::Span<const UnitIndex> PathToRoot(UnitIndex unit) const {
    return units_[unit].path_to_root;
  }
  absl::Span<const UnitIndex> Children(UnitIndex unit) const {
    return units_[unit].children;
  }
  // In the shape `period` rolls up in: the organisation on its first day.
  absl::Span<const UnitIndex> PathToRoot(UnitIndex unit,
                                         const Period& period) const;
  absl::Span<const UnitIndex> Children(UnitIndex unit,
                                       const Period& period) const;
  // How many reorgs were applied: rollups folded under another count are
  // of another shape.
  int64_t reorg_count() const { return static_cast<int64_t>(reorgs_.size()); }
  // Period boundaries: the organisation's time zone and fiscal year.
  const Calendar& calendar() const { return calendar_; }
  // True when `unit` is `root` or below it.
  bool InSubtree(UnitIndex unit, UnitIndex root) const;

  // The unit's own target, else the one cascaded to it from above (see
  // strata.v1.TargetCascade).
  std::optional<double> Target(KpiIndex kpi, UnitIndex unit,
                               const Period& period) const;
  // Whether a change of the target declared at `cell` can change the
  // targets of units below it: it cascades, or once did.
  bool TargetReachesBelow(const CellId& cell) const;
  // The cell of a target these definitions hold (its ids and period valid).
  CellId TargetCellOf(const v1::Target& target) const;

  // The strategy's objectives, in the order first defined.
  const std::vector<v1::Objective>& objectives() const { return objectives_; }
  const v1::Objective* FindObjective(absl::string_view objective_id) const;

  // Every definition, parents before children: replaying it rebuilds this.
  v1::DefinitionBatch ToBatch() const;

 private:
  absl::Status ApplyOrganisation(const v1::Organisation& organisation,
                                 const std::string& field);
  absl::Status ApplyUnit(const v1::OrgUnit& unit, const std::string& field);
  absl::Status ApplyKpi(const v1::Kpi& kpi, const std::string& field);
  absl::Status ApplyTarget(const v1::Target& target, const std::string& field);
  absl::Status ApplyObjective(const v1::Objective& objective,
                              const std::string& field);
  // Whether `from` is reached from `to` along the strategy map's arrows.
  bool Drives(const std::string& from, const std::string& to) const;

  struct Shape;
  // A reorg of an existing unit (ApplyUnit).
  absl::Status Reparent(UnitIndex unit, const v1::OrgUnit& change,
                        const std::string& field);
  // Recomputes every shape from the units' parents; INVALID_ARGUMENT when
  // one would hold a cycle or be too deep.
  absl::Status ComputeShapes(const std::string& field);
  // The shape in force at `period`'s start, or nullptr for the latest.
  const Shape* ShapeAt(const Period& period) const;

  absl::StatusOr<KpiInfo> ResolveAggregation(const v1::Kpi& kpi,
                                             const std::string& field) const;
  absl::Status ResolveFormula(const v1::Kpi& kpi, const std::string& field,
                              KpiInfo& info) const;
  absl::Status ValidateCascade(const v1::TargetCascade& cascade,
                               const CellId& cell,
                               const std::string& field) const;
  // The declared target's shares name children in its period's shape.
  absl::Status CheckSharesAreChildren(const CellId& cell,
                                      const std::string& field) const;
  absl::Status ResolveTargetProfile(const v1::Kpi& kpi,
                                    const std::string& field, KpiInfo& info);
  absl::Status ResolvePeriods(const v1::Kpi& kpi, const std::string& field,
                              KpiInfo& info) const;
  absl::Status ResolveFeedSchedule(const v1::Kpi& kpi,
                                   const std::string& field,
                                   KpiInfo& info) const;

  // The organisation as it stood from `from` until the next shape's start.
  struct Shape {
    absl::Time from;
    std::vector<std::vector<UnitIndex>> path_to_root;
    std::vector<std::vector<UnitIndex>> children;
  };
  std::vector<Shape> past_shapes_;  // Before the latest; empty without reorgs.
  absl::Time latest_from_ = absl::InfinitePast();  // The latest's start.
  std::vector<v1::OrgUnit> reorgs_;  // As applied, for ToBatch.

  v1::Organisation organisation_;  // As declared; empty until then.
  Calendar calendar_;
  std::vector<UnitInfo> units_;
  absl::flat_hash_map<std::string, UnitIndex> unit_index_;
  std::vector<KpiInfo> kpis_;
  absl::flat_hash_map<std::string, KpiIndex> kpi_index_;
  struct DeclaredTarget {
    double value = 0;
    v1::TargetCascade cascade;
    bool ever_cascaded = false;  // Units below may hold a stale copy.
  };
  absl::flat_hash_map<CellId, DeclaredTarget> targets_;
  std::vector<v1::Objective> objectives_;
  absl::flat_hash_map<std::string, size_t> objective_index_;
};

}  // namespace strata
