#pragma once

// What accepting an event (EventAcceptor) hands to folding it (CellFolder).

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "libs/aggregation/own_state.h"
#include "libs/definitions/definitions.h"

namespace strata::rollup {

// How one event changes what counts: from `before` to `after` (fixed
// point; none: it does not count), the output of accepting it.
struct EventChange {
  KpiIndex kpi = 0;
  UnitIndex unit = 0;
  EventTime time;
  // The event whose value changes: a correction's is the corrected one.
  absl::string_view event_id;
  std::optional<int64_t> before;
  std::optional<int64_t> after;
};

}  // namespace strata::rollup
