#pragma once

// What rollup queries read cells from: the engine's folded cells
// (RollupEngine) or, scaled out, the cells stage C merged (CellCombiner).

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/definitions/cell_id.h"
#include "libs/definitions/definitions.h"
#include "libs/status/status_macros.h"
#include "strata/v1/rollup.pb.h"

namespace strata::rollup {

class CellSource {
 public:
  virtual ~CellSource() = default;

  // OK when its answers can be trusted; otherwise why not.
  virtual absl::Status Health() const = 0;
  // What records are judged at.
  virtual absl::Time Now() const = 0;
  // The public record of a cell, derived KPIs included, judged against its
  // target at `judged_at`; nullopt when no event has reached it (or either
  // input of a derived KPI). Thread-safe.
  virtual absl::StatusOr<std::optional<v1::RollupRecord>> ReadRecord(
      const Definitions& defs, const CellId& id,
      absl::Time judged_at) const = 0;
  // ReadRecord of each of `ids`, in order: one call per instance where
  // they lie with other instances (ClusterCells).
  virtual absl::StatusOr<std::vector<std::optional<v1::RollupRecord>>>
  ReadRecords(const Definitions& defs, const std::vector<CellId>& ids,
              absl::Time judged_at) const {
    std::vector<std::optional<v1::RollupRecord>> records;
    records.reserve(ids.size());
    for (const CellId& id : ids) {
      ASSIGN_OR_RETURN(records.emplace_back(), ReadRecord(defs, id, judged_at));
    }
    return records;
  }
};

}  // namespace strata::rollup
