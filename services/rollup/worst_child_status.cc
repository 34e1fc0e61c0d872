#include "services/rollup/worst_child_status.h"

#include <optional>
#include <string>

#include "libs/status/status_macros.h"

namespace strata::rollup {
namespace {

// How bad a status is; -1: not judged (no target).
int Rank(v1::KpiStatus status) {
  switch (status) {
    case v1::KPI_STATUS_GREEN:
      return 0;
    case v1::KPI_STATUS_NO_DATA:
      return 1;
    case v1::KPI_STATUS_AMBER:
      return 2;
    case v1::KPI_STATUS_RED:
      return 3;
    default:
      return -1;
  }
}

struct Standing {
  int rank = -1;
  v1::KpiStatus status = v1::KPI_STATUS_UNSPECIFIED;
  std::optional<double> score;
  UnitIndex unit = 0;
};

Standing StandingOf(const v1::RollupRecord& record, UnitIndex unit) {
  Standing s{Rank(record.status()), record.status(), std::nullopt, unit};
  if (record.has_score()) s.score = record.score();
  return s;
}

// Worse status first; among equals, the lower score.
bool Worse(const Standing& a, const Standing& b) {
  if (a.rank != b.rank) return a.rank > b.rank;
  return a.score && (!b.score || *a.score < *b.score);
}

// The worst standing among the leaves below `id` (its own at a leaf);
// rank -1 when none has a target.
absl::StatusOr<Standing> WorstBelow(const Definitions& defs, const CellId& id,
                                    const RecordReader& read) {
  const absl::Span<const UnitIndex> children = defs.Children(id.unit, id.period);
  if (children.empty()) {
    ASSIGN_OR_RETURN(v1::RollupRecord record, read(id));
    return StandingOf(record, id.unit);
  }
  Standing worst;
  for (UnitIndex child : children) {
    ASSIGN_OR_RETURN(Standing below,
                     WorstBelow(defs, {id.kpi, child, id.period}, read));
    if (below.rank >= 0 && (worst.rank < 0 || Worse(below, worst))) {
      worst = below;
    }
  }
  return worst;
}

}  // namespace

absl::Status ApplyStatusRule(const Definitions& defs, const CellId& id,
                             const RecordReader& read,
                             v1::RollupRecord& record) {
  if (defs.kpi(id.kpi).definition.status_rule() !=
      v1::STATUS_RULE_WORST_CHILD) {
    return absl::OkStatus();
  }
  Standing standing = StandingOf(record, id.unit);
  if (!defs.Children(id.unit, id.period).empty()) {
    ASSIGN_OR_RETURN(Standing worst, WorstBelow(defs, id, read));
    // No child has a target: the unit's own standing is all there is.
    if (worst.rank >= 0) standing = worst;
  }
  record.set_status(standing.status);
  if (standing.score) {
    record.set_score(*standing.score);
  } else {
    record.clear_score();
  }
  record.set_status_unit_id(defs.unit(standing.unit).definition.unit_id());
  return absl::OkStatus();
}

}  // namespace strata::rollup
