#pragma once

// The public form of a rollup cell, as queries answer and the changelog
// publishes it: the figure, its target, and the part of it expected by the
// time it is judged at, with variance and status against that.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/aggregation/cell.h"
#include "libs/definitions/cell_id.h"
#include "libs/definitions/definitions.h"
#include "strata/v1/rollup.pb.h"

namespace strata::rollup {

// Cell versions of the n-th reorg's shape start at n << this: above every
// version of the shapes before it.
inline constexpr int kReorgVersionShift = 40;

// The cell's key on the changelog and in the state store.
std::string CellKeyFor(const Definitions& defs, const CellId& id);

// The record of a cell the engine holds (a KPI that receives events).
v1::RollupRecord MakeRollupRecord(const Definitions& defs, const CellId& id,
                                  const RollupCell& cell, absl::Time judged_at);

// The record of a derived KPI's cell, computed from its formula's inputs'
// cells at the same unit and period (an input without events is empty).
// Its version is their shape's first version plus what each counted
// since, so it grows whenever either changes and lies above every version
// of the shapes before theirs, as the inputs' versions do.
v1::RollupRecord MakeDerivedRecord(const Definitions& defs, const CellId& id,
                                   const RollupCell& left,
                                   const RollupCell& right,
                                   absl::Time judged_at);

// The record of a cell no event has reached: its key and target, no value.
v1::RollupRecord MakeEmptyRecord(const Definitions& defs, const CellId& id,
                                 absl::Time judged_at);

// A cell as a reader holds it, or nullopt: as folded (no event reached
// it), or as reported at its period's close (no approved late event
// changed it since).
using CellReader =
    std::function<absl::StatusOr<std::optional<RollupCell>>(const CellId&)>;

// The public record of a cell, derived KPIs included, judged at
// `judged_at`, with the figure reported at its close beside it where
// approved late events changed it. nullopt when no event reached the cell
// (or either input's).
absl::StatusOr<std::optional<v1::RollupRecord>> ReadPublicRecord(
    const Definitions& defs, const CellId& id, absl::Time judged_at,
    const CellReader& current, const CellReader& reported);

// The cells whose target `batch` (applied, giving `defs`) changed: a
// cascaded target's whole subtree.
std::vector<CellId> RetargetedCells(const Definitions& defs,
                                    const v1::DefinitionBatch& batch);

}  // namespace strata::rollup
