#pragma once

#include <functional>

#include "absl/status/statusor.h"
#include "libs/definitions/cell_id.h"
#include "strata/v1/rollup.pb.h"

namespace strata::rollup {

// A cell's record judged at one instant (one without a value when no event
// reached it): how queries built on others read the cells they need.
using RecordReader =
    std::function<absl::StatusOr<v1::RollupRecord>(const CellId&)>;

}  // namespace strata::rollup
