#include "libs/streams/cell_key.h"

#include "absl/strings/str_cat.h"
#include "libs/ids/ids.h"
#include "libs/status/status_macros.h"
#include "libs/status/quote.h"

namespace strata {

std::string CellKey(absl::string_view kpi_id, absl::string_view unit_id,
                    const Period& period) {
  return absl::StrCat(kpi_id, "/", unit_id, "/", PeriodLabel(period));
}

absl::StatusOr<std::string> CellKeyOf(const v1::RollupKey& key) {
  RETURN_IF_ERROR(ValidateId("key.kpi_id", key.kpi_id()));
  RETURN_IF_ERROR(ValidateId("key.unit_id", key.unit_id()));
  if (!IsPeriodKind(key.period().kind())) {
    return absl::InvalidArgumentError("key.period.kind: required");
  }
  auto period = ParsePeriod(static_cast<PeriodKind>(key.period().kind()),
                            key.period().label());
  if (!period.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("key.period.label: ", period.status().message()));
  }
  return CellKey(key.kpi_id(), key.unit_id(), *period);
}

}  // namespace strata
