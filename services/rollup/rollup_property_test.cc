// A property test of the rollup engine against a brute-force model of the
// README's "Rollup semantics" (services/rollup/testing/reference_rollup.h).
//
// Each case is generated from a seed: an organisation (time zone, fiscal
// year), a hierarchy and sometimes moves of units in it (reorgs, declared
// at the start or in the middle of the events), KPIs of every allowed
// aggregation and formula, and events aimed at period boundaries, DST days
// and the leap day, with ties, late arrivals, exact duplicates, shuffled
// partitions, corrections and voids (and corrections rollup must refuse).
// The real engine folds them from an embedded log; every cell the model says exists must
// read back as the model computes it, a sample of those it says do not must
// read back as nothing, and the changelog must agree. Then the state is
// deleted and rebuilt from the log, and every cell is checked again.
//
//   rollup_property_test                          # CI: kCiCases cases
//   STRATA_PROPERTY_CASES=300 rollup_property_test   # long run, new seeds
//   STRATA_PROPERTY_SEED=17 rollup_property_test     # one case
//   STRATA_PROPERTY_BASE_SEED=1000                   # where a run starts

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "libs/aggregation/fixed_point.h"
#include "libs/definitions/definitions_follower.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/period/calendar.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/cell_key.h"
#include "libs/streams/envelope.h"
#include "libs/streams/timestamps.h"
#include "libs/streams/topics.h"
#include "services/rollup/cell_combiner.h"
#include "services/rollup/combiner_store.h"
#include "services/rollup/event_router.h"
#include "services/rollup/rollup_engine.h"
#include "services/rollup/rollup_store.h"
#include "services/rollup/testing/reference_rollup.h"

namespace strata::rollup {
namespace {

using testing::ComputeReferenceRollup;
using testing::ReferenceCell;
using testing::ReferenceEvent;
using testing::ReferenceKpi;
using testing::ReferencePeriodsContaining;
using testing::ReferenceRollup;
using testing::ReferenceUnit;

// Cases of the default (CI) run: about 8 s on an idle two-core machine,
// 16 s while it also compiles (the rollup store takes ~0.25 s to open,
// twice a case). Seeds 1..16 cover every option (checked below).
constexpr int kCiCases = 16;
// Mismatches printed per failing case.
constexpr size_t kMaxFindingsShown = 12;

// ---------------------------------------------------------------------------
// Which cases to run.

struct RunPlan {
  std::vector<uint64_t> seeds;
  bool ci = false;  // The default run, which must also cover every option.
};

std::optional<uint64_t> EnvNumber(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  return std::strtoull(text, nullptr, 10);
}

RunPlan PlanFromEnvironment() {
  RunPlan plan;
  if (std::optional<uint64_t> seed = EnvNumber("STRATA_PROPERTY_SEED")) {
    plan.seeds.push_back(*seed);
    return plan;
  }
  const std::optional<uint64_t> cases = EnvNumber("STRATA_PROPERTY_CASES");
  plan.ci = !cases;
  // CI runs the same seeds every time; a long run explores new ones.
  const uint64_t base = EnvNumber("STRATA_PROPERTY_BASE_SEED")
                            .value_or(plan.ci ? 1 : std::random_device{}());
  for (uint64_t i = 0; i < cases.value_or(kCiCases); ++i) {
    plan.seeds.push_back(base + i);
  }
  return plan;
}

// ---------------------------------------------------------------------------
// A generated case.

// Events appended in one envelope to one partition (-1: by envelope key).
struct AppendBatch {
  int32_t partition = -1;
  std::vector<ReferenceEvent> events;
};

struct PropertyCase {
  uint64_t seed = 0;
  std::string time_zone;
  int fiscal_year_start_month = 1;
  // Root first, parents before children in every shape.
  std::vector<ReferenceUnit> units;
  // Units' moves go to the log after this many appends; none: with the
  // other definitions.
  std::optional<size_t> moves_after_append;
  std::vector<ReferenceKpi> kpis;    // Inputs and weights first.
  std::set<std::string> kpis_with_default_periods;  // Sent without periods.
  // Distinct, corrections included, each after the event it corrects and
  // the corrections of one event in log order.
  std::vector<ReferenceEvent> events;
  std::vector<AppendBatch> appends;
  int64_t duplicates = 0;  // Copies appended beyond the first.
  // Corrections appended that rollup must refuse, and count.
  int64_t refused_corrections = 0;
  size_t max_cached_cells = RollupEngineOptions{}.max_cached_cells;
  size_t poll_batch = RollupEngineOptions{}.poll_batch;
  int32_t fold_partitions = RollupEngineOptions{}.fold_partitions;
  // Through stage A (EventRouter) and strata.rollup-changes, one part per
  // partition of it.
  bool routed = false;
};

std::string Describe(const PropertyCase& c) {
  size_t depth = 0;
  std::map<std::string, size_t> level;
  for (const ReferenceUnit& u : c.units) {
    level[u.id] = u.parent_id.empty() ? 1 : level[u.parent_id] + 1;
    depth = std::max(depth, level[u.id]);
  }
  std::vector<std::string> kpis;
  for (const ReferenceKpi& k : c.kpis) kpis.push_back(k.id);
  std::vector<std::string> moves;
  for (const ReferenceUnit& u : c.units) {
    for (const ReferenceUnit::Move& m : u.moves) {
      moves.push_back(
          absl::StrCat(u.id, " under ", m.parent_id, " from ", m.effective_from));
    }
  }
  int64_t corrections = 0, voids = 0;
  for (const ReferenceEvent& e : c.events) {
    corrections += !e.corrects_id.empty();
    voids += e.voids;
  }
  return absl::StrCat(
      c.time_zone, ", fiscal year from month ", c.fiscal_year_start_month, "; ",
      c.units.size(), " units, depth ", depth, "; ", c.events.size(),
      " events (", corrections, " corrections, ", voids, " of them voids) + ",
      c.duplicates, " duplicates + ", c.refused_corrections,
      " refused corrections in ", c.appends.size(), " envelopes; cache ",
      c.max_cached_cells, ", poll ", c.poll_batch, ", ", c.fold_partitions,
      " fold partition(s)", c.routed ? ", routed" : "", "; KPIs: ",
      absl::StrJoin(kpis, " "), "; moves",
      c.moves_after_append
          ? absl::StrCat(" after append ", *c.moves_after_append)
          : std::string(" at the start"),
      ": ", moves.empty() ? "none" : absl::StrJoin(moves, ", "));
}

const char* TimeName(TimeAggregation t) {
  switch (t) {
    case TimeAggregation::kSum:
      return "sum";
    case TimeAggregation::kLast:
      return "last";
    case TimeAggregation::kAvg:
      return "avg";
    case TimeAggregation::kMin:
      return "min";
    case TimeAggregation::kMax:
      return "max";
  }
  return "?";
}

const char* HierarchyName(HierarchyAggregation h) {
  switch (h) {
    case HierarchyAggregation::kSum:
      return "sum";
    case HierarchyAggregation::kAvg:
      return "avg";
    case HierarchyAggregation::kWeightedAvg:
      return "wavg";
    case HierarchyAggregation::kMin:
      return "min";
    case HierarchyAggregation::kMax:
      return "max";
    case HierarchyAggregation::kRatio:
      return "ratio";
    case HierarchyAggregation::kDerived:
      return "derived";
  }
  return "?";
}

const char* OperatorName(FormulaOperator op) {
  switch (op) {
    case FormulaOperator::kRatio:
      return "ratio";
    case FormulaOperator::kDifference:
      return "diff";
    case FormulaOperator::kPercentage:
      return "pct";
  }
  return "?";
}

// What the default CI run must have exercised at least once.
struct Coverage {
  std::set<std::string> aggregations;  // "last/wavg", "ratio:pct", ...
  std::set<PeriodKind> period_kinds;
  std::set<std::string> zones;
  std::set<std::string> changes;  // Corrections, voids, refusals, moves.
  static constexpr int kChanges = 5;
  std::set<std::string> ways_to_fold;  // Whole, in parts, routed.

  void Note(const PropertyCase& c) {
    zones.insert(c.time_zone);
    ways_to_fold.insert(c.routed                ? "routed"
                        : c.fold_partitions > 1 ? "in parts"
                                                : "whole");
    for (const ReferenceEvent& e : c.events) {
      if (!e.corrects_id.empty()) changes.insert(e.voids ? "voids" : "corrections");
    }
    if (c.refused_corrections > 0) changes.insert("refused corrections");
    for (const ReferenceUnit& u : c.units) {
      if (u.moves.empty()) continue;
      changes.insert(c.moves_after_append ? "moves while folding"
                                          : "moves at the start");
    }
    for (const ReferenceKpi& k : c.kpis) {
      aggregations.insert(k.IsComputed()
                              ? absl::StrCat(HierarchyName(k.hierarchy), ":",
                                             OperatorName(k.op))
                              : absl::StrCat(TimeName(k.time), "/",
                                             HierarchyName(k.hierarchy)));
      for (PeriodKind kind : k.periods) period_kinds.insert(kind);
    }
  }
  // 21 allowed time/hierarchy pairs, 2 RATIO and 3 DERIVED formulas.
  bool Complete() const {
    return aggregations.size() == 21 + 2 + 3 && period_kinds.size() == 8 &&
           zones.size() == 4 && changes.size() == kChanges &&
           ways_to_fold.size() == 3;
  }
  std::string ToString() const {
    return absl::StrCat(aggregations.size(), " of 26 aggregations (",
                        absl::StrJoin(aggregations, " "), "), ",
                        period_kinds.size(), " of 8 period kinds, ",
                        zones.size(), " of 4 zones, ", changes.size(), " of ",
                        kChanges, " kinds of change (",
                        absl::StrJoin(changes, ", "), "), ",
                        ways_to_fold.size(), " of 3 ways to fold (",
                        absl::StrJoin(ways_to_fold, ", "), ")");
  }
};

// ---------------------------------------------------------------------------
// Generating a case from its seed.

class CaseGenerator {
 public:
  explicit CaseGenerator(uint64_t seed) : rng_(seed) { case_.seed = seed; }

  PropertyCase Generate() && {
    GenerateOrganisation();
    GenerateHierarchy();
    GenerateEventKpis();
    GenerateFormulaKpis();
    CarrySomeStocksForward();
    GenerateEvents();
    CorrectSomeEvents();
    GenerateMoves();
    PlanAppends();
    AppendRefusedCorrections();
    GenerateEngineOptions();
    return std::move(case_);
  }

 private:
  int Uniform(int lo, int hi) {  // Inclusive.
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  double Real(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng_);
  }
  bool Chance(double p) { return Real(0, 1) < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& from) {
    return from[Uniform(0, static_cast<int>(from.size()) - 1)];
  }

  void GenerateOrganisation() {
    case_.time_zone = Pick(std::vector<std::string>{
        "UTC", "America/New_York", "Australia/Sydney", "Europe/London"});
    case_.fiscal_year_start_month = Uniform(1, 12);
    absl::LoadTimeZone(case_.time_zone, &zone_);
  }

  // A single root; a chain down to the chosen depth, the other units hung
  // under random units above that depth.
  void GenerateHierarchy() {
    const int depth = Uniform(1, 7);
    const int count = depth == 1 ? 1 : Uniform(depth, 25);
    std::vector<int> level;
    for (int i = 0; i < count; ++i) {
      ReferenceUnit unit;
      unit.id = absl::StrCat("u", i);
      if (i > 0) {
        int parent = i - 1;
        if (i >= depth) {
          do {
            parent = Uniform(0, i - 1);
          } while (level[parent] >= depth);
        }
        unit.parent_id = case_.units[parent].id;
        level.push_back(level[parent] + 1);
      } else {
        level.push_back(1);
      }
      case_.units.push_back(unit);
    }
    for (int i = 0; i < count; ++i) {
      bool leaf = true;
      for (const ReferenceUnit& u : case_.units) {
        if (u.parent_id == case_.units[i].id) leaf = false;
      }
      if (leaf) leaves_.push_back(case_.units[i].id);
    }
  }

  // A third of the cases move 1 to 3 units under other parents from some
  // local date (often a month's first day), declared with the other
  // definitions or while the engine folds. A parent always comes before
  // its child in `units`, so no shape has a cycle.
  void GenerateMoves() {
    if (case_.units.size() < 3 || !Chance(0.35)) return;
    for (int n = Uniform(1, 3); n > 0; --n) {
      const int moved = Uniform(2, static_cast<int>(case_.units.size()) - 1);
      ReferenceUnit& unit = case_.units[moved];
      // A move must name another parent than the one last declared.
      const std::string& declared =
          unit.moves.empty() ? unit.parent_id : unit.moves.back().parent_id;
      const std::string& parent = case_.units[Uniform(0, moved - 1)].id;
      if (parent == declared) continue;
      const absl::CivilDay day =
          Chance(0.5) ? absl::CivilDay(absl::CivilMonth(Uniform(2023, 2027),
                                                        Uniform(1, 12)))
                      : RandomDay(2023, 2027);
      unit.moves.push_back({absl::FormatCivilTime(day), parent});
    }
    moves_while_folding_ = Chance(0.6);
  }

  PeriodKindSet RandomPeriods() {
    PeriodKindSet kinds;
    for (int k = 1; k <= 8; ++k) {
      const auto kind = static_cast<PeriodKind>(k);
      const bool to_date =
          kind == PeriodKind::kYearToDate || kind == PeriodKind::kQuarterToDate;
      if (Chance(to_date ? 0.6 : 0.35)) kinds.Add(kind);
    }
    if (kinds.empty()) kinds.Add(static_cast<PeriodKind>(Uniform(1, 8)));
    return kinds;
  }

  // A random non-empty part of `from`, or nothing if `from` is empty.
  PeriodKindSet RandomSubset(PeriodKindSet from) {
    std::vector<PeriodKind> kinds(from.begin(), from.end());
    PeriodKindSet out;
    for (PeriodKind kind : kinds) {
      if (Chance(0.6)) out.Add(kind);
    }
    if (out.empty() && !kinds.empty()) out.Add(Pick(kinds));
    return out;
  }

  PeriodKindSet ReadmeDefaultPeriods() const {
    PeriodKindSet kinds{PeriodKind::kMonth, PeriodKind::kQuarter,
                        PeriodKind::kYear};
    if (case_.fiscal_year_start_month != 1) kinds.Add(PeriodKind::kFiscalYear);
    return kinds;
  }

  // Half the stocks that neither weigh nor are weighed carry forward.
  void CarrySomeStocksForward() {
    for (ReferenceKpi& k : case_.kpis) {
      if (k.IsComputed() || k.time != TimeAggregation::kLast ||
          !k.weight_id.empty()) {
        continue;
      }
      bool weighs = false;
      for (const ReferenceKpi& other : case_.kpis) {
        weighs |= other.weight_id == k.id;
      }
      if (!weighs && Chance(0.5)) k.carry_forward = true;
    }
  }

  static bool CanWeigh(const ReferenceKpi& k) {
    return k.time != TimeAggregation::kAvg &&
           k.hierarchy != HierarchyAggregation::kWeightedAvg &&
           !(k.time == TimeAggregation::kSum &&
             k.hierarchy == HierarchyAggregation::kSum);
  }

  ReferenceKpi NewEventKpi(TimeAggregation t, HierarchyAggregation h) {
    ReferenceKpi kpi;
    kpi.id =
        absl::StrCat("k", next_kpi_++, "-", TimeName(t), "-", HierarchyName(h));
    kpi.time = t;
    kpi.hierarchy = h;
    kpi.periods = RandomPeriods();
    return kpi;
  }

  // 4 to 9 of the 21 allowed pairs (AVG over time rolls up only by AVG),
  // weights defined before the KPIs they weigh.
  void GenerateEventKpis() {
    std::vector<std::pair<TimeAggregation, HierarchyAggregation>> pairs;
    for (TimeAggregation t : {TimeAggregation::kSum, TimeAggregation::kLast,
                              TimeAggregation::kMin, TimeAggregation::kMax}) {
      for (HierarchyAggregation h :
           {HierarchyAggregation::kSum, HierarchyAggregation::kAvg,
            HierarchyAggregation::kWeightedAvg, HierarchyAggregation::kMin,
            HierarchyAggregation::kMax}) {
        pairs.emplace_back(t, h);
      }
    }
    pairs.emplace_back(TimeAggregation::kAvg, HierarchyAggregation::kAvg);
    std::shuffle(pairs.begin(), pairs.end(), rng_);
    pairs.resize(Uniform(4, 9));
    std::vector<ReferenceKpi> weighted;
    for (const auto& [t, h] : pairs) {
      ReferenceKpi kpi = NewEventKpi(t, h);
      if (h == HierarchyAggregation::kWeightedAvg) {
        weighted.push_back(kpi);
      } else {
        AddKpi(kpi);
      }
    }
    for (ReferenceKpi& kpi : weighted) {
      std::vector<const ReferenceKpi*> weights;
      for (const ReferenceKpi& k : case_.kpis) {
        if (CanWeigh(k)) weights.push_back(&k);
      }
      if (weights.empty()) {
        ReferenceKpi weight = NewEventKpi(
            Pick(std::vector<TimeAggregation>{
                TimeAggregation::kLast, TimeAggregation::kMin,
                TimeAggregation::kMax, TimeAggregation::kSum}),
            Pick(std::vector<HierarchyAggregation>{
                HierarchyAggregation::kAvg, HierarchyAggregation::kMin,
                HierarchyAggregation::kMax}));
        AddKpi(weight);
        weights.push_back(&case_.kpis.back());
      }
      const ReferenceKpi& weight = *Pick(weights);
      kpi.weight_id = weight.id;
      kpi.periods = RandomSubset(weight.periods);
      AddKpi(kpi);
    }
  }

  // Sends the KPI without periods now and then, when the README's default
  // is what it should keep anyway.
  void AddKpi(ReferenceKpi kpi) {
    bool allowed = true;
    if (!kpi.weight_id.empty()) {
      for (const ReferenceKpi& k : case_.kpis) {
        if (k.id != kpi.weight_id) continue;
        for (PeriodKind kind : ReadmeDefaultPeriods()) {
          allowed &= k.periods.Contains(kind);
        }
      }
    }
    if (!kpi.IsComputed() && allowed && Chance(0.1)) {
      kpi.periods = ReadmeDefaultPeriods();
      case_.kpis_with_default_periods.insert(kpi.id);
    }
    case_.kpis.push_back(std::move(kpi));
  }

  // RATIO over two SUM/SUM KPIs (added when missing), DERIVED over any two.
  void GenerateFormulaKpis() {
    std::vector<std::string> sums, inputs;
    for (const ReferenceKpi& k : case_.kpis) {
      inputs.push_back(k.id);
      if (k.time == TimeAggregation::kSum &&
          k.hierarchy == HierarchyAggregation::kSum) {
        sums.push_back(k.id);
      }
    }
    if (Chance(0.8)) {
      while (sums.size() < 2) {
        ReferenceKpi sum =
            NewEventKpi(TimeAggregation::kSum, HierarchyAggregation::kSum);
        sums.push_back(sum.id);
        inputs.push_back(sum.id);
        AddKpi(sum);
      }
      for (int i = Uniform(1, 2); i > 0; --i) {
        AddFormula(HierarchyAggregation::kRatio, sums,
                   Pick(std::vector<FormulaOperator>{
                       FormulaOperator::kRatio, FormulaOperator::kPercentage}));
      }
    }
    for (int i = Uniform(1, 3); i > 0; --i) {
      AddFormula(HierarchyAggregation::kDerived, inputs,
                 Pick(std::vector<FormulaOperator>{
                     FormulaOperator::kRatio, FormulaOperator::kDifference,
                     FormulaOperator::kPercentage}));
    }
  }

  const ReferenceKpi& Kpi(const std::string& id) const {
    for (const ReferenceKpi& k : case_.kpis) {
      if (k.id == id) return k;
    }
    std::abort();
  }

  void AddFormula(HierarchyAggregation h, const std::vector<std::string>& from,
                  FormulaOperator op) {
    // Inputs that keep some period kind in common.
    for (int attempt = 0; attempt < 10; ++attempt) {
      const std::string left = Pick(from);
      const std::string right = Pick(from);
      const PeriodKindSet both =
          Kpi(left).periods.Intersect(Kpi(right).periods);
      if (left == right || both.empty()) continue;
      ReferenceKpi kpi;
      kpi.id = absl::StrCat("k", next_kpi_++, "-", HierarchyName(h), "-",
                            OperatorName(op));
      kpi.hierarchy = h;
      kpi.op = op;
      kpi.left_id = left;
      kpi.right_id = right;
      if (op == FormulaOperator::kRatio) {
        kpi.scale = Pick(std::vector<double>{0, 1, 1000, 0.5, 3.25});
      }
      kpi.periods = RandomSubset(both);
      AddKpi(kpi);
      return;
    }
  }

  // ---- Events.

  absl::Time LocalMidnight(absl::CivilDay day) const {
    return absl::FromCivil(day, zone_);
  }

  absl::Duration NearOffset() {
    return Pick(std::vector<absl::Duration>{
        absl::ZeroDuration(), absl::Nanoseconds(1), absl::Nanoseconds(-1),
        absl::Seconds(1), absl::Seconds(-1)});
  }

  absl::CivilDay RandomDay(int first_year, int last_year) {
    const absl::CivilDay first(first_year, 1, 1);
    const int days =
        static_cast<int>(absl::CivilDay(last_year + 1, 1, 1) - first);
    return first + Uniform(0, days - 1);
  }

  // A time in the day starting at local midnight `day`: near either end,
  // near a clock change within it, or anywhere in it.
  absl::Time InDay(absl::CivilDay day) {
    const absl::Time start = LocalMidnight(day);
    const absl::Time end = LocalMidnight(day + 1);
    switch (Uniform(0, 3)) {
      case 0:
        return start + NearOffset();
      case 1:
        return end + NearOffset();
      case 2: {
        absl::TimeZone::CivilTransition transition;
        if (zone_.NextTransition(start, &transition)) {
          const absl::Time at = absl::FromCivil(transition.to, zone_);
          if (at < end) return at + NearOffset();
        }
        [[fallthrough]];
      }
      default:
        return start +
               absl::Nanoseconds(static_cast<int64_t>(
                   Real(0, 1) * absl::ToDoubleNanoseconds(end - start)));
    }
  }

  std::vector<absl::CivilDay> DstDays() const {
    if (case_.time_zone == "Europe/London") {
      return {absl::CivilDay(2026, 3, 29), absl::CivilDay(2026, 10, 25)};
    }
    if (case_.time_zone == "Australia/Sydney") {
      return {absl::CivilDay(2026, 4, 5), absl::CivilDay(2026, 10, 4)};
    }
    // New York's, and for UTC ordinary days.
    return {absl::CivilDay(2026, 3, 8), absl::CivilDay(2026, 11, 1)};
  }

  absl::Time RandomTime() {
    const double pick = Real(0, 1);
    if (pick < 0.25) {  // Anywhere in 2023-2027, sometimes to the ns.
      const absl::Time from =
          absl::FromCivil(absl::CivilDay(2023, 1, 1), absl::UTCTimeZone());
      absl::Time t = from + absl::Seconds(Uniform(0, 5 * 365 * 86400));
      if (Chance(0.3)) t += absl::Nanoseconds(Uniform(0, 999'999'999));
      return t;
    }
    if (pick < 0.50) {  // A month, quarter or year turning over.
      const absl::CivilMonth month(Uniform(2023, 2027), Uniform(1, 12));
      return LocalMidnight(absl::CivilDay(month)) + NearOffset();
    }
    if (pick < 0.60) return LocalMidnight(RandomDay(2023, 2027)) + NearOffset();
    if (pick < 0.70) return InDay(absl::CivilDay(2024, 2, 29));
    if (pick < 0.85) return InDay(Pick(DstDays()));
    if (!case_.events.empty()) return Pick(case_.events).time;  // A tie.
    return LocalMidnight(RandomDay(2023, 2027));
  }

  double RandomValue() {
    const double pick = Real(0, 1);
    const double sign = Chance(0.3) ? -1 : 1;
    if (pick < 0.35) {  // 0.0001 .. 1e12, log-uniform.
      const double fixed =
          std::clamp(std::round(std::pow(10, Real(0, 16))), 1.0, 1e16);
      return sign * fixed / kFixedPointScale;
    }
    if (pick < 0.45) return 0;
    if (pick < 0.75) return Uniform(-3, 5);
    if (pick < 0.85) return sign * Uniform(1, 99'999) / 1e4;
    if (!case_.events.empty()) return Pick(case_.events).value;  // A tie.
    return 1;
  }

  std::string NewEventId() {
    static const std::vector<std::string> kPrefixes = {"e", "E",   "e-", "a",
                                                       "z", "ev_", "Z-"};
    while (true) {
      std::string id =
          absl::StrCat(Pick(kPrefixes),
                       Uniform(0, Pick(std::vector<int>{9, 99, 9999, 999999})));
      if (ids_.insert(id).second) return id;
    }
  }

  void GenerateEvents() {
    std::vector<std::string> event_kpis;
    for (const ReferenceKpi& k : case_.kpis) {
      if (!k.IsComputed()) event_kpis.push_back(k.id);
    }
    const int count = Uniform(20, 300);
    for (int i = 0; i < count; ++i) {
      ReferenceEvent event;
      event.id = NewEventId();
      // Now and then the same KPI and unit as an earlier event: ties.
      if (!case_.events.empty() && Chance(0.15)) {
        const ReferenceEvent& earlier = Pick(case_.events);
        event.kpi_id = earlier.kpi_id;
        event.unit_id = earlier.unit_id;
        event.time = Chance(0.5) ? earlier.time : RandomTime();
      } else {
        event.kpi_id = Pick(event_kpis);
        event.unit_id = Chance(0.6) ? Pick(leaves_) : Pick(case_.units).id;
        event.time = RandomTime();
      }
      event.value = RandomValue();
      case_.events.push_back(event);
    }
    // Late events: months before the others' times, appended last.
    for (int i = Uniform(0, count / 10); i > 0; --i) {
      ReferenceEvent event = Pick(case_.events);
      event.id = NewEventId();
      event.time -= absl::Hours(24 * Uniform(30, 330)) + NearOffset();
      event.value = RandomValue();
      late_.insert(event.id);
      case_.events.push_back(event);
    }
  }

  // One event in ten gets 1 to 3 corrections: a new value (now and then
  // the one it has), or a void, also after a void.
  void CorrectSomeEvents() {
    const size_t originals = case_.events.size();
    for (size_t i = 0; i < originals; ++i) {
      if (!Chance(0.1)) continue;
      const ReferenceEvent original = case_.events[i];  // The vector grows.
      std::vector<ReferenceEvent>& corrections = corrections_[original.id];
      for (int n = Uniform(1, 3); n > 0; --n) {
        ReferenceEvent correction = original;
        correction.id = NewEventId();
        correction.corrects_id = original.id;
        correction.voids = Chance(0.4);
        correction.value = Chance(0.15) ? original.value : RandomValue();
        corrections.push_back(correction);
        case_.events.push_back(correction);
      }
    }
  }

  // Shuffled copies (duplicates among them) in envelopes of 1 to 25 events
  // to random partitions, the late events after all others. A corrected
  // event and its corrections (with copies of those) go in order to one
  // partition, interleaved with the rest; two of them share an envelope
  // now and then.
  void PlanAppends() {
    std::vector<ReferenceEvent> body, tail;
    std::vector<const ReferenceEvent*> copyable;
    for (const ReferenceEvent& e : case_.events) {
      if (!e.corrects_id.empty()) continue;
      copyable.push_back(&e);
      if (corrections_.count(e.id) > 0) continue;
      (late_.count(e.id) > 0 ? tail : body).push_back(e);
    }
    case_.duplicates = Uniform(0, static_cast<int>(case_.events.size()) / 5);
    for (int64_t i = 0; i < case_.duplicates; ++i) {
      const ReferenceEvent& copy = *Pick(copyable);
      (Chance(0.8) ? body : tail).push_back(copy);
    }
    std::shuffle(body.begin(), body.end(), rng_);
    std::shuffle(tail.begin(), tail.end(), rng_);
    for (const std::vector<ReferenceEvent>* part : {&body, &tail}) {
      for (size_t i = 0; i < part->size();) {
        AppendBatch batch;
        batch.partition = Uniform(-1, Partitions() - 1);
        const size_t n = std::min<size_t>(Uniform(1, 25), part->size() - i);
        batch.events.assign(part->begin() + i, part->begin() + i + n);
        case_.appends.push_back(std::move(batch));
        i += n;
      }
    }
    for (const ReferenceEvent& e : case_.events) {
      auto corrected = corrections_.find(e.id);
      if (corrected == corrections_.end()) continue;
      std::vector<ReferenceEvent> sequence = {e};
      for (const ReferenceEvent& correction : corrected->second) {
        sequence.push_back(correction);
        if (Chance(0.15)) {
          sequence.push_back(correction);
          ++case_.duplicates;
        }
      }
      const int32_t partition = Uniform(0, Partitions() - 1);
      size_t at = Uniform(0, static_cast<int>(case_.appends.size()));
      for (size_t i = 0; i < sequence.size();) {
        const size_t n = std::min<size_t>(Chance(0.2) ? 2 : 1, sequence.size() - i);
        AppendBatch batch{partition, {sequence.begin() + i, sequence.begin() + i + n}};
        case_.appends.insert(case_.appends.begin() + at, std::move(batch));
        i += n;
        at = Uniform(static_cast<int>(at) + 1,
                     static_cast<int>(case_.appends.size()));
      }
    }
    if (moves_while_folding_) {
      case_.moves_after_append =
          Uniform(0, static_cast<int>(case_.appends.size()));
    }
  }

  // Now and then corrections rollup must refuse, anywhere on the log: of
  // an event it never saw, of a correction, or at another time or unit
  // than the event's.
  void AppendRefusedCorrections() {
    if (!Chance(0.3)) return;
    std::vector<const ReferenceEvent*> events, corrections;
    for (const ReferenceEvent& e : case_.events) {
      (e.corrects_id.empty() ? events : corrections).push_back(&e);
    }
    for (int n = Uniform(1, 3); n > 0; --n) {
      ReferenceEvent refused = *Pick(events);
      refused.corrects_id = refused.id;
      refused.id = NewEventId();
      refused.value = RandomValue();
      switch (Uniform(0, 3)) {
        case 0:
          refused.corrects_id = NewEventId();  // Never sent.
          break;
        case 1:
          if (!corrections.empty()) {
            refused.corrects_id = Pick(corrections)->id;
            break;
          }
          [[fallthrough]];
        case 2:
          refused.time += absl::Seconds(1);
          break;
        default: {
          const std::string unit = Pick(case_.units).id;
          if (unit == refused.unit_id) {
            refused.time -= absl::Nanoseconds(1);
          } else {
            refused.unit_id = unit;
          }
          refused.voids = Chance(0.5);
          break;
        }
      }
      AppendBatch batch{Uniform(0, Partitions() - 1), {refused}};
      case_.appends.insert(
          case_.appends.begin() +
              Uniform(0, static_cast<int>(case_.appends.size())),
          std::move(batch));
      ++case_.refused_corrections;
    }
  }

  static int Partitions() { return DefaultTopics()[kKpiEventsTopic]; }

  // Small caches and polls now and then: cells dropped and read back from
  // the store, hand-offs in the middle of a burst.
  void GenerateEngineOptions() {
    if (Chance(0.3)) case_.max_cached_cells = Uniform(5, 200);
    if (Chance(0.3)) case_.poll_batch = Uniform(1, 16);
    // Cells folded in parts and merged (SCALE_OUT.md, stage B).
    if (Chance(0.5)) case_.fold_partitions = Uniform(2, 4);
    if (case_.fold_partitions > 1) case_.routed = Chance(0.5);
  }

  std::mt19937_64 rng_;
  PropertyCase case_;
  absl::TimeZone zone_;
  std::vector<std::string> leaves_;
  std::set<std::string> late_;  // Ids of events appended after the others.
  // By the id of the event they correct, in log order.
  std::map<std::string, std::vector<ReferenceEvent>> corrections_;
  bool moves_while_folding_ = false;
  std::set<std::string> ids_;
  int next_kpi_ = 0;
};

// ---------------------------------------------------------------------------
// The case as definitions and envelopes.

v1::DefinitionChange KpiDefinition(const ReferenceKpi& k,
                                   bool default_periods) {
  v1::DefinitionChange change = strata::testing::KpiChange(k.id);
  v1::Kpi& kpi = *change.mutable_kpi();
  kpi.set_hierarchy_aggregation(
      static_cast<v1::HierarchyAggregation>(k.hierarchy));
  if (k.IsComputed()) {
    kpi.set_time_aggregation(v1::TIME_AGGREGATION_UNSPECIFIED);
    v1::Formula& formula = *kpi.mutable_formula();
    formula.set_op(static_cast<v1::Formula::Operator>(k.op));
    formula.set_left_kpi_id(k.left_id);
    formula.set_right_kpi_id(k.right_id);
    formula.set_scale(k.scale);
  } else {
    kpi.set_time_aggregation(static_cast<v1::TimeAggregation>(k.time));
    kpi.set_weight_kpi_id(k.weight_id);
    kpi.set_carry_forward(k.carry_forward);
  }
  if (!default_periods) {
    for (PeriodKind kind : k.periods) {
      kpi.add_periods(static_cast<v1::PeriodKind>(kind));
    }
  }
  return change;
}

// The units' moves, in the order declared.
v1::DefinitionBatch MovesOf(const PropertyCase& c) {
  v1::DefinitionBatch batch;
  for (const ReferenceUnit& u : c.units) {
    for (const ReferenceUnit::Move& move : u.moves) {
      v1::DefinitionChange& change = *batch.add_changes();
      change = strata::testing::UnitChange(u.id, move.parent_id);
      change.mutable_org_unit()->set_effective_from(move.effective_from);
    }
  }
  return batch;
}

// The organisation first, then units and KPIs in dependency order; the
// moves last unless they go to the log while the engine folds.
v1::DefinitionBatch DefinitionsOf(const PropertyCase& c) {
  v1::DefinitionBatch batch;
  v1::Organisation& org = *batch.add_changes()->mutable_organisation();
  org.set_time_zone(c.time_zone);
  org.set_fiscal_year_start_month(c.fiscal_year_start_month);
  for (const ReferenceUnit& u : c.units) {
    *batch.add_changes() = strata::testing::UnitChange(u.id, u.parent_id);
  }
  for (const ReferenceKpi& k : c.kpis) {
    *batch.add_changes() =
        KpiDefinition(k, c.kpis_with_default_periods.count(k.id) > 0);
  }
  if (!c.moves_after_append) batch.MergeFrom(MovesOf(c));
  return batch;
}

std::string EnvelopeOf(const AppendBatch& batch) {
  v1::EventEnvelope envelope = NewEnvelope(ThisProducer("property-test"));
  for (const ReferenceEvent& event : batch.events) {
    v1::KpiEvent* e = envelope.mutable_kpi_events()->add_events();
    e->set_event_id(event.id);
    e->set_kpi_id(event.kpi_id);
    e->set_unit_id(event.unit_id);
    *e->mutable_event_time() = ToTimestamp(event.time);
    e->set_value(event.value);
    e->set_corrects_event_id(event.corrects_id);
    e->set_voids(event.voids);
  }
  return envelope.SerializeAsString();
}

// ---------------------------------------------------------------------------
// The real engine over an embedded log, as in rollup_engine_test.cc.

class EmbeddedRollup {
 public:
  // `routed`: events reach the engine through stage A (EventRouter) and
  // strata.rollup-changes.
  EmbeddedRollup(std::filesystem::path dir, RollupEngineOptions options,
                 bool routed = false)
      : dir_(std::move(dir)), options_(options), routed_(routed) {
    if (routed_) options_.input_topic = kRollupChangesTopic;
  }
  ~EmbeddedRollup() { Close(); }

  absl::Status Open() {
    eventlog::RocksDbEventLogOptions log_options;
    log_options.path = (dir_ / "log").string();
    log_options.topics = DefaultTopics();
    if (routed_) {
      log_options.topics[kRollupChangesTopic] = options_.fold_partitions;
      log_options.topics[kRollupPartialsTopic] = options_.fold_partitions + 1;
    }
    auto log = eventlog::OpenRocksDbEventLog(log_options);
    if (!log.ok()) return log.status();
    log_ = std::move(*log);
    auto definitions = DefinitionsFollower::Create(*log_, "property-test");
    if (!definitions.ok()) return definitions.status();
    definitions_ = std::move(*definitions);
    auto store = RollupStore::Open((dir_ / "rollup").string());
    if (!store.ok()) return store.status();
    store_ = std::move(*store);
    engine_ =
        std::make_unique<RollupEngine>(options_, *log_, *definitions_, *store_);
    if (routed_) {
      auto combiner_store = CombinerStore::Open((dir_ / "combine").string());
      if (!combiner_store.ok()) return combiner_store.status();
      combiner_store_ = std::move(*combiner_store);
      combiner_ = std::make_unique<CellCombiner>(
          CellCombinerOptions{}, *log_, *definitions_, *combiner_store_);
    }
    definitions_->Start();
    if (absl::Status started = engine_->Start(); !started.ok()) return started;
    if (!routed_) return absl::OkStatus();
    if (absl::Status started = combiner_->Start(); !started.ok()) {
      return started;
    }
    if (route_store_ == nullptr) {
      auto route_store = RouteStore::Open((dir_ / "route").string());
      if (!route_store.ok()) return route_store.status();
      route_store_ = std::move(*route_store);
    }
    router_ = std::make_unique<EventRouter>(EventRouterOptions{}, *log_, *route_store_);
    return router_->Start();
  }

  void Close() {
    if (router_ != nullptr) {
      routed_duplicates_ += router_->stats().events_duplicate;
    }
    router_.reset();
    route_store_.reset();
    engine_.reset();
    combiner_.reset();
    combiner_store_.reset();
    store_.reset();
    definitions_.reset();
    log_.reset();
  }

  // Stops everything, deletes the rollup state and starts again: the
  // engine replays the log.
  absl::Status RebuildFromLog() {
    Close();
    std::filesystem::remove_all(dir_ / "rollup");
    std::filesystem::remove_all(dir_ / "combine");
    return Open();
  }

  absl::Status AppendDefinitions(const v1::DefinitionBatch& batch) {
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("property-test"));
    *envelope.mutable_definitions() = batch;
    if (absl::Status appended = log_->Append(
            kDefinitionsTopic, {{"defs", envelope.SerializeAsString()}});
        !appended.ok()) {
      return appended;
    }
    return definitions_->CatchUp(absl::Seconds(10));
  }

  absl::Status Append(const AppendBatch& batch) {
    const std::string envelope = EnvelopeOf(batch);
    return log_->Append(
        kKpiEventsTopic,
        {{absl::StrCat("envelope-", ++appended_), envelope, batch.partition}});
  }

  // What the engine must have counted once it read the whole log.
  struct Counts {
    int64_t applied = 0;     // Distinct events and corrections.
    int64_t duplicates = 0;  // Copies beyond the first.
    int64_t refused_corrections = 0;
    // A reshape while folding reads the log again and counts it again: the
    // counts are then lower bounds.
    bool exact = true;
  };

  // Waits (bounded) until the engine reports itself healthy with every
  // record of the log committed in the organisation's latest shape (and
  // the cells an earlier shape lost published as such), then checks its
  // counts.
  absl::Status WaitCaughtUp(const Counts& want) {
    const RollupStats& stats = engine_->stats();
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    // What is still behind, or empty once every stage caught up.
    auto behind = [&]() -> std::string {
      if (stats.events_committed < want.applied) return "events committed";
      if (!engine_->Health().ok()) return "engine health";
      auto lagging = [&](auto& store, const char* topic) -> std::string {
        for (int32_t p = 0; p < *log_->PartitionCount(topic); ++p) {
          const eventlog::TopicPartition tp{topic, p};
          auto committed = store.Position(tp);
          const int64_t end = *log_->EndOffset(tp);
          if (!committed.ok() || committed->offset != end) {
            return absl::StrCat(topic, "/", p, " at ",
                                committed.ok() ? committed->offset : -1,
                                " of ", end);
          }
        }
        return "";
      };
      if (!routed_) {
        if (std::string lag = lagging(*store_, kKpiEventsTopic); !lag.empty()) {
          return lag;
        }
      } else {
        // A has read every event, the engine all A routed, the parts of
        // its last batch are published (it commits, then publishes), and
        // C merged them and retracted what the epoch lacks.
        auto outbox = store_->Outbox();
        if (!outbox.ok() || !outbox->empty()) return "engine outbox";
        for (std::string lag : {lagging(*route_store_, kKpiEventsTopic),
                                lagging(*store_, kRollupChangesTopic),
                                lagging(*combiner_store_, kRollupPartialsTopic)}) {
          if (!lag.empty()) return lag;
        }
        if (!combiner_->Health().ok()) return combiner_->Health().ToString();
        if (!SweptCurrentEpoch()) return "sweep";
      }
      auto folded = store_->FoldedShape();
      auto tombstones = store_->Tombstones();
      if (!folded.ok() || folded->reorgs != definitions()->reorg_count()) {
        return "reshape";
      }
      if (!tombstones.ok() || !tombstones->empty()) return "tombstones";
      return "";
    };
    auto done = [&] { return behind().empty(); };
    while (!done() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    auto counted = [&](int64_t got, int64_t expected) {
      return want.exact ? got == expected : got >= expected;
    };
    // Routed, A holds the repeats back, once (a rebuild rebuilds B).
    const int64_t duplicates =
        stats.events_duplicate + routed_duplicates_ +
        (router_ != nullptr ? router_->stats().events_duplicate.load() : 0);
    if (!done() || !counted(stats.events_committed, want.applied) ||
        !counted(duplicates, want.duplicates) ||
        !counted(stats.corrections_rejected, want.refused_corrections) ||
        stats.events_conflicting != 0 || stats.events_rejected != 0) {
      return absl::DeadlineExceededError(absl::StrCat(
          "engine not caught up: committed ", stats.events_committed.load(),
          " of ", want.applied, ", duplicates ", duplicates,
          " of ", want.duplicates, ", refused corrections ",
          stats.corrections_rejected.load(), " of ", want.refused_corrections,
          want.exact ? "" : " (at least)", ", conflicting ",
          stats.events_conflicting.load(), ", rejected ",
          stats.events_rejected.load(), ", health ",
          engine_->Health().ToString(), ", behind: ", behind()));
    }
    return absl::OkStatus();
  }

  // Routed: stage C heard every fold partition complete the current
  // epoch, and retracted what it lacks.
  bool SweptCurrentEpoch() {
    auto folded = store_->FoldedShape();
    if (!folded.ok()) return false;
    for (int32_t c = 0; c < *log_->PartitionCount(kRollupPartialsTopic); ++c) {
      auto swept = combiner_store_->SweptEpoch(c);
      if (!swept.ok() || *swept < folded->version_epoch) return false;
    }
    return true;
  }

  // The record of a cell as queries answer it: routed, from stage C.
  absl::StatusOr<std::optional<v1::RollupRecord>> ReadRecord(
      const Definitions& defs, const CellId& id) const {
    if (routed_) return combiner_->ReadRecord(defs, id, engine_->Now());
    return engine_->ReadRecord(defs, id);
  }

  std::vector<int64_t> ChangelogEnds() {
    std::vector<int64_t> ends;
    for (int32_t p = 0; p < DefaultTopics()[kRollupsTopic]; ++p) {
      ends.push_back(*log_->EndOffset({kRollupsTopic, p}));
    }
    return ends;
  }

  // The latest record per key on the changelog from offsets `from` to its
  // current end.
  absl::StatusOr<std::map<std::string, v1::RollupRecord>> ReadChangelog(
      const std::vector<int64_t>& from) {
    auto consumer =
        log_->NewConsumer(absl::StrCat("property-reader-", ++readers_));
    if (!consumer.ok()) return consumer.status();
    std::vector<eventlog::Position> positions;
    for (int32_t p = 0; p < static_cast<int32_t>(from.size()); ++p) {
      positions.push_back({{kRollupsTopic, p}, from[p]});
    }
    if (absl::Status assigned = (*consumer)->Assign(positions);
        !assigned.ok()) {
      return assigned;
    }
    const std::vector<int64_t> ends = ChangelogEnds();
    int64_t left = 0;
    for (size_t p = 0; p < ends.size(); ++p) left += ends[p] - from[p];
    std::map<std::string, v1::RollupRecord> latest;
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (left > 0 && absl::Now() < deadline) {
      auto records = (*consumer)->Poll(1000, absl::Milliseconds(10));
      if (!records.ok()) return records.status();
      for (const eventlog::LogRecord& r : *records) {
        if (r.offset >= ends[r.topic_partition.partition]) continue;
        --left;
        v1::RollupRecord record;
        if (!record.ParseFromString(r.value)) {
          return absl::DataLossError(absl::StrCat("changelog record ", r.key));
        }
        auto [it, added] = latest.emplace(r.key, record);
        if (!added && record.version() >= it->second.version()) {
          it->second = record;
        }
      }
    }
    if (left > 0) {
      return absl::DeadlineExceededError(
          absl::StrCat(left, " changelog records not read in 30 s"));
    }
    return latest;
  }

  std::shared_ptr<const Definitions> definitions() const {
    return definitions_->Current();
  }
  const RollupEngine& engine() const { return *engine_; }

 private:
  std::filesystem::path dir_;
  RollupEngineOptions options_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<DefinitionsFollower> definitions_;
  std::unique_ptr<RollupStore> store_;
  std::unique_ptr<RollupEngine> engine_;
  const bool routed_;
  // Stage C, rebuilt with the engine's state.
  std::unique_ptr<CombinerStore> combiner_store_;
  std::unique_ptr<CellCombiner> combiner_;
  // Its files outlive RebuildFromLog, which rebuilds the engine's state.
  std::unique_ptr<RouteStore> route_store_;
  std::unique_ptr<EventRouter> router_;
  int64_t routed_duplicates_ = 0;  // By routers closed since.
  int64_t appended_ = 0;
  int readers_ = 0;
};

// ---------------------------------------------------------------------------
// Checks. Each adds what it finds to `findings`, one line per mismatch.

using Findings = std::vector<std::string>;
using Records = std::map<std::string, v1::RollupRecord>;

std::string TimeString(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9S%Ez", t, absl::UTCTimeZone());
}

// Every way `record` departs from what the model says of the cell.
std::vector<std::string> RecordMismatches(const ReferenceCell& want,
                                          const v1::RollupRecord& record) {
  std::vector<std::string> out;
  auto differ = [&](const char* field, const auto& got, const auto& expected) {
    out.push_back(absl::StrCat(field, " is ", got, ", want ", expected));
  };
  const testing::ExpectedFigure& f = want.figure;
  if (record.has_value() != f.has_value) {
    differ("has_value", record.has_value() ? "true" : "false",
           f.has_value ? "true" : "false");
  } else if (!f.has_value) {
    if (record.no_value_reason().empty())
      differ("no_value_reason", "''", "a reason");
    if (!record.exact_value().empty())
      differ("exact_value", record.exact_value(), "''");
  } else {
    const double tolerance = f.value_is_nearest ? 0 : f.tolerance;
    if (!(std::fabs(record.value() - f.value) <= tolerance)) {
      differ("value", absl::StrFormat("%.17g", record.value()),
             absl::StrFormat("%.17g (within %g)", f.value, tolerance));
    }
    if (!record.no_value_reason().empty()) {
      differ("no_value_reason", record.no_value_reason(), "''");
    }
    if (!f.exact_value.empty() && record.exact_value() != f.exact_value) {
      differ("exact_value", record.exact_value(), f.exact_value);
    }
    if (f.exact_value.empty() && !record.exact_value().empty() &&
        record.exact_value() != f.whole.value_or("(not a whole 0.0001s)")) {
      differ("exact_value", record.exact_value(),
             f.whole.value_or("'' (not a whole number of 0.0001s)"));
    }
    const std::pair<std::string, std::string> fraction = {record.numerator(),
                                                          record.denominator()};
    if (!f.numerator.empty()) {
      if (fraction != std::make_pair(f.numerator, f.denominator)) {
        differ("numerator/denominator",
               absl::StrCat(fraction.first, "/", fraction.second),
               absl::StrCat(f.numerator, "/", f.denominator));
      }
    } else if (!fraction.first.empty() || !fraction.second.empty()) {
      if (fraction !=
          f.allowed_fraction.value_or(std::pair<std::string, std::string>{})) {
        differ("numerator/denominator",
               absl::StrCat(fraction.first, "/", fraction.second),
               f.allowed_fraction
                   ? absl::StrCat(f.allowed_fraction->first, "/",
                                  f.allowed_fraction->second, " or none")
                   : std::string("none"));
      }
    }
  }
  if (record.event_count() != want.event_count) {
    differ("event_count", record.event_count(), want.event_count);
  }
  if (want.contributors_checked && record.contributors() != want.contributors &&
      (want.contributors_required || record.contributors() != 0)) {
    differ("contributors", record.contributors(), want.contributors);
  }
  if (want.last_event_time &&
      FromTimestamp(record.last_event_time()) != *want.last_event_time) {
    differ("last_event_time",
           TimeString(FromTimestamp(record.last_event_time())),
           TimeString(*want.last_event_time));
  }
  if (record.version() < std::max<int64_t>(1, want.event_count)) {
    differ("version", record.version(), absl::StrCat(">= ", want.event_count));
  }
  return out;
}

CellId CellIdOf(const Definitions& defs, const std::string& kpi,
                const std::string& unit, const Period& period) {
  return {*defs.FindKpi(kpi), *defs.FindUnit(unit), period};
}

// Reads every cell the model has through ReadRecord and compares it.
// Returns what the engine said, by key.
Records CheckEveryCell(const EmbeddedRollup& rollup,
                       const ReferenceRollup& model, Findings& findings) {
  Records records;
  const std::shared_ptr<const Definitions> defs = rollup.definitions();
  for (const auto& [key, cell] : model.cells) {
    auto record = rollup.ReadRecord(
        *defs, CellIdOf(*defs, cell.kpi_id, cell.unit_id, cell.period));
    if (!record.ok() || !record->has_value()) {
      findings.push_back(absl::StrCat(
          key, ": ", record.ok() ? "no record" : record.status().ToString()));
      continue;
    }
    for (const std::string& mismatch : RecordMismatches(cell, **record)) {
      findings.push_back(absl::StrCat(key, ": ", mismatch));
    }
    records[key] = **record;
  }
  return records;
}

// Routed: the fold partitions' parts, merged by the engine, are what stage
// C merged. After a rebuild C keeps the highest version of each part it
// read before and after, so this fails when a replay numbers a part's
// changes otherwise than the live fold did.
void CheckFoldMatchesCombine(const EmbeddedRollup& rollup,
                             const Records& combined, Findings& findings) {
  const std::shared_ptr<const Definitions> defs = rollup.definitions();
  for (const auto& [key, record] : combined) {
    auto parts = ParseCellKey(key);
    if (!parts.ok()) continue;
    auto folded = rollup.engine().ReadRecord(
        *defs, CellIdOf(*defs, parts->kpi_id, parts->unit_id, parts->period));
    if (!folded.ok() || !folded->has_value() ||
        !google::protobuf::util::MessageDifferencer::Equals(**folded, record)) {
      findings.push_back(absl::StrCat(
          "folded ", key, ": ",
          folded.ok() && folded->has_value() ? (*folded)->ShortDebugString()
                                             : "none",
          " but combined: ", record.ShortDebugString()));
    }
  }
}

// Cells near the events that the model says nothing reached: the engine
// must have no record of them either.
void CheckAbsentCells(const EmbeddedRollup& rollup, const PropertyCase& c,
                      const ReferenceRollup& model, Findings& findings) {
  const std::shared_ptr<const Definitions> defs = rollup.definitions();
  std::mt19937_64 rng(c.seed ^ 0x5eed);
  auto pick = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  for (int i = 0; i < 300; ++i) {
    const ReferenceKpi& kpi = c.kpis[pick(c.kpis.size())];
    const ReferenceUnit& unit = c.units[pick(c.units.size())];
    const absl::Time t = c.events[pick(c.events.size())].time;
    std::vector<PeriodKind> kinds(kpi.periods.begin(), kpi.periods.end());
    Period period = defs->calendar().Containing(kinds[pick(kinds.size())], t);
    period.index += static_cast<int32_t>(pick(3)) - 1;
    const std::string key = CellKey(kpi.id, unit.id, period);
    if (model.Find(key) != nullptr) continue;
    auto record = rollup.ReadRecord(
        *defs, CellIdOf(*defs, kpi.id, unit.id, period));
    if (!record.ok() || record->has_value()) {
      findings.push_back(
          absl::StrCat(key, ": the model has no cell, the engine ",
                       record.ok() ? (*record)->ShortDebugString()
                                   : record.status().ToString()));
    }
  }
}

// A cell an earlier shape of the organisation had and the current one
// lacks, published without a value at the first version of a later shape.
bool IsRemovedByReshape(const v1::RollupRecord& record) {
  constexpr int64_t kShapeVersions = int64_t{1} << kReorgVersionShift;
  return !record.has_value() && record.version() >= kShapeVersions &&
         record.version() % kShapeVersions == 0;
}

// The changelog holds a record for exactly the model's cells (besides
// those a reshape removed), and those sampled equal what ReadRecord
// answers.
void CheckChangelog(const Records& changelog, const Records& read,
                    const ReferenceRollup& model, const char* phase,
                    Findings& findings) {
  for (const auto& [key, record] : changelog) {
    if (model.Find(key) == nullptr && !IsRemovedByReshape(record)) {
      findings.push_back(absl::StrCat(
          phase, " changelog has ", key,
          ", which the model has not: ", record.ShortDebugString()));
    }
  }
  size_t i = 0;
  for (const auto& [key, record] : read) {
    auto it = changelog.find(key);
    if (it == changelog.end()) {
      findings.push_back(
          absl::StrCat(phase, " changelog has nothing for ", key));
    } else if (i++ % 7 == 0 &&
               !google::protobuf::util::MessageDifferencer::Equals(it->second,
                                                                   record)) {
      findings.push_back(absl::StrCat(
          phase, " changelog ", key, ": ", it->second.ShortDebugString(),
          " but ReadRecord: ", record.ShortDebugString()));
    }
  }
}

// The rebuilt state says what the live one did, field for field.
void CheckRebuiltMatchesLive(const Records& live, const Records& rebuilt,
                             const ReferenceRollup& model, Findings& findings) {
  for (const auto& [key, before] : live) {
    auto it = rebuilt.find(key);
    if (it == rebuilt.end()) continue;  // Reported by CheckEveryCell.
    v1::RollupRecord a = before;
    v1::RollupRecord b = it->second;
    if (!google::protobuf::util::MessageDifferencer::Equals(a, b)) {
      findings.push_back(absl::StrCat("rebuilt ", key, ": ",
                                      b.ShortDebugString(),
                                      " but live: ", a.ShortDebugString()));
    }
  }
}

// The calendar agrees with the README on how many periods hold each
// event: one of each ordinary kind, a to-date period for each month to the
// end of the fiscal year or quarter.
void CheckPeriodCounts(const PropertyCase& c, const Calendar& calendar,
                       Findings& findings) {
  absl::TimeZone zone;
  absl::LoadTimeZone(c.time_zone, &zone);
  for (const ReferenceEvent& e : c.events) {
    const int month = absl::ToCivilMonth(e.time, zone).month();
    std::map<PeriodKind, int> count;
    for (const Period& p :
         ReferencePeriodsContaining(calendar, e.time, PeriodKindSet::All())) {
      ++count[p.kind];
    }
    const int to_year_end =
        (c.fiscal_year_start_month - 1 - month + 12) % 12 + 1;
    const int to_quarter_end = 3 - (month - 1) % 3;
    for (int k = 1; k <= 8; ++k) {
      const auto kind = static_cast<PeriodKind>(k);
      const int want = kind == PeriodKind::kYearToDate      ? to_year_end
                       : kind == PeriodKind::kQuarterToDate ? to_quarter_end
                                                            : 1;
      if (count[kind] != want) {
        findings.push_back(absl::StrCat(
            "event ", e.id, " at ", TimeString(e.time), " is in ", count[kind],
            " ", PeriodKindName(kind), " periods by Start/End, want ", want));
      }
    }
  }
}

// The events behind a cell (its KPI's, a formula's inputs', a weight's) in
// its subtree and period, for reproducing a failure by hand.
std::string EventsBehind(const PropertyCase& c, const Calendar& calendar,
                         const ReferenceCell& cell) {
  std::set<std::string> kpis = {cell.kpi_id};
  for (const ReferenceKpi& k : c.kpis) {
    if (k.id != cell.kpi_id) continue;
    kpis.insert({k.left_id, k.right_id, k.weight_id});
  }
  for (const ReferenceKpi& k : c.kpis) {
    if (kpis.count(k.id) > 0 && !k.weight_id.empty()) kpis.insert(k.weight_id);
  }
  std::string out;
  for (const ReferenceEvent& e : c.events) {
    if (kpis.count(e.kpi_id) == 0 || e.time < calendar.Start(cell.period) ||
        e.time >= calendar.End(cell.period)) {
      continue;
    }
    const std::vector<std::string> path =
        testing::ReferencePathToRoot(calendar, c.units, e.unit_id, cell.period);
    if (std::find(path.begin(), path.end(), cell.unit_id) == path.end()) {
      continue;
    }
    absl::StrAppend(&out, "\n    {\"", e.id, "\", \"", e.kpi_id, "\", \"",
                    e.unit_id, "\", ", TimeString(e.time), ", ",
                    absl::StrFormat("%.17g", e.value),
                    e.corrects_id.empty() ? "" : ", corrects ", e.corrects_id,
                    e.voids ? " (voids)" : "", "}");
  }
  return out;
}

// ---------------------------------------------------------------------------
// One case, end to end.

// What a run checked, for its summary line.
struct Checked {
  int64_t cells = 0;          // Compared with the model, live and rebuilt.
  int64_t without_value = 0;  // Of those: records that must say why not.

  void Note(const ReferenceRollup& model) {
    for (const auto& [key, cell] : model.cells) {
      ++cells;
      if (!cell.figure.has_value) ++without_value;
    }
  }
};

// Runs case `c` in `dir`; returns every mismatch found.
Findings RunCaseIn(const PropertyCase& c, const std::filesystem::path& dir,
                   Checked& checked) {
  Findings findings;
  RollupEngineOptions options;
  options.flush_interval = absl::Milliseconds(10);
  options.max_cached_cells = c.max_cached_cells;
  options.poll_batch = c.poll_batch;
  options.fold_partitions = c.fold_partitions;
  EmbeddedRollup rollup(dir, options, c.routed);
  auto fail = [&](const absl::Status& status, const char* step) {
    findings.push_back(absl::StrCat(step, ": ", status.ToString()));
    return findings;
  };
  const v1::DefinitionBatch definitions = DefinitionsOf(c);
  // A refused batch would only show as events rejected later: say why now.
  auto defined = Definitions().WithBatch(definitions);
  if (defined.ok() && c.moves_after_append) {
    defined = defined->WithBatch(MovesOf(c));
  }
  if (!defined.ok()) {
    return fail(defined.status(), "the generated definitions are refused");
  }
  if (absl::Status s = rollup.Open(); !s.ok()) return fail(s, "open");
  if (absl::Status s = rollup.AppendDefinitions(definitions); !s.ok()) {
    return fail(s, "definitions");
  }
  for (size_t i = 0; i <= c.appends.size(); ++i) {
    if (c.moves_after_append == i) {
      if (absl::Status s = rollup.AppendDefinitions(MovesOf(c)); !s.ok()) {
        return fail(s, "moves");
      }
    }
    if (i == c.appends.size()) break;
    if (absl::Status s = rollup.Append(c.appends[i]); !s.ok()) {
      return fail(s, "append");
    }
  }
  EmbeddedRollup::Counts counts;
  counts.applied = static_cast<int64_t>(c.events.size());
  counts.duplicates = c.duplicates;
  counts.refused_corrections = c.refused_corrections;
  counts.exact = !c.moves_after_append.has_value();
  if (absl::Status s = rollup.WaitCaughtUp(counts); !s.ok()) {
    return fail(s, "live");
  }

  // A copy: the snapshot it comes from goes with the rebuild.
  const Calendar calendar = rollup.definitions()->calendar();
  const ReferenceRollup model =
      ComputeReferenceRollup(calendar, c.units, c.kpis, c.events);
  checked.Note(model);
  CheckPeriodCounts(c, calendar, findings);
  const Records live = CheckEveryCell(rollup, model, findings);
  CheckAbsentCells(rollup, c, model, findings);
  auto changelog = rollup.ReadChangelog(
      std::vector<int64_t>(DefaultTopics()[kRollupsTopic], 0));
  if (!changelog.ok()) return fail(changelog.status(), "live changelog");
  CheckChangelog(*changelog, live, model, "live", findings);

  const std::vector<int64_t> republished_from = rollup.ChangelogEnds();
  if (absl::Status s = rollup.RebuildFromLog(); !s.ok()) {
    return fail(s, "rebuild");
  }
  counts.exact = true;  // In the latest shape from the start.
  if (absl::Status s = rollup.WaitCaughtUp(counts); !s.ok()) {
    return fail(s, "rebuilt");
  }
  const Records rebuilt = CheckEveryCell(rollup, model, findings);
  if (c.routed) CheckFoldMatchesCombine(rollup, rebuilt, findings);
  CheckAbsentCells(rollup, c, model, findings);
  // Routed, a rebuilt stage C publishes only what changed from its group's
  // position (what was published before stands): the changelog read from
  // its start must then say what the rebuilt state does.
  auto republished = rollup.ReadChangelog(
      c.routed ? std::vector<int64_t>(DefaultTopics()[kRollupsTopic], 0)
               : republished_from);
  if (!republished.ok()) return fail(republished.status(), "rebuilt changelog");
  CheckChangelog(*republished, rebuilt, model, "rebuilt", findings);
  CheckRebuiltMatchesLive(live, rebuilt, model, findings);

  // The events behind the first mismatching cell, to reproduce it by hand.
  for (const auto& [key, cell] : model.cells) {
    if (!findings.empty() && findings.front().rfind(key + ":", 0) == 0) {
      findings.push_back(absl::StrCat("events behind ", key, ":",
                                      EventsBehind(c, calendar, cell)));
      break;
    }
  }
  return findings;
}

Findings RunCase(const PropertyCase& c, Checked& checked) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      absl::StrCat("strata_rollup_property_", getpid(), "_", c.seed);
  std::filesystem::remove_all(dir);
  Findings findings = RunCaseIn(c, dir, checked);
  std::filesystem::remove_all(dir);
  return findings;
}

std::string Report(const PropertyCase& c, const Findings& findings) {
  std::string out =
      absl::StrCat("seed ", c.seed, " (", Describe(c), "): ", findings.size(),
                   " mismatches. Reproduce with STRATA_PROPERTY_SEED=", c.seed,
                   " rollup_property_test");
  for (size_t i = 0; i < findings.size() && i < kMaxFindingsShown; ++i) {
    absl::StrAppend(&out, "\n  ", findings[i]);
  }
  if (findings.size() > kMaxFindingsShown) {
    absl::StrAppend(&out, "\n  ... and ", findings.size() - kMaxFindingsShown,
                    " more; the last: ", findings.back());
  }
  return out;
}

TEST(RollupPropertyTest, EngineMatchesTheReferenceLiveAndRebuilt) {
  const RunPlan plan = PlanFromEnvironment();
  Coverage coverage;
  Checked checked;
  std::vector<uint64_t> failed;
  absl::Duration slowest;
  const absl::Time began = absl::Now();
  for (uint64_t seed : plan.seeds) {
    const PropertyCase c = CaseGenerator(seed).Generate();
    coverage.Note(c);
    const absl::Time case_began = absl::Now();
    const Findings findings = RunCase(c, checked);
    slowest = std::max(slowest, absl::Now() - case_began);
    if (!findings.empty()) {
      failed.push_back(seed);
      ADD_FAILURE() << Report(c, findings);
    }
  }
  std::cout << "[ property ] " << plan.seeds.size() << " cases from seed "
            << plan.seeds.front() << " in " << absl::Now() - began
            << " (slowest " << slowest << "); " << checked.cells
            << " cells checked live and rebuilt, " << checked.without_value
            << " of them without a value; " << coverage.ToString()
            << (failed.empty() ? "" : "; failed seeds: ")
            << absl::StrJoin(failed, " ") << "\n";
  if (plan.ci) {
    EXPECT_TRUE(coverage.Complete())
        << "the default seeds no longer cover every option: "
        << coverage.ToString();
  }
}

// Found by the property test: a weight's event touched the cells it
// weighs only where the weighed KPI already had a value, so a weighted
// cell's version depended on the order events of the two KPIs were read
// in, which across partitions a replay need not repeat: a rebuilt cell came
// back with a lower version than consumers had seen, and they dropped it.
TEST(RollupPropertyTest, AWeightedCellKeepsItsVersionWhenRebuilt) {
  PropertyCase c;
  c.time_zone = "UTC";
  c.units = {{"u", "", {}}};
  ReferenceKpi weight;
  weight.id = "w";
  weight.time = TimeAggregation::kLast;
  weight.hierarchy = HierarchyAggregation::kMin;
  weight.periods = {PeriodKind::kMonth};
  ReferenceKpi weighted = weight;
  weighted.id = "v";
  weighted.hierarchy = HierarchyAggregation::kWeightedAvg;
  weighted.weight_id = "w";
  c.kpis = {weight, weighted};
  const absl::Time t =
      absl::FromCivil(absl::CivilDay(2026, 3, 10), absl::UTCTimeZone());
  // Read live in this order: v, then w (which reweighs v's cell).
  c.appends = {{1, {{"v1", "v", "u", t, 2, "", false}}}, {0, {{"w1", "w", "u", t, 3, "", false}}}};
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      absl::StrCat("strata_rollup_property_", getpid(), "_version");
  std::filesystem::remove_all(dir);
  RollupEngineOptions options;
  options.flush_interval = absl::Milliseconds(10);
  EmbeddedRollup rollup(dir, options);
  ASSERT_OK(rollup.Open());
  ASSERT_OK(rollup.AppendDefinitions(DefinitionsOf(c)));
  int64_t applied = 0;
  for (const AppendBatch& batch : c.appends) {
    ASSERT_OK(rollup.Append(batch));
    ASSERT_OK(rollup.WaitCaughtUp(EmbeddedRollup::Counts{++applied}));
  }
  auto version = [&]() -> int64_t {
    auto defs = rollup.definitions();
    auto record = rollup.ReadRecord(
        *defs, CellIdOf(*defs, "v", "u", {PeriodKind::kMonth, 2026 * 12 + 2}));
    return record.ok() && *record ? (*record)->version() : -1;
  };
  const int64_t live = version();
  ASSERT_OK(rollup.RebuildFromLog());
  ASSERT_OK(rollup.WaitCaughtUp(EmbeddedRollup::Counts{applied}));
  EXPECT_EQ(version(), live);
  rollup.Close();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strata::rollup
