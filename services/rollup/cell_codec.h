#pragma once

// The fixed-width encoding of a rollup cell, as the rollup store keeps it
// and as a fold partition's part travels to the stage that merges parts
// (v1::PartialCell): nine little-endian 64-bit fields.

#include <optional>
#include <string>

#include "absl/numeric/int128.h"
#include "absl/strings/string_view.h"
#include "libs/aggregation/cell.h"

namespace strata::rollup {

std::string EncodeCell(const RollupCell& cell);
// nullopt when `encoded` is not a cell's encoding.
std::optional<RollupCell> DecodeCell(absl::string_view encoded);

// A 128-bit integer as two fixed 64-bit fields (low, high) at `index`.
int64_t Int128Low(absl::int128 v);
int64_t Int128High(absl::int128 v);
absl::int128 DecodeInt128At(absl::string_view encoded, size_t index);

}  // namespace strata::rollup
