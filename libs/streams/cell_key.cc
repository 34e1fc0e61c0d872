#include "libs/streams/cell_key.h"

#include "libs/streams/period_proto.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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
  ASSIGN_OR_RETURN(Period period, PeriodFromProto(key.period(), "key.period"));
  return CellKey(key.kpi_id(), key.unit_id(), period);
}

absl::StatusOr<CellKeyParts> ParseCellKey(absl::string_view key) {
  std::vector<absl::string_view> parts = absl::StrSplit(key, '/');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a cell key (kpi/unit/period): '", key, "'"));
  }
  ASSIGN_OR_RETURN(PeriodKind kind, KindOfLabel(parts[2]));
  ASSIGN_OR_RETURN(Period period, ParsePeriod(kind, parts[2]));
  return CellKeyParts{std::string(parts[0]), std::string(parts[1]), period};
}

absl::StatusOr<v1::RollupKey> RollupKeyOf(absl::string_view cell_key) {
  ASSIGN_OR_RETURN(CellKeyParts parts, ParseCellKey(cell_key));
  v1::RollupKey key;
  key.set_kpi_id(parts.kpi_id);
  key.set_unit_id(parts.unit_id);
  *key.mutable_period() = PeriodToProto(parts.period);
  return key;
}

}  // namespace strata
