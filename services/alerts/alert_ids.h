#pragma once

// Alert ids and the alert index's keys. One alert per (rule, kpi, unit,
// period) at a time: the cell's key, then "#", the rule's name for rules
// other than STATUS_CHANGE and "-", then the generation.
//
//   AlertIdOf("sales/team/2026-03", v1::ALERT_RULE_WORSENING, 2);
//       // "sales/team/2026-03#worsening-2"
//   CellKeyOfAlert("sales/team/2026-03#2");  // "sales/team/2026-03"

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "strata/v1/alert.pb.h"

namespace strata::alerts {

// The key under which the cell's generation counter for `rule` is kept:
// the cell's key for STATUS_CHANGE, "<cell>#<rule name>" for the others.
std::string AlertIndexKey(absl::string_view cell_key, v1::AlertRule rule);

std::string AlertIdOf(absl::string_view cell_key, v1::AlertRule rule,
                      int64_t generation);

// The cell's key of an alert id (ids never hold '#' elsewhere).
absl::string_view CellKeyOfAlert(absl::string_view alert_id);

}  // namespace strata::alerts
