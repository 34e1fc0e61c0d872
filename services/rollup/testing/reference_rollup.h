#pragma once

// A brute-force model of the README's "Rollup semantics", the oracle of the
// rollup engine's property test. It shares none of the engine's incremental
// code (own states, contributions, cell updates, figures): from the list of
// distinct events it computes every (KPI, unit, period) cell directly and
// exactly, sums as 128-bit fixed point and means and ratios as numerator
// and denominator. strata::Calendar is used only for where a period starts
// and ends; which periods an event falls in is decided here, by testing
// Start(P) <= t < End(P).
//
//   ReferenceRollup rollup =
//       ComputeReferenceRollup(calendar, units, kpis, events);
//   if (const ReferenceCell* cell = rollup.Find(CellKey("sales", "ent", p)))
//     ... cell->figure.exact_value ...

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/time/time.h"
#include "libs/aggregation/aggregation.h"
#include "libs/period/calendar.h"
#include "libs/period/period.h"

namespace strata::rollup::testing {

struct ReferenceUnit {
  std::string id;
  std::string parent_id;  // From the start; empty for the root.
  // Under another parent from a local date ("2026-07-01") on: a period
  // rolls up in the shape of its first day. A later move of the same day
  // replaces an earlier one.
  struct Move {
    std::string effective_from;
    std::string parent_id;
  };
  std::vector<Move> moves;
};

// A KPI as the README describes it. Defaults resolved: `periods` is what
// the KPI keeps.
struct ReferenceKpi {
  std::string id;
  TimeAggregation time = TimeAggregation::kSum;  // Event KPIs only.
  HierarchyAggregation hierarchy = HierarchyAggregation::kSum;
  std::string weight_id;  // kWeightedAvg.
  // kRatio and kDerived: op(left, right), RATIO scaled by `scale` (0 is 1).
  FormulaOperator op = FormulaOperator::kRatio;
  std::string left_id;
  std::string right_id;
  double scale = 0;
  PeriodKindSet periods;
  // LAST only: a unit with no event in a period counts with its latest
  // value before it, up to the latest period any event of the KPI reached.
  bool carry_forward = false;

  bool IsComputed() const { return IsDerived(hierarchy); }
};

struct ReferenceEvent {
  std::string id;
  std::string kpi_id;
  std::string unit_id;
  absl::Time time;
  double value = 0;  // As sent; counted as ToFixedPoint(value).
  // A correction of event `corrects_id` (same KPI, unit and time): from it
  // on that event counts with `value`, or not at all when `voids`. It is no
  // event of its own.
  std::string corrects_id;
  bool voids = false;
};

// What a record must say about its figure.
struct ExpectedFigure {
  bool has_value = false;
  // The nearest double to the exact figure when `value_is_nearest`;
  // otherwise a record's value must lie within `tolerance` of it (fractions
  // and formulas, whose engine arithmetic is long double).
  double value = 0;
  bool value_is_nearest = false;
  double tolerance = 0;
  // Required when not empty: sums, last, min, max and differences of those.
  std::string exact_value;
  // The figure in decimal when it is a whole number of 0.0001s: the only
  // exact_value any record of it may carry.
  std::optional<std::string> whole;
  // Required when not empty: means, weighted means and ratios, as their
  // sums (AVG: Σ values / count; WEIGHTED_AVG: Σ value x weight, in
  // 0.0001^2, / Σ weight; RATIO: Σ left / Σ right).
  std::string numerator;
  std::string denominator;
  // A formula over inputs that are whole numbers of 0.0001s may state
  // them as numerator and denominator; these are the only ones it may.
  std::optional<std::pair<std::string, std::string>> allowed_fraction;

  // For formulas over this figure.
  bool whole_kind = false;            // Sum, last, min, max or difference.
  std::optional<absl::int128> fixed;  // Set with `whole`.
  long double approx = 0;
};

struct ReferenceCell {
  std::string kpi_id;
  std::string unit_id;
  Period period;
  ExpectedFigure figure;
  // Distinct events of the KPI (a formula's: of both inputs) in the
  // subtree and period.
  int64_t event_count = 0;
  // Units whose own values make the figure (for WEIGHTED_AVG: that have a
  // value and a weight). A record must state it when required, and may
  // state 0 (not tracked) otherwise; formulas leave it unchecked.
  int64_t contributors = 0;
  bool contributors_required = false;
  bool contributors_checked = true;
  // The latest time of an event that reached the cell: in the subtree and
  // period (a carried-forward stock's: in the subtree up to the period's
  // end), voided ones too, and the weight's for a weighted mean.
  std::optional<absl::Time> last_event_time;
};

struct ReferenceRollup {
  // By CellKey(kpi_id, unit_id, period).
  std::map<std::string, ReferenceCell> cells;

  const ReferenceCell* Find(const std::string& key) const {
    auto it = cells.find(key);
    return it == cells.end() ? nullptr : &it->second;
  }
};

// Every cell that some event reaches, per the README. `events` may hold
// exact duplicates (same id, same payload); each id counts once. The
// corrections of one event apply in the order they come in `events`. A
// voided event counts nowhere but still reaches its cells (they exist, and
// its time is their latest event's). Units come parents first, in every
// shape; KPIs come after the KPIs they name.
ReferenceRollup ComputeReferenceRollup(
    const Calendar& calendar, const std::vector<ReferenceUnit>& units,
    const std::vector<ReferenceKpi>& kpis,
    const std::vector<ReferenceEvent>& events);

// The units from `unit_id` up to the root in the shape of `period`'s first
// day.
std::vector<std::string> ReferencePathToRoot(
    const Calendar& calendar, const std::vector<ReferenceUnit>& units,
    const std::string& unit_id, const Period& period);

// The periods of `kinds` whose span [Start, End) holds `t`. Candidates are
// Calendar::Containing's period and its neighbours (to-date kinds: every
// to-date period ending up to twelve months after t's month); membership
// is decided by Start and End alone.
std::vector<Period> ReferencePeriodsContaining(const Calendar& calendar,
                                               absl::Time t,
                                               PeriodKindSet kinds);

// `value` x 10^-decimals in canonical decimal form: "-12.5", "0.0001", "0".
std::string ReferenceDecimal(absl::int128 value, int decimals);

// The double nearest to numerator / denominator (denominator not 0),
// correctly rounded.
double NearestDouble(absl::int128 numerator, absl::int128 denominator);

}  // namespace strata::rollup::testing
