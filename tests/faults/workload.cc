#include "tests/faults/workload.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/definitions/testing/definition_builders.h"

namespace strata::faults {

uint64_t SuiteSeed() {
  static const uint64_t seed = [] {
    uint64_t s = 0;
    const char* env = std::getenv("STRATA_FAULT_SEED");
    if (env == nullptr || !absl::SimpleAtoi(env, &s)) {
      s = (static_cast<uint64_t>(std::random_device()()) << 32) ^
          std::random_device()();
    }
    std::cout << "STRATA_FAULT_SEED=" << s << std::endl;
    return s;
  }();
  return seed;
}


uint64_t Fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

v1::RollupKey KeyOf(int kpi, int unit, int period) {
  v1::RollupKey key;
  key.set_kpi_id(kKpis[kpi]);
  key.set_unit_id(kUnits[unit]);
  if (period < kMonths) {
    key.mutable_period()->set_kind(v1::PERIOD_KIND_MONTH);
    key.mutable_period()->set_label(absl::StrCat("2026-0", period + 1));
  } else if (period < kMonths + 2) {
    key.mutable_period()->set_kind(v1::PERIOD_KIND_QUARTER);
    key.mutable_period()->set_label(
        absl::StrCat("2026-Q", period - kMonths + 1));
  } else {
    key.mutable_period()->set_kind(v1::PERIOD_KIND_YEAR);
    key.mutable_period()->set_label("2026");
  }
  return key;
}

std::string CellName(int cell) {
  const v1::RollupKey key =
      KeyOf(cell / (kUnitCount * kPeriodCount),
            cell / kPeriodCount % kUnitCount, cell % kPeriodCount);
  return absl::StrCat(key.kpi_id(), "/", key.unit_id(), "/",
                      key.period().label());
}

// The month (0-based) of a time in the first half of 2026.
int MonthOf(int64_t seconds) {
  int64_t start = kJan2026;
  for (int m = 0; m < kMonths; ++m) {
    start += int64_t{kMonthDays[m]} * 86400;
    if (seconds < start) return m;
  }
  return kMonths - 1;
}

// `count` events with seeded KPIs, teams, times and values, cut into batches
// of 1..max_batch.
Workload MakeWorkload(Rng& rng, int count, int max_batch) {
  Workload w;
  const int64_t half_year = int64_t{181} * 86400;
  for (int i = 0; i < count; ++i) {
    Event e;
    e.id = absl::StrCat("ev-", i);
    e.kpi = rng.OneIn(2) ? kSales : kHeadcount;
    e.team = kFirstTeam + static_cast<int>(rng.Below(kTeamCount));
    e.seconds = kJan2026 + static_cast<int64_t>(rng.Below(half_year));
    e.nanos = i;
    e.fixed = e.kpi == kSales ? rng.Between(1, 5'000'000)         // 0.0001..500
                              : rng.Between(100'000, 1'000'000);  // 10..100
    w.events.push_back(std::move(e));
  }
  for (size_t begin = 0; begin < w.events.size();) {
    const size_t end =
        std::min(w.events.size(),
                 begin + static_cast<size_t>(rng.Between(1, max_batch)));
    w.batches.emplace_back(begin, end);
    begin = end;
  }
  // Month targets that the growing totals cross: sales for every unit in
  // Q1 (a team's month ends near 25 events x 250), headcount for teams in
  // January and February.
  for (int unit = 0; unit < kUnitCount; ++unit) {
    const int scale = unit == 0 ? 4 : unit < kFirstTeam ? 2 : 1;
    for (int month = 0; month < 3; ++month) {
      w.targets.push_back(
          {kSales, unit, month, scale * rng.Between(100'000, 800'000) / 100.0});
    }
    if (unit >= kFirstTeam) {
      for (int month = 0; month < 2; ++month) {
        w.targets.push_back(
            {kHeadcount, unit, month, rng.Between(3'000, 9'000) / 100.0});
      }
    }
  }
  return w;
}

v1::KpiEvent ToProto(const Event& e) {
  v1::KpiEvent p;
  p.set_event_id(e.id);
  p.set_kpi_id(kKpis[e.kpi]);
  p.set_unit_id(kUnits[e.team]);
  p.mutable_event_time()->set_seconds(e.seconds);
  p.mutable_event_time()->set_nanos(e.nanos);
  p.set_value(static_cast<double>(e.fixed) / 10'000.0);
  p.set_source("faults");
  return p;
}

v1::DefinitionBatch Definitions(const Workload& w) {
  using ::strata::testing::KpiChange;
  using ::strata::testing::TargetChange;
  using ::strata::testing::UnitChange;
  std::vector<v1::DefinitionChange> changes;
  for (int u = 0; u < kUnitCount; ++u) {
    changes.push_back(
        UnitChange(kUnits[u], kParent[u] < 0 ? "" : kUnits[kParent[u]]));
  }
  changes.push_back(KpiChange(kKpis[kSales], v1::TIME_AGGREGATION_SUM));
  changes.push_back(KpiChange(kKpis[kHeadcount], v1::TIME_AGGREGATION_LAST));
  for (const Target& t : w.targets) {
    changes.push_back(TargetChange(kKpis[t.kpi], kUnits[t.unit],
                                   absl::StrCat("2026-0", t.month + 1),
                                   t.value));
  }
  return ::strata::testing::Batch(std::move(changes));
}

std::vector<ExpectedCell> ExpectedCells(const Workload& w, const EventSet& in) {
  std::vector<ExpectedCell> cells(kCellCount);
  // `last`: the latest event of each team in each period.
  std::map<std::pair<int, int>, const Event*> latest;  // (team, period)
  for (size_t i = 0; i < w.events.size(); ++i) {
    if (!in[i]) continue;
    const Event& e = w.events[i];
    const int month = MonthOf(e.seconds);
    for (int period : {month, kMonths + month / 3, kMonths + 2}) {
      for (int u = e.team; u >= 0; u = kParent[u]) {
        ExpectedCell& c = cells[CellIndex(e.kpi, u, period)];
        ++c.count;
        if (std::tie(e.seconds, e.nanos) >
            std::tie(c.last_seconds, c.last_nanos)) {
          c.last_seconds = e.seconds;
          c.last_nanos = e.nanos;
        }
        if (e.kpi == kSales) c.fixed += e.fixed;
      }
      if (e.kpi == kHeadcount) {
        const Event*& l = latest[{e.team, period}];
        if (l == nullptr ||
            std::tie(e.seconds, e.nanos) > std::tie(l->seconds, l->nanos)) {
          l = &e;
        }
      }
    }
  }
  for (const auto& [team_period, e] : latest) {
    for (int u = team_period.first; u >= 0; u = kParent[u]) {
      cells[CellIndex(kHeadcount, u, team_period.second)].fixed += e->fixed;
    }
  }
  return cells;
}


// "-1234.5" -> -12345000; nullopt when malformed.
std::optional<int64_t> ParseFixed(absl::string_view text) {
  const bool negative = absl::ConsumePrefix(&text, "-");
  absl::string_view whole = text, fraction;
  if (size_t dot = text.find('.'); dot != absl::string_view::npos) {
    whole = text.substr(0, dot);
    fraction = text.substr(dot + 1);
  }
  if (whole.empty() || fraction.size() > 4) return std::nullopt;
  int64_t units = 0, frac = 0;
  if (!absl::SimpleAtoi(whole, &units)) return std::nullopt;
  if (!fraction.empty()) {
    if (!absl::SimpleAtoi(fraction, &frac)) return std::nullopt;
    for (size_t i = fraction.size(); i < 4; ++i) frac *= 10;
  }
  const int64_t value = units * 10'000 + frac;
  return negative ? -value : value;
}

std::string FormatFixed(int64_t fixed) {
  const char* sign = fixed < 0 ? "-" : "";
  const int64_t magnitude = fixed < 0 ? -fixed : fixed;
  std::string frac = absl::StrCat(magnitude % 10'000);
  frac.insert(0, 4 - frac.size(), '0');
  return absl::StrCat(sign, magnitude / 10'000, ".", frac);
}

// RAG status as the KPIs are defined (higher is better, green at 100 %,
// amber at 90 %); nullopt within rounding of a boundary.
std::optional<v1::KpiStatus> ExpectedStatus(int64_t fixed, double target) {
  const double actual = static_cast<double>(fixed) / 10'000.0;
  const double green = target * 100 / 100.0;
  const double amber = target * 90 / 100.0;
  const double margin = 1e-6 * std::max(1.0, target);
  if (std::abs(actual - green) < margin || std::abs(actual - amber) < margin) {
    return std::nullopt;
  }
  if (actual >= green) return v1::KPI_STATUS_GREEN;
  if (actual >= amber) return v1::KPI_STATUS_AMBER;
  return v1::KPI_STATUS_RED;
}

int CellOf(const v1::RollupKey& key) {
  int kpi = -1, unit = -1, period = -1;
  for (int k = 0; k < kKpiCount; ++k) {
    if (key.kpi_id() == kKpis[k]) kpi = k;
  }
  for (int u = 0; u < kUnitCount; ++u) {
    if (key.unit_id() == kUnits[u]) unit = u;
  }
  for (int p = 0; p < kPeriodCount; ++p) {
    if (key.period().label() == KeyOf(0, 0, p).period().label()) period = p;
  }
  if (kpi < 0 || unit < 0 || period < 0) return -1;
  return CellIndex(kpi, unit, period);
}

}  // namespace strata::faults
