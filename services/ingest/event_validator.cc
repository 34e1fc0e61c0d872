#include "services/ingest/event_validator.h"


#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "libs/status/status_macros.h"
#include "libs/aggregation/fixed_point.h"
#include "libs/status/quote.h"

namespace strata::ingest {
namespace {

// 1900-01-01T00:00:00Z and 2199-12-31T23:59:59Z: every period an event can
// reach is one of these 300 years, so the cells a KPI and unit can ever
// have are bounded (events over years 0001-9999 grew the cache without
// bound).
constexpr int64_t kMinSeconds = -2208988800;
constexpr int64_t kMaxSeconds = 7258118399;

absl::Status Invalid(int i, absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("events[", i, "].", field, ": ", why));
}

absl::Status ValidateEventId(int i, const std::string& id,
                             absl::string_view field = "event_id") {
  if (id.empty()) return Invalid(i, field, "required");
  if (id.size() > 128) return Invalid(i, field, "longer than 128");
  for (unsigned char c : id) {
    if (c <= 0x20 || c >= 0x7f) {
      return Invalid(i, field, "must be printable ASCII without spaces");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateKpiEvents(
    const google::protobuf::RepeatedPtrField<v1::KpiEvent>& events,
    const Definitions& definitions) {
  if (events.size() > kMaxEventsPerRequest) {
    return absl::InvalidArgumentError(
        absl::StrCat("events: ", events.size(), " events exceed the limit of ",
                     kMaxEventsPerRequest, " per request"));
  }
  absl::flat_hash_map<absl::string_view, int> first_index;
  first_index.reserve(events.size());
  for (int i = 0; i < events.size(); ++i) {
    const v1::KpiEvent& e = events[i];
    if (absl::Status s = ValidateEventId(i, e.event_id()); !s.ok()) return s;
    auto [it, inserted] = first_index.try_emplace(e.event_id(), i);
    if (!inserted) {
      return Invalid(i, "event_id",
                     absl::StrCat("repeats events[", it->second, "]"));
    }
    if (e.kpi_id().empty()) return Invalid(i, "kpi_id", "required");
    if (e.unit_id().empty()) return Invalid(i, "unit_id", "required");
    if (!e.has_event_time()) return Invalid(i, "event_time", "required");
    if (e.event_time().seconds() < kMinSeconds ||
        e.event_time().seconds() > kMaxSeconds || e.event_time().nanos() < 0 ||
        e.event_time().nanos() > 999'999'999) {
      return Invalid(i, "event_time",
                     "outside 1900-01-01T00:00:00Z .. 2199-12-31T23:59:59Z");
    }
    if (absl::Status s = ValidateEventValue(e.value()); !s.ok()) {
      return Invalid(i, "value", s.message());
    }
    if (!e.corrects_event_id().empty()) {
      RETURN_IF_ERROR(
          ValidateEventId(i, e.corrects_event_id(), "corrects_event_id"));
      if (e.corrects_event_id() == e.event_id()) {
        return Invalid(i, "corrects_event_id",
                       "names the correction itself; a correction needs an "
                       "id of its own");
      }
      if (e.voids() && e.value() != 0) {
        return Invalid(i, "value", "a correction that voids carries no value");
      }
    } else if (e.voids()) {
      return Invalid(i, "voids", "only with corrects_event_id");
    }
    std::optional<KpiIndex> kpi = definitions.FindKpi(e.kpi_id());
    if (!kpi) {
      return absl::NotFoundError(absl::StrCat(
          "events[", i, "].kpi_id: unknown KPI ", Quoted(e.kpi_id())));
    }
    if (const auto& formula = definitions.kpi(*kpi).formula) {
      return absl::FailedPreconditionError(absl::StrCat(
          "events[", i, "].kpi_id: KPI ", Quoted(e.kpi_id()),
          " is computed from ",
          Quoted(definitions.kpi(formula->left).definition.kpi_id()), " and ",
          Quoted(definitions.kpi(formula->right).definition.kpi_id()),
          "; send events for those"));
    }
    if (!definitions.FindUnit(e.unit_id())) {
      return absl::NotFoundError(absl::StrCat(
          "events[", i, "].unit_id: unknown unit ", Quoted(e.unit_id())));
    }
  }
  return absl::OkStatus();
}

}  // namespace strata::ingest
