#pragma once

// strata.v1.Period, the wire form of a Period: a kind and a label.

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/period/period.h"
#include "strata/v1/period.pb.h"

namespace strata {

// The period `period` names; INVALID_ARGUMENT "<field>.kind: required" or
// "<field>.label: <why>" when it names none.
absl::StatusOr<Period> PeriodFromProto(const v1::Period& period,
                                       absl::string_view field);

// Its canonical label ("2026-03", "2026-Q1").
v1::Period PeriodToProto(const Period& period);

}  // namespace strata
