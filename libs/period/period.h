#pragma once

// Calendar periods that rollups are kept at, and their canonical labels. A
// period is a kind and a dense index; which instants it spans depends on an
// organisation's time zone and fiscal year, which `Calendar`
// (libs/period/calendar.h) supplies.
//
//   Period week{PeriodKind::kIsoWeek, 2969};
//   PeriodLabel(week);                                 // "2026-W48"
//   ParsePeriod(PeriodKind::kQuarter, "2026-Q4");     // {kQuarter, 2026*4+3}
//   KindOfLabel("FY2027");                            // kFiscalYear
//   for (PeriodKind kind : PeriodKindSet{PeriodKind::kDay,
//                                        PeriodKind::kMonth}) ...

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace strata {

// Values match strata.v1.PeriodKind, so a proto number casts to a kind once
// IsPeriodKind accepts it.
enum class PeriodKind : uint8_t {
  kDay = 1,
  kIsoWeek = 2,
  kMonth = 3,
  kQuarter = 4,
  kFiscalYear = 5,
  kYear = 6,
  kYearToDate = 7,     // fiscal year to date
  kQuarterToDate = 8,  // calendar quarter to date
};

// True when `proto_kind` is the number of a PeriodKind (1..8).
constexpr bool IsPeriodKind(int proto_kind) {
  return proto_kind >= 1 && proto_kind <= 8;
}

// "day", "iso_week", "month", "quarter", "fiscal_year", "year",
// "year_to_date", "quarter_to_date"; "" for a value that is no kind.
absl::string_view PeriodKindName(PeriodKind kind);

// A period as a dense number within its kind: consecutive periods of one
// kind differ by one. Index of each kind:
//   kDay            days since 1970-01-01 (kDayZero), negative before
//   kIsoWeek        weeks since the ISO week of Monday 1969-12-29
//                   (kIsoWeekZero), negative before
//   kMonth          year * 12 + month - 1
//   kQuarter        year * 4 + quarter - 1
//   kFiscalYear     the calendar year the fiscal year ends in (FY2027 runs
//                   Oct 2026 - Sep 2027 when it starts in October)
//   kYear           year
//   kYearToDate,    the kMonth index of the last month included: the
//   kQuarterToDate  to-date period from the start of its fiscal year or
//                   calendar quarter through that month
struct Period {
  PeriodKind kind = PeriodKind::kMonth;
  int32_t index = 0;

  friend bool operator==(const Period& a, const Period& b) {
    return a.kind == b.kind && a.index == b.index;
  }
  friend bool operator!=(const Period& a, const Period& b) { return !(a == b); }
  template <typename H>
  friend H AbslHashValue(H h, const Period& p) {
    return H::combine(std::move(h), p.kind, p.index);
  }
};

// The days that kDay index 0 and kIsoWeek index 0 start on.
inline constexpr absl::CivilDay kDayZero(1970, 1, 1);
inline constexpr absl::CivilDay kIsoWeekZero(1969, 12, 29);  // a Monday

// Canonical labels; a label alone tells its kind:
//   kDay "2026-11-25"   kIsoWeek "2026-W48" (ISO week-numbering year)
//   kMonth "2026-11"    kQuarter "2026-Q4"   kYear "2026"
//   kFiscalYear "FY2027"   kYearToDate "YTD2026-11"
//   kQuarterToDate "QTD2026-11"
// Returns "" for a kind that is no PeriodKind.
std::string PeriodLabel(const Period& period);

// The period that the canonical `label` of `kind` names. Strict: years
// 0001..9999 written with four digits, real dates only ("2024-02-29" but not
// "2026-02-29"), week 53 only in ISO years that have one. On failure returns
// INVALID_ARGUMENT saying what is wrong with `label`.
absl::StatusOr<Period> ParsePeriod(PeriodKind kind, absl::string_view label);

// The kind of a canonical label of any kind. INVALID_ARGUMENT when `label`
// has no kind's shape, or has one but ParsePeriod refuses it.
absl::StatusOr<PeriodKind> KindOfLabel(absl::string_view label);

// A set of period kinds, as a bitmask: cheap to copy and to test. Iterates
// in kind order (kDay first).
//
//   PeriodKindSet kinds{PeriodKind::kMonth, PeriodKind::kYear};
//   kinds.Add(PeriodKind::kDay);
//   for (PeriodKind kind : kinds) ...  // kDay, kMonth, kYear
class PeriodKindSet {
 public:
  class Iterator;

  constexpr PeriodKindSet() = default;
  // Kinds that are no PeriodKind are left out, here and in Add.
  constexpr PeriodKindSet(std::initializer_list<PeriodKind> kinds) {
    for (PeriodKind kind : kinds) Add(kind);
  }
  static constexpr PeriodKindSet All() {
    PeriodKindSet all;
    for (int kind = 1; IsPeriodKind(kind); ++kind) {
      all.Add(static_cast<PeriodKind>(kind));
    }
    return all;
  }

  constexpr bool Contains(PeriodKind kind) const {
    return (bits_ & Bit(kind)) != 0;
  }
  constexpr void Add(PeriodKind kind) { bits_ |= Bit(kind); }
  // The kinds in both sets.
  constexpr PeriodKindSet Intersect(PeriodKindSet other) const {
    PeriodKindSet both;
    both.bits_ = bits_ & other.bits_;
    return both;
  }
  constexpr bool empty() const { return bits_ == 0; }

  Iterator begin() const;
  Iterator end() const;

  friend constexpr bool operator==(PeriodKindSet a, PeriodKindSet b) {
    return a.bits_ == b.bits_;
  }
  friend constexpr bool operator!=(PeriodKindSet a, PeriodKindSet b) {
    return a.bits_ != b.bits_;
  }

 private:
  static constexpr uint16_t Bit(PeriodKind kind) {
    const int value = static_cast<int>(kind);
    return IsPeriodKind(value) ? static_cast<uint16_t>(1u << value) : 0;
  }

  uint16_t bits_ = 0;  // bit k set: PeriodKind k is in the set
};

// An input iterator over the kinds of a PeriodKindSet, in kind order.
class PeriodKindSet::Iterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = PeriodKind;
  using difference_type = std::ptrdiff_t;
  using pointer = const PeriodKind*;
  using reference = PeriodKind;

  PeriodKind operator*() const { return static_cast<PeriodKind>(kind_); }
  Iterator& operator++() {
    kind_ = Next(bits_, kind_ + 1);
    return *this;
  }
  Iterator operator++(int) {
    Iterator before = *this;
    ++*this;
    return before;
  }
  friend bool operator==(Iterator a, Iterator b) { return a.kind_ == b.kind_; }
  friend bool operator!=(Iterator a, Iterator b) { return a.kind_ != b.kind_; }

 private:
  friend class PeriodKindSet;
  static constexpr int kEnd = 9;  // one past the last kind

  Iterator(uint16_t bits, int kind) : bits_(bits), kind_(Next(bits, kind)) {}
  // The first kind >= `kind` in `bits`, or kEnd.
  static int Next(uint16_t bits, int kind) {
    while (kind < kEnd && (bits & (1u << kind)) == 0) ++kind;
    return kind;
  }

  uint16_t bits_;
  int kind_;
};

inline PeriodKindSet::Iterator PeriodKindSet::begin() const {
  return Iterator(bits_, 1);
}
inline PeriodKindSet::Iterator PeriodKindSet::end() const {
  return Iterator(bits_, Iterator::kEnd);
}

}  // namespace strata
