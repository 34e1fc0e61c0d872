#include "libs/period/period.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/status/quote.h"

namespace strata {
namespace {

constexpr int kMinYear = 1;

// Digits only: SimpleAtoi alone also takes "+202" and " 202".
bool ParseDigits(absl::string_view text, int* value) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(text, value);
}

absl::StatusOr<int> ParseYear(absl::string_view text) {
  int year = 0;
  if (text.size() != 4 || !ParseDigits(text, &year) || year < kMinYear) {
    return absl::InvalidArgumentError(
        absl::StrCat("year ", Quoted(text), " is not four digits from 0001 to 9999"));
  }
  return year;
}

}  // namespace

namespace {

Period PeriodOfMonth(PeriodKind kind, const absl::CivilMonth& month) {
  const int64_t year = month.year();
  const int32_t month0 = month.month() - 1;
  switch (kind) {
    case PeriodKind::kMonth:
      return {kind, static_cast<int32_t>(year * 12 + month0)};
    case PeriodKind::kQuarter:
      return {kind, static_cast<int32_t>(year * 4 + month0 / 3)};
    case PeriodKind::kYear:
      return {kind, static_cast<int32_t>(year)};
  }
  return {kind, 0};
}

}  // namespace

Period PeriodContaining(PeriodKind kind, absl::Time time) {
  return PeriodOfMonth(kind, absl::ToCivilMonth(time, absl::UTCTimeZone()));
}

std::array<Period, kRollupPeriodKinds.size()> RollupPeriodsContaining(
    absl::Time time) {
  const absl::CivilMonth month = absl::ToCivilMonth(time, absl::UTCTimeZone());
  std::array<Period, kRollupPeriodKinds.size()> periods;
  for (size_t i = 0; i < periods.size(); ++i) {
    periods[i] = PeriodOfMonth(kRollupPeriodKinds[i], month);
  }
  return periods;
}

std::string PeriodLabel(const Period& period) {
  switch (period.kind) {
    case PeriodKind::kMonth:
      return absl::StrFormat("%04d-%02d", period.index / 12,
                             period.index % 12 + 1);
    case PeriodKind::kQuarter:
      return absl::StrFormat("%04d-Q%d", period.index / 4,
                             period.index % 4 + 1);
    case PeriodKind::kYear:
      return absl::StrFormat("%04d", period.index);
  }
  return "";
}

absl::StatusOr<Period> ParsePeriod(PeriodKind kind, absl::string_view label) {
  switch (kind) {
    case PeriodKind::kYear: {
      auto year = ParseYear(label);
      if (!year.ok()) return year.status();
      return Period{kind, *year};
    }
    case PeriodKind::kMonth: {
      int month = 0;
      if (label.size() != 7 || label[4] != '-' ||
          !ParseDigits(label.substr(5), &month) || month < 1 ||
          month > 12) {
        return absl::InvalidArgumentError(
            absl::StrCat("month ", Quoted(label), " is not YYYY-MM"));
      }
      auto year = ParseYear(label.substr(0, 4));
      if (!year.ok()) return year.status();
      return Period{kind, *year * 12 + month - 1};
    }
    case PeriodKind::kQuarter: {
      int quarter = 0;
      if (label.size() != 7 || label.substr(4, 2) != "-Q" ||
          !ParseDigits(label.substr(6), &quarter) || quarter < 1 ||
          quarter > 4) {
        return absl::InvalidArgumentError(
            absl::StrCat("quarter ", Quoted(label), " is not YYYY-Qn"));
      }
      auto year = ParseYear(label.substr(0, 4));
      if (!year.ok()) return year.status();
      return Period{kind, *year * 4 + quarter - 1};
    }
  }
  return absl::InvalidArgumentError("unsupported period kind");
}

bool IsSupportedPeriodKind(int proto_kind) {
  for (PeriodKind kind : kRollupPeriodKinds) {
    if (static_cast<int>(kind) == proto_kind) return true;
  }
  return false;
}

}  // namespace strata
