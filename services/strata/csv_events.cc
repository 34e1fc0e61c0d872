#include "services/strata/csv_events.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "libs/streams/timestamps.h"

namespace strata::cli {

absl::StatusOr<std::vector<v1::KpiEvent>> ParseKpiEventsCsv(std::istream& in) {
  std::vector<v1::KpiEvent> events;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    absl::string_view text = absl::StripTrailingAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    if (number == 1 && absl::StartsWith(text, "event_id")) continue;
    std::vector<absl::string_view> fields = absl::StrSplit(text, ',');
    auto bad = [&](absl::string_view column, absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", number, ": ", column, ": ", why));
    };
    if (fields.size() < 5 || fields.size() > 6) {
      return bad("row", absl::StrCat("has ", fields.size(),
                                     " fields; want event_id,kpi_id,unit_id,"
                                     "event_time,value[,source]"));
    }
    v1::KpiEvent event;
    event.set_event_id(std::string(fields[0]));
    event.set_kpi_id(std::string(fields[1]));
    event.set_unit_id(std::string(fields[2]));
    absl::Time time;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, fields[3], &time, &error)) {
      return bad("event_time", absl::StrCat("not RFC 3339 (", error, ")"));
    }
    // ParseTime also takes years past 9999 and "infinite-future".
    if (!InTimestampRange(time)) {
      return bad("event_time", "outside 0001-01-01 .. 9999-12-31");
    }
    *event.mutable_event_time() = ToTimestamp(time);  // To the nanosecond.
    double value = 0;
    if (!absl::SimpleAtod(fields[4], &value))
      return bad("value", "not a number");
    event.set_value(value);
    if (fields.size() == 6) event.set_source(std::string(fields[5]));
    events.push_back(std::move(event));
  }
  return events;
}

std::string KpiEventCsvHeader() {
  return "event_id,kpi_id,unit_id,event_time,value,source";
}

std::string FormatKpiEventCsv(const v1::KpiEvent& event) {
  const absl::Time time = FromTimestamp(event.event_time());
  // Every digit of the time and of the value, so that the file reads back
  // to the same event (StrCat keeps 6 significant digits of a double).
  return absl::StrCat(
      event.event_id(), ",", event.kpi_id(), ",", event.unit_id(), ",",
      absl::FormatTime(absl::RFC3339_full, time, absl::UTCTimeZone()), ",",
      absl::StrFormat("%.17g", event.value()), ",", event.source());
}

}  // namespace strata::cli
