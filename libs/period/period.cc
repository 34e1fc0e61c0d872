#include "libs/period/period.h"

#include "absl/base/attributes.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/period/calendar.h"
#include "libs/status/quote.h"

namespace strata {
namespace {

constexpr int kMinYear = 1;
constexpr absl::CivilMonth kMonthZero(0, 1);  // kMonth index 0

// Floor division and its remainder: month -1 is December of year -1.
int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0);
}
int64_t FloorMod(int64_t a, int64_t b) { return a - FloorDiv(a, b) * b; }

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
    return absl::InvalidArgumentError(absl::StrCat(
        "year ", Quoted(text), " is not four digits from 0001 to 9999"));
  }
  return year;
}

absl::Status Malformed(absl::string_view what, absl::string_view label,
                       absl::string_view shape) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, " ", Quoted(label), " is not ", shape));
}

// "YYYY-MM" as a kMonth index; `what` and `label` name it in errors.
absl::StatusOr<int32_t> ParseMonth(absl::string_view text,
                                   absl::string_view what,
                                   absl::string_view label,
                                   absl::string_view shape) {
  int month = 0;
  if (text.size() != 7 || text[4] != '-' ||
      !ParseDigits(text.substr(5), &month) || month < 1 || month > 12) {
    return Malformed(what, label, shape);
  }
  auto year = ParseYear(text.substr(0, 4));
  if (!year.ok()) return year.status();
  return *year * 12 + month - 1;
}

absl::StatusOr<int32_t> ParseDay(absl::string_view label) {
  int month = 0;
  int day = 0;
  if (label.size() != 10 || label[4] != '-' || label[7] != '-' ||
      !ParseDigits(label.substr(5, 2), &month) ||
      !ParseDigits(label.substr(8, 2), &day)) {
    return Malformed("day", label, "YYYY-MM-DD");
  }
  auto year = ParseYear(label.substr(0, 4));
  if (!year.ok()) return year.status();
  // CivilDay normalises 02-29 of a common year to 03-01: a changed field
  // means no such date.
  const absl::CivilDay date(*year, month, day);
  if (date.year() != *year || date.month() != month || date.day() != day) {
    return absl::InvalidArgumentError(
        absl::StrCat("day ", Quoted(label), " is not a date"));
  }
  return static_cast<int32_t>(date - kDayZero);
}

// Week 1 of an ISO year is the one holding its first Thursday, so it starts
// on the Monday on or before 4 January.
absl::CivilDay FirstMondayOfIsoYear(int year) {
  const absl::CivilDay jan4(year, 1, 4);
  return jan4 - static_cast<int>(absl::GetWeekday(jan4));  // monday == 0
}

absl::StatusOr<int32_t> ParseIsoWeek(absl::string_view label) {
  int week = 0;
  if (label.size() != 8 || label.substr(4, 2) != "-W" ||
      !ParseDigits(label.substr(6), &week) || week < 1 || week > 53) {
    return Malformed("ISO week", label, "YYYY-Www with ww from 01 to 53");
  }
  auto year = ParseYear(label.substr(0, 4));
  if (!year.ok()) return year.status();
  const absl::CivilDay monday = FirstMondayOfIsoYear(*year) + 7 * (week - 1);
  // A week belongs to the year its Thursday is in.
  if ((monday + 3).year() != *year) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ISO week ", Quoted(label), ": ISO year ", *year, " has 52 weeks"));
  }
  return static_cast<int32_t>((monday - kIsoWeekZero) / 7);
}

std::string IsoWeekLabel(int32_t index) {
  const absl::CivilDay thursday = kIsoWeekZero + 7 * int64_t{index} + 3;
  return absl::StrFormat("%04d-W%02d", thursday.year(),
                         (absl::GetYearDay(thursday) - 1) / 7 + 1);
}

std::string MonthLabel(int32_t index) {
  const absl::CivilMonth month = kMonthZero + index;
  return absl::StrFormat("%04d-%02d", month.year(), month.month());
}

}  // namespace

absl::string_view PeriodKindName(PeriodKind kind) {
  switch (kind) {
    case PeriodKind::kDay:
      return "day";
    case PeriodKind::kIsoWeek:
      return "iso_week";
    case PeriodKind::kMonth:
      return "month";
    case PeriodKind::kQuarter:
      return "quarter";
    case PeriodKind::kFiscalYear:
      return "fiscal_year";
    case PeriodKind::kYear:
      return "year";
    case PeriodKind::kYearToDate:
      return "year_to_date";
    case PeriodKind::kQuarterToDate:
      return "quarter_to_date";
  }
  return "";
}

std::string PeriodLabel(const Period& period) {
  switch (period.kind) {
    case PeriodKind::kDay: {
      const absl::CivilDay day = kDayZero + period.index;
      return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(),
                             day.day());
    }
    case PeriodKind::kIsoWeek:
      return IsoWeekLabel(period.index);
    case PeriodKind::kMonth:
      return MonthLabel(period.index);
    case PeriodKind::kQuarter:
      return absl::StrFormat("%04d-Q%d", FloorDiv(period.index, 4),
                             FloorMod(period.index, 4) + 1);
    case PeriodKind::kFiscalYear:
      return absl::StrFormat("FY%04d", period.index);
    case PeriodKind::kYear:
      return absl::StrFormat("%04d", period.index);
    case PeriodKind::kYearToDate:
      return absl::StrCat("YTD", MonthLabel(period.index));
    case PeriodKind::kQuarterToDate:
      return absl::StrCat("QTD", MonthLabel(period.index));
  }
  return "";
}

absl::StatusOr<Period> ParsePeriod(PeriodKind kind, absl::string_view label) {
  absl::StatusOr<int32_t> index;
  switch (kind) {
    case PeriodKind::kDay:
      index = ParseDay(label);
      break;
    case PeriodKind::kIsoWeek:
      index = ParseIsoWeek(label);
      break;
    case PeriodKind::kMonth:
      index = ParseMonth(label, "month", label, "YYYY-MM");
      break;
    case PeriodKind::kQuarter: {
      int quarter = 0;
      if (label.size() != 7 || label.substr(4, 2) != "-Q" ||
          !ParseDigits(label.substr(6), &quarter) || quarter < 1 ||
          quarter > 4) {
        return Malformed("quarter", label, "YYYY-Qn");
      }
      auto year = ParseYear(label.substr(0, 4));
      if (!year.ok()) return year.status();
      index = *year * 4 + quarter - 1;
      break;
    }
    case PeriodKind::kFiscalYear: {
      if (!absl::StartsWith(label, "FY") || label.size() != 6) {
        return Malformed("fiscal year", label, "FYYYYY");
      }
      index = ParseYear(label.substr(2));
      break;
    }
    case PeriodKind::kYear:
      index = ParseYear(label);
      break;
    case PeriodKind::kYearToDate:
    case PeriodKind::kQuarterToDate: {
      const bool ytd = kind == PeriodKind::kYearToDate;
      const absl::string_view prefix = ytd ? "YTD" : "QTD";
      const absl::string_view what = ytd ? "year to date" : "quarter to date";
      if (!absl::StartsWith(label, prefix)) {
        return Malformed(what, label, ytd ? "YTDYYYY-MM" : "QTDYYYY-MM");
      }
      index = ParseMonth(label.substr(3), what, label,
                         ytd ? "YTDYYYY-MM" : "QTDYYYY-MM");
      break;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("period kind ", static_cast<int>(kind),
                       " is not a kind from 1 to 8"));
  }
  if (!index.ok()) return index.status();
  return Period{kind, *index};
}

absl::StatusOr<PeriodKind> KindOfLabel(
    absl::string_view label) {
  PeriodKind kind;
  if (absl::StartsWith(label, "FY")) {
    kind = PeriodKind::kFiscalYear;
  } else if (absl::StartsWith(label, "YTD")) {
    kind = PeriodKind::kYearToDate;
  } else if (absl::StartsWith(label, "QTD")) {
    kind = PeriodKind::kQuarterToDate;
  } else if (label.size() == 4) {
    kind = PeriodKind::kYear;
  } else if (label.size() == 10) {
    kind = PeriodKind::kDay;
  } else if (label.size() == 8 && label[5] == 'W') {
    kind = PeriodKind::kIsoWeek;
  } else if (label.size() == 7 && label[5] == 'Q') {
    kind = PeriodKind::kQuarter;
  } else if (label.size() == 7) {
    kind = PeriodKind::kMonth;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        Quoted(label),
        " is not a period label: YYYY-MM-DD, YYYY-Www, YYYY-MM, YYYY-Qn, "
        "YYYY, FYYYYY, YTDYYYY-MM or QTDYYYY-MM"));
  }
  auto period = ParsePeriod(kind, label);
  if (!period.ok()) return period.status();
  return kind;
}

}  // namespace strata
