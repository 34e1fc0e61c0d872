#pragma once

// The shape of the ids that definitions give units and KPIs. They appear in
// keys joined by '/', so they never contain one.

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace strata {

// INVALID_ARGUMENT "<field>: ..." unless `id` is 1-128 characters of
// [A-Za-z0-9_.:-].
absl::Status ValidateId(absl::string_view field, absl::string_view id);

}  // namespace strata
