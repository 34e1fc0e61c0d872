// Fuzzes ValidateKpiEvents with IngestRequests (protobuf binary) as a feed
// could send them, against a small fixed organisation. Beyond never
// crashing, it checks what the contract promises:
// - OK means every event passes every documented check, so rollup can fold
//   it: printable unique ids, known KPI and unit, a time from 1900 to
//   2199 whose periods label and parse back, a finite value within 1e12
//   that does not round to zero;
// - an error is INVALID_ARGUMENT or NOT_FOUND naming events[i] of this
//   batch, and it is the first problem: events[0..i) alone are accepted.
//
// Seeds: fuzz/corpus/event_validator_fuzz/, encoded from text format with
//   protoc --encode=strata.v1.IngestRequest -I proto -I /usr/include \
//     proto/strata/v1/ingest_service.proto < seed.txtpb > seed.pb

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_check.h"
#include "libs/aggregation/fixed_point.h"
#include "libs/definitions/definitions.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/period/calendar.h"
#include "libs/period/period.h"
#include "services/ingest/event_validator.h"
#include "strata/v1/ingest_service.pb.h"

namespace strata::ingest {
namespace {

using google::protobuf::RepeatedPtrField;

// ent > {north, south} > north-t1; sales (sum), headcount (last).
const Definitions& Organisation() {
  static const Definitions* const definitions = [] {
    using namespace strata::testing;  // NOLINT: the builders.
    auto built = Definitions().WithBatch(Batch(
        {UnitChange("ent", ""), UnitChange("north", "ent"),
         UnitChange("south", "ent"), UnitChange("north-t1", "north"),
         KpiChange("sales"), KpiChange("headcount", v1::TIME_AGGREGATION_LAST),
         TargetChange("sales", "north-t1", "2026-11", 1000)}));
    FUZZ_CHECK(built.ok());
    return new Definitions(*std::move(built));
  }();
  return *definitions;
}

// The checks ValidateKpiEvents documents, restated independently.
void CheckAccepted(const v1::KpiEvent& e, const Definitions& definitions) {
  const std::string& id = e.event_id();
  FUZZ_CHECK(!id.empty() && id.size() <= 128);
  for (unsigned char c : id) FUZZ_CHECK(c > 0x20 && c < 0x7f);
  FUZZ_CHECK(definitions.FindKpi(e.kpi_id()).has_value());
  FUZZ_CHECK(definitions.FindUnit(e.unit_id()).has_value());
  FUZZ_CHECK(e.has_event_time());
  FUZZ_CHECK(e.event_time().nanos() >= 0 &&
             e.event_time().nanos() <= 999'999'999);
  const absl::Time time = absl::FromUnixSeconds(e.event_time().seconds()) +
                          absl::Nanoseconds(e.event_time().nanos());
  FUZZ_CHECK(time >= absl::FromCivil(absl::CivilSecond(1900, 1, 1),
                                     absl::UTCTimeZone()));
  FUZZ_CHECK(time < absl::FromCivil(absl::CivilSecond(2200, 1, 1),
                                    absl::UTCTimeZone()));
  // What rollup does with the time: every period labels and parses back.
  std::vector<Period> periods;
  Calendar().PeriodsContaining(time, PeriodKindSet::All(), periods);
  for (const Period& period : periods) {
    absl::StatusOr<Period> parsed =
        ParsePeriod(period.kind, PeriodLabel(period));
    FUZZ_CHECK(parsed.ok() && *parsed == period);
  }
  const double value = e.value();
  FUZZ_CHECK(std::isfinite(value) && std::fabs(value) <= kMaxEventMagnitude);
  FUZZ_CHECK(value == 0 || ToFixedPoint(value) != 0);
}

// The index i of a message "events[i]...", or -1.
int NamedIndex(absl::string_view message) {
  if (!absl::ConsumePrefix(&message, "events[")) return -1;
  const size_t end = message.find(']');
  int index = -1;
  if (end == absl::string_view::npos ||
      !absl::SimpleAtoi(message.substr(0, end), &index)) {
    return -1;
  }
  return index;
}

}  // namespace
}  // namespace strata::ingest

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;          // NOLINT
  using namespace strata::ingest;  // NOLINT
  v1::IngestRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  const Definitions& definitions = Organisation();
  const RepeatedPtrField<v1::KpiEvent>& events = request.events();

  const absl::Status status = ValidateKpiEvents(events, definitions);
  FUZZ_CHECK(ValidateKpiEvents(events, definitions) == status);
  if (status.ok()) {
    absl::flat_hash_set<std::string> ids;
    for (const v1::KpiEvent& e : events) {
      CheckAccepted(e, definitions);
      FUZZ_CHECK(ids.insert(e.event_id()).second);
    }
    return 0;
  }

  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument ||
             status.code() == absl::StatusCode::kNotFound);
  if (absl::StartsWith(status.message(), "events: ")) {
    FUZZ_CHECK(events.size() > kMaxEventsPerRequest);
    return 0;
  }
  const int index = NamedIndex(status.message());
  FUZZ_CHECK(index >= 0 && index < events.size());
  // The first problem: the events before it pass, and it is one.
  RepeatedPtrField<v1::KpiEvent> prefix(events.begin(), events.begin() + index);
  FUZZ_CHECK(ValidateKpiEvents(prefix, definitions).ok());
  *prefix.Add() = events[index];
  FUZZ_CHECK(ValidateKpiEvents(prefix, definitions) == status);
  return 0;
}
