#include "services/rollup/testing/reference_rollup.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "libs/aggregation/fixed_point.h"
#include "libs/streams/cell_key.h"

namespace strata::rollup::testing {
namespace {

absl::uint128 Magnitude(absl::int128 value) {
  return value < 0 ? absl::uint128(0) - absl::uint128(value)
                   : absl::uint128(value);
}

absl::int128 PowerOfTen(int exponent) {
  absl::int128 out = 1;
  for (int i = 0; i < exponent; ++i) out *= 10;
  return out;
}

// One unit's own events of one KPI in one period.
struct OwnEvents {
  int64_t count = 0;  // Not voided.
  absl::int128 sum = 0;
  int64_t min = 0;
  int64_t max = 0;
  // The latest by time, then by id bytewise (the README's LAST).
  absl::Time last_time = absl::InfinitePast();
  std::string last_id;
  int64_t last = 0;
  // The latest time of any of its events, voided ones too.
  absl::Time latest = absl::InfinitePast();
  // A carried-forward stock without events here: its value before.
  std::optional<int64_t> carried;

  // `value` is the event's as corrected; none when voided.
  void Add(const ReferenceEvent& event, std::optional<int64_t> value) {
    latest = std::max(latest, event.time);
    if (!value) return;
    min = count == 0 ? *value : std::min(min, *value);
    max = count == 0 ? *value : std::max(max, *value);
    if (count == 0 || event.time > last_time ||
        (event.time == last_time && event.id > last_id)) {
      last_time = event.time;
      last_id = event.id;
      last = *value;
    }
    ++count;
    sum += *value;
  }

  bool HasValue() const { return count > 0 || carried.has_value(); }

  // The unit's own value; for kAvg the sum of its events.
  absl::int128 Value(TimeAggregation time) const {
    if (count == 0) return carried.value_or(0);
    switch (time) {
      case TimeAggregation::kSum:
      case TimeAggregation::kAvg:
        return sum;
      case TimeAggregation::kLast:
        return last;
      case TimeAggregation::kMin:
        return min;
      case TimeAggregation::kMax:
        return max;
    }
    return 0;
  }
};

// The own values of one KPI's units in one period, gathered over a subtree.
struct Subtree {
  int64_t events = 0;
  absl::Time latest = absl::InfinitePast();
  int64_t reporting = 0;    // Units with an own value.
  absl::int128 values = 0;  // Σ own values (kAvg over time: Σ events).
  std::optional<absl::int128> min;
  std::optional<absl::int128> max;
  int64_t weighted_reporting = 0;  // Units with a value and a weight.
  absl::int128 weighted_sum = 0;   // Σ value x weight, in 0.0001^2.
  absl::int128 weight_sum = 0;     // Σ weight.
};

using OwnKey = std::tuple<std::string, size_t, int, int32_t>;  // KPI, unit, P

OwnKey OwnKeyOf(const std::string& kpi, size_t unit, const Period& period) {
  return {kpi, unit, static_cast<int>(period.kind), period.index};
}

ExpectedFigure NoValue() { return ExpectedFigure{}; }

ExpectedFigure WholeFigure(absl::int128 fixed) {
  ExpectedFigure f;
  f.has_value = true;
  f.whole_kind = true;
  f.fixed = fixed;
  f.exact_value = ReferenceDecimal(fixed, kFixedPointDecimals);
  f.whole = f.exact_value;
  f.value = NearestDouble(fixed, kFixedPointScale);
  f.value_is_nearest = true;
  f.approx =
      static_cast<long double>(static_cast<__int128>(fixed)) / kFixedPointScale;
  return f;
}

// (numerator x 10^-numerator_decimals) / (denominator x 10^-denominator_
// decimals), numerator_decimals >= denominator_decimals.
ExpectedFigure FractionFigure(absl::int128 numerator, int numerator_decimals,
                              absl::int128 denominator,
                              int denominator_decimals) {
  if (denominator == 0) return NoValue();
  ExpectedFigure f;
  f.has_value = true;
  f.numerator = ReferenceDecimal(numerator, numerator_decimals);
  f.denominator = ReferenceDecimal(denominator, denominator_decimals);
  // Both in the numerator's decimals. The bounds of the generated cases
  // (|Σ v x w| < 1e34) keep these products within 128 bits.
  const absl::int128 scaled_denominator =
      denominator * PowerOfTen(numerator_decimals - denominator_decimals);
  f.value = NearestDouble(numerator, scaled_denominator);
  f.tolerance = 1e-12 * std::fabs(f.value);
  f.approx =
      static_cast<long double>(static_cast<__int128>(numerator)) /
      static_cast<long double>(static_cast<__int128>(scaled_denominator));
  const absl::int128 in_fixed_point = numerator * kFixedPointScale;
  if (in_fixed_point % scaled_denominator == 0) {
    f.fixed = in_fixed_point / scaled_denominator;
    f.whole = ReferenceDecimal(*f.fixed, kFixedPointDecimals);
  }
  return f;
}

ExpectedFigure SubtreeFigure(const ReferenceKpi& kpi, const Subtree& s) {
  switch (kpi.hierarchy) {
    case HierarchyAggregation::kSum:
      return WholeFigure(s.values);
    case HierarchyAggregation::kMin:
      return s.min ? WholeFigure(*s.min) : NoValue();
    case HierarchyAggregation::kMax:
      return s.max ? WholeFigure(*s.max) : NoValue();
    case HierarchyAggregation::kAvg:
      // Over time AVG: every event in the subtree; else the units' values.
      return FractionFigure(
          s.values, kFixedPointDecimals,
          kpi.time == TimeAggregation::kAvg ? s.events : s.reporting, 0);
    case HierarchyAggregation::kWeightedAvg:
      return FractionFigure(s.weighted_sum, 2 * kFixedPointDecimals,
                            s.weight_sum, kFixedPointDecimals);
    case HierarchyAggregation::kRatio:
    case HierarchyAggregation::kDerived:
      break;
  }
  return NoValue();
}

// op(left, right); null for an input without a cell.
ExpectedFigure FormulaFigure(const ReferenceKpi& kpi,
                             const ExpectedFigure* left,
                             const ExpectedFigure* right) {
  if (left == nullptr || !left->has_value || right == nullptr ||
      !right->has_value) {
    return NoValue();
  }
  ExpectedFigure f;
  f.has_value = true;
  const bool both_exact = left->fixed && right->fixed;
  if (kpi.op == FormulaOperator::kDifference) {
    if (left->whole_kind && right->whole_kind) {
      return WholeFigure(*left->fixed - *right->fixed);
    }
    f.approx = left->approx - right->approx;
    f.value = static_cast<double>(f.approx);
    f.tolerance =
        1e-12 * static_cast<double>(std::max(std::fabs(left->approx),
                                             std::fabs(right->approx)));
    if (both_exact) {
      f.fixed = *left->fixed - *right->fixed;
      f.whole = ReferenceDecimal(*f.fixed, kFixedPointDecimals);
    }
    return f;
  }
  if (right->approx == 0) return NoValue();  // Exactly 0: a whole 0.
  const long double factor = kpi.op == FormulaOperator::kPercentage ? 100
                             : kpi.scale == 0                       ? 1
                                                                    : kpi.scale;
  f.approx = factor * left->approx / right->approx;
  f.value = static_cast<double>(f.approx);
  f.tolerance = 1e-12 * std::fabs(f.value);
  if (both_exact) {
    f.allowed_fraction = {ReferenceDecimal(*left->fixed, kFixedPointDecimals),
                          ReferenceDecimal(*right->fixed, kFixedPointDecimals)};
    if (left->whole_kind && right->whole_kind) {
      f.numerator = f.allowed_fraction->first;
      f.denominator = f.allowed_fraction->second;
    }
  }
  return f;
}

// An event as its corrections left it: its value, or none when voided.
struct Standing {
  const ReferenceEvent* event;
  std::optional<int64_t> value;
};

// The distinct events that are not corrections (the first copy of each
// id), with the value the last of their corrections gave them.
std::vector<Standing> Resolve(const std::vector<ReferenceEvent>& events) {
  std::set<std::string> seen;
  std::map<std::string, size_t> originals;
  std::vector<Standing> out;
  for (const ReferenceEvent& event : events) {
    if (!seen.insert(event.id).second) continue;
    if (event.corrects_id.empty()) {
      originals[event.id] = out.size();
      out.push_back({&event, ToFixedPoint(event.value)});
      continue;
    }
    auto it = originals.find(event.corrects_id);
    if (it == originals.end()) std::abort();  // Not a case the README allows.
    out[it->second].value =
        event.voids ? std::nullopt : std::optional<int64_t>(ToFixedPoint(event.value));
  }
  return out;
}

// The parent of every unit in each shape the organisation had: shape 0
// from the start, shape s from the s-th distinct day a move applies from.
class Shapes {
 public:
  Shapes(const Calendar& calendar, const std::vector<ReferenceUnit>& units)
      : calendar_(calendar), units_(units) {
    for (size_t i = 0; i < units.size(); ++i) index_[units[i].id] = i;
    for (const ReferenceUnit& unit : units) {
      for (const ReferenceUnit::Move& move : unit.moves) {
        starts_.push_back(StartOf(move));
      }
    }
    std::sort(starts_.begin(), starts_.end());
    starts_.erase(std::unique(starts_.begin(), starts_.end()), starts_.end());
  }

  size_t IndexOf(const std::string& unit_id) const { return index_.at(unit_id); }

  // Self first, root last.
  const std::vector<size_t>& PathToRoot(size_t unit, const Period& period) {
    const size_t shape = static_cast<size_t>(
        std::upper_bound(starts_.begin(), starts_.end(), calendar_.Start(period)) -
        starts_.begin());
    std::vector<std::vector<size_t>>& paths = paths_[shape];
    if (paths.empty()) {
      paths.resize(units_.size());
      for (size_t u = 0; u < units_.size(); ++u) {
        for (std::optional<size_t> at = u; at; at = ParentIn(shape, *at)) {
          if (paths[u].size() > units_.size()) std::abort();  // A cycle.
          paths[u].push_back(*at);
        }
      }
    }
    return paths[unit];
  }

 private:
  absl::Time StartOf(const ReferenceUnit::Move& move) const {
    absl::StatusOr<Period> day = ParsePeriod(PeriodKind::kDay, move.effective_from);
    if (!day.ok()) std::abort();
    return calendar_.Start(*day);
  }

  std::optional<size_t> ParentIn(size_t shape, size_t unit) const {
    const ReferenceUnit& u = units_[unit];
    std::string parent = u.parent_id;
    if (shape > 0) {
      absl::Time from = absl::InfinitePast();
      for (const ReferenceUnit::Move& move : u.moves) {
        const absl::Time start = StartOf(move);
        if (start <= starts_[shape - 1] && start >= from) {
          from = start;
          parent = move.parent_id;
        }
      }
    }
    if (parent.empty()) return std::nullopt;
    return index_.at(parent);
  }

  const Calendar& calendar_;
  const std::vector<ReferenceUnit>& units_;
  std::map<std::string, size_t> index_;
  std::vector<absl::Time> starts_;
  std::map<size_t, std::vector<std::vector<size_t>>> paths_;
};

class Model {
 public:
  Model(const Calendar& calendar, const std::vector<ReferenceUnit>& units,
        const std::vector<ReferenceKpi>& kpis)
      : calendar_(calendar), units_(units), shapes_(calendar, units), order_(kpis) {
    for (const ReferenceKpi& kpi : kpis) kpis_[kpi.id] = &kpi;
  }

  ReferenceRollup Compute(const std::vector<ReferenceEvent>& events) {
    for (const Standing& event : Resolve(events)) FoldOwn(event);
    CarryForward();
    GatherSubtrees();
    ReferenceRollup rollup;
    for (const auto& [key, subtree] : subtrees_) {
      AddEventCell(key, subtree, rollup);
    }
    for (const ReferenceKpi& kpi : order_) {
      if (kpi.IsComputed()) AddFormulaCells(kpi, rollup);
    }
    return rollup;
  }

 private:
  void FoldOwn(const Standing& standing) {
    const ReferenceEvent& event = *standing.event;
    const ReferenceKpi& kpi = *kpis_.at(event.kpi_id);
    const size_t unit = shapes_.IndexOf(event.unit_id);
    for (const Period& period :
         ReferencePeriodsContaining(calendar_, event.time, kpi.periods)) {
      own_[OwnKeyOf(kpi.id, unit, period)].Add(event, standing.value);
    }
  }

  // A carried-forward KPI's unit counts in every period from its first
  // event's up to the latest period of the kind any event of the KPI
  // reached (voided ones too): with its latest value in the period, else
  // the one it had before (none before its first value); its latest event
  // time is that of any of its events up to the period's end.
  void CarryForward() {
    std::map<std::pair<std::string, int>, int32_t> frontier;
    for (const auto& [key, own] : own_) {
      const auto& [kpi_id, unit, kind, index] = key;
      if (!kpis_.at(kpi_id)->carry_forward) continue;
      auto [it, created] = frontier.try_emplace({kpi_id, kind}, index);
      if (!created) it->second = std::max(it->second, index);
    }
    // Keys sort by KPI, unit, kind, then index: one run per unit and kind.
    for (auto it = own_.begin(); it != own_.end();) {
      const auto [kpi_id, unit, kind, first] = it->first;
      const OwnKey run_end{kpi_id, unit, kind,
                           std::numeric_limits<int32_t>::max()};
      if (kpis_.at(kpi_id)->carry_forward) {
        std::optional<int64_t> value;
        absl::Time latest = absl::InfinitePast();
        for (int32_t i = first; i <= frontier.at({kpi_id, kind}); ++i) {
          OwnEvents& own = own_[{kpi_id, unit, kind, i}];
          latest = std::max(latest, own.latest);
          own.latest = latest;
          if (own.count > 0) {
            value = own.last;
          } else {
            own.carried = value;
          }
        }
      }
      it = own_.upper_bound(run_end);
    }
  }

  void GatherSubtrees() {
    for (const auto& [key, own] : own_) {
      const auto& [kpi_id, unit, kind, index] = key;
      const ReferenceKpi& kpi = *kpis_.at(kpi_id);
      const Period period{static_cast<PeriodKind>(kind), index};
      const std::vector<size_t>& path = shapes_.PathToRoot(unit, period);
      std::optional<absl::int128> weight;
      if (kpi.hierarchy == HierarchyAggregation::kWeightedAvg) {
        const ReferenceKpi& w = *kpis_.at(kpi.weight_id);
        if (auto it = own_.find(OwnKeyOf(w.id, unit, period));
            it != own_.end() && it->second.HasValue()) {
          weight = it->second.Value(w.time);
        }
      }
      // A weight's events reach the cells of the KPIs it weighs, even where
      // those have no value to weigh.
      for (const ReferenceKpi& weighed : order_) {
        if (weighed.hierarchy != HierarchyAggregation::kWeightedAvg ||
            weighed.weight_id != kpi_id || !weighed.periods.Contains(period.kind)) {
          continue;
        }
        for (size_t ancestor : path) {
          Subtree& s = subtrees_[OwnKeyOf(weighed.id, ancestor, period)];
          s.latest = std::max(s.latest, own.latest);
        }
      }
      for (size_t ancestor : path) {
        Subtree& s = subtrees_[OwnKeyOf(kpi_id, ancestor, period)];
        s.events += own.count;
        s.latest = std::max(s.latest, own.latest);
        if (!own.HasValue()) continue;
        const absl::int128 value = own.Value(kpi.time);
        ++s.reporting;
        s.values += value;
        s.min = s.min ? std::min(*s.min, value) : value;
        s.max = s.max ? std::max(*s.max, value) : value;
        if (weight) {
          ++s.weighted_reporting;
          s.weighted_sum += value * *weight;
          s.weight_sum += *weight;
        }
      }
    }
  }

  void AddEventCell(const OwnKey& key, const Subtree& s,
                    ReferenceRollup& rollup) const {
    const auto& [kpi_id, unit, kind, index] = key;
    const ReferenceKpi& kpi = *kpis_.at(kpi_id);
    ReferenceCell cell;
    cell.kpi_id = kpi_id;
    cell.unit_id = units_[unit].id;
    cell.period = {static_cast<PeriodKind>(kind), index};
    cell.figure = SubtreeFigure(kpi, s);
    cell.event_count = s.events;
    const bool weighted = kpi.hierarchy == HierarchyAggregation::kWeightedAvg;
    cell.contributors = weighted ? s.weighted_reporting : s.reporting;
    // Sums and the pooled mean of every event are made of events, not of
    // units' values: a record may leave them 0 (not tracked).
    cell.contributors_required = kpi.hierarchy != HierarchyAggregation::kSum &&
                                 kpi.time != TimeAggregation::kAvg;
    cell.last_event_time = s.latest;
    rollup.cells[CellKey(cell.kpi_id, cell.unit_id, cell.period)] = cell;
  }

  // A formula's cells: wherever either input has one, in the kinds it keeps.
  void AddFormulaCells(const ReferenceKpi& kpi, ReferenceRollup& rollup) const {
    std::vector<std::pair<std::string, Period>> at;
    for (const auto& [key, cell] : rollup.cells) {
      if ((cell.kpi_id == kpi.left_id || cell.kpi_id == kpi.right_id) &&
          kpi.periods.Contains(cell.period.kind)) {
        at.emplace_back(cell.unit_id, cell.period);
      }
    }
    for (const auto& [unit_id, period] : at) {
      const ReferenceCell* left =
          rollup.Find(CellKey(kpi.left_id, unit_id, period));
      const ReferenceCell* right =
          rollup.Find(CellKey(kpi.right_id, unit_id, period));
      ReferenceCell cell;
      cell.kpi_id = kpi.id;
      cell.unit_id = unit_id;
      cell.period = period;
      cell.figure = FormulaFigure(kpi, left ? &left->figure : nullptr,
                                  right ? &right->figure : nullptr);
      cell.contributors_checked = false;
      absl::Time latest = absl::InfinitePast();
      for (const ReferenceCell* input : {left, right}) {
        if (input == nullptr) continue;
        cell.event_count += input->event_count;
        if (input->last_event_time) {
          latest = std::max(latest, *input->last_event_time);
        }
      }
      cell.last_event_time = latest;
      rollup.cells[CellKey(kpi.id, unit_id, period)] = cell;
    }
  }

  const Calendar& calendar_;
  const std::vector<ReferenceUnit>& units_;
  Shapes shapes_;
  std::map<std::string, const ReferenceKpi*> kpis_;
  const std::vector<ReferenceKpi>& order_;  // Inputs first.
  std::map<OwnKey, OwnEvents> own_;
  std::map<OwnKey, Subtree> subtrees_;
};

}  // namespace

std::string ReferenceDecimal(absl::int128 value, int decimals) {
  const absl::uint128 magnitude = Magnitude(value);
  const absl::uint128 unit = absl::uint128(PowerOfTen(decimals));
  std::ostringstream out;
  if (value < 0) out << '-';
  out << magnitude / unit;
  absl::uint128 fraction = magnitude % unit;
  if (fraction == 0) return out.str();
  std::string digits;
  for (int i = 0; i < decimals; ++i) {
    digits.insert(digits.begin(),
                  static_cast<char>('0' + static_cast<int>(fraction % 10)));
    fraction /= 10;
  }
  digits.erase(digits.find_last_not_of('0') + 1);
  out << '.' << digits;
  return out.str();
}

double NearestDouble(absl::int128 numerator, absl::int128 denominator) {
  // Forty significant digits and a sticky digit for what is left: strtod
  // rounds that correctly, and so the exact quotient.
  const absl::uint128 d = Magnitude(denominator);
  absl::uint128 rest = Magnitude(numerator) % d;
  std::ostringstream out;
  if (numerator != 0 && (numerator < 0) != (denominator < 0)) out << '-';
  const absl::uint128 whole = Magnitude(numerator) / d;
  std::ostringstream whole_digits;
  whole_digits << whole;
  out << whole_digits.str();
  int significant =
      whole == 0 ? 0 : static_cast<int>(whole_digits.str().size());
  if (rest != 0) {
    out << '.';
    for (int i = 0; rest != 0 && significant < 40 && i < 400; ++i) {
      rest *= 10;  // rest < d, and d < 2^120 here.
      const int digit = static_cast<int>(rest / d);
      rest %= d;
      out << digit;
      if (significant > 0 || digit != 0) ++significant;
    }
    if (rest != 0) out << '1';
  }
  return std::strtod(out.str().c_str(), nullptr);
}

std::vector<Period> ReferencePeriodsContaining(const Calendar& calendar,
                                               absl::Time t,
                                               PeriodKindSet kinds) {
  std::vector<Period> out;
  for (PeriodKind kind : kinds) {
    std::vector<Period> candidates;
    if (kind == PeriodKind::kYearToDate || kind == PeriodKind::kQuarterToDate) {
      const int32_t month = calendar.Containing(PeriodKind::kMonth, t).index;
      for (int32_t i = month - 1; i <= month + 12; ++i) {
        candidates.push_back({kind, i});
      }
    } else {
      const Period p = calendar.Containing(kind, t);
      for (int32_t i = p.index - 1; i <= p.index + 1; ++i) {
        candidates.push_back({kind, i});
      }
    }
    for (const Period& p : candidates) {
      if (calendar.Start(p) <= t && t < calendar.End(p)) out.push_back(p);
    }
  }
  return out;
}

std::vector<std::string> ReferencePathToRoot(
    const Calendar& calendar, const std::vector<ReferenceUnit>& units,
    const std::string& unit_id, const Period& period) {
  Shapes shapes(calendar, units);
  std::vector<std::string> out;
  for (size_t unit : shapes.PathToRoot(shapes.IndexOf(unit_id), period)) {
    out.push_back(units[unit].id);
  }
  return out;
}

ReferenceRollup ComputeReferenceRollup(
    const Calendar& calendar, const std::vector<ReferenceUnit>& units,
    const std::vector<ReferenceKpi>& kpis,
    const std::vector<ReferenceEvent>& events) {
  return Model(calendar, units, kpis).Compute(events);
}

}  // namespace strata::rollup::testing
