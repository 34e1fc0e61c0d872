#pragma once

// Calendar periods that rollups are kept at, decided by event time in UTC.
//
//   Period month = PeriodContaining(PeriodKind::kMonth, event_time);
//   PeriodLabel(month);                               // "2026-11"
//   ParsePeriod(PeriodKind::kQuarter, "2026-Q4");    // {kQuarter, 2026*4+3}

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace strata {

// Values match strata.v1.PeriodKind.
enum class PeriodKind : uint8_t {
  kMonth = 3,
  kQuarter = 4,
  kYear = 6,
};

// Every kind a KPI event is rolled up into.
inline constexpr std::array<PeriodKind, 3> kRollupPeriodKinds = {
    PeriodKind::kMonth, PeriodKind::kQuarter, PeriodKind::kYear};

// A period as a dense number within its kind: months and quarters count from
// year 0, so consecutive periods differ by one.
struct Period {
  PeriodKind kind = PeriodKind::kMonth;
  int32_t index = 0;

  friend bool operator==(const Period& a, const Period& b) {
    return a.kind == b.kind && a.index == b.index;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Period& p) {
    return H::combine(std::move(h), p.kind, p.index);
  }
};

Period PeriodContaining(PeriodKind kind, absl::Time time);

// The periods of every kind in kRollupPeriodKinds that contain `time`, in
// that order, from one calendar conversion.
std::array<Period, kRollupPeriodKinds.size()> RollupPeriodsContaining(
    absl::Time time);

// "2026-11", "2026-Q4", "2026".
std::string PeriodLabel(const Period& period);

// INVALID_ARGUMENT naming what is wrong with `label`.
absl::StatusOr<Period> ParsePeriod(PeriodKind kind, absl::string_view label);

// True for the kinds in kRollupPeriodKinds.
bool IsSupportedPeriodKind(int proto_kind);

}  // namespace strata
