#include "services/alerts/alert_ids.h"

#include "absl/strings/str_cat.h"

namespace strata::alerts {
namespace {

// Short, stable names: they are part of ids users type.
absl::string_view RuleName(v1::AlertRule rule) {
  switch (rule) {
    case v1::ALERT_RULE_WORSENING:
      return "worsening";
    case v1::ALERT_RULE_NO_CORRECTIVE_ACTION:
      return "no-action";
    case v1::ALERT_RULE_PROJECTED_MISS:
      return "projected-miss";
    case v1::ALERT_RULE_STALE_FEED:
      return "stale";
    case v1::ALERT_RULE_ACTION_OVERDUE:
      return "overdue";
    default:
      return "";
  }
}

}  // namespace

std::string AlertIndexKey(absl::string_view cell_key, v1::AlertRule rule) {
  const absl::string_view name = RuleName(rule);
  if (name.empty()) return std::string(cell_key);
  return absl::StrCat(cell_key, "#", name);
}

std::string AlertIdOf(absl::string_view cell_key, v1::AlertRule rule,
                      int64_t generation) {
  const absl::string_view name = RuleName(rule);
  if (name.empty()) return absl::StrCat(cell_key, "#", generation);
  return absl::StrCat(cell_key, "#", name, "-", generation);
}

absl::string_view CellKeyOfAlert(absl::string_view alert_id) {
  return alert_id.substr(0, alert_id.find('#'));
}

}  // namespace strata::alerts
