#include "services/rollup/rollup_record.h"

#include <string>

#include "libs/aggregation/fixed_point.h"
#include "libs/streams/cell_key.h"

namespace strata::rollup {

std::string CellKeyFor(const Definitions& defs, const CellId& id) {
  return CellKey(defs.kpi(id.kpi).definition.kpi_id(),
                 defs.unit(id.unit).definition.unit_id(), id.period);
}

v1::RollupRecord MakeRollupRecord(absl::string_view kpi_id,
                                  absl::string_view unit_id,
                                  const Period& period, const RollupCell& cell,
                                  std::optional<double> target) {
  v1::RollupRecord record;
  v1::RollupKey* key = record.mutable_key();
  key->set_kpi_id(std::string(kpi_id));
  key->set_unit_id(std::string(unit_id));
  key->mutable_period()->set_kind(static_cast<v1::PeriodKind>(period.kind));
  key->mutable_period()->set_label(PeriodLabel(period));
  record.set_value(FromFixedPoint(cell.value));
  record.set_exact_value(FixedPointDecimal(cell.value));
  record.set_event_count(cell.event_count);
  record.mutable_last_event_time()->set_seconds(cell.last_event_time.seconds);
  record.mutable_last_event_time()->set_nanos(cell.last_event_time.nanos);
  record.set_version(cell.version);
  if (target) record.set_target(*target);
  return record;
}

}  // namespace strata::rollup
