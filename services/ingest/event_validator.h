#pragma once

// Checks a batch of KPI events before any of it is appended.

#include "absl/status/status.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "libs/definitions/definitions.h"
#include "strata/v1/events.pb.h"

namespace strata::ingest {

// Most events one request may carry.
inline constexpr int kMaxEventsPerRequest = 100'000;

// The first problem of the batch, naming the event and field:
//   INVALID_ARGUMENT "events[3].value: must be finite"
//   NOT_FOUND        "events[0].kpi_id: unknown KPI 'revenu'"
absl::Status ValidateKpiEvents(
    const google::protobuf::RepeatedPtrField<v1::KpiEvent>& events,
    const Definitions& definitions);

}  // namespace strata::ingest
