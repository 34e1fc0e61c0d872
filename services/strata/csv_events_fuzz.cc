// Fuzzes ParseKpiEventsCsv, the reader behind `strata send`, with arbitrary
// text. Beyond never crashing, it checks:
// - an error is INVALID_ARGUMENT naming "line N" of the input;
// - OK gives at most one event per line, with normalised times, and fields
//   that hold no separator;
// - what FormatKpiEventCsv writes (as `strata demo-events` does, after the
//   header) reads back as the same event: ids, value and time.
//
// Seeds: fuzz/corpus/csv_events_fuzz/, plain CSV files.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "services/strata/csv_events.h"

namespace strata::cli {
namespace {

bool HoldsNoSeparator(const std::string& field) {
  return field.find_first_of(",\n") == std::string::npos;
}

bool SameValue(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) ||
         (a == b && std::signbit(a) == std::signbit(b));
}

void CheckRoundTrip(const v1::KpiEvent& event) {
  const std::string line = FormatKpiEventCsv(event);
  std::istringstream in(KpiEventCsvHeader() + "\n" + line + "\n");
  absl::StatusOr<std::vector<v1::KpiEvent>> again = ParseKpiEventsCsv(in);
  if (!again.ok() || again->size() != 1) {
    std::fprintf(stderr, "detail: written as: %s\ndetail: read back: %s\n",
                 line.c_str(),
                 again.ok() ? "no event" : again.status().ToString().c_str());
  }
  FUZZ_CHECK(again.ok() && again->size() == 1);
  const v1::KpiEvent& back = (*again)[0];
  if (!SameValue(back.value(), event.value()) ||
      back.event_time().seconds() != event.event_time().seconds() ||
      back.event_time().nanos() != event.event_time().nanos()) {
    std::fprintf(stderr,
                 "detail: written as: %s\ndetail: value %.17g read back as "
                 "%.17g; time %lld.%09d read back as %lld.%09d\n",
                 line.c_str(), event.value(), back.value(),
                 static_cast<long long>(event.event_time().seconds()),
                 event.event_time().nanos(),
                 static_cast<long long>(back.event_time().seconds()),
                 back.event_time().nanos());
  }
  FUZZ_CHECK(back.event_id() == event.event_id());
  FUZZ_CHECK(back.kpi_id() == event.kpi_id());
  FUZZ_CHECK(back.unit_id() == event.unit_id());
  FUZZ_CHECK(back.source() == event.source());
  FUZZ_CHECK(SameValue(back.value(), event.value()));
  FUZZ_CHECK(back.event_time().seconds() == event.event_time().seconds());
  FUZZ_CHECK(back.event_time().nanos() == event.event_time().nanos());
}

}  // namespace
}  // namespace strata::cli

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;       // NOLINT
  using namespace strata::cli;  // NOLINT
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::istringstream in(text);
  absl::StatusOr<std::vector<v1::KpiEvent>> events = ParseKpiEventsCsv(in);
  if (!events.ok()) {
    FUZZ_CHECK(events.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StartsWith(events.status().message(), "line "));
    return 0;
  }
  const size_t lines =
      static_cast<size_t>(std::count(text.begin(), text.end(), '\n') + 1);
  FUZZ_CHECK(events->size() <= lines);
  for (const v1::KpiEvent& event : *events) {
    FUZZ_CHECK(HoldsNoSeparator(event.event_id()));
    FUZZ_CHECK(HoldsNoSeparator(event.kpi_id()));
    FUZZ_CHECK(HoldsNoSeparator(event.unit_id()));
    FUZZ_CHECK(HoldsNoSeparator(event.source()));
    FUZZ_CHECK(event.has_event_time());
    FUZZ_CHECK(event.event_time().nanos() >= 0 &&
               event.event_time().nanos() <= 999'999'999);
    CheckRoundTrip(event);
  }
  return 0;
}
