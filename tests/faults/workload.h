#pragma once

// The fault harnesses' workload and oracle: a small organisation (one root,
// two business units, four teams; `sales` summed, `headcount` last), seeded
// events and month targets, and the exact rollups of any subset of those
// events, computed independently of the code under test.
//
//   Rng rng(SuiteSeed());
//   Workload w = MakeWorkload(rng, /*count=*/600, /*max_batch=*/40);
//   std::vector<ExpectedCell> want = ExpectedCells(w, acknowledged);

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "strata/v1/definitions.pb.h"
#include "strata/v1/events.pb.h"
#include "strata/v1/rollup.pb.h"

namespace strata::faults {

// One seed for the run: STRATA_FAULT_SEED, else random; printed once.
uint64_t SuiteSeed();

uint64_t Fnv1a(const std::string& text);

// Arithmetic of our own on a fixed engine, so that a seed means the same on
// every standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, n); n > 0.
  uint64_t Below(uint64_t n) { return engine_() % n; }
  // Uniform in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo + 1)));
  }
  bool OneIn(uint64_t n) { return Below(n) == 0; }
  uint64_t Next() { return engine_(); }
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[Below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

// acme -> east -> {east-1, east-2}; acme -> west -> {west-1, west-2}.
constexpr int kUnitCount = 7;
constexpr std::array<const char*, kUnitCount> kUnits = {
    "acme", "east", "west", "east-1", "east-2", "west-1", "west-2"};
constexpr std::array<int, kUnitCount> kParent = {-1, 0, 0, 1, 1, 2, 2};
constexpr int kFirstTeam = 3;
constexpr int kTeamCount = 4;

enum Kpi { kSales = 0, kHeadcount = 1, kKpiCount = 2 };
constexpr std::array<const char*, kKpiCount> kKpis = {"sales", "headcount"};

// 2026-01 .. 2026-06, 2026-Q1, 2026-Q2, 2026.
constexpr int kMonths = 6;
constexpr int kPeriodCount = kMonths + 2 + 1;
constexpr int64_t kJan2026 = 1767225600;  // 2026-01-01T00:00:00Z
constexpr std::array<int, kMonths> kMonthDays = {31, 28, 31, 30, 31, 30};

v1::RollupKey KeyOf(int kpi, int unit, int period);
inline int CellIndex(int kpi, int unit, int period) {
  return (kpi * kUnitCount + unit) * kPeriodCount + period;
}
constexpr int kCellCount = kKpiCount * kUnitCount * kPeriodCount;
// "sales/acme/2026-Q1".
std::string CellName(int cell);
// The cell of a rollup key; -1 when it is not one of the workload's.
int CellOf(const v1::RollupKey& key);
// The month (0-based) of a time in the first half of 2026.
int MonthOf(int64_t seconds);

struct Event {
  std::string id;
  int kpi = 0;
  int team = 0;  // Unit index.
  int64_t seconds = 0;
  int32_t nanos = 0;  // Unique per event: no two events share a time.
  int64_t fixed = 0;  // Value in 1/10,000.
};

struct Target {
  int kpi = 0;
  int unit = 0;
  int month = 0;
  double value = 0;
};

struct Workload {
  std::vector<Event> events;
  std::vector<std::pair<size_t, size_t>> batches;  // [begin, end) of events.
  std::vector<Target> targets;

  size_t batch_count() const { return batches.size(); }
};

// `count` events with seeded KPIs, teams, times and values, cut into batches
// of 1..max_batch.
Workload MakeWorkload(Rng& rng, int count, int max_batch);
v1::KpiEvent ToProto(const Event& e);
// The organisation, both KPIs and the workload's targets.
v1::DefinitionBatch Definitions(const Workload& w);

struct ExpectedCell {
  int64_t fixed = 0;
  int64_t count = 0;
  int64_t last_seconds = 0;
  int32_t last_nanos = 0;
};

// Per event: whether it is in the set.
using EventSet = std::vector<char>;

// The exact rollup of every cell over the events in `in`.
std::vector<ExpectedCell> ExpectedCells(const Workload& w, const EventSet& in);

// "-1234.5" -> -12345000; nullopt when malformed.
std::optional<int64_t> ParseFixed(absl::string_view text);
std::string FormatFixed(int64_t fixed);

// RAG status as the KPIs are defined (higher is better, green at 100 %,
// amber at 90 %); nullopt within rounding of a boundary.
std::optional<v1::KpiStatus> ExpectedStatus(int64_t fixed, double target);

}  // namespace strata::faults
